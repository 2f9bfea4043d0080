//! The attack suite: hostile and broken peers against the example programs
//! (and, where a handler has to be special, against a server run in a
//! process of its own), each attack bounded in time and each asserting a
//! figure: descriptors back to where they started, resident memory within
//! a stated growth, CPU time while starved of descriptors, a ping's 99th
//! percentile beside a flood, and the server still answering a polite
//! client afterwards.
//!
//! | attack | test |
//! |---|---|
//! | slow reader | [`slow_reader_gets_every_byte_in_bounded_memory`] |
//! | a client that never reads | `flow::echo_bounded_against_a_client_that_never_reads` (`echo`, `unix_echo`) |
//! | a never-reading broadcast receiver | `flow::chat_closes_a_never_reading_client_as_slow_consumer` |
//! | 100 MiB with no delimiter | [`a_hundred_mib_without_a_delimiter`] |
//! | slowloris: silent connections | [`silent_connections_are_closed_by_the_idle_timeout`]; 2,000 on a manual clock in `timeouts` |
//! | slowloris: dribbling a frame | [`dribblers_are_closed_by_the_read_timeout`] |
//! | RST in the middle of a large write | [`resets_in_the_middle_of_large_writes`], [`nothing_is_written_to_a_reset_tls_connection`] |
//! | a flood beside a ping client | [`a_flood_beside_a_ping_client_keeps_the_ping_fast`] |
//! | random bytes to every example | [`random_bytes_to_every_example`]; from a server to `client`: [`random_bytes_to_the_client_example`] |
//! | descriptor exhaustion | [`descriptor_exhaustion_does_not_spin_and_recovers`]; the log lines in `shutdown::emfile_logs_once_per_episode` |
//! | SIGTERM mid-transfer | `shutdown::sigterm_with_50_clients_mid_transfer`; over TLS: [`sigterm_mid_transfer_over_tls`] |
//! | connection churn against per-connection timers | [`closed_streams_free_their_timers_at_once`] |
//! | two pants programs | `flow::two_pants_programs_streaming_at_each_other_do_not_deadlock` |
//! | garbage on a TLS port | `tls` (plaintext and noise), and here among the random bytes |
//!
//! Figures come from `/proc/PID/fd`, `/proc/PID/status` (`RssAnon`: heap
//! and stacks) and `/proc/PID/stat`; every test prints them (`--nocapture` shows them).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pants::Channel;
use pants::prelude::*;

use crate::flow::{CHUNK, KIB, MIB, is_pattern, memory_kib, pattern_at, wait_until};
use crate::util::{
    self, Conn, ExampleServer, TIMEOUT, TempDir, connect, expect_bytes, read_line, read_n,
    read_until_closed, send, show,
};

// ---------------------------------------------------------------------------
// Helpers: /proc figures, resets, random bytes, servers in a child process.

/// How many descriptors `pid` has open.
#[track_caller]
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
        .count()
}

/// CPU time `pid` has used (user + system), in clock ticks (1/100 s).
#[track_caller]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // Fields after the command name (which may hold spaces) in parentheses:
    // state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Waits until `server` has exactly `want` descriptors open again.
#[track_caller]
fn fds_return_to(server: &ExampleServer, want: usize, what: &str) {
    let pid = server.pid();
    let limit = Duration::from_secs(10);
    let deadline = Instant::now() + limit;
    loop {
        let now = fds(pid);
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {now} descriptors {limit:?} after {what}, {want} before",
            server.shown
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Asserts that the server is still running and has logged no panic, then
/// stops it with SIGTERM and checks that it exits 0.
#[track_caller]
fn still_well_then_stop(server: ExampleServer) {
    let name = server.shown.clone();
    let mut logged = Vec::new();
    while let Some(line) = server.try_stderr(Duration::ZERO) {
        logged.push(line);
    }
    server.signal("TERM");
    let (status, rest) = server.wait(Duration::from_secs(15));
    logged.extend(rest);
    assert!(status.success(), "{name} exited with {status}: {logged:#?}");
    assert!(
        !logged.iter().any(|l| l.contains("panicked")),
        "{name} panicked: {logged:#?}"
    );
}

/// The peak of a process's anonymous resident memory (`RssAnon`: the heap
/// and stacks, not the binary's pages, which a debug test binary touches
/// in megabytes the first time a path runs), sampled every millisecond
/// until [`stop`](Self::stop).
struct AnonPeak {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<usize>,
    /// `RssAnon` when sampling began, in KiB.
    start: usize,
}

impl AnonPeak {
    #[track_caller]
    fn start(pid: u32) -> Self {
        let start = memory_kib(pid, "RssAnon");
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(crate::flow::proc_kib(pid, "RssAnon").unwrap_or(0));
                thread::sleep(Duration::from_millis(1));
            }
            peak
        });
        Self {
            stop,
            thread,
            start,
        }
    }

    /// `(at the start, the peak)`, in KiB.
    fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let peak = self.thread.join().expect("the sampler");
        (self.start, peak.max(self.start))
    }
}

/// Turns `s`'s close into a reset (`SO_LINGER` 0) and closes it.
fn reset_stream(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(s);
}

/// xorshift64*: reproducible noise, seeded per test.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// Set in a child process of this test binary that runs a server.
const CHILD: &str = "PANTS_ATTACK_CHILD";

/// Runs this binary's ignored test `attack::NAME` as a child process: a
/// server of the tests' own in a process of its own, so that its
/// descriptors, memory and CPU time can be read.
#[track_caller]
fn child_server(name: &str) -> ExampleServer {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        &format!("attack::{name}"),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "1");
    ExampleServer::spawn(name, cmd)
}

