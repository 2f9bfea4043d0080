//! Graceful shutdown (SIGTERM to the `echo` example, `Engine::shutdown` in
//! process, its deadline on a manual clock), why streams close, a handler
//! that panics, `run_until_closed`, and running out of file descriptors.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use pants::prelude::*;
use pants::{Clock, DEFAULT_SHUTDOWN_GRACE};

use crate::util::{
    self, ExampleServer, Shared, TIMEOUT, Tx, connect, expect_bytes, expect_eof, read_to_eof, send,
    show,
};

// ---------------------------------------------------------------------------
// SIGTERM to the echo example while 50 clients stream through it.

const STREAMS: usize = 50;
/// Each client has this much echoed before the signal is sent.
const BEFORE_SIGNAL: usize = 256 * 1024;
/// A client never sends more than this (the signal comes long before).
const CAP: usize = 256 << 20;
const CHUNK: usize = 64 * 1024;
/// The period of the byte pattern: a prime, so no loss of whole reads or
/// writes can line the pattern up again.
const PERIOD: usize = 1_000_003;

/// What one client saw.
struct Transfer {
    sent: usize,
    received: usize,
    /// The first byte where the echo differed from what was sent.
    mismatch: Option<usize>,
    /// How the echo ended: `None` for a clean EOF.
    error: Option<String>,
}

/// Client `n`'s byte stream: the shared pattern from its own phase.
fn phase(n: usize) -> usize {
    n * 7919
}

/// Whether `data` is the pattern at stream offset `at` from `phase`.
fn matches_pattern(pattern: &[u8], phase: usize, at: usize, data: &[u8]) -> bool {
    let mut off = (phase + at) % PERIOD;
    let mut rest = data;
    while !rest.is_empty() {
        let n = rest.len().min(PERIOD - off);
        if rest[..n] != pattern[off..off + n] {
            return false;
        }
        rest = &rest[n..];
        off = 0;
    }
    true
}

/// Streams client `n`'s pattern to `c` until its reader sees the server
/// close, reading the echo meanwhile; reports to `progress` once
/// [`BEFORE_SIGNAL`] bytes came back.
fn stream_through(
    n: usize,
    mut c: TcpStream,
    pattern: &Arc<Vec<u8>>,
    progress: &mpsc::Sender<usize>,
) -> Transfer {
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (mut c, pattern, done) = (c.try_clone().expect("clone"), pattern.clone(), done.clone());
        thread::spawn(move || -> (usize, Option<String>) {
            let mut sent = 0;
            while sent < CAP && !done.load(Ordering::Acquire) {
                let off = (phase(n) + sent) % PERIOD;
                if let Err(e) = c.write_all(&pattern[off..off + CHUNK]) {
                    return (sent, Some(format!("write: {e}")));
                }
                sent += CHUNK;
            }
            // Our half-close ends the server's lingering read.
            let _ = c.shutdown(Shutdown::Write);
            (sent, None)
        })
    };
    let mut buf = vec![0u8; CHUNK];
    let (mut received, mut mismatch, mut error, mut reported) = (0, None, None, false);
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                if mismatch.is_none() && !matches_pattern(pattern, phase(n), received, &buf[..k]) {
                    mismatch = Some(received);
                }
                received += k;
                if !reported && received >= BEFORE_SIGNAL {
                    reported = true;
                    let _ = progress.send(n);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(format!("read: {e} ({:?})", e.kind()));
                break;
            }
        }
    }
    done.store(true, Ordering::Release);
    let (sent, write_error) = writer.join().expect("writer thread");
    Transfer {
        sent,
        received,
        mismatch,
        error: error.or(write_error),
    }
}

