//! Typed frames (`Packed` arguments and derives, `write_packed`), length
//! prefixes (`prefix = u8|u16|u32`, `write_prefixed`) and run-time lengths
//! (`bytes = expr`), over loopback with std and Python 3 clients.

use std::net::Shutdown;

use pants::prelude::*;

use crate::util::{
    self, PY_PRELUDE, connect, expect_bytes, py_args, python, read_n, read_to_eof,
    read_until_closed, send, show,
};

fn run(script: &str, addr: std::net::SocketAddr) -> String {
    show(&python(&format!("{PY_PRELUDE}{script}"), &py_args(addr)))
}

// ---------------------------------------------------------------- typed frames

/// Three big-endian numbers in, their sum and product back as packed values.
#[derive(Default)]
struct Arith;

#[channel]
impl Arith {
    #[on_read]
    fn triple(&mut self, s: &mut Stream<Self>, (a, b, c): (u8, i16, u32)) {
        let sum = i64::from(a) + i64::from(b) + i64::from(c);
        let product = i64::from(a) * i64::from(b) * i64::from(c);
        s.write_packed(&(sum, product));
    }
}

/// A little-endian record with a nested big-endian struct and arrays.
#[derive(Packed, Clone, Copy, Debug, Default, PartialEq)]
#[packed(endian = "little")]
struct Record {
    kind: u8,
    id: u32,
    name: [u8; 4],
    point: Point,
    scores: [u16; 2],
    ratio: f32,
}

/// Big-endian (the default) even inside a little-endian record.
#[derive(Packed, Clone, Copy, Debug, Default, PartialEq)]
struct Point {
    x: i16,
    y: i16,
}

/// A tuple struct, to cover unnamed fields.
#[derive(Packed, Clone, Copy, Debug, Default, PartialEq)]
struct Pair(u8, u8);

/// Reads records, writes each back with `id + 1` and the pair swapped.
#[derive(Default)]
struct Records;

#[channel]
impl Records {
    #[on_read]
    fn record(&mut self, s: &mut Stream<Self>, mut record: Record) {
        record.id += 1;
        record.point = Point {
            x: record.point.y,
            y: record.point.x,
        };
        s.write_packed(&record);
        s.write_packed(&Pair(record.kind, record.name[0]));
    }
}

#[test]
fn tuple_frame_reads_network_order_and_write_packed_answers() {
    let server = util::serve::<Arith>();
    let out = run(
        r#"
import struct
s = connect()
# Two frames in one write, then one frame a byte at a time.
s.sendall(struct.pack("!BhI", 2, -3, 7) + struct.pack("!BhI", 255, 1000, 70000))
for byte in struct.pack("!BhI", 1, 1, 1):
    s.sendall(bytes([byte]))
for _ in range(3):
    total, product = struct.unpack("!qq", recv_exact(s, 16))
    out(b"%d %d|" % (total, product))
"#,
        server.addr(),
    );
    assert_eq!(out, "6 -42|71255 17850000000|3 1|");
}

#[test]
fn derived_struct_frame_round_trips_with_python_struct() {
    let server = util::serve::<Records>();
    let out = run(
        r#"
import struct
fmt = "<BI4s" + ">hh" + "<2Hf"
def record(kind, id, name, x, y, a, b, ratio):
    return struct.pack("<BI4s", kind, id, name) + struct.pack(">hh", x, y) + struct.pack("<2Hf", a, b, ratio)
s = connect()
s.sendall(record(7, 41, b"abcd", -5, 9, 1, 65535, 0.5))
back = recv_exact(s, 1 + 4 + 4 + 4 + 4 + 4)
kind, id, name = struct.unpack("<BI4s", back[:9])
x, y = struct.unpack(">hh", back[9:13])
a, b, ratio = struct.unpack("<2Hf", back[13:])
pair = recv_exact(s, 2)
out(b"%d %d %s %d %d %d %d %.2f %d %d" % (kind, id, name, x, y, a, b, ratio, pair[0], pair[1]))
"#,
        server.addr(),
    );
    assert_eq!(out, "7 42 abcd 9 -5 1 65535 0.50 7 97");
}

#[test]
fn typed_frame_waits_for_all_its_bytes_and_drops_a_fragment_at_eof() {
    let server = util::serve::<Arith>();
    let mut c = connect(server.addr());
    send(&mut c, &[0, 0, 1]);
    send(&mut c, &[0, 0, 0, 2]);
    assert_eq!(
        read_n(&mut c, 16),
        [&3i64.to_be_bytes()[..], &[0; 8]].concat()
    );
    send(&mut c, &[9, 9]);
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_eof(&mut c), b"");
}