/// The body of a child server test: listens on 127.0.0.1:0, prints
/// `listening on ADDR` and serves until killed. Does nothing when the test
/// is run by hand (`--ignored`) rather than by [`child_server`].
fn serve_in_child<C>()
where
    C: Channel<App = C> + App + Default,
{
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let mut engine = Engine::<C>::new().expect("Engine::new");
    let id = engine.listen::<C>("127.0.0.1:0").expect("listen");
    let addr = engine
        .server(id)
        .expect("just listened")
        .local_addr()
        .expect("an address");
    // libtest has printed `test NAME ... ` without a newline.
    println!("\nlistening on {addr}");
    engine.start().expect("engine.start");
}

// ---------------------------------------------------------------------------
// A slow reader.

#[test]
fn slow_reader_gets_every_byte_in_bounded_memory() {
    // 32 MiB through `echo` to a client that reads 16 KiB at a time with a
    // pause between reads: the server must hold back (stop reading the
    // client) instead of queueing what the client cannot take, and every
    // byte must come back in order.
    const TOTAL: usize = 32 * MIB;
    const GROWTH_CAP_KIB: usize = 2 * 1024;
    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let pid = server.pid();
    let memory = AnonPeak::start(pid);
    let mut c = connect(server.addr);
    let mut w = c.try_clone().expect("clone");
    w.set_write_timeout(Some(Duration::from_mins(1)))
        .expect("set_write_timeout");
    let writer = thread::spawn(move || {
        let mut sent = 0;
        while sent < TOTAL {
            let n = CHUNK.min(TOTAL - sent);
            w.write_all(pattern_at(sent, n)).expect("send to echo");
            sent += n;
        }
    });
    let started = Instant::now();
    let mut got = 0;
    let mut buf = vec![0u8; 16 * KIB];
    let mut reads = 0u32;
    while got < TOTAL {
        let n = c.read(&mut buf).expect("read the echo");
        assert!(n > 0, "echo closed after {got} bytes");
        assert!(is_pattern(got, &buf[..n]), "wrong bytes at {got}");
        got += n;
        reads += 1;
        // Slow: a pause every 8 reads, about 1 ms per 128 KiB.
        if reads.is_multiple_of(8) {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "only {got} bytes in 60 s"
        );
    }
    writer.join().expect("the writer");
    let (before, after) = memory.stop();
    eprintln!(
        "slow reader: {} MiB in {:?}; echo RssAnon {before} KiB, peak {after} KiB",
        TOTAL / MIB,
        started.elapsed()
    );
    assert!(
        after - before < GROWTH_CAP_KIB,
        "echo grew {} KiB serving a slow reader",
        after - before
    );
    still_well_then_stop(server);
}

// ---------------------------------------------------------------------------
// 100 MiB with no delimiter.

/// Lines of at most 4 KiB; an overlong line is reported and skipped, and
/// the stream is kept.
#[derive(Default)]
struct DiscardingLines;

#[channel]
impl DiscardingLines {
    #[on_read(delimiter = "\n", max = 4096)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[b"[", line, b"]\n"]);
    }

    #[on_overflow_error]
    fn too_long(&mut self, s: &mut Stream<Self>, _error: &pants::Error) {
        s.write(b"overflow\n");
    }
}

#[test]
#[ignore = "a server process for `a_hundred_mib_without_a_delimiter`"]
fn child_discarding_lines() {
    serve_in_child::<DiscardingLines>();
}

/// Sends up to `total` bytes of `x` (no delimiter) on `c` in a thread;
/// returns how many the socket took before it failed or all went.
fn flood_without_delimiter(mut c: TcpStream, total: usize) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        c.set_write_timeout(Some(Duration::from_secs(30)))
            .expect("set_write_timeout");
        let chunk = vec![b'x'; CHUNK];
        let mut sent = 0;
        while sent < total {
            match c.write(&chunk[..CHUNK.min(total - sent)]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        sent
    })
}

#[test]
fn a_hundred_mib_without_a_delimiter() {
    const TOTAL: usize = 100 * MIB;
    const GROWTH_CAP_KIB: usize = 1024;

    // `line_echo`: the default is to close the stream past 64 KiB. The
    // client's writes fail long before 100 MiB have gone.
    let server = ExampleServer::start("line_echo", "127.0.0.1:0");
    let pid = server.pid();
    let fds_before = fds(pid);
    let memory = AnonPeak::start(pid);
    let mut c = connect(server.addr);
    let flood = flood_without_delimiter(c.try_clone().expect("clone"), TOTAL);
    let back = read_until_closed(&mut c);
    let sent = flood.join().expect("the flood");
    let (before, after) = memory.stop();
    eprintln!(
        "line_echo, 100 MiB without a delimiter: closed after the client sent {} KiB; \
         RssAnon {before} KiB, peak {after} KiB",
        sent / KIB
    );
    assert!(back.is_empty(), "line_echo answered {:?}", show(&back));
    assert!(
        sent < 32 * MIB,
        "line_echo took {} MiB of one line",
        sent / MIB
    );
    assert!(
        after - before < GROWTH_CAP_KIB,
        "line_echo grew {} KiB",
        after - before
    );
    drop(c);
    fds_return_to(&server, fds_before, "the flood");
    let mut polite = connect(server.addr);
    send(&mut polite, b"still here\r\n");
    assert_eq!(read_line(&mut polite), b"still here\r\n");
    drop(polite);
    still_well_then_stop(server);

    // A protocol that skips an overlong line and keeps the stream: all
    // 100 MiB pass through in bounded memory, one overflow is reported,
    // and the next line is served.
    let server = child_server("child_discarding_lines");
    let pid = server.pid();
    let memory = AnonPeak::start(pid);
    let mut c = connect(server.addr);
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set_read_timeout");
    let started = Instant::now();
    let flood = flood_without_delimiter(c.try_clone().expect("clone"), TOTAL);
    assert_eq!(flood.join().expect("the flood"), TOTAL, "the flood was cut");
    send(&mut c, b"\nafter\n");
    assert_eq!(show(&read_n(&mut c, 17)), show(b"overflow\n[after]\n"));
    let (before, after) = memory.stop();
    eprintln!(
        "a line skipped past max: 100 MiB in {:?}; RssAnon {before} KiB, peak {after} KiB",
        started.elapsed()
    );
    assert!(
        after - before < GROWTH_CAP_KIB,
        "the server grew {} KiB",
        after - before
    );
}