#[test]
fn sigterm_with_50_clients_mid_transfer() {
    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let pattern: Arc<Vec<u8>> = Arc::new(
        (0..PERIOD + CHUNK)
            .map(|i| {
                let x = ((i % PERIOD) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (x >> 56) as u8
            })
            .collect(),
    );
    let (progress_tx, progress) = mpsc::channel();
    // Every client starts before the first is waited for.
    let mut clients = Vec::with_capacity(STREAMS);
    for n in 0..STREAMS {
        let c = connect(server.addr);
        let (pattern, progress_tx) = (pattern.clone(), progress_tx.clone());
        clients.push(thread::spawn(move || {
            stream_through(n, c, &pattern, &progress_tx)
        }));
    }
    for _ in 0..STREAMS {
        progress
            .recv_timeout(TIMEOUT)
            .expect("every client gets its first 256 KiB back");
    }
    let signalled = Instant::now();
    server.signal("TERM");
    let transfers: Vec<Transfer> = clients
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let (status, stderr) = server.wait(DEFAULT_SHUTDOWN_GRACE);
    let took = signalled.elapsed();
    assert!(
        status.success(),
        "the server exited with {status}: {stderr:?}"
    );
    assert!(
        took < DEFAULT_SHUTDOWN_GRACE,
        "the server took {took:?} to exit"
    );
    assert!(stderr.is_empty(), "the server complained: {stderr:?}");
    for (n, t) in transfers.iter().enumerate() {
        assert_eq!(t.error, None, "client {n}: the stream did not end in a FIN");
        assert_eq!(t.mismatch, None, "client {n}: the echo differs at byte");
        assert!(
            t.received <= t.sent,
            "client {n}: {} bytes back, {} sent",
            t.received,
            t.sent
        );
        assert!(t.sent < CAP, "client {n} sent everything: not mid-transfer");
        assert!(t.received >= BEFORE_SIGNAL);
    }
    let sent: usize = transfers.iter().map(|t| t.sent).sum();
    let received: usize = transfers.iter().map(|t| t.received).sum();
    assert!(received < sent, "nothing was cut: {received} of {sent}");
}

// ---------------------------------------------------------------------------
// Engine::shutdown in process.

/// One MiB, for a reply that is still queued when the shutdown starts.
fn big() -> Vec<u8> {
    (0..1usize << 20).map(|i| (i % 251) as u8).collect()
}

/// Greets, echoes lines (`big` gets 1 MiB), says `bye` on shutdown, and
/// reports what happens.
struct Polite {
    events: Tx,
}

#[channel]
impl Polite {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write(b"hello\n");
    }

    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.events.send(format!("read {}", show(line)));
        if line == b"big" {
            s.write(&big());
        } else {
            s.write_all(&[line, b"\n"]);
        }
    }

    #[on_shutdown]
    fn bye(&mut self, s: &mut Stream<Self>) {
        self.events.send(format!(
            "shutdown (shutting down: {})",
            s.is_shutting_down()
        ));
        s.write(b"bye\n");
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.events.send(format!("close {:?}", s.close_reason()));
    }
}

#[test]
fn shutdown_runs_on_shutdown_and_flushes() {
    for over in util::Over::ALL {
        shutdown_flushes(over);
    }
}

