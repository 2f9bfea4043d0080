//! Idle, read, write and connect timeouts on a manual clock: the engine runs
//! on the test thread, and time moves only when the test advances the clock.
//! A turn after an advance runs every timer that came due, so "not a
//! millisecond early" is one `advance` and one `poll` away.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use pants::prelude::*;
use pants::{Channel, Clock};

use crate::util::{
    self, ChildGuard, Conn, Over, Place, Shared, TIMEOUT, connect, expect_bytes, expect_eof, send,
};

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// A millisecond short of `d`.
fn just_under(d: Duration) -> Duration {
    d.saturating_sub(MS)
}

/// What the channels of this module saw, in order.
#[derive(Default)]
struct Log {
    /// Complete lines read.
    lines: usize,
    /// Timeouts handed to `#[on_timeout]`, with the engine time.
    timeouts: Vec<(Timeout, Instant)>,
    /// `#[on_close]`: the peer's port and the reason.
    closes: Vec<(u16, CloseReason)>,
    /// `#[on_connect_error]`: the I/O error kind.
    connect_errors: Vec<ErrorKind>,
    /// Streams, as `#[on_connect]` saw them.
    streams: Vec<StreamId>,
    /// Anything else worth checking.
    notes: Vec<String>,
}

impl Log {
    fn close(&mut self, s: &Stream<'_, impl Channel>) {
        let reason = s
            .close_reason()
            .cloned()
            .expect("on_close always has a reason");
        self.closes
            .push((s.remote_addr().port().unwrap_or(0), reason));
    }
}

/// An engine on a manual clock serving `make()` channels on 127.0.0.1.
fn manual_server<C>(make: impl Fn() -> C + 'static) -> (Engine<C>, Clock, SocketAddr)
where
    C: Channel<App = C> + App,
{
    let (engine, clock, addr, _) = manual_server_over(Over::Tcp, make);
    (engine, clock, addr.as_ip().expect("an IP listener"))
}

/// An engine on a manual clock serving `make()` channels over `over`; keep
/// the [`Place`] as long as the engine.
fn manual_server_over<C>(
    over: Over,
    make: impl Fn() -> C + 'static,
) -> (Engine<C>, Clock, Addr, Place)
where
    C: Channel<App = C> + App,
{
    let clock = Clock::manual();
    let mut engine = Engine::with_clock(clock.clone()).expect("Engine::with_clock");
    let place = over.place();
    let id = engine
        .listen_with(place.addr.as_str(), move |_| Some(make()))
        .expect("listen");
    let addr = engine
        .server(id)
        .and_then(|s| s.local_addr())
        .expect("a listening server");
    (engine, clock, addr, place)
}

/// One loop turn that does not wait: runs every timer due by now.
fn turn<A: App>(engine: &mut Engine<A>) {
    engine.poll(Some(Duration::ZERO)).expect("poll");
}

/// A blocking client socket that can be switched to non-blocking.
trait Client: Read {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()>;
}

impl Client for TcpStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        Self::set_nonblocking(self, on)
    }
}

impl Client for Conn {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        Self::set_nonblocking(self, on)
    }
}

/// Whether the server has closed `c` (EOF); false while nothing arrived.
#[track_caller]
fn sees_eof(c: &mut impl Client) -> bool {
    c.set_nonblocking(true).expect("set_nonblocking");
    let got = c.read(&mut [0u8; 64]);
    c.set_nonblocking(false).expect("set_nonblocking");
    match got {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Ok(n) => panic!("{n} unexpected bytes from the server"),
        Err(e) => panic!("client socket: {e}"),
    }
}

// ---------------------------------------------------------------------------
// What the kernel holds: /proc/net/tcp (Linux), to wait without sleeping
// until the engine has read what clients sent.

/// One IPv4 TCP socket of this network namespace.
struct TcpRow {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    listening: bool,
    /// Sent and not yet acknowledged (for a listener: 0).
    tx_queue: u64,
    /// Received and not yet read (for a listener: the accept queue).
    rx_queue: u64,
}

fn parse_addr(hex: &str) -> SocketAddrV4 {
    let (ip, port) = hex.split_once(':').expect("ADDR:PORT");
    // The address is printed as the host-order value of a network-order
    // word: its native bytes are the address bytes.
    let ip = u32::from_str_radix(ip, 16).expect("hex address");
    let port = u16::from_str_radix(port, 16).expect("hex port");
    SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port)
}

