//! tokio-rustls-echo CERT_PEM KEY_PEM PORT — byte echo over TLS on a tokio
//! current_thread runtime with tokio-rustls: the TLS peer of pants'
//! `tls_echo`.
//!
//! The same rustls as pants (bench/Cargo.toml pins the version of the root
//! Cargo.lock) with the same `ring` provider and the same defaults (TLS 1.3
//! and 1.2, rustls' default cipher suites and key exchange groups, its
//! in-memory session cache and two TLS 1.3 tickets after each handshake;
//! no client authentication). The idiomatic task-per-connection loop: accept,
//! handshake, then read / write_all with a 64 KiB buffer per connection; at
//! the peer's `close_notify` (read returns 0) it answers with its own
//! `close_notify` (`shutdown`) before closing, as pants does.
//! Prints `listening on 127.0.0.1:PORT` (stderr) once it listens.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const BUF: usize = 64 * 1024;

fn fail(msg: String) -> ! {
    eprintln!("tokio-rustls-echo: {msg}");
    std::process::exit(1)
}

fn config(cert: &str, key: &str) -> ServerConfig {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| fail(format!("{cert}: {e:?}")));
    let key = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| fail(format!("{key}: {e:?}")));
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail(format!("protocol versions: {e}")))
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap_or_else(|e| fail(format!("certificate and key: {e}")))
}

async fn serve(acceptor: TlsAcceptor, port: u16) {
    let listener = TcpListener::from_std(bench_servers::listener(port)).expect("tokio listener");
    loop {
        let (sock, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(sock).await else { return };
            let mut buf = vec![0u8; BUF];
            loop {
                let n = match tls.read(&mut buf).await {
                    Ok(0) => {
                        let _ = tls.shutdown().await;
                        return;
                    }
                    Ok(n) => n,
                    Err(_) => return,
                };
                if tls.write_all(&buf[..n]).await.is_err() || tls.flush().await.is_err() {
                    return;
                }
            }
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cert, key, port) = match args.as_slice() {
        [cert, key, port] => match port.parse::<u16>() {
            Ok(p) => (cert, key, p),
            Err(_) => fail(format!("not a port: {port}")),
        },
        _ => {
            eprintln!("usage: tokio-rustls-echo CERT_PEM KEY_PEM PORT");
            std::process::exit(2)
        }
    };
    let acceptor = TlsAcceptor::from(Arc::new(config(cert, key)));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(serve(acceptor, port));
}