fn shutdown_flushes(over: util::Over) {
    let (tx, rx) = util::events();
    let place = over.place();
    let listen = match over {
        util::Over::Tcp => format!("{}:0", util::own_loopback(10)),
        util::Over::Unix => place.addr,
    };
    let server = util::spawn(move |e: &mut Engine<Polite>| {
        Some(
            e.listen_with(listen, move |_| Some(Polite { events: tx.clone() }))
                .expect("listen"),
        )
    });
    let addr = server.local();
    let mut clients: Vec<util::Conn> = (0..3)
        .map(|_| {
            let mut c = util::connect_to(&addr);
            expect_bytes(&mut c, b"hello\n");
            c
        })
        .collect();
    // Client 0 asks for 1 MiB and does not read it yet.
    send(&mut clients[0], b"big\n");
    rx.expect("read big");
    for c in &mut clients[1..] {
        send(c, b"x\n");
        expect_bytes(c, b"x\n");
    }
    rx.expect("read x");
    rx.expect("read x");

    server.handle.shutdown(TIMEOUT);
    for c in &mut clients[1..] {
        expect_bytes(c, b"bye\n");
    }
    // The listener closed before any on_shutdown ran.
    util::assert_not_served(&addr);
    for c in &mut clients[1..] {
        expect_eof(c);
    }
    let all = read_to_eof(&mut clients[0]);
    assert_eq!(all.len(), (1 << 20) + 4, "the queued reply and bye");
    assert!(all[..1 << 20] == big(), "the queued reply arrived intact");
    assert_eq!(show(&all[1 << 20..]), "bye\\n");
    // Input after the shutdown started is read and dropped, not handled.
    send(&mut clients[2], b"ignored\n");
    drop(clients);
    server.join().expect("start() returns Ok after a shutdown");
    let mut events = rx.rest();
    events.sort();
    assert_eq!(
        events,
        [
            "close Some(Shutdown)",
            "close Some(Shutdown)",
            "close Some(Shutdown)",
            "shutdown (shutting down: true)",
            "shutdown (shutting down: true)",
            "shutdown (shutting down: true)",
        ]
    );
}

#[test]
fn shutdown_deadline_closes_peers_that_never_close() {
    for over in util::Over::ALL {
        shutdown_deadline(over);
    }
}

fn shutdown_deadline(over: util::Over) {
    let (tx, rx) = util::events();
    let clock = Clock::manual();
    let mut e = Engine::<Polite>::with_clock(clock.clone()).expect("Engine::with_clock");
    let place = over.place();
    let id = e
        .listen_with(place.addr.as_str(), move |_| {
            Some(Polite { events: tx.clone() })
        })
        .expect("listen");
    let addr = e
        .server(id)
        .and_then(|s| s.local_addr())
        .expect("a listening server");
    let mut c = util::connect_to(&addr);
    util::pump_engine(&mut e, "the connection", |e| e.stream_count() == 1);
    expect_bytes(&mut c, b"hello\n");
    assert!(!e.is_shutting_down() && !e.is_stopping());

    let grace = Duration::from_secs(5);
    e.shutdown(grace);
    assert!(e.is_shutting_down(), "under way once shutdown() returns");
    assert!(!e.is_stopping(), "a stream is still open");
    rx.expect("shutdown (shutting down: true)");
    // The client reads the goodbye and the end, and never closes its side.
    expect_bytes(&mut c, b"bye\n");
    expect_eof(&mut c);
    clock.advance(grace.saturating_sub(Duration::from_millis(1)));
    e.poll(Some(Duration::ZERO)).expect("poll");
    assert!(e.is_shutting_down() && !e.is_stopping());
    assert_eq!(e.stream_count(), 1, "closed before the deadline");

    clock.advance(Duration::from_millis(1));
    let mut turns = 0;
    while !e.is_stopping() {
        turns += 1;
        assert!(turns <= 100, "the loop did not stop after the deadline");
        e.poll(Some(Duration::from_millis(10))).expect("poll");
    }
    assert_eq!(turns, 1, "stopped in the turn that reached the deadline");
    assert!(!e.is_shutting_down(), "the shutdown is over");
    assert_eq!(e.stream_count(), 0);
    rx.expect("close Some(Shutdown)");
    // start() sees the stop at once, and clears it.
    e.start().expect("start");
    assert!(!e.is_stopping());
    assert!(e.server(id).is_none(), "the listener is gone");
    if over == util::Over::Unix {
        // (A freed TCP port may be taken by a parallel test's listener.)
        util::assert_not_served(&addr);
    }
    assert_eq!(rx.rest(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------
// A panicking handler.

/// Echoes lines; panics on `boom`.
struct Fragile {
    events: Tx,
}

#[channel]
impl Fragile {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.events.send(format!("read {}", show(line)));
        assert!(
            line != b"boom",
            "a handler panics on boom (the test expects this)"
        );
        s.write_all(&[line, b"\n"]);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.events.send(format!("close {:?}", s.close_reason()));
    }
}

#[test]
fn panic_keeps_earlier_replies() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Fragile { events: tx.clone() }));
    let mut c = connect(server.addr());
    send(&mut c, b"a\nb\nboom\nc\n");
    assert_eq!(show(&read_to_eof(&mut c)), "a\\nb\\n");
    rx.expect("read a");
    rx.expect("read b");
    rx.expect("read boom");
    rx.expect("close Some(Panic)");
    // The engine goes on.
    let mut d = connect(server.addr());
    send(&mut d, b"d\n");
    expect_bytes(&mut d, b"d\n");
    rx.expect("read d");
    drop(d);
    rx.expect("close Some(PeerClosed)");
    server.stop();
    assert_eq!(rx.rest(), Vec::<String>::new(), "line c was handled");
}

