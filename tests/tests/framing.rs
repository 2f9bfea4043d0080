//! How input is cut into frames: delimiters, byte counts, regexes, the buffer
//! cap, the end of input, and read-state switches.

use std::net::Shutdown;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use pants::prelude::*;

use crate::util::{
    self, Lines, Shared, TIMEOUT, bracket, connect, expect_bytes, expect_eof, read_to_eof, send,
    show,
};

/// Fixed-size frames, each written back in brackets.
#[derive(Default)]
struct Blocks;

#[channel]
impl Blocks {
    #[on_read(bytes = 4)]
    fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
        bracket(s, block);
    }
}

/// Frames end at a run of two or more whitespace bytes.
#[derive(Default)]
struct Sentences;

#[channel]
impl Sentences {
    #[on_read(regex = r"\s\s+")]
    fn sentence(&mut self, s: &mut Stream<Self>, sentence: &[u8]) {
        bracket(s, sentence);
    }
}

/// `key=value;` records, read in regex match mode with captures.
#[derive(Default)]
struct Pairs;

#[channel]
impl Pairs {
    #[on_read(regex = r"(?P<key>[a-z]+)=([0-9]+);", mode = "match")]
    fn pair(&mut self, s: &mut Stream<Self>, m: Match<'_>) {
        let whole = m.get(0).unwrap_or(b"?");
        let key = m.name("key").unwrap_or(b"?");
        let value = m.get(2).unwrap_or(b"?");
        let groups = m.len().to_string();
        let same = if m.as_bytes() == whole {
            ""
        } else {
            " as_bytes differs"
        };
        s.write_all(&[
            whole,
            b" -> ",
            key,
            b":",
            value,
            b" (",
            groups.as_bytes(),
            b" groups",
            same.as_bytes(),
            b")\n",
        ]);
    }
}

/// Lines capped at 16 buffered bytes, with an overflow handler.
struct Capped {
    keep_open: bool,
}

#[channel]
impl Capped {
    #[on_read(delimiter = "\r\n", max = 16)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        bracket(s, line);
    }

    #[on_overflow_error]
    fn overflow(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        let report = match error {
            pants::Error::Overflow { limit, buffered } => {
                format!("overflow limit={limit} buffered={buffered}\r\n")
            }
            other => format!("unexpected error: {other}\r\n"),
        };
        s.write(report.as_bytes());
        if !self.keep_open {
            s.close();
        }
    }
}

/// Lines capped at 16 buffered bytes, with the default overflow handling.
#[derive(Default)]
struct CappedDefault;

#[channel]
impl CappedDefault {
    #[on_read(delimiter = "\r\n", max = 16)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        bracket(s, line);
    }
}

/// A line, then 4-byte blocks; with `back`, every frame switches state.
struct Switcher {
    back: bool,
}

#[channel]
impl Switcher {
    #[on_read(delimiter = "\r\n", initial)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[b"L(", line, b")"]);
        s.switch(Self::BLOCK);
    }

    #[on_read(bytes = 4)]
    fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
        s.write_all(&[b"B(", block, b")"]);
        if self.back {
            s.switch(Self::LINE);
        }
    }
}

/// Reads a 4-byte command, then parks (a state whose delimiter never comes)
/// until a timer switches it to lines: the bytes that arrived with the
/// command wait in the buffer.
struct Parker {
    ids: Sender<StreamId>,
}

#[channel]
impl Parker {
    #[on_read(bytes = 4, initial)]
    fn head(&mut self, s: &mut Stream<Self>, head: &[u8]) {
        s.switch(Self::PARKED);
        if head == b"TIMR" {
            // A stream timer switches on the next turn; no more input comes.
            s.callback(|_, s| s.switch(Self::LINE));
        } else {
            // The test switches through an engine timer.
            let _ = self.ids.send(s.id());
        }
        s.write(b"parked\r\n");
    }