// ---------------------------------------------------------------------------
// Slowloris.

#[test]
fn silent_connections_are_closed_by_the_idle_timeout() {
    // 300 connections to `idle_echo` with a 1 s idle timeout: 200 say
    // nothing, 100 send half a request and go quiet. Each is closed (a FIN)
    // between 1 s and a few seconds after its last byte, the server's
    // descriptors return to where they were, and a polite client that keeps
    // talking is served throughout and never closed.
    const SILENT: usize = 200;
    const HALF: usize = 100;
    let server = ExampleServer::start_args("idle_echo", &["127.0.0.1:0", "1"]);
    let fds_before = fds(server.pid());
    let mut polite = connect(server.addr);
    let mut quiet = Vec::new();
    for i in 0..SILENT + HALF {
        // Stamped before the connect: the server's idle clock starts at or
        // after it, whatever the scheduler does to this thread.
        let mut since = Instant::now();
        let mut c = connect(server.addr);
        if i >= SILENT {
            since = Instant::now();
            send(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n");
        }
        c.set_nonblocking(true).expect("set_nonblocking");
        quiet.push((c, since, None::<Duration>));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 64];
    let mut pings = 0u32;
    while quiet.iter().any(|(_, _, closed)| closed.is_none()) {
        assert!(
            Instant::now() < deadline,
            "idle connections still open after 20 s"
        );
        for (c, since, closed) in quiet.iter_mut().filter(|q| q.2.is_none()) {
            match c.read(&mut buf) {
                Ok(0) => *closed = Some(since.elapsed()),
                // The echo of the half request: the server wrote it after
                // reading the request, so its idle clock started after
                // `since` (which stays the time of the client's last byte).
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("an idle connection ended with {e}, not a FIN"),
            }
        }
        send(&mut polite, b"ping");
        expect_bytes(&mut polite, b"ping");
        pings += 1;
        // The polling interval.
        thread::sleep(Duration::from_millis(1));
    }
    let times: Vec<Duration> = quiet.iter().filter_map(|q| q.2).collect();
    let first = times.iter().min().expect("closes");
    let last = times.iter().max().expect("closes");
    eprintln!(
        "{} idle connections closed {first:?}..{last:?} after their last byte; \
         {pings} pings answered meanwhile",
        times.len()
    );
    // 5 ms for the engine's per-phase clock (see the dribblers' test).
    assert!(
        *first >= Duration::from_millis(995),
        "closed early: {first:?}"
    );
    assert!(*last < Duration::from_secs(5), "closed late: {last:?}");
    drop(quiet);
    send(&mut polite, b"still open");
    expect_bytes(&mut polite, b"still open");
    drop(polite);
    fds_return_to(&server, fds_before, "the idle connections closed");
    still_well_then_stop(server);
}

/// Lines, with a 1 s read timeout (a complete line within 1 s) and a long
/// idle timeout; on close, the reason goes to `CLOSES`.
#[derive(Default)]
struct Guarded;

static DRIBBLERS_CLOSED_BY_READ: AtomicUsize = AtomicUsize::new(0);
static OTHER_CLOSES: AtomicUsize = AtomicUsize::new(0);

#[channel(idle_timeout = "60s", read_timeout = "1s")]
impl Guarded {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[line, b"\n"]);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        if matches!(s.close_reason(), Some(CloseReason::Timeout(Timeout::Read))) {
            DRIBBLERS_CLOSED_BY_READ.fetch_add(1, Ordering::Relaxed);
        } else {
            OTHER_CLOSES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn dribblers_are_closed_by_the_read_timeout() {
    // 100 clients send a byte of a line every 50 ms and never finish it:
    // the idle timeout never fires for them, the read timeout (no complete
    // line in 1 s) does. A client sending whole lines at the same pace is
    // served and kept.
    const DRIBBLERS: usize = 100;
    let server = util::serve::<Guarded>();
    let mut polite = connect(server.addr());
    // Each with the time it connected (its read timeout starts after it).
    let mut dribblers: Vec<(TcpStream, Instant, Option<Duration>)> = (0..DRIBBLERS)
        .map(|_| {
            // Stamped before the connect (see the idle test).
            let since = Instant::now();
            let c = connect(server.addr());
            c.set_nonblocking(true).expect("set_nonblocking");
            (c, since, None)
        })
        .collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let mut next_byte = started;
    let mut buf = [0u8; 16];
    while dribblers.iter().any(|d| d.2.is_none()) {
        assert!(Instant::now() < deadline, "dribblers still open after 20 s");
        if Instant::now() >= next_byte {
            next_byte += Duration::from_millis(50);
            for (c, _, _) in dribblers.iter_mut().filter(|d| d.2.is_none()) {
                // A write may race the close; the read below sees it.
                let _ = c.write(b"a");
            }
            send(&mut polite, b"line\n");
            expect_bytes(&mut polite, b"line\n");
        }
        for (c, since, closed) in dribblers.iter_mut().filter(|d| d.2.is_none()) {
            match c.read(&mut buf) {
                Ok(0) => *closed = Some(since.elapsed()),
                Ok(n) => panic!("a dribbler got {:?}", show(&buf[..n])),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                // Closed while a byte was in flight: a reset.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    *closed = Some(since.elapsed());
                }
                Err(e) => panic!("a dribbler: {e}"),
            }
        }
        // The polling interval.
        thread::sleep(Duration::from_millis(1));
    }
    let times: Vec<Duration> = dribblers.iter().filter_map(|d| d.2).collect();
    let first = times.iter().min().expect("closes");
    let last = times.iter().max().expect("closes");
    eprintln!("{DRIBBLERS} dribblers closed {first:?}..{last:?} after they connected");
    // The engine stamps an accept with the clock read at the start of the
    // phase of the turn that accepts it (a listener that spent its accept
    // budget), which a connection made during that phase postdates by
    // microseconds: a 5 ms allowance, far below a tick of any timer.
    assert!(
        *first >= Duration::from_millis(995),
        "closed early: {first:?}"
    );
    assert!(*last < Duration::from_secs(5), "closed late: {last:?}");
    wait_until("every close counted", TIMEOUT, || {
        DRIBBLERS_CLOSED_BY_READ.load(Ordering::Relaxed) == DRIBBLERS
    });
    assert_eq!(
        OTHER_CLOSES.load(Ordering::Relaxed),
        0,
        "closed for another reason"
    );
    send(&mut polite, b"kept\n");
    expect_bytes(&mut polite, b"kept\n");
}

// ---------------------------------------------------------------------------
// Connection churn against per-connection timers.

/// Counts its drops: a closure that owns one is freed when it drops.
struct Held;

static HELD_DROPPED: AtomicUsize = AtomicUsize::new(0);

impl Drop for Held {
    fn drop(&mut self) {
        HELD_DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// A session expiring after an hour, and a keep-alive every ten minutes,
/// per connection.
#[derive(Default)]
struct Sessions;

#[channel]
impl Sessions {
    #[on_connect]
    fn start(&mut self, s: &mut Stream<Self>) {
        let expiry = Held;
        s.defer(Duration::from_hours(1), move |_, s| {
            let _ = &expiry;
            s.close();
        })
        .expect("defer");
        let keepalive = Held;
        s.cycle(Duration::from_mins(10), move |_, s| {
            let _ = &keepalive;
            s.write(b"ping\n");
        })
        .expect("cycle");
        s.write(b"hi\n");
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[test]
fn closed_streams_free_their_timers_at_once() {
    // 500 connections come and go against a server that gives each an
    // hour's session timer and a ten-minute keep-alive. Each stream's
    // timers go with it: their closures are dropped when it closes, not an
    // hour later, so churn cannot pile them up.
    const CONNECTIONS: usize = 500;
    let server = util::serve::<Sessions>();
    for _ in 0..CONNECTIONS {
        let mut c = connect(server.addr());
        expect_bytes(&mut c, b"hi\n");
    }
    wait_until("every timer closure dropped", TIMEOUT, || {
        HELD_DROPPED.load(Ordering::Relaxed) == 2 * CONNECTIONS
    });
    eprintln!(
        "{CONNECTIONS} connections closed: {} timer closures dropped",
        HELD_DROPPED.load(Ordering::Relaxed)
    );
}

// ---------------------------------------------------------------------------
// Resets in the middle of large writes.

#[test]
fn resets_in_the_middle_of_large_writes() {
    const ROUNDS: usize = 20;
    // `send_file` with 32 MiB to send: each client reads 256 KiB, then
    // resets. Then `echo` with 4 MiB queued back to a client that does not
    // read, then resets.
    let dir = TempDir::new("attack-rst");
    let file = dir.path("big");
    let content: Vec<u8> = (0..32 * MIB / CHUNK)
        .flat_map(|k| pattern_at(k * CHUNK, CHUNK).to_vec())
        .collect();
    std::fs::write(&file, &content).expect("write the file");
    let server =
        ExampleServer::start_args("send_file", &[file.as_os_str(), "127.0.0.1:0".as_ref()]);
    let fds_before = fds(server.pid());
    for _ in 0..ROUNDS {
        let mut c = connect(server.addr);
        let head = read_n(&mut c, 256 * KIB);
        assert!(is_pattern(0, &head), "the file's first bytes");
        reset_stream(c);
    }
    fds_return_to(&server, fds_before, "20 resets mid-file");
    // The next client gets the whole file.
    let mut c = connect(server.addr);
    let all = util::read_to_eof(&mut c);
    assert_eq!(all.len(), content.len(), "the whole file after the resets");
    assert!(all == content, "the file's bytes after the resets");
    drop(c);
    fds_return_to(&server, fds_before, "a whole download");
    eprintln!("send_file: {ROUNDS} resets mid-file, descriptors back to {fds_before}");
    still_well_then_stop(server);

    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let fds_before = fds(server.pid());
    for _ in 0..ROUNDS {
        let mut c = connect(server.addr);
        c.set_write_timeout(Some(Duration::from_millis(500)))
            .expect("set_write_timeout");
        let mut sent = 0;
        // Until the echo backs up to the point the server stops reading.
        while sent < 4 * MIB {
            match c.write(pattern_at(sent, CHUNK)) {
                Ok(n) => sent += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => panic!("writing to echo: {e}"),
            }
        }
        reset_stream(c);
    }
    fds_return_to(&server, fds_before, "20 resets with the echo backed up");
    let mut c = connect(server.addr);
    send(&mut c, b"after the resets");
    expect_bytes(&mut c, b"after the resets");
    drop(c);
    eprintln!("echo: {ROUNDS} resets with writes queued, descriptors back to {fds_before}");
    still_well_then_stop(server);

    // `tls_echo`: a TLS client that sends without reading until the echo
    // backs up, then resets.
    let pki = crate::tls::pki();
    let server = crate::tls::start_tls_echo(&pki);
    let target = server.addr.to_string();
    crate::tls::py(crate::tls::PY_PING, &target, &pki, &[]);
    let fds_before = fds(server.pid());
    let out = crate::tls::py(PY_TLS_RESETS, &target, &pki, &["8"]);
    assert_eq!(out.last().map(String::as_str), Some("reset 8"), "{out:?}");
    fds_return_to(&server, fds_before, "8 TLS resets with the echo backed up");
    let out = crate::tls::py(crate::tls::PY_PING, &target, &pki, &[]);
    assert_eq!(out.last().map(String::as_str), Some("echo ping"), "{out:?}");
    eprintln!("tls_echo: 8 resets with writes queued, descriptors back to {fds_before}");
    still_well_then_stop(server);
}

#[test]
fn nothing_is_written_to_a_reset_tls_connection() {
    // `tls_echo` under strace: 20 bare TCP connects that reset, TLS
    // clients that reset in the middle of an echo, and 40 that reset right
    // after their ClientHello. Each read that reports
    // the reset closes the stream without another write: no `close_notify`
    // into a dead socket (it was written, and raised SIGPIPE each time:
    // found by the soak), so no EPIPE and no SIGPIPE.
    let pki = crate::tls::pki();
    let dir = TempDir::new("attack-strace");
    let log = dir.path("strace.log");
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-e",
        "trace=read,readv,recvfrom,recvmsg,write,writev,sendto,sendmsg,close",
        "-e",
        "signal=SIGPIPE",
        "-o",
    ])
    .arg(&log)
    .arg(util::example("tls_echo"))
    .arg("127.0.0.1:0")
    .arg(pki.server_cert())
    .arg(pki.server_key());
    let server = ExampleServer::spawn("tls_echo", cmd);
    for _ in 0..20 {
        reset_stream(connect(server.addr));
    }
    let target = server.addr.to_string();
    let out = crate::tls::py(PY_TLS_RESETS, &target, &pki, &["4"]);
    assert_eq!(out.last().map(String::as_str), Some("reset 4"), "{out:?}");
    let out = crate::tls::py(PY_TLS_VANISH, &target, &pki, &["40"]);
    assert_eq!(
        out.last().map(String::as_str),
        Some("vanished 40"),
        "{out:?}"
    );
    let out = crate::tls::py(crate::tls::PY_PING, &target, &pki, &[]);
    assert_eq!(out.last().map(String::as_str), Some("echo ping"), "{out:?}");
    // The server's pid is strace's; SIGTERM goes to the traced example.
    let children = format!("/proc/{0}/task/{0}/children", server.pid());
    let tracee = std::fs::read_to_string(&children).expect("strace's child");
    let tracee = tracee.split_whitespace().next().expect("a traced process");
    let status = Command::new("kill")
        .args(["-TERM", tracee])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -TERM {tracee}");
    let (status, stderr) = server.wait(Duration::from_secs(15));
    assert!(
        status.success(),
        "tls_echo exited with {status}: {stderr:#?}"
    );
    let trace = std::fs::read_to_string(&log).expect("the strace log");
    let (writes, late) = writes_after_a_reset(&trace);
    eprintln!(
        "tls_echo under strace: {writes} writes, {} after its connection was known broken",
        late.len()
    );
    assert!(late.is_empty(), "writes to broken connections: {late:#?}");
}

/// Reads an strace log (`PID syscall(FD, ...) = RESULT`): the number of
/// writes, and the lines that wrote to a descriptor after a call on it had
/// returned `ECONNRESET` or `EPIPE` (until it was closed), or that show a
/// `SIGPIPE`.
fn writes_after_a_reset(trace: &str) -> (usize, Vec<String>) {
    let mut broken = std::collections::HashSet::new();
    let mut writes = 0;
    let mut late = Vec::new();
    for line in trace.lines() {
        if line.contains("SIGPIPE") {
            late.push(line.to_owned());
            continue;
        }
        // `PID name(FD, ...`
        let Some(call) = line.split_whitespace().nth(1) else {
            continue;
        };
        let Some((name, rest)) = call.split_once('(') else {
            continue;
        };
        let Ok(fd) = rest.trim_end_matches([',', ')']).parse::<u32>() else {
            continue;
        };
        let write = matches!(name, "write" | "writev" | "sendto" | "sendmsg");
        if write {
            writes += 1;
            if broken.contains(&fd) {
                late.push(line.chars().take(200).collect());
            }
        }
        if name == "close" {
            broken.remove(&fd);
        } else if line.contains("ECONNRESET") || line.contains("EPIPE") {
            broken.insert(fd);
        }
    }
    (writes, late)
}

/// `ARGS[0]` times: a `ClientHello`, then a reset before the server's answer
/// (which it then writes into a reset socket, and must write nothing more).
const PY_TLS_VANISH: &str = r#"
import struct
for i in range(int(ARGS[0])):
    s = context().wrap_socket(raw(), server_hostname="localhost", do_handshake_on_connect=False)
    s.setblocking(False)
    try:
        s.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
say("vanished", ARGS[0])
"#;

/// `ARGS[0]` times: a TLS connection that writes without reading until a
/// write makes no progress for 0.3 s, then resets (`SO_LINGER` 0).
const PY_TLS_RESETS: &str = r#"
import struct
for i in range(int(ARGS[0])):
    s, t = dial()
    s.settimeout(0.3)
    try:
        s.sendall(b"x" * (16 << 20))
        raise SystemExit("16 MiB went into a server that was not read")
    except (socket.timeout, ssl.SSLError, OSError):
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
say("reset", ARGS[0])
"#;

// ---------------------------------------------------------------------------
// A flood beside a ping.

/// Round trips of `ping\n` / `pong\n` on `c`: the latencies, sorted.
fn pings(c: &mut TcpStream, n: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            send(c, b"ping\n");
            expect_bytes(c, b"pong\n");
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    times
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Lines: `ping` is answered with `pong`, anything else is dropped. Reads
/// that queue no reply never pause a stream, so only the read budget stops
/// one flooding peer from holding the loop.
#[derive(Default)]
struct Sink;

#[channel]
impl Sink {
    #[on_read(delimiter = "\n", max = 65536)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        if line == b"ping" {
            s.write(b"pong\n");
        }
    }

    #[on_overflow_error]
    fn long(&mut self, _s: &mut Stream<Self>, _error: &pants::Error) {}
}

#[test]
#[ignore = "a server process for `a_flood_beside_a_ping_client_keeps_the_ping_fast`"]
fn child_sink() {
    serve_in_child::<Sink>();
}

#[test]
fn a_flood_beside_a_ping_client_keeps_the_ping_fast() {
    // Three clients write 64 KiB chunks of lines at a server that drops
    // them, as fast as it takes them, and a fourth connects and disconnects
    // (reset) as fast as it can. One engine thread serves them all and a
    // ping client: a budget of reads per stream (and of accepts per
    // listener) per readiness event keeps the flood from starving the
    // ping. (It once did not: a stream listed twice for resuming got two
    // budgets, the copies multiplied under the flood, and the ping's p50
    // was 200-500 ms.)
    const PINGS: usize = 500;
    const P99_CAP: Duration = Duration::from_millis(150);
    let server = child_server("child_sink");
    let addr = server.addr;
    let mut ping = connect(addr);
    let quiet = pings(&mut ping, 100);
    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    let junk: Arc<Vec<u8>> = Arc::new(
        (0..CHUNK)
            .map(|i| if i % 1000 == 999 { b'\n' } else { b'j' })
            .collect(),
    );
    for _ in 0..3 {
        let mut w = connect(addr);
        let (stop, flooded, junk) = (Arc::clone(&stop), Arc::clone(&flooded), Arc::clone(&junk));
        threads.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if w.write_all(&junk).is_err() {
                    break;
                }
                flooded.fetch_add(junk.len(), Ordering::Relaxed);
            }
        }));
    }
    let (stop_c, accepted_c) = (Arc::clone(&stop), Arc::clone(&accepted));
    threads.push(thread::spawn(move || {
        while !stop_c.load(Ordering::Relaxed) {
            if let Ok(mut c) = TcpStream::connect_timeout(&addr, TIMEOUT) {
                let _ = c.write(b"x\n");
                accepted_c.fetch_add(1, Ordering::Relaxed);
                // A reset leaves no TIME_WAIT behind: thousands of these
                // must not use up the ephemeral ports other tests need.
                reset_stream(c);
            }
        }
    }));
    wait_until("the flood to flow", TIMEOUT, || {
        flooded.load(Ordering::Relaxed) > 64 * MIB && accepted.load(Ordering::Relaxed) > 100
    });
    let started = Instant::now();
    let (flood_at, conns_at) = (
        flooded.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
    );
    let loaded = pings(&mut ping, PINGS);
    let elapsed = started.elapsed();
    let (flood_mb, conns) = (
        (flooded.load(Ordering::Relaxed) - flood_at) / MIB,
        accepted.load(Ordering::Relaxed) - conns_at,
    );
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a flood thread");
    }
    eprintln!(
        "ping beside a flood: p50 {:?} p99 {:?} max {:?} (quiet: p50 {:?} p99 {:?}); \
         meanwhile {flood_mb} MiB dropped and {conns} connections in {elapsed:?}",
        percentile(&loaded, 50),
        percentile(&loaded, 99),
        loaded[loaded.len() - 1],
        percentile(&quiet, 50),
        percentile(&quiet, 99),
    );
    assert!(
        percentile(&loaded, 99) < P99_CAP,
        "the ping's p99 was {:?} beside the flood",
        percentile(&loaded, 99)
    );
    // The storm is load, not a figure: on a machine short of ephemeral
    // ports its connects may fail.
    assert!(flood_mb > 0, "the flood stopped while pinging");
}

