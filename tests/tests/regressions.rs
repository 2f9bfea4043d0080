//! Bugs seen in Pants and in event loops like it, pinned down.

use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;

use pants::Channel;
use pants::prelude::*;

use crate::util::{
    self, Echo, Shared, TIMEOUT, Tx, connect, expect_bytes, expect_eof, read_line, read_to_eof,
    read_until_closed, send, show,
};

/// A chat room that reports how many connections it sees, and whether the
/// stream itself is among them, whenever someone joins, leaves or asks.
#[derive(Default)]
struct Room;

/// `(connections().count(), len(), whether this stream is listed)`.
fn census<C: Channel>(s: &mut Stream<'_, C>) -> (usize, usize, bool) {
    let me = s.id();
    s.server().map_or((0, 0, false), |server| {
        (
            server.connections().count(),
            server.len(),
            server.connections().any(|id| id == me),
        )
    })
}

#[channel]
impl Room {
    #[on_connect]
    fn joined(&mut self, s: &mut Stream<Self>) {
        let (n, len, me) = census(s);
        s.broadcast(format!("join n={n} len={len} self={me}\r\n").as_bytes());
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        match line {
            b"who" => {
                let (n, len, me) = census(s);
                s.write(format!("who n={n} len={len} self={me}\r\n").as_bytes());
            }
            b"quit" => {
                s.close();
                let (n, len, me) = census(s);
                s.broadcast(format!("quit n={n} len={len} self={me}\r\n").as_bytes());
            }
            _ => {
                s.broadcast(&[line, b"\r\n"].concat());
            }
        }
    }

    #[on_close]
    fn left(&mut self, s: &mut Stream<Self>) {
        let (n, len, me) = census(s);
        s.broadcast(format!("left n={n} len={len} self={me}\r\n").as_bytes());
    }
}

/// `kill` closes every other connection of the server.
#[derive(Default)]
struct Killer;

#[channel]
impl Killer {
    #[on_connect]
    fn hi(&mut self, s: &mut Stream<Self>) {
        s.write(b"hi\r\n");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        if line == b"kill" {
            let me = s.id();
            let others: Vec<StreamId> = s
                .server()
                .map(|server| server.connections().filter(|&id| id != me).collect())
                .unwrap_or_default();
            for &id in &others {
                s.close_stream(id);
            }
            s.write(format!("killed {}\r\n", others.len()).as_bytes());
        } else {
            s.write_all(&[line, b"\r\n"]);
        }
    }
}

/// Panics on `panic` (and in `on_connect` when told to); echoes lines.
struct Fragile {
    events: Tx,
    panic_on_connect: bool,
}

#[channel]
impl Fragile {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        assert!(
            !self.panic_on_connect,
            "on_connect panics (the test expects this)"
        );
        s.write(b"hi\r\n");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        assert!(line != b"panic", "on_read panics (the test expects this)");
        s.write_all(&[line, b"\r\n"]);
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.events.send("close");
    }
}

/// Records stream ids and closes (single-threaded tests).
struct Ids {
    ids: Shared<Vec<StreamId>>,
    closed: Shared<usize>,
}

#[channel]
impl Ids {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        self.ids.borrow_mut().push(s.id());
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        *self.closed.borrow_mut() += 1;
    }
}

/// Ignores input.
#[derive(Default)]
struct Quiet;

#[channel]
impl Quiet {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

/// Lines: `quit` closes after answering, `bye` half-closes, `twice` closes
/// in every way at once; every line and the close are events.
struct Closer {
    events: Tx,
}

#[channel]
impl Closer {
    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.events.send(format!("read {}", show(line)));
        util::bracket(s, line);
        match line {
            b"quit" => s.close(),
            b"bye" => {
                s.shutdown_write();
                let accepted = s.write(b"too late");
                self.events
                    .send(format!("write after shutdown: {accepted}"));
            }
            b"twice" => {
                s.close();
                s.close();
                s.close_now();
                s.close();
                let open = s.is_open();
                self.events.send(format!("open after close: {open}"));
            }
            _ => {}
        }
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.events.send("close");
    }
}