    #[on_read(delimiter = "\0")]
    fn parked(&mut self, s: &mut Stream<Self>, frame: &[u8]) {
        s.write_all(&[b"unexpected parked frame ", frame]);
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        bracket(s, line);
    }
}

/// Records frames (single-threaded tests).
struct Recorder {
    frames: Shared<Vec<Vec<u8>>>,
    connected: Shared<bool>,
}

#[channel]
impl Recorder {
    #[on_connect]
    fn connected(&mut self, _s: &mut Stream<Self>) {
        *self.connected.borrow_mut() = true;
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, _s: &mut Stream<Self>, line: &[u8]) {
        self.frames.borrow_mut().push(line.to_vec());
    }
}

#[test]
fn delimiter_frames_lines_and_delivers_unterminated_tail_at_eof() {
    let server = util::serve::<Lines>();
    let mut c = connect(server.addr());
    send(&mut c, b"one\r\ntwo\r\n\r\nta");
    expect_bytes(&mut c, b"[one][two][]");
    send(&mut c, b"il");
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(show(&read_to_eof(&mut c)), "[tail]");
}

#[test]
fn bytes_frames_blocks_and_drops_partial_block_at_eof() {
    let server = util::serve::<Blocks>();
    let mut c = connect(server.addr());
    send(&mut c, b"aaaabbbbcc");
    expect_bytes(&mut c, b"[aaaa][bbbb]");
    send(&mut c, b"dd");
    expect_bytes(&mut c, b"[ccdd]");
    send(&mut c, b"ee");
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn delimiter_split_across_reads_is_found() {
    let frames = Shared::default();
    let connected = Shared::default();
    let mut engine = Engine::<Recorder>::new().unwrap();
    let id = engine
        .listen_with("127.0.0.1:0", {
            let (frames, connected) = (frames.clone(), connected.clone());
            move |_| {
                Some(Recorder {
                    frames: frames.clone(),
                    connected: connected.clone(),
                })
            }
        })
        .unwrap();
    let mut c = connect(util::server_addr(&mut engine, id));
    util::pump(&mut engine, "the connection", || *connected.borrow());
    for piece in [&b"ab\r"[..], b"\ncd", b"\r", b"\n", b"e", b"f\r\n"] {
        send(&mut c, piece);
        // The piece is already in the server's socket: this turn reads it
        // alone, so the delimiter arrives split across reads.
        engine.poll(Some(Duration::from_millis(100))).unwrap();
    }
    util::pump(&mut engine, "three frames", || frames.borrow().len() >= 3);
    let got: Vec<String> = frames.borrow().iter().map(|f| show(f)).collect();
    assert_eq!(got, ["ab", "cd", "ef"]);
}

#[test]
fn regex_search_cuts_at_whitespace_runs() {
    let server = util::serve::<Sentences>();
    let mut c = connect(server.addr());
    send(&mut c, b"This is  a test.  ");
    expect_bytes(&mut c, b"[This is][a test.]");
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn regex_match_mode_hands_out_captures() {
    let server = util::serve::<Pairs>();
    let mut c = connect(server.addr());
    send(&mut c, b"a=1;bb=22;ccc=");
    expect_bytes(
        &mut c,
        b"a=1; -> a:1 (3 groups)\nbb=22; -> bb:22 (3 groups)\n",
    );
    send(&mut c, b"333;");
    expect_bytes(&mut c, b"ccc=333; -> ccc:333 (3 groups)\n");
}

#[test]
fn overflow_calls_the_handler_then_the_stream_closes() {
    let server = util::serve_with(|_| Some(Capped { keep_open: false }));
    let mut c = connect(server.addr());
    let mut input = b"short\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 40]);
    send(&mut c, &input);
    assert_eq!(
        show(&read_to_eof(&mut c)),
        show(b"[short]overflow limit=16 buffered=40\r\n")
    );
}

#[test]
fn overflow_without_a_handler_closes_the_stream() {
    let server = util::serve::<CappedDefault>();
    let mut c = connect(server.addr());
    send(&mut c, b"ok\r\n");
    expect_bytes(&mut c, b"[ok]");
    send(&mut c, &[b'x'; 40]);
    expect_eof(&mut c);
}

#[test]
fn overflow_handler_keeping_the_stream_resumes_after_the_next_delimiter() {
    let server = util::serve_with(|_| Some(Capped { keep_open: true }));
    let mut c = connect(server.addr());
    send(&mut c, &[b'x'; 40]);
    expect_bytes(&mut c, b"overflow limit=16 buffered=40\r\n");
    // The rest of the oversized line is dropped up to its delimiter.
    send(&mut c, b"still the long line\r\nok\r\n");
    expect_bytes(&mut c, b"[ok]");
    send(&mut c, b"again\r\n");
    expect_bytes(&mut c, b"[again]");
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn switch_in_a_handler_applies_to_bytes_already_buffered() {
    let server = util::serve_with(|_| Some(Switcher { back: false }));
    let mut c = connect(server.addr());
    // One write: the server has all of it buffered when the first frame is cut.
    send(&mut c, b"a\r\nbbbbcc\r\nd");
    expect_bytes(&mut c, b"L(a)B(bbbb)B(cc\r\n)");
    // The last byte is an incomplete block: dropped at EOF.
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn switch_back_and_forth_within_one_read() {
    let server = util::serve_with(|_| Some(Switcher { back: true }));
    let mut c = connect(server.addr());
    send(&mut c, b"a\r\nbbbbcc\r\nddddd");
    expect_bytes(&mut c, b"L(a)B(bbbb)L(cc)B(dddd)");
    // The tail is an unterminated line this time: delivered at EOF.
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(show(&read_to_eof(&mut c)), "L(d)");
}

#[test]
fn switch_from_a_stream_timer_frames_buffered_bytes_without_new_input() {
    let (ids, _) = mpsc::channel();
    let server = util::serve_with(move |_| Some(Parker { ids: ids.clone() }));
    let mut c = connect(server.addr());
    send(&mut c, b"TIMRabc\r\ndef\r\n");
    expect_bytes(&mut c, b"parked\r\n[abc][def]");
}

#[test]
fn switch_from_an_engine_timer_frames_buffered_bytes_without_new_input() {
    let (ids, parked) = mpsc::channel();
    let server = util::serve_with(move |_| Some(Parker { ids: ids.clone() }));
    let mut c = connect(server.addr());
    send(&mut c, b"WAITabc\r\ndef\r\n");
    expect_bytes(&mut c, b"parked\r\n");
    let id = parked.recv_timeout(TIMEOUT).expect("the stream's id");
    server.handle.call(move |e| {
        e.callback(move |e| {
            e.with_stream(id, |_: &mut Parker, s| s.switch(Parker::LINE));
        });
    });
    expect_bytes(&mut c, b"[abc][def]");
}

/// A binary delimiter given as a byte string, then explicit search mode
/// with a cap.
#[derive(Default)]
struct Binary;

#[channel]
impl Binary {
    #[on_read(delimiter = b"\x00\xff", initial)]
    fn record(&mut self, s: &mut Stream<Self>, record: &[u8]) {
        bracket(s, record);
        if record == b"csv" {
            s.switch(Self::FIELD);
        }
    }

    #[on_read(regex = r"[,;]", mode = "search", max = 8)]
    fn field(&mut self, s: &mut Stream<Self>, field: &[u8]) {
        bracket(s, field);
    }
}

#[test]
fn byte_string_delimiter_then_explicit_search_mode_with_cap() {
    let server = util::serve::<Binary>();
    let mut c = connect(server.addr());
    send(&mut c, b"a\x00b\xff\x00\xffcsv\x00\xffx,y;");
    expect_bytes(&mut c, b"[a\x00b\xff][csv][x][y]");
    // Nine bytes without a separator pass the cap of eight: closed.
    send(&mut c, b"123456789");
    assert_eq!(util::read_until_closed(&mut c), b"");
}