#[test]
fn packed_trait_matches_the_wire_layout() {
    assert_eq!(<Record as Packed>::SIZE, 21);
    let record = Record {
        kind: 1,
        id: 0x0102_0304,
        name: *b"wxyz",
        point: Point { x: 1, y: -1 },
        scores: [0x0a0b, 2],
        ratio: 1.0,
    };
    let bytes = Packed::pack(&record);
    assert_eq!(
        bytes,
        [
            1, 4, 3, 2, 1, b'w', b'x', b'y', b'z', 0, 1, 0xff, 0xff, 0x0b, 0x0a, 2, 0, 0, 0, 0x80,
            0x3f
        ]
    );
    assert_eq!(<Record as Packed>::unpack(&bytes), Some(record));
}

// ---------------------------------------------------------------- length prefixes

/// Echoes each length-prefixed payload upper-cased, with the same prefix.
#[derive(Default)]
struct Prefixed8;

#[channel]
impl Prefixed8 {
    #[on_read(prefix = u8)]
    fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        s.write_prefixed::<u8>(&payload.to_ascii_uppercase())
            .expect("fits");
    }
}

#[derive(Default)]
struct Prefixed16;

#[channel]
impl Prefixed16 {
    #[on_read(prefix = u16)]
    fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        s.write_prefixed::<u16>(&payload.to_ascii_uppercase())
            .expect("fits");
    }
}

/// `u32` prefix capped at 16 bytes of payload; an overflow handler that
/// reports and keeps the stream, so the too-large frame is skipped.
#[derive(Default)]
struct Prefixed32;

#[channel]
impl Prefixed32 {
    #[on_read(prefix = u32, max = 16)]
    fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        s.write_prefixed::<u32>(&payload.to_ascii_uppercase())
            .expect("fits");
    }

    #[on_overflow_error]
    fn too_big(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        let report = format!("{error}");
        s.write_prefixed::<u32>(report.as_bytes()).expect("fits");
    }
}

/// `u16` prefix capped at 8 bytes, default overflow handling (close).
#[derive(Default)]
struct PrefixedStrict;

#[channel]
impl PrefixedStrict {
    #[on_read(prefix = u16, max = 8)]
    fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        s.write(payload);
    }
}

/// Answers with a payload that cannot fit a `u8` prefix.
#[derive(Default)]
struct TooLongReply;

#[channel]
impl TooLongReply {
    #[on_read(prefix = u8)]
    fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        let long = payload.repeat(100);
        match s.write_prefixed::<u8>(&long) {
            Ok(()) => s.write(b"unexpected: queued"),
            Err(e) => s.write(format!("{e}").as_bytes()),
        };
    }
}

const PREFIX_CLIENT: &str = r#"
import struct
WIDTH = {"B": 1, "H": 2, "I": 4}
def frame(fmt, payload):
    return struct.pack("!" + fmt, len(payload)) + payload
def answer(s, fmt):
    (n,) = struct.unpack("!" + fmt, recv_exact(s, WIDTH[fmt]))
    return recv_exact(s, n)
"#;

#[test]
fn prefix_u8_and_u16_frames_of_every_length_including_zero() {
    let servers = (util::serve::<Prefixed8>(), util::serve::<Prefixed16>());
    for (fmt, addr) in [("B", servers.0.addr()), ("H", servers.1.addr())] {
        let out = run(
            &format!(
                r#"{PREFIX_CLIENT}
FMT = "{fmt}"
s = connect()
payloads = [b"hello", b"", b"x" * 255, b"a\r\nb\x00"]
s.sendall(b"".join(frame(FMT, p) for p in payloads))
for p in payloads:
    assert answer(s, FMT) == p.upper(), p
# One frame a byte at a time.
for byte in frame(FMT, b"slow"):
    s.sendall(bytes([byte]))
out(answer(s, FMT))
"#
            ),
            addr,
        );
        assert_eq!(out, "SLOW", "prefix {fmt}");
    }
}

#[test]
fn prefix_over_the_cap_is_reported_and_skipped_when_kept_open() {
    let server = util::serve::<Prefixed32>();
    let out = run(
        &format!(
            r#"{PREFIX_CLIENT}
s = connect()
s.sendall(frame("I", b"small"))
assert answer(s, "I") == b"SMALL"
# 100 bytes announced, over the cap of 16: reported at once, before the
# payload arrives; then the payload is skipped, in pieces.
s.sendall(struct.pack("!I", 100) + b"z" * 10)
out(answer(s, "I") + b"|")
s.sendall(b"z" * 90 + frame("I", b"after"))
out(answer(s, "I") + b"|")
# A length of 2**32 - 1 is rejected too, without buffering anything.
s.sendall(struct.pack("!I", 2**32 - 1))
out(answer(s, "I"))
"#
        ),
        server.addr(),
    );
    assert_eq!(
        out,
        "frame too large: 100 bytes (limit 16)|AFTER|frame too large: 4294967295 bytes (limit 16)"
    );
}