#[test]
fn connections_never_yield_a_closed_stream_and_broadcast_after_a_leave_works() {
    let server = util::serve::<Room>();
    let addr = server.addr();
    let mut a = connect(addr);
    expect_bytes(&mut a, b"join n=1 len=1 self=true\r\n");
    let mut b = connect(addr);
    for c in [&mut a, &mut b] {
        expect_bytes(c, b"join n=2 len=2 self=true\r\n");
    }
    let mut c = connect(addr);
    for x in [&mut a, &mut b, &mut c] {
        expect_bytes(x, b"join n=3 len=3 self=true\r\n");
    }
    // B leaves; while its on_close runs it is no longer listed.
    drop(b);
    for x in [&mut a, &mut c] {
        expect_bytes(x, b"left n=2 len=2 self=false\r\n");
    }
    // Broadcasting after a client left reaches exactly the others.
    send(&mut a, b"after\r\n");
    for x in [&mut a, &mut c] {
        expect_bytes(x, b"after\r\n");
    }
    send(&mut a, b"who\r\n");
    expect_bytes(&mut a, b"who n=2 len=2 self=true\r\n");
    // A stream that is closing is not live: connections() and len() agree.
    send(&mut c, b"quit\r\n");
    assert_eq!(show(&read_line(&mut a)), "quit n=1 len=1 self=false\\r\\n");
    assert_eq!(show(&read_line(&mut a)), "left n=1 len=1 self=false\\r\\n");
    expect_eof(&mut c);
    send(&mut a, b"alone\r\n");
    expect_bytes(&mut a, b"alone\r\n");
}

#[test]
fn closing_another_stream_with_events_pending_in_the_same_batch_keeps_the_engine_alive() {
    let server = util::serve::<Killer>();
    let addr = server.addr();
    let mut a = connect(addr);
    let mut b = connect(addr);
    expect_bytes(&mut a, b"hi\r\n");
    expect_bytes(&mut b, b"hi\r\n");
    // Hold the engine inside a call while both clients send, so that both
    // readable events arrive in one batch of the next turn.
    let (held_tx, held) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    server.handle.call(move |_| {
        let _ = held_tx.send(());
        let _ = released.recv_timeout(TIMEOUT);
    });
    held.recv_timeout(TIMEOUT)
        .expect("the engine took the call");
    send(&mut a, b"kill\r\n");
    send(&mut b, b"kill\r\n");
    release.send(()).unwrap();
    // Whichever was handled first closed the other.
    let from_a = read_until_closed_or_line(&mut a);
    let from_b = read_until_closed_or_line(&mut b);
    let mut outcomes = [from_a.clone(), from_b.clone()];
    outcomes.sort();
    assert_eq!(
        outcomes,
        [String::new(), "killed 1\\r\\n".to_owned()],
        "a: {from_a:?}, b: {from_b:?}"
    );
    let survivor = if from_a.is_empty() { &mut b } else { &mut a };
    send(survivor, b"still here\r\n");
    expect_bytes(survivor, b"still here\r\n");
    let mut late = connect(addr);
    expect_bytes(&mut late, b"hi\r\n");
    send(&mut late, b"ping\r\n");
    expect_bytes(&mut late, b"ping\r\n");
}

/// The killed client sees its stream close (EOF or reset, it had unread
/// input): empty. The survivor gets a line.
fn read_until_closed_or_line(s: &mut std::net::TcpStream) -> String {
    let mut first = [0u8];
    if let Ok(1) = std::io::Read::read(s, &mut first) {
        let mut line = vec![first[0]];
        line.extend(read_line(s));
        show(&line)
    } else {
        read_until_closed(s);
        String::new()
    }
}

#[test]
fn panic_in_a_read_handler_closes_only_that_stream() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| {
        Some(Fragile {
            events: tx.clone(),
            panic_on_connect: false,
        })
    });
    let mut a = connect(server.addr());
    let mut b = connect(server.addr());
    expect_bytes(&mut a, b"hi\r\n");
    expect_bytes(&mut b, b"hi\r\n");
    send(&mut a, b"panic\r\n");
    assert_eq!(show(&read_until_closed(&mut a)), "");
    rx.expect("close");
    send(&mut b, b"fine\r\n");
    expect_bytes(&mut b, b"fine\r\n");
    let mut c = connect(server.addr());
    expect_bytes(&mut c, b"hi\r\n");
    server.stop();
    assert_eq!(rx.rest(), Vec::<String>::new(), "one on_close, for a");
}