fn tcp_table() -> Vec<TcpRow> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (tx, rx) = f[4].split_once(':').expect("tx:rx");
            TcpRow {
                local: parse_addr(f[1]),
                remote: parse_addr(f[2]),
                listening: f[3] == "0A",
                tx_queue: u64::from_str_radix(tx, 16).expect("hex tx_queue"),
                rx_queue: u64::from_str_radix(rx, 16).expect("hex rx_queue"),
            }
        })
        .collect()
}

fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => panic!("an IPv4 address was expected: {addr}"),
    }
}

/// Whether every byte clients sent to `server` was delivered (acknowledged)
/// and read by the server's process.
fn all_read(server: SocketAddr) -> bool {
    let server = v4(server);
    tcp_table().iter().all(|row| {
        let unacked = row.remote == server && row.tx_queue > 0;
        let unread = row.local == server && !row.listening && row.rx_queue > 0;
        !unacked && !unread
    })
}

/// The length of the accept queue of the listener at `server`.
pub(crate) fn accept_queue(server: SocketAddr) -> u64 {
    let server = v4(server);
    tcp_table()
        .iter()
        .find(|row| row.local == server && row.listening)
        .map_or_else(|| panic!("no listener at {server}"), |row| row.rx_queue)
}

// ---------------------------------------------------------------------------
// 2,000 connections: silent ones and a slowloris.

/// Slowloris protection: a connection silent for 10 s goes (idle), and so
/// does one that sends bytes but no complete line in 30 s (read). The read
/// timeout is the longer one: a silent connection has no complete line
/// either, so it would otherwise go on the read timeout first.
struct Guarded {
    log: Shared<Log>,
}

