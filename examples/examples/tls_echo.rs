//! The echo server over TLS: `tls_echo ADDR CERT_PEM KEY_PEM`.
//!
//! Prints `listening on ADDR`; a missing or unreadable certificate or key
//! file, a key that does not match the certificate, or a bad or busy
//! address is an error naming it (exit 1). Try it with
//! `openssl s_client -connect ADDR` or `client --tls --ca CERT_PEM ADDR`.
//! A client that does not finish its handshake within 10 s is closed.

use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_handshake_error]
    fn refused(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        log::info!("{}: {error}", s.remote_addr());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, cert, key] = args.as_slice() else {
        pants_examples::fail("usage: tls_echo ADDR CERT_PEM KEY_PEM");
    };
    let tls = pants::tls::ServerTls::from_pem_files(cert, key)
        .unwrap_or_else(|e| pants_examples::fail(e));
    pants_examples::serve_tls_at::<Echo>(addr, tls);
}