// ---------------------------------------------------------------------------
// Close reasons.

/// Greets; `close` closes, `idle` sets a 1 s idle timeout, other lines are
/// echoed; lines are at most 16 bytes. Records every close reason.
struct Reasons {
    log: Shared<Vec<String>>,
}

#[channel]
impl Reasons {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write(b"hi\n");
    }

    #[on_read(delimiter = "\n", max = 16)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        match line {
            b"close" => s.close(),
            b"idle" => {
                s.set_timeout(Timeout::Idle, Some(Duration::from_secs(1)));
                self.log.borrow_mut().push("idle set".to_owned());
            }
            _ => {
                s.write_all(&[line, b"\n"]);
            }
        }
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.log
            .borrow_mut()
            .push(format!("connect error: {error}"));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        let reason = s.close_reason().expect("on_close has a reason");
        self.log.borrow_mut().push(format!("close {reason:?}"));
    }
}

/// Python: take the greeting, then close with `SO_LINGER` 0 (a reset).
const RESET: &str = r#"
import struct
s = connect()
assert recv_exact(s, 3) == b"hi\n"
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
out(b"reset")
"#;

#[test]
fn close_reasons() {
    let log: Shared<Vec<String>> = Shared::default();
    let clock = Clock::manual();
    let mut e = Engine::<Reasons>::with_clock(clock.clone()).expect("Engine::with_clock");
    let id = e
        .listen_with("127.0.0.1:0", {
            let log = log.clone();
            move |_| Some(Reasons { log: log.clone() })
        })
        .expect("listen");
    let addr = util::server_addr(&mut e, id);
    let mut table: Vec<(&str, String)> = Vec::new();
    // The reason of the next stream to close.
    let mut next_close = |e: &mut Engine<Reasons>, case: &'static str| {
        util::pump(e, case, || {
            log.borrow().last().is_some_and(|l| l.starts_with("close "))
        });
        let last = log.borrow_mut().pop().expect("a close");
        table.push((case, last["close ".len()..].to_owned()));
        log.borrow_mut().clear();
    };

    // The peer closes (after reading everything: unread input would make
    // its close a reset).
    let mut c = connect(addr);
    util::pump_engine(&mut e, "the connection", |e| e.stream_count() == 1);
    expect_bytes(&mut c, b"hi\n");
    drop(c);
    next_close(&mut e, "peer closes");

    // The peer resets.
    let args = util::py_args(addr);
    let reset = thread::spawn(move || util::python(&format!("{}{RESET}", util::PY_PRELUDE), &args));
    next_close(&mut e, "peer resets");
    assert_eq!(reset.join().expect("python thread"), b"reset");

    // The server closes.
    let mut c = connect(addr);
    send(&mut c, b"close\n");
    next_close(&mut e, "server closes");
    assert_eq!(show(&read_to_eof(&mut c)), "hi\\n");

    // A line over `max`, and no #[on_overflow_error].
    let mut c = connect(addr);
    send(&mut c, &[b'y'; 100]);
    next_close(&mut e, "line over max");
    assert_eq!(show(&util::read_until_closed(&mut c)), "hi\\n");

    // An idle timeout, and no #[on_timeout].
    let mut c = connect(addr);
    send(&mut c, b"idle\n");
    util::pump(&mut e, "the timeout to be set", || {
        log.borrow().iter().any(|l| l == "idle set")
    });
    log.borrow_mut().clear();
    clock.advance(Duration::from_secs(1));
    next_close(&mut e, "idle timeout");
    assert_eq!(show(&read_to_eof(&mut c)), "hi\\n");

    // A refused connect.
    let port = util::closed_port();
    e.connect(port.addr, Reasons { log: log.clone() })
        .expect("connect");
    next_close(&mut e, "refused connect");

    // The engine shuts down.
    let mut c = connect(addr);
    util::pump_engine(&mut e, "the connection", |e| e.stream_count() == 1);
    e.shutdown(TIMEOUT);
    assert_eq!(show(&read_to_eof(&mut c)), "hi\\n");
    drop(c);
    next_close(&mut e, "shutdown");
    assert!(e.is_stopping());

    let want = [
        ("peer closes", "PeerClosed"),
        ("peer resets", "Reset"),
        ("server closes", "Local"),
        ("line over max", "Overflow"),
        ("idle timeout", "Timeout(Idle)"),
        ("refused connect", "ConnectFailed"),
        ("shutdown", "Shutdown"),
    ];
    let got: Vec<(&str, &str)> = table.iter().map(|(c, r)| (*c, r.as_str())).collect();
    assert_eq!(got, want);
    assert_eq!(e.stream_count(), 0);
}