#[channel(idle_timeout = "10s", read_timeout = "30s")]
impl Guarded {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.log.borrow_mut().lines += 1;
        s.write_all(&[line, b"\n"]);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

const CLIENTS: usize = 2000;
const IDLE_AFTER: u32 = 10;
const READ_AFTER: u32 = 30;

/// The ports of the clients the server closed, and why.
fn closes_of(log: &Shared<Log>) -> Vec<(u16, CloseReason)> {
    log.borrow().closes.clone()
}

#[track_caller]
fn assert_closed_by(closes: &[(u16, CloseReason)], ports: &HashSet<u16>, kind: Timeout) {
    let got: HashSet<u16> = closes.iter().map(|(port, _)| *port).collect();
    assert_eq!(got.len(), closes.len(), "a stream closed twice");
    assert!(got == *ports, "the wrong streams closed on the {kind}");
    let wrong: Vec<_> = closes
        .iter()
        .filter(|(_, reason)| !matches!(reason, CloseReason::Timeout(k) if *k == kind))
        .map(|(port, reason)| format!("{port}: {reason:?}"))
        .collect();
    assert!(wrong.is_empty(), "expected Timeout({kind:?}): {wrong:?}");
}

#[test]
fn two_thousand_slow_connections_closed_by_timeouts() {
    let log: Shared<Log> = Shared::default();
    let (mut e, clock, addr) = manual_server({
        let log = log.clone();
        move || Guarded { log: log.clone() }
    });
    // Connect in batches the listen backlog (1024) holds; the engine
    // accepts each batch before the next. The clock stands still meanwhile.
    let mut clients: Vec<TcpStream> = Vec::with_capacity(CLIENTS);
    while clients.len() < CLIENTS {
        for _ in 0..250 {
            clients.push(connect(addr));
        }
        let want = clients.len();
        util::pump_engine(&mut e, "the engine to accept the batch", |e| {
            e.stream_count() == want
        });
    }
    let (silent, dribblers): (Vec<_>, Vec<_>) = clients
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let mut silent: Vec<TcpStream> = silent.into_iter().map(|(_, c)| c).collect();
    let mut dribblers: Vec<TcpStream> = dribblers.into_iter().map(|(_, c)| c).collect();
    let ports = |cs: &[TcpStream]| -> HashSet<u16> {
        cs.iter()
            .map(|c| c.local_addr().expect("local_addr").port())
            .collect()
    };
    let (silent_ports, dribbler_ports) = (ports(&silent), ports(&dribblers));

    for second in 1..=READ_AFTER {
        // Just before the second ends: nothing new may close.
        clock.advance(just_under(SEC));
        turn(&mut e);
        let expected_before = if second <= IDLE_AFTER { 0 } else { CLIENTS / 2 };
        assert_eq!(
            log.borrow().closes.len(),
            expected_before,
            "closes at {}.999 s",
            second - 1
        );
        if second == IDLE_AFTER || second == READ_AFTER {
            let (group, name) = if second == IDLE_AFTER {
                (&mut silent, "silent")
            } else {
                (&mut dribblers, "dribbling")
            };
            for c in group.iter_mut() {
                assert!(!sees_eof(c), "a {name} client was closed before {second} s");
            }
        }
        clock.advance(MS);
        if second == IDLE_AFTER {
            util::pump(&mut e, "the idle timeouts", || {
                log.borrow().closes.len() == CLIENTS / 2
            });
            assert_closed_by(&closes_of(&log), &silent_ports, Timeout::Idle);
            for c in &mut silent {
                expect_eof(c);
            }
            for c in &mut dribblers {
                assert!(!sees_eof(c), "a dribbler was closed at {second} s");
            }
        } else if second == READ_AFTER {
            util::pump(&mut e, "the read timeouts", || {
                log.borrow().closes.len() == CLIENTS
            });
            assert_closed_by(
                &closes_of(&log)[CLIENTS / 2..],
                &dribbler_ports,
                Timeout::Read,
            );
            for c in &mut dribblers {
                expect_eof(c);
            }
        } else {
            turn(&mut e);
        }
        if second < READ_AFTER {
            // One byte a second, never a newline: never idle, never a line.
            for c in &mut dribblers {
                send(c, b"x");
            }
            util::pump(&mut e, "the engine to read the dribbled bytes", || {
                all_read(addr)
            });
        }
    }
    assert_eq!(log.borrow().lines, 0);
    assert_eq!(e.stream_count(), 0, "every stream is gone");
}

// ---------------------------------------------------------------------------
// The idle timeout and `#[on_timeout]`.

/// Idle after 10 s; `later` asks for a line 8 s from now, written by a
/// stream timer (output with no input).
struct Quiet {
    log: Shared<Log>,
}

#[channel(idle_timeout = "10s")]
impl Quiet {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.log.borrow_mut().lines += 1;
        s.write_all(&[line, b"\n"]);
        if line == b"later" {
            s.defer(8 * SEC, |me, s| {
                me.log.borrow_mut().notes.push("tick".to_owned());
                s.write(b"tick\n");
            })
            .expect("defer");
        }
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

#[test]
fn idle_timeout_moves_with_activity() {
    for over in Over::ALL {
        idle_timeout_over(over);
    }
}

fn idle_timeout_over(over: Over) {
    let log: Shared<Log> = Shared::default();
    let (mut e, clock, addr, _place) = manual_server_over(over, {
        let log = log.clone();
        move || Quiet { log: log.clone() }
    });
    let mut c = util::connect_to(&addr);
    util::pump_engine(&mut e, "the connection", |e| e.stream_count() == 1);
    let closes = |log: &Shared<Log>| log.borrow().closes.len();

    // 6 s: input (and its echo) moves the deadline from 10 s to 16 s.
    clock.advance(6 * SEC);
    turn(&mut e);
    send(&mut c, b"later\n");
    util::pump(&mut e, "the line", || log.borrow().lines == 1);
    expect_bytes(&mut c, b"later\n");
    clock.advance(4 * SEC);
    turn(&mut e);
    assert_eq!(closes(&log), 0, "closed at the first deadline (10 s)");

    // 14 s: output alone (a timer's write) moves it again, to 24 s.
    clock.advance(4 * SEC);
    turn(&mut e);
    assert_eq!(log.borrow().notes, ["tick"]);
    expect_bytes(&mut c, b"tick\n");
    clock.advance(2 * SEC);
    turn(&mut e);
    assert_eq!(closes(&log), 0, "closed at 16 s: the write did not count");
    clock.advance(just_under(8 * SEC));
    turn(&mut e);
    assert_eq!(closes(&log), 0, "closed at 23.999 s");
    assert!(!sees_eof(&mut c));

    clock.advance(MS);
    util::pump(&mut e, "the idle timeout", || closes(&log) == 1);
    let (_, reason) = log.borrow().closes[0].clone();
    assert!(
        matches!(reason, CloseReason::Timeout(Timeout::Idle)),
        "{reason:?}"
    );
    expect_eof(&mut c);
    assert_eq!(e.stream_count(), 0);
}

/// Idle after 5 s; the handler pings and keeps the stream.
struct Pinger {
    log: Shared<Log>,
}

#[channel(idle_timeout = "5s")]
impl Pinger {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {
        self.log.borrow_mut().lines += 1;
    }