#[test]
fn panic_in_on_connect_closes_only_that_stream() {
    let (tx, rx) = util::events();
    let mut accepted = 0;
    let server = util::serve_with(move |_| {
        accepted += 1;
        Some(Fragile {
            events: tx.clone(),
            panic_on_connect: accepted == 2,
        })
    });
    let mut a = connect(server.addr());
    expect_bytes(&mut a, b"hi\r\n");
    let mut b = connect(server.addr());
    assert_eq!(show(&read_until_closed(&mut b)), "");
    rx.expect("close");
    send(&mut a, b"fine\r\n");
    expect_bytes(&mut a, b"fine\r\n");
    let mut c = connect(server.addr());
    expect_bytes(&mut c, b"hi\r\n");
}

#[test]
fn a_stale_stream_id_never_reaches_a_newer_stream_in_the_same_slot() {
    let ids = Shared::default();
    let closed = Shared::default();
    let mut engine = Engine::<Ids>::new().unwrap();
    let server = engine
        .listen_with("127.0.0.1:0", {
            let (ids, closed) = (ids.clone(), closed.clone());
            move |_| {
                Some(Ids {
                    ids: ids.clone(),
                    closed: closed.clone(),
                })
            }
        })
        .unwrap();
    let addr = util::server_addr(&mut engine, server);
    let first = connect(addr);
    util::pump(&mut engine, "the first connection", || {
        ids.borrow().len() == 1
    });
    drop(first);
    util::pump(&mut engine, "the first stream to close", || {
        *closed.borrow() == 1
    });
    let mut second = connect(addr);
    util::pump(&mut engine, "the second connection", || {
        ids.borrow().len() == 2
    });
    let (old, new) = (ids.borrow()[0], ids.borrow()[1]);
    assert_ne!(old, new);
    let slot = |id: StreamId| id.to_string().split('.').next().map(str::to_owned);
    assert_eq!(slot(old), slot(new), "the test needs the slot reused");
    assert!(
        !engine.write(old, b"stale"),
        "a write to a closed stream's id"
    );
    engine.close(old);
    engine.shutdown_write(old);
    assert_eq!(engine.with_stream(old, |_: &mut Ids, _| ()), None);
    assert_eq!(engine.stream_count(), 1, "the stale close did nothing");
    assert!(engine.write(new, b"fresh"));
    expect_bytes(&mut second, b"fresh");
    assert_eq!(*closed.borrow(), 1);
}

#[test]
fn writes_queued_before_the_connection_is_up_are_sent_once_connected() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = listener.local_addr().unwrap();
    let _engine = util::spawn(move |e: &mut Engine<Quiet>| {
        let id = e.connect(peer, Quiet).expect("connect");
        assert!(e.write(id, b"early "), "a connecting stream takes writes");
        assert!(e.write(id, b"bird\r\n"));
        None
    });
    let mut conn = util::accept(&listener);
    expect_bytes(&mut conn, b"early bird\r\n");
}

#[test]
fn close_in_a_handler_stops_delivering_buffered_frames() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Closer { events: tx.clone() }));
    let mut c = connect(server.addr());
    send(&mut c, b"a\r\nquit\r\nb\r\n");
    assert_eq!(show(&read_until_closed(&mut c)), "[a][quit]");
    rx.expect("read a");
    rx.expect("read quit");
    rx.expect("close");
    server.stop();
    assert_eq!(rx.rest(), Vec::<String>::new());
}

#[test]
fn closing_many_times_runs_on_close_once() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Closer { events: tx.clone() }));
    let mut c = connect(server.addr());
    send(&mut c, b"twice\r\n");
    // close_now discarded the reply.
    assert_eq!(show(&read_until_closed(&mut c)), "");
    rx.expect("read twice");
    rx.expect("open after close: false");
    rx.expect("close");
    server.stop();
    assert_eq!(rx.rest(), Vec::<String>::new());
}

