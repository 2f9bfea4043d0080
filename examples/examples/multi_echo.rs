//! The echo server on several cores: one engine per thread, all listening on
//! the same port with `SO_REUSEPORT` (the kernel spreads new connections).
//!
//! `cargo run --release --example multi_echo [ADDR] [THREADS]` (defaults:
//! 127.0.0.1:4040, one thread per CPU), then `nc 127.0.0.1 4040` and type.

use std::io::Write;

use pants::SharedPort;
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {
    pants_examples::init_logging();
    let threads = match std::env::args().nth(2) {
        Some(n) => n
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| pants_examples::fail(format!("bad thread count {n:?}"))),
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let port = SharedPort::new(pants_examples::listen_addr());
    let result = pants::run_threads(threads, |index, engine: &mut Engine<Echo>| {
        port.listen::<Echo, _>(engine)?;
        if index + 1 == threads {
            let addr = port.local_addr().ok_or(pants::Error::Closed)?;
            println!("listening on {addr}");
            let _ = std::io::stdout().flush();
        }
        Ok(())
    });
    if let Err(e) = result {
        pants_examples::fail(e);
    }
}