// ---------------------------------------------------------------------------
// Random bytes to every example.

/// One random client: random bytes of a random length, then one of the ways
/// to go (close, reset, half-close and drain, read a little and close).
fn random_client(mut c: Conn, noise: &mut Noise) {
    c.set_write_timeout(Some(Duration::from_millis(300)))
        .expect("set_write_timeout");
    let len = match noise.below(4) {
        0 => noise.below(16),
        1 => noise.below(4 * KIB),
        _ => noise.below(256 * KIB),
    };
    let data = noise.bytes(len);
    let mut at = 0;
    while at < data.len() {
        match c.write(&data[at..]) {
            Ok(n) => at += n,
            // The server stopped reading (or closed): enough.
            Err(_) => break,
        }
    }
    match (noise.below(4), c) {
        (0, Conn::Tcp(s)) => reset_stream(s),
        (1, c) => {
            let _ = c.shutdown(Shutdown::Write);
            let mut c = c;
            let mut buf = vec![0u8; CHUNK];
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        (2, mut c) => {
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
        }
        (_, c) => drop(c),
    }
}

/// Runs `clients` random clients against `addr`, on 4 threads.
fn random_clients(addr: &Addr, clients: usize, seed: u64) {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut noise = Noise(seed ^ (t + 1u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for _ in 0..clients / 4 {
                    let c = util::connect_to(&addr);
                    if let Conn::Tcp(s) = &c {
                        s.set_read_timeout(Some(Duration::from_millis(500)))
                            .expect("set_read_timeout");
                    }
                    random_client(c, &mut noise);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a random client thread");
    }
}

/// Runs the random clients against a stream example, then checks that it
/// still answers `polite`, that its descriptors are back to where they
/// started, and that it stops cleanly.
#[track_caller]
fn random_bytes_to(server: ExampleServer, addr: &Addr, seed: u64, polite: impl Fn(&Addr)) {
    let fds_before = fds(server.pid());
    let started = Instant::now();
    random_clients(addr, 40, seed);
    polite(addr);
    fds_return_to(&server, fds_before, "40 random clients");
    eprintln!(
        "{}: 40 random clients in {:?}, still serving, descriptors back to {fds_before}",
        server.shown,
        started.elapsed()
    );
    still_well_then_stop(server);
}

fn polite_echo(addr: &Addr) {
    let mut c = util::connect_to(addr);
    send(&mut c, b"polite\r\n");
    expect_bytes(&mut c, b"polite\r\n");
}

#[test]
fn random_bytes_to_every_example() {
    let ip = |s: &ExampleServer| Addr::from(s.addr);
    for (name, seed) in [
        ("echo", 1),
        ("line_echo", 2),
        ("idle_echo", 3),
        ("multi_echo", 4),
    ] {
        let server = ExampleServer::start(name, "127.0.0.1:0");
        let addr = ip(&server);
        random_bytes_to(server, &addr, seed, polite_echo);
    }

    let server = ExampleServer::start("block_echo", "127.0.0.1:0");
    let addr = ip(&server);
    random_bytes_to(server, &addr, 5, |addr| {
        let mut c = util::connect_to(addr);
        send(&mut c, b"12345678");
        expect_bytes(&mut c, b"12345678\r\n");
    });

    let server = ExampleServer::start("chat", "127.0.0.1:0");
    let addr = ip(&server);
    random_bytes_to(server, &addr, 6, |addr| {
        let mut c = util::connect_to(addr);
        // Everyone else has gone: the first line is this client's own
        // `Connected: IP`.
        assert!(read_line(&mut c).starts_with(b"Connected: "));
        send(&mut c, b"hello\r\n");
        assert!(read_line(&mut c).ends_with(b": hello\r\n"));
    });

    let dir = TempDir::new("attack-random");
    let path = dir.path("echo.sock").display().to_string();
    let server = ExampleServer::start("unix_echo", &path);
    let addr = Addr::Unix(Box::new(pants::UnixAddr::Path(path.into())));
    random_bytes_to(server, &addr, 7, polite_echo);

    let file = dir.path("file");
    std::fs::write(&file, pattern_at(0, CHUNK)).expect("write the file");
    let server =
        ExampleServer::start_args("send_file", &[file.as_os_str(), "127.0.0.1:0".as_ref()]);
    let addr = ip(&server);
    random_bytes_to(server, &addr, 8, |addr| {
        let mut c = util::connect_to(addr);
        assert!(
            util::read_to_eof(&mut c) == pattern_at(0, CHUNK),
            "the file"
        );
    });

    // Noise on a TLS port: every handshake fails, the server goes on.
    let pki = crate::tls::pki();
    let server = crate::tls::start_tls_echo(&pki);
    let addr = ip(&server);
    let target = server.addr.to_string();
    random_bytes_to(server, &addr, 9, |_| {
        let out = crate::tls::py(crate::tls::PY_PING, &target, &pki, &[]);
        assert_eq!(out.last().map(String::as_str), Some("echo ping"), "{out:?}");
    });

    // Datagrams: 500 of random sizes (0 to 64 KiB) from 10 sockets, then
    // a polite one is answered.
    let server = ExampleServer::start("udp_echo", "127.0.0.1:0");
    let fds_before = fds(server.pid());
    let mut noise = Noise(10);
    let senders: Vec<UdpSocket> = (0..10)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    for k in 0..500 {
        let len = noise.below(65_508);
        let _ = senders[k % 10].send_to(&noise.bytes(len), server.addr);
    }
    let polite = UdpSocket::bind("127.0.0.1:0").expect("bind");
    polite
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set_read_timeout");
    let mut buf = [0u8; 64];
    // Datagrams may be lost under the flood: ask again until answered.
    let deadline = Instant::now() + TIMEOUT;
    let answered = loop {
        polite.send_to(b"polite", server.addr).expect("send_to");
        match polite.recv_from(&mut buf) {
            Ok((n, from)) => break (buf[..n].to_vec(), from),
            Err(_) => assert!(Instant::now() < deadline, "udp_echo stopped answering"),
        }
    };
    assert_eq!(show(&answered.0), "polite");
    assert_eq!(answered.1, server.addr);
    assert_eq!(fds(server.pid()), fds_before, "udp_echo's descriptors");
    eprintln!("udp_echo: 500 random datagrams, still serving");
    still_well_then_stop(server);
}

/// A server that waits for the first connection's half-close (plain
/// TCP: `args` empty), sends it `noise`, then closes it (a reset if `reset`); runs `client ARGS... ADDR` against it with empty
/// stdin and returns what the client left.
fn client_against_noise(args: &[&str], noise: Vec<u8>, reset: bool) -> util::Finished {
    // Over TLS the client half-closes only after a handshake.
    let plain = args.is_empty();
    // First: it may build the examples, longer than `accept` waits.
    let client = util::example("client");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let server = thread::spawn(move || {
        let mut c = util::accept(&listener);
        if plain {
            // The client half-closes at once (its stdin is empty): it is
            // connected, so a reset below cannot pass for a failed connect.
            let _ = read_until_closed(&mut c);
        }
        // Whatever the client does with it (it may give up early).
        let _ = c.write_all(&noise);
        if reset {
            reset_stream(c);
        }
    });
    let child = util::ChildGuard(
        Command::new(client)
            .args(args)
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client example"),
    );
    let done = util::finish(child, "the client example", TIMEOUT);
    let outcome = server.join();
    assert!(
        outcome.is_ok(),
        "the noise server failed; the client: {} {}",
        done.status,
        done.stderr
    );
    done
}

#[test]
fn random_bytes_to_the_client_example() {
    // 1 MiB of noise then a FIN: every byte on stdout, exit 0.
    let noise = Noise(11).bytes(MIB);
    let done = client_against_noise(&[], noise.clone(), false);
    assert!(
        done.status.success(),
        "client: {} {}",
        done.status,
        done.stderr
    );
    assert!(
        done.stdout == noise,
        "client printed {} bytes, not the 1 MiB sent",
        done.stdout.len()
    );

    // 256 KiB then a reset: what came before it, `error: ...`, exit 1.
    let noise = Noise(12).bytes(256 * KIB);
    let done = client_against_noise(&[], noise.clone(), true);
    assert!(
        !done.status.success(),
        "a reset and exit 0: {}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("error: connection closed: connection reset"),
        "{}",
        done.stderr
    );
    assert!(
        noise.starts_with(&done.stdout),
        "client printed other bytes"
    );

    // Noise where a TLS server should be: a handshake error, exit 1,
    // nothing on stdout.
    let pki = crate::tls::pki();
    let ca = pki.ca.display().to_string();
    let done = client_against_noise(&["--ca", &ca], Noise(13).bytes(4 * KIB), false);
    assert!(
        !done.status.success(),
        "TLS to noise and exit 0: {}",
        done.stderr
    );
    assert!(done.stderr.starts_with("error: "), "{}", done.stderr);
    assert!(done.stdout.is_empty(), "printed {:?}", show(&done.stdout));
    eprintln!("client against noise: {}", done.stderr.trim());
}

// ---------------------------------------------------------------------------
// Out of descriptors.

#[test]
fn descriptor_exhaustion_does_not_spin_and_recovers() {
    // `echo` with at most 32 descriptors: connections until it runs out,
    // then 8 more wait in the accept queue. While it cannot accept them it
    // must not spin (CPU time over 2 s stays under 5%); once descriptors
    // are free it accepts and serves every waiting connection, and its
    // descriptors return to where they were.
    let mut cmd = Command::new("python3");
    cmd.args(["-c", crate::shutdown::LOW_NOFILE])
        .arg(util::example("echo"))
        .arg("127.0.0.1:0");
    let server = ExampleServer::spawn("echo", cmd);
    let pid = server.pid();
    let fds_before = fds(pid);
    let mut stderr = Vec::new();
    let mut held = Vec::new();
    loop {
        assert!(held.len() < 40, "32 descriptors and never ran out");
        let mut c = connect(server.addr);
        if crate::shutdown::echo_or_pause(&server, &mut c, &mut stderr).is_none() {
            held.push(c);
            break;
        }
        held.push(c);
    }
    let waiting: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = connect(server.addr);
            send(&mut c, b"w");
            c
        })
        .collect();
    let (ticks, t0) = (cpu_ticks(pid), Instant::now());
    // Not a wait for an event: the measurement's window.
    thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - ticks;
    let window = t0.elapsed();
    eprintln!(
        "out of descriptors with {} connections held and 8 waiting: {used} ticks of CPU in {window:?}",
        held.len()
    );
    assert!(
        used <= 10,
        "spun while out of descriptors: {used} ticks in {window:?}"
    );
    drop(held);
    for mut c in waiting {
        expect_bytes(&mut c, b"w");
    }
    fds_return_to(&server, fds_before, "every connection closed");
    let mut c = connect(server.addr);
    send(&mut c, b"recovered");
    expect_bytes(&mut c, b"recovered");
    drop(c);
    still_well_then_stop(server);
}

// ---------------------------------------------------------------------------
// SIGTERM in the middle of a TLS transfer.

#[test]
fn sigterm_mid_transfer_over_tls() {
    // A Python TLS client streams to `tls_echo` and reads the echo; SIGTERM
    // arrives once a megabyte has come back. The server stops reading,
    // sends the echo of everything it read, then `close_notify` and a FIN:
    // the client sees a clean TLS close (not a truncation, not a reset)
    // after a byte-exact prefix of what it sent, and the server exits 0.
    let pki = crate::tls::pki();
    let server = crate::tls::start_tls_echo(&pki);
    let mut child = util::ChildGuard(
        Command::new("python3")
            .arg("-c")
            .arg(format!("{}{PY_STREAM}", crate::tls::PY_TLS))
            .arg(server.addr.to_string())
            .arg(&pki.ca)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3"),
    );
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().expect("piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30));
    assert_eq!(
        first.as_deref(),
        Ok("flowing"),
        "the client did not get going"
    );
    server.signal("TERM");
    let (status, stderr) = server.wait(Duration::from_secs(15));
    assert!(
        status.success(),
        "tls_echo exited with {status}: {stderr:#?}"
    );
    let done = util::finish(child, "the python client", TIMEOUT);
    let out: Vec<String> = rx.try_iter().collect();
    eprintln!("TLS stream cut by SIGTERM: {out:?}");
    assert!(done.status.success(), "the client: {}", done.stderr);
    assert_eq!(
        out.last().map(String::as_str),
        Some("clean close"),
        "{out:?}"
    );
}

/// Streams a pattern at the server in 16 KiB records and reads the echo,
/// checking every byte, until the server closes. Prints `flowing` once
/// 1 MiB is back, then how much went each way and `clean close` if the
/// server's close was a `close_notify` (a truncation or a reset fails).
const PY_STREAM: &str = r#"
import select
s, t = dial(suppress_ragged_eofs=False)
s.setblocking(False)
pattern = bytes((i * 7 + i // 251) % 256 for i in range(65536)) * 2
sent = got = 0
flowing = closed = False
while not closed:
    r, w, _ = select.select([s], [s], [], 20)
    if not r and not w:
        raise SystemExit("stuck after sending %d, getting %d" % (sent, got))
    if w:
        chunk = pattern[sent % 65536:][:16384]
        try:
            sent += s.send(chunk)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
        except OSError as e:
            raise SystemExit("send after %d: %r" % (sent, e))
    while True:
        try:
            data = s.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            break
        except (ssl.SSLError, OSError) as e:
            raise SystemExit("not a clean close after %d bytes: %r" % (got, e))
        if not data:
            closed = True
            break
        if data != pattern[got % 65536:][:len(data)]:
            raise SystemExit("wrong bytes at %d" % got)
        got += len(data)
        if got >= 1 << 20 and not flowing:
            flowing = True
            say("flowing")
if got > sent:
    raise SystemExit("got %d, more than the %d sent" % (got, sent))
say("sent", sent, "got", got)
say("clean close")
s.close()
"#;