// ---------------------------------------------------------------------------
// run_until_closed.

/// A client that keeps what it reads, and how it ended.
#[derive(Default)]
struct Fetch {
    got: Vec<u8>,
    error: Option<ErrorKind>,
    reason: Option<String>,
}

#[channel]
impl Fetch {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
        self.got.extend_from_slice(data);
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.error = Some(match error {
            pants::Error::Connect { source, .. } => source.kind(),
            other => panic!("not a connect error: {other:?}"),
        });
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.reason = s.close_reason().map(|r| format!("{r:?}"));
    }
}

#[test]
fn run_until_closed_returns_the_channel_value() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || {
        let mut conn = util::accept(&listener);
        conn.write_all(b"hello").expect("write hello");
    });
    let mut e = Engine::<Fetch>::new().expect("Engine::new");
    // Bounded: a stop turns a hang into Err(Stopped).
    let guard = e.defer(TIMEOUT, Engine::stop).unwrap();
    let id = e.connect(addr, Fetch::default()).expect("connect");
    let done: Fetch = e.run_until_closed(id).expect("the stream closes");
    peer.join().expect("peer thread");
    assert_eq!(show(&done.got), "hello");
    assert_eq!(done.error, None);
    assert_eq!(done.reason.as_deref(), Some("PeerClosed"));
    assert!(matches!(
        e.run_until_closed::<Fetch>(id),
        Err(pants::Error::Closed)
    ));

    let port = util::closed_port();
    let id = e.connect(port.addr, Fetch::default()).expect("connect");
    let done: Fetch = e.run_until_closed(id).expect("the stream closes");
    assert!(done.got.is_empty());
    assert_eq!(done.error, Some(ErrorKind::ConnectionRefused));
    assert_eq!(done.reason.as_deref(), Some("ConnectFailed"));
    assert!(e.cancel(guard), "finished before the guard");
    assert_eq!(e.stream_count(), 0);
}

// ---------------------------------------------------------------------------
// Out of file descriptors.

/// Runs `argv[1:]` with at most 32 open files.
pub(crate) const LOW_NOFILE: &str = "import resource, os, sys; \
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32)); \
    os.execv(sys.argv[1], sys.argv[1:])";

