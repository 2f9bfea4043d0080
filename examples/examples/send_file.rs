//! A file server: every connection gets the whole of FILE, sent with
//! `Stream::write_file` (`sendfile`, no copy through user space), and is
//! then closed. What the client sends is ignored. The benchmark's measure
//! of `write_file` throughput.
//!
//! `cargo run --release --example send_file FILE [ADDR]` (default
//! 127.0.0.1:4040), then `nc 127.0.0.1 4040 > copy`.

use std::fs::File;
use std::sync::OnceLock;

use pants::prelude::*;

/// The file, opened once at start; each connection queues its own range
/// (`write_file` duplicates the descriptor, so offsets never mix).
static FILE: OnceLock<File> = OnceLock::new();

#[derive(Default)]
struct SendFile;

#[channel]
impl SendFile {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        let file = FILE.get().expect("opened before the engine starts");
        if let Err(e) = s.write_file(file, 0, None) {
            log::warn!("{}: cannot send the file: {e}", s.remote_addr());
            s.close_now();
            return;
        }
        // Graceful: the queue (the whole file) is sent first.
        s.close();
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        pants_examples::fail("usage: send_file FILE [ADDR]");
    };
    let addr = args
        .next()
        .unwrap_or_else(|| pants_examples::DEFAULT_ADDR.to_owned());
    let file = match File::open(&path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => f,
        Ok(_) => pants_examples::fail(format!("{path}: not a regular file")),
        Err(e) => pants_examples::fail(format!("{path}: {e}")),
    };
    let _ = FILE.set(file);
    pants_examples::serve_at::<SendFile>(&addr);
}
