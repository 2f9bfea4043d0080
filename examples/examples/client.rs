//! The tutorial's "write a client": `client [--tls] [--ca FILE] ADDR` copies
//! stdin to the server and what the server sends to stdout. At the end of
//! stdin it half-closes (the server sees EOF; over TLS, `close_notify` first)
//! and keeps printing until the server closes; then it exits 0. A
//! connection that fails, or ends other than by an orderly close (a reset;
//! over TLS, a close without `close_notify`), prints an error and exits 1.
//!
//! `--tls` speaks TLS, verifying the server's certificate for the host part
//! of ADDR (also sent as SNI) against the platform's root certificates (or
//! the compiled-in Mozilla roots if the platform has none); `--ca FILE`
//! trusts the CA certificates in FILE instead (and implies `--tls`). A
//! refused certificate prints why and exits 1.
//!
//! Memory stays bounded however fast stdin is: a thread reads stdin and
//! hands chunks to the engine, at most a few at a time, and waits while the
//! connection is unwritable (`#[on_pause_writing]` until
//! `#[on_resume_writing]`). The client never stops reading the server, so
//! two programs that both write faster than the other reads cannot wait on
//! each other.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use pants::prelude::*;

/// Chunks handed to the engine and not yet queued, at most.
const IN_FLIGHT: usize = 4;
const CHUNK: usize = 64 * 1024;

/// When the stdin thread may hand the engine another chunk.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    paused: bool,
    closed: bool,
    in_flight: usize,
}

impl Gate {
    fn update(&self, f: impl FnOnce(&mut GateState)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_all();
    }

    /// Waits for room; false once the connection is gone.
    fn acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.closed && (state.paused || state.in_flight >= IN_FLIGHT) {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.in_flight += 1;
        !state.closed
    }
}

struct Client {
    failed: bool,
    gate: Arc<Gate>,
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

    #[on_pause_writing]
    fn full(&mut self, _s: &mut Stream<Self>) {
        self.gate.update(|g| g.paused = true);
    }

    #[on_resume_writing]
    fn drained(&mut self, _s: &mut Stream<Self>) {
        self.gate.update(|g| g.paused = false);
    }

    #[on_connect_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        eprintln!("error: {error}");
        self.failed = true;
    }

    #[on_handshake_error]
    fn untrusted(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        eprintln!("error: {error}");
        self.failed = true;
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        // A reset or a TLS close without `close_notify` may have cut the
        // output short: say so, and exit 1.
        if let Some(reason) = s.close_reason().filter(|r| !r.is_orderly())
            && !self.failed
        {
            eprintln!("error: connection closed: {reason}");
            self.failed = true;
        }
        self.gate.update(|g| g.closed = true);
    }
}

/// Copies stdin to the stream `id`, a bounded number of chunks at a time.
fn feed_stdin(handle: &pants::Handle<Client>, id: StreamId, gate: &Arc<Gate>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    loop {
        if !gate.acquire() {
            return;
        }
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = buf[..n].to_vec();
                let gate = Arc::clone(gate);
                handle.call(move |engine| {
                    engine.write(id, &chunk);
                    gate.update(|g| g.in_flight -= 1);
                });
            }
        }
    }
    handle.call(move |engine| engine.shutdown_write(id));
}

/// `[--tls] [--ca FILE] ADDR`.
struct Args {
    addr: String,
    tls: Option<pants::tls::ClientTls>,
}

fn parse_args() -> Args {
    const USAGE: &str = "usage: client [--tls] [--ca FILE] HOST:PORT";
    let mut args = std::env::args().skip(1);
    let (mut tls, mut ca, mut addr) = (false, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tls" => tls = true,
            "--ca" => match args.next() {
                Some(file) => ca = Some(file),
                None => pants_examples::fail(USAGE),
            },
            "-h" | "--help" => pants_examples::fail(USAGE),
            flag if flag.starts_with("--") => {
                pants_examples::fail(format!("unknown option {flag}; {USAGE}"))
            }
            _ if addr.is_none() => addr = Some(arg),
            _ => pants_examples::fail(USAGE),
        }
    }
    let Some(addr) = addr else {
        pants_examples::fail(USAGE);
    };
    let tls = match ca {
        Some(file) => Some(
            pants::tls::ClientTls::from_ca_file(&file).unwrap_or_else(|e| pants_examples::fail(e)),
        ),
        None if tls => Some(
            pants::tls::ClientTls::platform_roots()
                .unwrap_or_else(|_| pants::tls::ClientTls::webpki_roots()),
        ),
        None => None,
    };
    Args { addr, tls }
}

fn main() {
    pants_examples::init_logging();
    let args = parse_args();
    let gate = Arc::new(Gate::default());
    let mut engine = Engine::new().unwrap_or_else(|e| pants_examples::fail(e));
    let client = Client {
        failed: false,
        gate: Arc::clone(&gate),
    };
    let id = match &args.tls {
        Some(tls) => engine.connect_tls(args.addr.as_str(), tls, client),
        None => engine.connect(args.addr.as_str(), client),
    }
    .unwrap_or_else(|e| pants_examples::fail(e));
    let handle = engine.handle();
    std::thread::spawn(move || feed_stdin(&handle, id, &gate));
    if let Err(e) = engine.stop_on_signals() {
        pants_examples::fail(e);
    }
    match engine.run_until_closed::<Client>(id) {
        Ok(client) if client.failed => std::process::exit(1),
        Ok(_) => {}
        Err(e) => pants_examples::fail(e),
    }
}
