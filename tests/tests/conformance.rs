//! The original Pants test suite, ported: echo, echo-to-all, read delimiters
//! and engine timers. The network cases use Python 3 clients, as the
//! originals did, so the peer is an independent implementation.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use pants::prelude::*;

use crate::util::{self, Echo, PY_PRELUDE, py_args, python, show};

/// Pants' `EchoToAll`: every chunk goes to every connection of the server.
#[derive(Default)]
struct EchoToAll;

#[channel]
impl EchoToAll {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.broadcast(data);
    }
}

/// `read_delimiter = "\r\n"`; writes `data * 2`.
#[derive(Default)]
struct DoubleLines;

#[channel]
impl DoubleLines {
    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[line, line]);
    }
}

/// `read_delimiter = 4`; writes `data * 2`.
#[derive(Default)]
struct DoubleBlocks;

#[channel]
impl DoubleBlocks {
    #[on_read(bytes = 4)]
    fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
        s.write_all(&[block, block]);
    }
}

/// `read_delimiter = re.compile(r"\s\s+")`; writes `data`.
#[derive(Default)]
struct RegexSplit;

#[channel]
impl RegexSplit {
    #[on_read(regex = r"\s\s+")]
    fn piece(&mut self, s: &mut Stream<Self>, piece: &[u8]) {
        s.write(piece);
    }
}

/// `read_delimiter = Struct("!2H")`; writes `str(a * b)`.
#[derive(Default)]
struct Product;

#[channel]
impl Product {
    #[on_read]
    fn pair(&mut self, s: &mut Stream<Self>, (a, b): (u16, u16)) {
        s.write((u32::from(a) * u32::from(b)).to_string().as_bytes());
    }
}

/// `read_delimiter = NetStruct("ih$5b")`: an `i32`, a string with a `u16`
/// length, five `i8`s; writes the values as JSON. Three read states.
#[derive(Default)]
struct NetStruct {
    number: i32,
    text: String,
}

#[channel]
impl NetStruct {
    #[on_read(initial)]
    fn number(&mut self, s: &mut Stream<Self>, number: i32) {
        self.number = number;
        s.switch(Self::TEXT);
    }

    #[on_read(prefix = u16)]
    fn text(&mut self, s: &mut Stream<Self>, text: &[u8]) {
        self.text = String::from_utf8_lossy(text).into_owned();
        s.switch(Self::TAIL);
    }

    #[on_read]
    fn tail(&mut self, s: &mut Stream<Self>, tail: [i8; 5]) {
        let tail: Vec<String> = tail.iter().map(ToString::to_string).collect();
        let json = format!("[{}, {:?}, {}]", self.number, self.text, tail.join(", "));
        s.write(json.as_bytes());
        s.switch(Self::NUMBER);
    }
}

fn run(script: &str, addr: std::net::SocketAddr) -> String {
    show(&python(&format!("{PY_PRELUDE}{script}"), &py_args(addr)))
}

#[test]
fn pants_echo() {
    let server = util::serve::<Echo>();
    let out = run(
        r#"
s = connect()
s.sendall(b"test echo")
out(recv_exact(s, 9))
"#,
        server.addr(),
    );
    assert_eq!(out, "test echo");
}

#[test]
fn pants_echo_to_all_single_client() {
    let server = util::serve::<EchoToAll>();
    let out = run(
        r#"
s = connect()
s.sendall(b"test echo_to_all")
out(recv_exact(s, 16))
"#,
        server.addr(),
    );
    assert_eq!(out, "test echo_to_all");
}

#[test]
fn pants_echo_to_all_two_sequential_clients() {
    let server = util::serve::<EchoToAll>();
    let out = run(
        r#"
for msg in (b"first client", b"second client"):
    s = connect()
    s.sendall(msg)
    out(recv_exact(s, len(msg)) + b"|")
    s.close()
"#,
        server.addr(),
    );
    assert_eq!(out, "first client|second client|");
}

#[test]
fn pants_echo_to_all_two_concurrent_clients() {
    let server = util::serve::<EchoToAll>();
    // The original raced: c2 might not be accepted yet when m1 arrived. Here
    // each client's hello comes back to itself first, which proves it was
    // accepted, and c2's hello reaching c1 proves both are registered.
    let out = run(
        r#"
c1 = connect()
c1.sendall(b"hello1")
assert recv_exact(c1, 6) == b"hello1"
c2 = connect()
c2.sendall(b"hello2")
assert recv_exact(c2, 6) == b"hello2"
assert recv_exact(c1, 6) == b"hello2"
c1.sendall(b"m1")
out(recv_exact(c1, 2) + recv_exact(c2, 2) + b"|")
c2.sendall(b"m2")
out(recv_exact(c1, 2) + recv_exact(c2, 2))
"#,
        server.addr(),
    );
    assert_eq!(out, "m1m1|m2m2");
}

#[test]
fn pants_read_delimiter_string() {
    let server = util::serve::<DoubleLines>();
    let out = run(
        r#"
s = connect()
s.sendall(b"line1\r\nline2\r\n")
out(recv_exact(s, 20))
"#,
        server.addr(),
    );
    assert_eq!(out, "line1line1line2line2");
}