#[test]
fn shutdown_write_in_a_handler_keeps_reading() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Closer { events: tx.clone() }));
    let mut c = connect(server.addr());
    send(&mut c, b"bye\r\n");
    assert_eq!(show(&read_to_eof(&mut c)), "[bye]");
    rx.expect("read bye");
    rx.expect("write after shutdown: false");
    send(&mut c, b"more\r\n");
    rx.expect("read more");
    c.shutdown(Shutdown::Write).unwrap();
    rx.expect("close");
}

#[test]
fn a_client_that_resets_does_not_disturb_the_others() {
    let server = util::serve::<Echo>();
    let mut other = connect(server.addr());
    // SO_LINGER 0 turns close into a reset.
    let script = format!(
        "{}{}",
        util::PY_PRELUDE,
        r#"
import struct
s = connect()
s.sendall(b"x")
assert recv_exact(s, 1) == b"x"
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.sendall(b"y" * 1000)
s.close()
out(b"reset")
"#
    );
    assert_eq!(
        util::python(&script, &util::py_args(server.addr())),
        b"reset"
    );
    send(&mut other, b"still serving");
    expect_bytes(&mut other, b"still serving");
    let mut late = connect(server.addr());
    send(&mut late, b"late");
    expect_bytes(&mut late, b"late");
}

/// Writes 2 MiB on connect and closes at once.
#[derive(Default)]
struct Flood;

const FLOOD: usize = 2 << 20;

#[channel]
impl Flood {
    #[on_connect]
    fn flood(&mut self, s: &mut Stream<Self>) {
        let data: Vec<u8> = (0..FLOOD).map(|i| (i % 251) as u8).collect();
        s.write(&data);
        s.close();
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[test]
fn graceful_close_sends_everything_queued_first() {
    let server = util::serve::<Flood>();
    let mut c = connect(server.addr());
    let got = read_to_eof(&mut c);
    assert_eq!(got.len(), FLOOD);
    assert!(
        got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
        "the data arrived damaged"
    );
}

/// Front and Back of a relay: two channel types on one engine.
#[derive(pants::App)]
enum Relay {
    Front(Front),
    Back(Back),
}

struct Front {
    backend: std::net::SocketAddr,
    back: Option<StreamId>,
    events: Tx,
}

#[channel(app = Relay)]
impl Front {
    #[on_connect]
    fn accepted(&mut self, s: &mut Stream<Self>) {
        let back = Back {
            front: s.id(),
            events: self.events.clone(),
        };
        self.back = Some(s.connect(self.backend, back).expect("connect"));
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        // The backend may still be connecting: the bytes wait in its queue.
        if let Some(back) = self.back {
            s.write_to(back, data);
        }
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.events.send("front closed");
        if let Some(back) = self.back {
            s.close_stream(back);
        }
    }
}

struct Back {
    front: StreamId,
    events: Tx,
}

#[channel(app = Relay)]
impl Back {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write_to(self.front, data);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.events.send("back closed");
        s.close_stream(self.front);
    }
}

#[test]
fn relay_of_two_channel_types_forwards_both_ways_and_closes_together() {
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let (tx, rx) = util::events();
    let relay = util::spawn(move |e: &mut Engine<Relay>| {
        let id = e
            .listen_with("127.0.0.1:0", move |_| {
                Some(Front {
                    backend: backend_addr,
                    back: None,
                    events: tx.clone(),
                })
            })
            .expect("listen");
        Some(id)
    });
    let mut client = connect(relay.addr());
    // Sent at once: it reaches the backend even though the relay's backend
    // connection was not up when it arrived.
    send(&mut client, b"hello backend");
    let mut back = util::accept(&backend);
    expect_bytes(&mut back, b"hello backend");
    send(&mut back, b"hello client");
    expect_bytes(&mut client, b"hello client");
    // The backend leaves: the relay closes the client's side too.
    drop(back);
    expect_eof(&mut client);
    rx.expect("back closed");
    rx.expect("front closed");
    assert_eq!(relay.call(|e| e.stream_count()), 0);
}
