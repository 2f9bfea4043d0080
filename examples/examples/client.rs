//! The tutorial's "write a client": `client ADDR` copies stdin to the server
//! and what the server sends to stdout. At the end of stdin it half-closes
//! (the server sees EOF) and keeps printing until the server closes; then it
//! exits 0. A connection that fails prints an error and exits 1.

use std::io::{Read, Write};

use pants::prelude::*;

struct Client {
    failed: bool,
}

#[channel]
impl Client {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
        let mut out = std::io::stdout().lock();
        if out.write_all(data).and_then(|()| out.flush()).is_err() {
            std::process::exit(1);
        }
    }

    #[on_connect_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        eprintln!("error: {error}");
        self.failed = true;
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        if self.failed {
            std::process::exit(1);
        }
        s.stop_engine();
    }
}

fn main() {
    pants_examples::init_logging();
    let Some(addr) = std::env::args().nth(1) else {
        pants_examples::fail("usage: client HOST:PORT");
    };
    let mut engine = Engine::new().unwrap_or_else(|e| pants_examples::fail(e));
    let id = engine
        .connect(addr.as_str(), Client { failed: false })
        .unwrap_or_else(|e| pants_examples::fail(e));
    let handle = engine.handle();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    handle.call(move |engine| {
                        engine.write(id, &chunk);
                    });
                }
            }
        }
        handle.call(move |engine| engine.shutdown_write(id));
    });
    if let Err(e) = engine.stop_on_signals().and_then(|()| engine.start()) {
        pants_examples::fail(e);
    }
}