#[test]
fn pants_read_delimiter_int() {
    let server = util::serve::<DoubleBlocks>();
    let out = run(
        r#"
s = connect()
s.sendall(b"1111")
out(recv_exact(s, 8) + b"|")
s.sendall(b"2222")
out(recv_exact(s, 8))
"#,
        server.addr(),
    );
    assert_eq!(out, "11111111|22222222");
}

#[test]
fn pants_read_delimiter_regex() {
    let server = util::serve::<RegexSplit>();
    let out = run(
        r#"
s = connect()
s.sendall(b"This is  a test.  ")
out(recv_exact(s, 14))
"#,
        server.addr(),
    );
    assert_eq!(out, "This isa test.");
}

// Engine timers, as in Pants' engine tests: each `poll` is one turn.

fn engine() -> Engine<Echo> {
    Engine::new().expect("Engine::new")
}

fn counter() -> (Rc<Cell<u32>>, Rc<Cell<u32>>) {
    let c = Rc::new(Cell::new(0));
    (c.clone(), c)
}

fn turn(engine: &mut Engine<Echo>, timeout: Duration) {
    engine.poll(Some(timeout)).expect("poll");
}

#[test]
fn pants_timer_callback() {
    let mut e = engine();
    let (calls, c) = counter();
    e.callback(move |_| c.set(c.get() + 1));
    turn(&mut e, Duration::from_millis(10));
    assert_eq!(calls.get(), 1);
}

#[test]
fn pants_timer_callback_cancel() {
    let mut e = engine();
    let (calls, c) = counter();
    let id = e.callback(move |_| c.set(c.get() + 1));
    assert!(e.cancel(id));
    turn(&mut e, Duration::from_millis(10));
    assert_eq!(calls.get(), 0);
}

#[test]
fn pants_timer_loop() {
    let mut e = engine();
    let (calls, c) = counter();
    e.every_turn(move |_| c.set(c.get() + 1));
    for _ in 0..3 {
        turn(&mut e, Duration::from_millis(10));
    }
    assert_eq!(calls.get(), 3);
}

#[test]
fn pants_timer_loop_cancel() {
    let mut e = engine();
    let (calls, c) = counter();
    let id = e.every_turn(move |_| c.set(c.get() + 1));
    turn(&mut e, Duration::from_millis(10));
    assert!(e.cancel(id));
    for _ in 0..2 {
        turn(&mut e, Duration::from_millis(10));
    }
    assert_eq!(calls.get(), 1);
}

#[test]
fn pants_timer_defer() {
    let mut e = engine();
    let (calls, c) = counter();
    e.defer(Duration::from_millis(10), move |e| {
        c.set(c.get() + 1);
        e.stop();
    })
    .unwrap();
    // A safety net, cancelled below.
    let guard = e.defer(util::TIMEOUT, Engine::stop).unwrap();
    e.start().unwrap();
    assert_eq!(calls.get(), 1);
    assert!(e.cancel(guard));
}

#[test]
fn pants_timer_defer_cancel() {
    let mut e = engine();
    let (calls, c) = counter();
    let id = e
        .defer(Duration::from_millis(10), move |_| c.set(c.get() + 1))
        .unwrap();
    assert!(e.cancel(id));
    e.defer(Duration::from_millis(30), Engine::stop).unwrap();
    e.start().unwrap();
    assert_eq!(calls.get(), 0);
}

#[test]
fn pants_timer_cycle() {
    let mut e = engine();
    let (calls, c) = counter();
    e.cycle(Duration::from_millis(10), move |e| {
        c.set(c.get() + 1);
        if c.get() == 3 {
            e.stop();
        }
    })
    .unwrap();
    let guard = e.defer(util::TIMEOUT, Engine::stop).unwrap();
    e.start().unwrap();
    assert_eq!(calls.get(), 3);
    assert!(e.cancel(guard));
}

#[test]
fn pants_timer_cycle_cancel() {
    let mut e = engine();
    let (calls, c) = counter();
    let id = e
        .cycle(Duration::from_millis(5), move |_| c.set(c.get() + 1))
        .unwrap();
    assert!(e.cancel(id));
    e.defer(Duration::from_millis(30), Engine::stop).unwrap();
    e.start().unwrap();
    assert_eq!(calls.get(), 0);
}

#[test]
fn pants_read_delimiter_struct() {
    let server = util::serve::<Product>();
    let out = run(
        r#"
import struct
s = connect()
s.sendall(struct.pack("!2H", 42, 81))
out(recv_exact(s, 4))
"#,
        server.addr(),
    );
    assert_eq!(out, "3402");
}

#[test]
fn pants_read_delimiter_netstruct() {
    let server = util::serve::<NetStruct>();
    // The original's input, in its three pieces.
    let out = python(
        &format!(
            r#"{PY_PRELUDE}
s = connect()
s.sendall(b"\x00\x00\x05\x12")
s.sendall(b"\x00\x07default")
s.sendall(b"\x00\x00\x01\x00\x08")
want = b'[1298, "default", 0, 0, 1, 0, 8]'
out(recv_exact(s, len(want)))
"#
        ),
        &py_args(server.addr()),
    );
    assert_eq!(out, br#"[1298, "default", 0, 0, 1, 0, 8]"#);
}