    #[on_timeout]
    fn quiet(&mut self, s: &mut Stream<Self>, timeout: Timeout) {
        self.log.borrow_mut().timeouts.push((timeout, s.now()));
        s.write(b"ping\n");
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

#[test]
fn on_timeout_handler_keeps_the_stream() {
    let log: Shared<Log> = Shared::default();
    let (mut e, clock, addr) = manual_server({
        let log = log.clone();
        move || Pinger { log: log.clone() }
    });
    let start = clock.now();
    let mut c = connect(addr);
    util::pump_engine(&mut e, "the connection", |e| e.stream_count() == 1);
    let pings = |log: &Shared<Log>| log.borrow().timeouts.len();
    for n in 1..=4 {
        clock.advance(just_under(5 * SEC));
        turn(&mut e);
        assert_eq!(pings(&log), n - 1, "pinged before {} s", n * 5);
        assert!(!sees_eof(&mut c));
        clock.advance(MS);
        util::pump(&mut e, "the idle timeout", || pings(&log) == n);
        expect_bytes(&mut c, b"ping\n");
    }
    let at: Vec<(Timeout, Duration)> = log
        .borrow()
        .timeouts
        .iter()
        .map(|(kind, t)| (*kind, *t - start))
        .collect();
    assert_eq!(
        at,
        [5, 10, 15, 20].map(|s| (Timeout::Idle, s * SEC)),
        "a ping every 5 simulated seconds"
    );
    // Input moves the next one: 3 s after the last ping, a line; the next
    // ping is due 5 s after the line, not after the ping.
    clock.advance(3 * SEC);
    turn(&mut e);
    send(&mut c, b"hello\n");
    util::pump(&mut e, "the line", || log.borrow().lines == 1);
    clock.advance(just_under(5 * SEC));
    turn(&mut e);
    assert_eq!(pings(&log), 4, "pinged 5 s after the last ping");
    clock.advance(MS);
    util::pump(&mut e, "the idle timeout", || pings(&log) == 5);
    expect_bytes(&mut c, b"ping\n");
    assert!(
        log.borrow().closes.is_empty(),
        "the handler kept the stream"
    );
    assert_eq!(e.stream_count(), 1);
    drop(c);
    util::pump(&mut e, "the close", || log.borrow().closes.len() == 1);
    let (_, reason) = log.borrow().closes[0].clone();
    assert!(matches!(reason, CloseReason::PeerClosed), "{reason:?}");
}

// ---------------------------------------------------------------------------
// The write timeout.

const FLOOD: usize = 8 << 20;

/// Writes 8 MiB on connect (far more than the kernel buffers of a peer that
/// never reads); the queue must drain within 5 s.
struct Flooder {
    log: Shared<Log>,
}

#[channel(write_timeout = "5s")]
impl Flooder {
    #[on_connect]
    fn flood(&mut self, s: &mut Stream<Self>) {
        // One write to an empty queue is always taken, past the hard cap too.
        assert!(s.write(&vec![b'x'; FLOOD]));
        self.log.borrow_mut().streams.push(s.id());
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

/// The same, with the write timeout changed at run time (from 1 h to 5 s)
/// once the queue is waiting: the period of a running timeout starts over.
struct LateFlooder {
    log: Shared<Log>,
}

#[channel(write_timeout = "1h")]
impl LateFlooder {
    #[on_connect]
    fn flood(&mut self, s: &mut Stream<Self>) {
        assert!(s.write(&vec![b'x'; FLOOD]));
        s.flush();
        s.set_timeout(Timeout::Write, Some(5 * SEC));
        self.log.borrow_mut().streams.push(s.id());
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

/// Serves `make(log)` to a client that never reads; the stream must close
/// with `Timeout(Write)` 5 s after its queue got stuck.
fn stuck_queue<C>(make: impl Fn(Shared<Log>) -> C + Clone + 'static)
where
    C: Channel<App = C> + App,
{
    for over in Over::ALL {
        stuck_queue_over(over, make.clone());
    }
}

fn stuck_queue_over<C>(over: Over, make: impl Fn(Shared<Log>) -> C + 'static)
where
    C: Channel<App = C> + App,
{
    let log: Shared<Log> = Shared::default();
    let (mut e, clock, addr, _place) = manual_server_over(over, {
        let log = log.clone();
        move || make(log.clone())
    });
    let mut c = util::connect_to(&addr);
    util::pump_engine(&mut e, "the connection", |e| e.stream_count() == 1);
    let id = log.borrow().streams[0];
    clock.advance(just_under(5 * SEC));
    turn(&mut e);
    assert!(log.borrow().closes.is_empty(), "closed before 5 s");
    let stuck = e.with_stream::<C, _>(id, |_, s| (s.is_open(), s.queued()));
    assert!(
        matches!(stuck, Some((true, n)) if n > FLOOD / 4),
        "the queue is not stuck: (open, queued) = {stuck:?}"
    );
    clock.advance(MS);
    turn(&mut e);
    let open = e.with_stream::<C, _>(id, |_, s| s.is_open());
    assert_ne!(
        open,
        Some(true),
        "5 s stuck, and the write timeout did not fire"
    );
    util::pump(&mut e, "on_close after the write timeout", || {
        !log.borrow().closes.is_empty()
    });
    let (_, reason) = log.borrow().closes[0].clone();
    assert!(
        matches!(reason, CloseReason::Timeout(Timeout::Write)),
        "{reason:?}"
    );
    assert_eq!(e.stream_count(), 0);
    // The client gets what the kernel had taken, then the end.
    let got = util::read_until_closed(&mut c);
    assert!(got.len() < FLOOD, "the stuck queue was sent after all");
}

#[test]
fn write_timeout_closes_a_stuck_queue() {
    stuck_queue(|log| Flooder { log });
}

#[test]
fn write_timeout_set_at_run_time_closes_a_stuck_queue() {
    stuck_queue(|log| LateFlooder { log });
}

// ---------------------------------------------------------------------------
// The connect timeout.

/// A client with a 2 s connect timeout that records what happens to it.
struct Dialer {
    log: Shared<Log>,
}

#[channel(connect_timeout = "2s")]
impl Dialer {
    #[on_connect]
    fn connected(&mut self, _s: &mut Stream<Self>) {
        self.log.borrow_mut().notes.push("connected".to_owned());
    }

    #[on_connect_error]
    fn failed(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        let kind = match error {
            pants::Error::Connect { source, .. } => source.kind(),
            other => panic!("not a connect error: {other:?}"),
        };
        let mut log = self.log.borrow_mut();
        log.connect_errors.push(kind);
        log.notes.push(format!("error at {:?}", s.now()));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

/// A Python listener with backlog 0 whose one-entry accept queue is taken by
/// a connection it never accepts: Linux drops further SYNs, so a connect to
/// it stays pending. Prints its port; lives until its stdin closes.
const BLACK_HOLE: &str = r#"
import socket, sys
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(("127.0.0.1", 0))
l.listen(0)
filler = socket.create_connection(l.getsockname(), timeout=5)
print(l.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// Starts [`BLACK_HOLE`]; its address, once its accept queue is full.
pub(crate) fn black_hole() -> (ChildGuard, SocketAddr) {
    let mut hole = ChildGuard(
        Command::new("python3")
            .args(["-c", BLACK_HOLE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run python3"),
    );
    let stdout = hole.0.stdout.take().expect("piped");
    let mut port = String::new();
    BufReader::new(stdout)
        .read_line(&mut port)
        .expect("read the port");
    let port: u16 = port
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("python printed {port:?}"));
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    // The filler connection sits in the accept queue (which is then full).
    let deadline = Instant::now() + TIMEOUT;
    while accept_queue(target) < 1 {
        assert!(Instant::now() < deadline, "the accept queue never filled");
        thread::yield_now();
    }
    (hole, target)
}

#[test]
fn connect_timeout_reports_on_connect_error() {
    let (_hole, target) = black_hole();
    let log: Shared<Log> = Shared::default();
    let clock = Clock::manual();
    let start = clock.now();
    let mut e = Engine::<Dialer>::with_clock(clock.clone()).expect("Engine::with_clock");
    e.connect(target, Dialer { log: log.clone() })
        .expect("connect");
    for _ in 0..5 {
        e.poll(Some(Duration::from_millis(10))).expect("poll");
    }
    clock.advance(just_under(2 * SEC));
    turn(&mut e);
    assert!(
        log.borrow().notes.is_empty() && log.borrow().closes.is_empty(),
        "the connect finished or failed by itself: {:?}",
        log.borrow().notes
    );
    assert_eq!(e.stream_count(), 1, "the connect is pending");
    clock.advance(MS);
    util::pump(&mut e, "the connect timeout", || {
        !log.borrow().closes.is_empty()
    });
    let log = log.borrow();
    assert_eq!(log.connect_errors, [ErrorKind::TimedOut]);
    assert_eq!(
        log.notes,
        [format!("error at {:?}", start + 2 * SEC)],
        "on_connect_error at 2 s, and no on_connect"
    );
    assert_eq!(log.closes.len(), 1);
    let (_, reason) = &log.closes[0];
    assert!(
        matches!(reason, CloseReason::Timeout(Timeout::Connect)),
        "{reason:?}"
    );
    assert_eq!(e.stream_count(), 0);
}

// ---------------------------------------------------------------------------
// Timeouts set at run time.

/// No declared timeouts: `on_connect` sets a 5 s idle timeout; the line
/// `off` clears it.
struct Tunable {
    log: Shared<Log>,
}

#[channel]
impl Tunable {
    #[on_connect]
    fn arm(&mut self, s: &mut Stream<Self>) {
        let before = s.timeouts().idle;
        s.set_timeout(Timeout::Idle, Some(5 * SEC));
        let after = s.timeouts().idle;
        self.log
            .borrow_mut()
            .notes
            .push(format!("idle {before:?} -> {after:?}"));
    }

    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        if line == b"off" {
            s.set_timeout(Timeout::Idle, None);
            let now = s.timeouts();
            self.log
                .borrow_mut()
                .notes
                .push(format!("off: {:?}", now.idle));
        }
        self.log.borrow_mut().lines += 1;
        s.write_all(&[line, b"\n"]);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.log.borrow_mut().close(s);
    }
}

#[test]
fn set_timeout_at_run_time() {
    let log: Shared<Log> = Shared::default();
    let (mut e, clock, addr) = manual_server({
        let log = log.clone();
        move || Tunable { log: log.clone() }
    });
    let mut kept = connect(addr);
    let mut timed = connect(addr);
    util::pump_engine(&mut e, "the connections", |e| e.stream_count() == 2);
    assert_eq!(
        log.borrow().notes,
        ["idle None -> Some(5s)", "idle None -> Some(5s)"]
    );
    clock.advance(SEC);
    turn(&mut e);
    send(&mut kept, b"off\n");
    util::pump(&mut e, "the line", || log.borrow().lines == 1);
    expect_bytes(&mut kept, b"off\n");
    assert_eq!(log.borrow().notes[2], "off: None");

    clock.advance(just_under(4 * SEC));
    turn(&mut e);
    assert!(log.borrow().closes.is_empty(), "closed before 5 s");
    clock.advance(MS);
    util::pump(&mut e, "the idle timeout", || {
        log.borrow().closes.len() == 1
    });
    let (port, reason) = log.borrow().closes[0].clone();
    assert_eq!(port, timed.local_addr().unwrap().port());
    assert!(
        matches!(reason, CloseReason::Timeout(Timeout::Idle)),
        "{reason:?}"
    );
    expect_eof(&mut timed);

    // The cleared one never expires: a simulated day later it still echoes.
    for _ in 0..24 {
        clock.advance(Duration::from_hours(1));
        turn(&mut e);
    }
    assert_eq!(log.borrow().closes.len(), 1, "the cleared timeout fired");
    send(&mut kept, b"still here\n");
    util::pump(&mut e, "the line", || log.borrow().lines == 2);
    expect_bytes(&mut kept, b"still here\n");
    assert_eq!(e.stream_count(), 1);
}