#[test]
fn prefix_over_the_cap_closes_by_default() {
    let server = util::serve::<PrefixedStrict>();
    let mut c = connect(server.addr());
    send(&mut c, b"\x00\x02ok\x00\x09");
    assert_eq!(read_until_closed(&mut c), b"ok");
}

#[test]
fn prefix_fragment_at_eof_is_dropped() {
    let server = util::serve::<Prefixed16>();
    let mut c = connect(server.addr());
    send(&mut c, b"\x00\x01a\x00\x05abc");
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_eof(&mut c), b"\x00\x01A");
}

#[test]
fn write_prefixed_refuses_a_payload_longer_than_its_prefix() {
    let server = util::serve::<TooLongReply>();
    let mut c = connect(server.addr());
    send(&mut c, b"\x03abc");
    expect_bytes(&mut c, b"frame too large: 300 bytes (limit 255)");
}

// ---------------------------------------------------------------- bytes = expr

/// A header-then-body protocol: a `u16` length and a `u8` tag, then that
/// many body bytes; echoes `tag:body;`. Lengths over 32 are too large.
#[derive(Default)]
struct Chunks {
    length: u16,
    tag: u8,
}

#[channel]
impl Chunks {
    #[on_read(initial)]
    fn header(&mut self, s: &mut Stream<Self>, (length, tag): (u16, u8)) {
        // The switch comes first: the length is read when the state is
        // entered, after this handler returns.
        s.switch(Self::BODY);
        self.length = length;
        self.tag = tag;
    }

    #[on_read(bytes = self.length, max = 32)]
    fn body(&mut self, s: &mut Stream<Self>, body: &[u8]) {
        s.write_all(&[&[self.tag], b":", body, b";"]);
        s.switch(Self::HEADER);
    }
}

#[test]
fn header_then_body_with_the_announced_length() {
    let server = util::serve::<Chunks>();
    let out = run(
        r#"
import struct
def chunk(tag, body):
    return struct.pack("!HB", len(body), ord(tag)) + body
s = connect()
s.sendall(chunk("a", b"hello") + chunk("b", b"") + chunk("c", b"x" * 32))
want = b"a:hello;b:;c:" + b"x" * 32 + b";"
out(recv_exact(s, len(want)))
# Split anywhere: one byte at a time.
for byte in chunk("d", b"slow body"):
    s.sendall(bytes([byte]))
out(b"|" + recv_exact(s, len(b"d:slow body;")))
"#,
        server.addr(),
    );
    assert_eq!(
        out,
        format!("a:hello;b:;c:{};|d:slow body;", "x".repeat(32))
    );
}

#[test]
fn announced_length_over_max_closes_by_default() {
    let server = util::serve::<Chunks>();
    let mut c = connect(server.addr());
    send(&mut c, b"\x00\x02ahi\x00\x21b");
    assert_eq!(read_until_closed(&mut c), b"a:hi;");
}

/// Counts down: each body frame is `remaining` bytes, and re-entering the
/// state (a switch to itself) evaluates the length again.
#[derive(Default)]
struct Countdown {
    remaining: usize,
}

#[channel]
impl Countdown {
    #[on_read(initial)]
    fn start(&mut self, s: &mut Stream<Self>, n: u8) {
        self.remaining = usize::from(n);
        s.switch(Self::PIECE);
    }

    #[on_read(bytes = self.remaining)]
    fn piece(&mut self, s: &mut Stream<Self>, piece: &[u8]) {
        s.write_all(&[piece, b"|"]);
        if self.remaining == 0 {
            s.switch(Self::START);
        } else {
            self.remaining -= 1;
            s.switch(Self::PIECE);
        }
    }
}

#[test]
fn bytes_expr_is_evaluated_on_each_entry_and_zero_gives_one_empty_frame() {
    let server = util::serve::<Countdown>();
    let mut c = connect(server.addr());
    send(&mut c, b"\x03aaabbc\x01d");
    expect_bytes(&mut c, b"aaa|bb|c||d||");
}

/// The length stays as it was on entry while the state repeats.
#[derive(Default)]
struct Fixed {
    size: usize,
}

#[channel]
impl Fixed {
    #[on_read(initial)]
    fn size(&mut self, s: &mut Stream<Self>, size: u8) {
        self.size = usize::from(size);
        s.switch(Self::BLOCK);
    }

    #[on_read(bytes = self.size)]
    fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
        s.write_all(&[block, b"|"]);
        // Not a switch: the state keeps the length it entered with.
        self.size = 1;
    }
}

#[test]
fn bytes_expr_keeps_its_length_until_the_state_is_entered_again() {
    let server = util::serve::<Fixed>();
    let mut c = connect(server.addr());
    send(&mut c, b"\x02aabbcc");
    expect_bytes(&mut c, b"aa|bb|cc|");
}