/// Sends a byte on `c` and waits for its echo, or for the server to report
/// that it paused accepting. Returns when the echo came, if it did.
pub(crate) fn echo_or_pause(
    server: &ExampleServer,
    c: &mut TcpStream,
    stderr: &mut Vec<String>,
) -> Option<Instant> {
    send(c, b"?");
    c.set_read_timeout(Some(Duration::from_millis(10)))
        .expect("set_read_timeout");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match c.read(&mut [0u8]) {
            Ok(1) => {
                let at = Instant::now();
                c.set_read_timeout(Some(TIMEOUT)).expect("set_read_timeout");
                return Some(at);
            }
            Ok(_) => panic!("the server closed a connection"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading the echo: {e}"),
        }
        while let Some(line) = server.try_stderr(Duration::ZERO) {
            let paused = line.contains("pausing accepts");
            stderr.push(line);
            if paused {
                c.set_read_timeout(Some(TIMEOUT)).expect("set_read_timeout");
                return None;
            }
        }
        assert!(Instant::now() < deadline, "neither an echo nor a pause");
    }
}

#[test]
fn emfile_logs_once_per_episode() {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", LOW_NOFILE])
        .arg(util::example("echo"))
        .arg("127.0.0.1:0");
    let server = ExampleServer::spawn("echo", cmd);
    let mut stderr = Vec::new();
    // Connections one at a time, each echoed, until the server runs out of
    // descriptors. It tries an accept after each one, so it runs out (and
    // says so) just after accepting the last it can hold; the next waits
    // in the kernel's accept queue.
    let mut held = Vec::new();
    let mut last_echo = Instant::now();
    let mut waiting = loop {
        assert!(held.len() < 40, "32 descriptors and never ran out");
        let mut c = connect(server.addr);
        match echo_or_pause(&server, &mut c, &mut stderr) {
            Some(at) => {
                last_echo = at;
                held.push(c);
            }
            None => break c,
        }
    };
    assert!(held.len() >= 10, "only {} connections held", held.len());
    // Let the 100 ms back-off retry and fail a few times (each failure must
    // stay quiet). The retries run on a 100 ms grid from the first failure,
    // which came with the last echo: freeing descriptors half-way between
    // two retries makes the next one find them all free (had it found just
    // one, it would accept the waiting connection and run out again: a new
    // episode).
    let midway = last_echo + Duration::from_millis(350);
    thread::sleep(midway.saturating_duration_since(Instant::now()));
    let keep = held.split_off(held.len() - 2);
    drop(held);
    // The waiting connection is accepted and its byte echoed.
    expect_bytes(&mut waiting, b"?");
    let mut fresh = connect(server.addr);
    send(&mut fresh, b"after");
    expect_bytes(&mut fresh, b"after");
    drop((keep, waiting, fresh));
    server.signal("TERM");
    let (status, rest) = server.wait(TIMEOUT);
    assert!(status.success(), "the server exited with {status}");
    stderr.extend(rest);
    let count = |text: &str| stderr.iter().filter(|l| l.contains(text)).count();
    assert_eq!(count("pausing accepts"), 1, "stderr: {stderr:#?}");
    assert_eq!(
        count("accepting connections again"),
        1,
        "stderr: {stderr:#?}"
    );
}

/// Closes itself from a stream timer, with nothing else going on.
#[derive(Default)]
struct SelfClosing;

#[channel]
impl SelfClosing {
    #[on_connect]
    fn start(&mut self, s: &mut Stream<Self>) {
        s.defer(Duration::from_millis(50), |_, s| s.close())
            .expect("defer");
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[test]
fn run_until_closed_returns_when_a_timer_closes_the_stream() {
    // Regression: the stream closed during a turn's timer work and the same
    // turn then waited for readiness forever.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut engine = Engine::<SelfClosing>::new().expect("engine");
        let id = engine.connect(addr, SelfClosing).expect("connect");
        let closed = engine.run_until_closed::<SelfClosing>(id).is_ok();
        let _ = tx.send(closed);
    });
    let (_held, _) = listener.accept().expect("accept");
    assert_eq!(
        rx.recv_timeout(TIMEOUT),
        Ok(true),
        "run_until_closed returned"
    );
}
