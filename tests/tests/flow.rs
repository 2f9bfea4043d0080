//! Flow control: write watermarks and their callbacks, pausing reads (a
//! stream's own and another's), the hard cap on a write queue (closing a
//! slow consumer, or refusing the write), two pants programs streaming at
//! each other, bounded memory of the example programs under a gigabyte or a
//! client that never reads, and `max` as a frame-length limit whatever way
//! TCP split the input.
//!
//! Memory figures come from `/proc/PID/status` (`VmHWM`, the peak resident
//! set, and `VmRSS`); whether the engine has read a socket's bytes from
//! `/proc/net/tcp` (the kernel's unread and unacknowledged byte counts), so
//! no test has to guess how long the engine takes.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use pants::prelude::*;
use pants::{Channel, PastMax, WriteLimits};

use crate::util::{
    self, Bg, ChildGuard, Conn, ExampleServer, Rx, TIMEOUT, Tx, connect, example, expect_bytes,
    read_n, read_until_closed, send, show,
};

pub(crate) const KIB: usize = 1024;
pub(crate) const MIB: usize = 1024 * KIB;
pub(crate) const CHUNK: usize = 64 * KIB;
/// The period of the byte pattern every transfer here carries: a prime, so
/// a chunk lost, doubled or reordered cannot line the pattern up again.
const PERIOD: usize = 65_521;

// ---------------------------------------------------------------------------
// Helpers: the pattern, `/proc`, bounded polling.

/// `PERIOD + CHUNK` bytes of the pattern, so any chunk is one slice.
fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..PERIOD + CHUNK)
            .map(|i| {
                let i = i % PERIOD;
                (i * 7 + i / 251) as u8
            })
            .collect()
    })
}

/// The `n <= CHUNK` pattern bytes at stream offset `at`.
pub(crate) fn pattern_at(at: usize, n: usize) -> &'static [u8] {
    let off = at % PERIOD;
    &pattern()[off..off + n]
}

/// Whether `data` is the pattern from stream offset `at`.
pub(crate) fn is_pattern(at: usize, data: &[u8]) -> bool {
    data.chunks(CHUNK)
        .enumerate()
        .all(|(k, part)| part == pattern_at(at + k * CHUNK, part.len()))
}

/// A figure of `/proc/PID/status` in KiB (`VmHWM`, `VmRSS`); `None` once
/// the process is gone (a zombie has no memory lines).
pub(crate) fn proc_kib(pid: u32, field: &str) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

#[track_caller]
pub(crate) fn memory_kib(pid: u32, field: &str) -> usize {
    proc_kib(pid, field).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// An address as `/proc/net/tcp` prints it: `0100007F:1F90`.
fn proc_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // The kernel prints the address's bytes as a native-endian integer.
    Some(SocketAddr::from((Ipv4Addr::from(ip.to_ne_bytes()), port)))
}

/// The kernel's queues of the IPv4 TCP socket `local` -> `remote`, from
/// `/proc/net/tcp`: `(sent and not yet acknowledged, received and not yet
/// read by the application)`.
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(usize, usize)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5
            || proc_addr(fields[1]) != Some(local)
            || proc_addr(fields[2]) != Some(remote)
        {
            return None;
        }
        let (tx, rx) = fields[4].split_once(':')?;
        Some((
            usize::from_str_radix(tx, 16).ok()?,
            usize::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// Polls `done` until it holds; fails after `limit`.
#[track_caller]
pub(crate) fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the engine has read everything `client` sent: the server's
/// kernel acknowledged it all, and none of it is left unread in the
/// server's socket.
#[track_caller]
fn wait_read_by_server(client: &TcpStream) {
    let local = client.local_addr().expect("local_addr");
    let server = client.peer_addr().expect("peer_addr");
    wait_until("the engine to read what was sent", TIMEOUT, || {
        let sent = tcp_queues(local, server).expect("the client's socket in /proc/net/tcp");
        let held = tcp_queues(server, local).expect("the server's socket in /proc/net/tcp");
        sent.0 == 0 && held.1 == 0
    });
}

/// The next event within `limit`.
#[track_caller]
fn next_within(rx: &Receiver<String>, limit: Duration) -> String {
    rx.recv_timeout(limit)
        .unwrap_or_else(|e| panic!("no event within {limit:?}: {e}"))
}

/// A close reason as events record it: `SlowConsumer`, `PeerClosed`, ...
fn reason<C: Channel>(s: &Stream<'_, C>) -> String {
    s.close_reason()
        .map_or_else(|| "open".to_owned(), |r| format!("{r:?}"))
}

/// Reads `from` to its end, checking the pattern and keeping `progress`
/// up to date; returns the byte count and the first offset that differed.
fn count_pattern(
    mut from: impl Read,
    progress: &AtomicUsize,
) -> std::io::Result<(usize, Option<usize>)> {
    let mut buf = vec![0u8; CHUNK];
    let (mut got, mut mismatch) = (0, None);
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok((got, mismatch)),
            Ok(n) => {
                if mismatch.is_none() && !is_pattern(got, &buf[..n]) {
                    mismatch = Some(got);
                }
                got += n;
                progress.store(got, Ordering::SeqCst);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------
// 1 GiB through `client` and `echo`.

const GIB: usize = 1024 * MIB;
const EXAMPLE_PEAK_CAP_KIB: usize = 64 * 1024;

#[test]
fn client_pipes_1_gib_through_echo_in_bounded_memory() {
    let limit = Duration::from_mins(2);
    let started = Instant::now();
    let deadline = started + limit;
    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let mut client = ChildGuard(
        Command::new(example("client"))
            .arg(server.addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client example"),
    );
    let client_pid = client.0.id();
    let mut stdin = client.0.stdin.take().expect("stdin is piped");
    let stdout = client.0.stdout.take().expect("stdout is piped");
    let mut stderr = client.0.stderr.take().expect("stderr is piped");
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let mut at = 0;
        while at < GIB {
            let n = CHUNK.min(GIB - at);
            stdin.write_all(pattern_at(at, n))?;
            at += n;
        }
        Ok(())
        // stdin is dropped here: the client sees EOF and half-closes.
    });
    let progress = Arc::new(AtomicUsize::new(0));
    let (out_tx, out_rx) = mpsc::channel();
    thread::spawn({
        let progress = Arc::clone(&progress);
        move || {
            let _ = out_tx.send(count_pattern(stdout, &progress));
        }
    });
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = err_tx.send(text);
    });
    // The peak of a process is only readable while it runs: sample it
    // until the client exits.
    let mut client_peak = 0;
    let mut all_back = None;
    let status = loop {
        if let Some(kib) = proc_kib(client_pid, "VmHWM") {
            client_peak = client_peak.max(kib);
        }
        if let Some(status) = client.0.try_wait().expect("try_wait") {
            break status;
        }
        if progress.load(Ordering::SeqCst) >= GIB {
            // The echo closes as soon as it has sent everything back.
            let since = *all_back.get_or_insert_with(Instant::now);
            assert!(
                since.elapsed() < 2 * TIMEOUT,
                "the client printed all 1 GiB {:?} ago and has not exited: it \
                 missed the echo's close (after {:?})",
                since.elapsed(),
                since - started
            );
        }
        assert!(
            Instant::now() < deadline,
            "the client did not finish 1 GiB within {limit:?}"
        );
        thread::sleep(Duration::from_millis(20));
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(TIMEOUT);
    let (received, mismatch) = out_rx
        .recv_timeout(left)
        .expect("the client's stdout did not end")
        .expect("reading the client's stdout");
    let stderr = err_rx.recv_timeout(TIMEOUT).unwrap_or_default();
    let fed = writer.join().expect("the stdin writer panicked");
    let server_peak = memory_kib(server.pid(), "VmHWM");
    eprintln!(
        "1 GiB through client and echo in {:?}; peaks: client {client_peak} KiB, echo {server_peak} KiB",
        started.elapsed()
    );
    assert!(status.success(), "client exited with {status}: {stderr}");
    fed.expect("feeding the client's stdin");
    assert_eq!(received, GIB, "bytes back from the echo; stderr: {stderr}");
    assert_eq!(mismatch, None, "first byte that differs from what was sent");
    assert!(
        client_peak > 0 && client_peak < EXAMPLE_PEAK_CAP_KIB,
        "client VmHWM {client_peak} KiB"
    );
    assert!(
        server_peak < EXAMPLE_PEAK_CAP_KIB,
        "echo VmHWM {server_peak} KiB"
    );
}

// ---------------------------------------------------------------------------
// A client that never reads, against the echo example.

#[test]
fn echo_bounded_against_a_client_that_never_reads() {
    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let addr = server.addr;
    never_reading_client(&server, || Conn::Tcp(connect(addr)));
    let dir = util::TempDir::new("never-reads");
    let path = dir.path("echo.sock").display().to_string();
    let server = ExampleServer::start("unix_echo", &path);
    let local = Addr::Unix(Box::new(pants::UnixAddr::Path(path.into())));
    never_reading_client(&server, || util::connect_to(&local));
}

/// Floods `server` (an echo) from a client that never reads: the server
/// stops reading it, its memory stays bounded, and it serves a polite
/// client meanwhile.
#[track_caller]
fn never_reading_client(server: &ExampleServer, connect: impl Fn() -> Conn) {
    const CAP: usize = 512 * MIB;
    const GROWTH_CAP_KIB: usize = 16 * 1024;
    let before = memory_kib(server.pid(), "VmRSS");
    let mut hog = connect();
    // A write that makes no progress for 2 s ends the flood.
    hog.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("set_write_timeout");
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut sent = 0;
    while sent < CAP {
        match hog.write(pattern_at(sent, CHUNK.min(CAP - sent))) {
            Ok(0) => panic!("the socket took nothing after {sent} bytes"),
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("sending after {sent} bytes: {e}"),
        }
        assert!(Instant::now() < deadline, "still sending after 60 s");
    }
    let after = memory_kib(server.pid(), "VmRSS");
    eprintln!(
        "never-reading client of {}: sent {} KiB; VmRSS {before} -> {after} KiB",
        server.shown,
        sent / KIB
    );
    assert!(
        sent < CAP,
        "the echo server read all {CAP} bytes of a client that never reads"
    );
    assert!(
        after.saturating_sub(before) < GROWTH_CAP_KIB,
        "echo VmRSS grew from {before} KiB to {after} KiB"
    );
    // The server still serves everyone else.
    let mut polite = connect();
    let data = pattern_at(0, CHUNK);
    send(&mut polite, data);
    assert!(
        read_n(&mut polite, data.len()) == data,
        "the polite client's echo differs"
    );
    drop(hog);
}

// ---------------------------------------------------------------------------
// A never-reading client in a chat: closed as a slow consumer.

/// Broadcasts each `\r\n` line, with its `\r\n`, to every client; reports
/// each close as `close PEER REASON`.
struct Relay {
    events: Tx,
}

#[channel]
impl Relay {
    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.broadcast(&[line, b"\r\n"].concat());
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        let peer = s.remote_addr().to_string();
        self.events.send(format!("close {peer} {}", reason(s)));
    }
}

/// Lines sent by several clients to a broadcasting server; every sender
/// reads everything it receives.
struct Flood {
    line_len: usize,
    lines_per_sender: usize,
    /// What each receiver gets for one line (the server may add a prefix).
    relayed: usize,
    /// What each receiver gets besides the lines (joins, leaves).
    extra: Vec<usize>,
}

/// How far the receivers are behind.
struct Progress {
    /// Line bytes promised to each receiver so far.
    promised: usize,
    received: Vec<usize>,
    failed: Option<String>,
}

/// A sender waits while a receiver is this far behind, so no receiver's
/// queue on the server grows because the test's threads are descheduled.
const FLOOD_WINDOW: usize = 2 * MIB;

impl Flood {
    fn per_receiver(&self, senders: usize) -> usize {
        senders * self.lines_per_sender * self.relayed
    }

    /// Runs the flood; fails unless every sender received exactly what it
    /// was owed within `limit`.
    #[track_caller]
    fn run(&self, senders: &[TcpStream], limit: Duration) {
        let deadline = Instant::now() + limit;
        let shared = (
            Mutex::new(Progress {
                promised: 0,
                received: vec![0; senders.len()],
                failed: None,
            }),
            Condvar::new(),
        );
        thread::scope(|scope| {
            for (i, sock) in senders.iter().enumerate() {
                let want = self.extra[i] + self.per_receiver(senders.len());
                let reader = sock.try_clone().expect("clone a sender");
                let shared = &shared;
                scope.spawn(move || Self::receive(reader, i, want, shared));
                scope.spawn(move || self.transmit(sock, deadline, shared));
            }
        });
        let progress = shared.0.lock().unwrap();
        if let Some(failed) = &progress.failed {
            panic!("the flood failed: {failed}");
        }
    }

    fn receive(
        mut sock: TcpStream,
        i: usize,
        want: usize,
        (progress, changed): &(Mutex<Progress>, Condvar),
    ) {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        while got < want {
            let failure = match sock.read(&mut buf) {
                Ok(0) => Some(format!("receiver {i} closed after {got} of {want} bytes")),
                Ok(n) => {
                    got += n;
                    None
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => None,
                Err(e) => Some(format!("receiver {i} after {got} of {want} bytes: {e}")),
            };
            let mut p = progress.lock().unwrap();
            p.received[i] = got;
            if failure.is_some() && p.failed.is_none() {
                p.failed = failure;
            }
            changed.notify_all();
            if p.failed.is_some() {
                return;
            }
        }
        if got != want {
            let mut p = progress.lock().unwrap();
            p.failed = Some(format!("receiver {i} got {got} bytes, {want} expected"));
            changed.notify_all();
        }
    }

    fn transmit(
        &self,
        mut sock: &TcpStream,
        deadline: Instant,
        (progress, changed): &(Mutex<Progress>, Condvar),
    ) {
        let per_batch = (CHUNK / (self.line_len + 2)).max(1);
        let mut line = vec![b'x'; self.line_len];
        line.extend_from_slice(b"\r\n");
        let batch = line.repeat(per_batch);
        let mut left = self.lines_per_sender;
        while left > 0 {
            let n = per_batch.min(left);
            {
                let mut p = progress.lock().unwrap();
                loop {
                    if p.failed.is_some() {
                        return;
                    }
                    let slowest = p.received.iter().copied().min().unwrap_or(0);
                    if p.promised.saturating_sub(slowest) <= FLOOD_WINDOW {
                        break;
                    }
                    let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
                        p.failed = Some("the flood did not finish in time".to_owned());
                        changed.notify_all();
                        return;
                    };
                    p = changed.wait_timeout(p, wait).unwrap().0;
                }
                p.promised += n * self.relayed;
            }
            if let Err(e) = sock.write_all(&batch[..n * line.len()]) {
                let mut p = progress.lock().unwrap();
                p.failed
                    .get_or_insert_with(|| format!("sending lines: {e}"));
                changed.notify_all();
                return;
            }
            left -= n;
        }
    }
}

const SENDERS: usize = 4;
const LINE: usize = 4000;

#[test]
fn chat_closes_a_never_reading_client_as_slow_consumer() {
    let started = Instant::now();
    slow_consumer_in_process();
    let middle = Instant::now();
    slow_consumer_in_the_chat_example();
    eprintln!(
        "slow consumer: in process {:?}, chat example {:?}",
        middle - started,
        middle.elapsed()
    );
}

fn slow_consumer_in_process() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Relay { events: tx.clone() }));
    let mut slow = connect(server.addr());
    let senders: Vec<TcpStream> = (0..SENDERS).map(|_| connect(server.addr())).collect();
    let id = server.server_id();
    wait_until("every client to be accepted", TIMEOUT, || {
        server.call(move |e| e.server(id).map_or(0, |s| s.len())) == SENDERS + 1
    });
    // 24 MiB for each receiver: far more than the slow client's kernel
    // buffers and its 4 MiB queue take.
    let flood = Flood {
        line_len: LINE,
        lines_per_sender: 24 * MIB / (SENDERS * (LINE + 2)),
        relayed: LINE + 2,
        extra: vec![0; SENDERS],
    };
    flood.run(&senders, Duration::from_mins(1));
    let slow_addr = slow.local_addr().unwrap();
    assert_eq!(rx.next(), format!("close {slow_addr} SlowConsumer"));
    assert_eq!(
        rx.rest(),
        Vec::<String>::new(),
        "the clients that read were closed"
    );
    let left = read_until_closed(&mut slow);
    assert!(
        left.len() < flood.per_receiver(SENDERS),
        "the slow client got all {} bytes",
        left.len()
    );
    drop(senders);
    for _ in 0..SENDERS {
        let event = rx.next();
        assert!(event.ends_with(" PeerClosed"), "{event}");
    }
}

fn slow_consumer_in_the_chat_example() {
    const JOINED: &[u8] = b"Connected: 127.0.0.1\r\n";
    const LEFT: &[u8] = b"Disconnected: 127.0.0.1\r\n";
    const PREFIX: &[u8] = b"127.0.0.1: ";
    const BROADCAST: usize = 200 * MIB;
    let chat = ExampleServer::start("chat", "127.0.0.1:0");
    let mut slow = connect(chat.addr);
    // Each sender joins once the one before it was accepted; it sees its
    // own join, then those of the senders after it.
    let senders: Vec<TcpStream> = (0..SENDERS)
        .map(|_| {
            let mut c = connect(chat.addr);
            expect_bytes(&mut c, JOINED);
            c
        })
        .collect();
    let relayed = PREFIX.len() + LINE + 2;
    let flood = Flood {
        line_len: LINE,
        lines_per_sender: BROADCAST.div_ceil(SENDERS * SENDERS * relayed),
        relayed,
        extra: (0..SENDERS)
            .map(|i| (SENDERS - 1 - i) * JOINED.len() + LEFT.len())
            .collect(),
    };
    flood.run(&senders, Duration::from_secs(90));
    let peak = memory_kib(chat.pid(), "VmHWM");
    eprintln!(
        "chat: {} MiB broadcast to the readers; VmHWM {peak} KiB",
        SENDERS * flood.per_receiver(SENDERS) / MIB
    );
    assert!(peak < EXAMPLE_PEAK_CAP_KIB, "chat VmHWM {peak} KiB");
    // The slow client was dropped (its leaving was announced to the
    // others: the flood counted it); what it has left is what the kernels
    // held, then EOF or a reset.
    let left = read_until_closed(&mut slow);
    assert!(
        left.len() < flood.per_receiver(SENDERS),
        "the slow client got all {} bytes",
        left.len()
    );
}

// ---------------------------------------------------------------------------
// Pause and resume writing.

/// Writes `total` pattern bytes in 64 KiB writes while the stream is
/// writable, from `on_connect`, `on_write` and `on_resume_writing`; then
/// closes. Reports the watermark callbacks.
struct Producer {
    total: usize,
    sent: usize,
    events: Tx,
}

impl Producer {
    /// Writes until the stream is above its high watermark (each write
    /// flushed, so `queued` tells what the kernel did not take).
    fn produce<C: Channel>(total: usize, sent: &mut usize, s: &mut Stream<'_, C>) -> bool {
        let high = s.write_limits().high;
        while *sent < total && s.is_open() && s.is_writable() && s.queued() <= high {
            let n = CHUNK.min(total - *sent);
            s.write(pattern_at(*sent, n));
            *sent += n;
            s.flush();
        }
        *sent == total
    }

    fn more(&mut self, s: &mut Stream<'_, Self>) {
        if Self::produce(self.total, &mut self.sent, s) && s.is_open() {
            self.events.send("all queued");
            s.close();
        }
    }
}

#[channel]
impl Producer {
    #[on_connect]
    fn start(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_write]
    fn drained(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_pause_writing]
    fn paused(&mut self, s: &mut Stream<Self>) {
        let over = s.queued() > s.write_limits().high;
        self.events.send(format!(
            "pause writable={} over_high={over}",
            s.is_writable()
        ));
    }

    #[on_resume_writing]
    fn resumed(&mut self, s: &mut Stream<Self>) {
        let under = s.queued() <= s.write_limits().low;
        self.events.send(format!(
            "resume writable={} at_or_below_low={under}",
            s.is_writable()
        ));
        self.more(s);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.events.send(format!("close {}", reason(s)));
    }
}

#[test]
fn pause_and_resume_writing_callbacks() {
    // More than a peer that does not read takes into its kernel buffers
    // (its receive buffer, the server's send buffer: about 4 MiB here).
    const TOTAL: usize = 16 * MIB;
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| {
        Some(Producer {
            total: TOTAL,
            sent: 0,
            events: tx.clone(),
        })
    });
    let peer = connect(server.addr());
    // Nothing is read yet: the queue rises above the high watermark.
    assert_eq!(rx.next(), "pause writable=false over_high=true");
    let reader = thread::spawn(move || count_pattern(peer, &AtomicUsize::new(0)));
    let mut events = Vec::new();
    loop {
        let event = rx.next();
        let done = event.starts_with("close");
        events.push(event);
        if done {
            break;
        }
    }
    let (received, mismatch) = reader
        .join()
        .expect("the reader panicked")
        .expect("reading");
    assert_eq!(received, TOTAL);
    assert_eq!(mismatch, None, "first byte out of order");
    assert_eq!(events.last().map(String::as_str), Some("close Local"));
    // Each pause is followed by a resume, whatever came between.
    let mut paused = true;
    let mut resumes = 0;
    for event in &events[..events.len() - 1] {
        match event.as_str() {
            "resume writable=true at_or_below_low=true" if paused => {
                paused = false;
                resumes += 1;
            }
            "pause writable=false over_high=true" if !paused => paused = true,
            "all queued" => {}
            other => panic!("unexpected {other:?} (paused: {paused}) in {events:?}"),
        }
    }
    assert!(
        resumes >= 1 && !paused,
        "events after the first pause: {events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "all queued").count(),
        1,
        "{events:?}"
    );
}

// ---------------------------------------------------------------------------
// One stream pausing another's reading.

enum Role {
    Data,
    Control,
}

/// The first connection is the data stream (echoes everything, counting
/// it); the second controls it: `pause`, `resume`, `ping`.
struct Valve {
    role: Role,
    data: Arc<Mutex<Option<StreamId>>>,
    delivered: Arc<AtomicUsize>,
}

#[channel]
impl Valve {
    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        match self.role {
            Role::Data => {
                *self.data.lock().unwrap() = Some(s.id());
                s.switch(Self::DATA);
                s.write(b"data\n");
            }
            Role::Control => {
                s.write(b"control\n");
            }
        }
    }

    #[on_read(delimiter = "\n", initial)]
    fn command(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        let data = self.data.lock().unwrap().expect("the data stream is up");
        let reply: &[u8] = match line {
            b"pause" if s.set_reading_of(data, false) => b"paused\n",
            b"resume" if s.set_reading_of(data, true) => b"resumed\n",
            b"ping" => b"pong\n",
            _ => b"?\n",
        };
        s.write(reply);
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        self.delivered.fetch_add(data.len(), Ordering::SeqCst);
        s.write(data);
    }
}

/// Waits until `sent` bytes from `client` wait, unread, in the server's
/// socket.
#[track_caller]
fn wait_unread(client: &TcpStream, at_least: usize) {
    let local = client.local_addr().expect("local_addr");
    let server = client.peer_addr().expect("peer_addr");
    wait_until("the bytes to wait in the server's socket", TIMEOUT, || {
        tcp_queues(server, local).is_some_and(|(_, unread)| unread >= at_least)
    });
}

#[test]
fn pause_reading_another_stream() {
    const PAYLOAD: usize = MIB;
    let data_id = Arc::new(Mutex::new(None));
    let delivered = Arc::new(AtomicUsize::new(0));
    let server = util::serve_with({
        let (data_id, delivered) = (Arc::clone(&data_id), Arc::clone(&delivered));
        let mut accepted = 0;
        move |_| {
            accepted += 1;
            Some(Valve {
                role: if accepted == 1 {
                    Role::Data
                } else {
                    Role::Control
                },
                data: Arc::clone(&data_id),
                delivered: Arc::clone(&delivered),
            })
        }
    });
    let mut b = connect(server.addr());
    expect_bytes(&mut b, b"data\n");
    let mut a = connect(server.addr());
    expect_bytes(&mut a, b"control\n");

    // A pauses B; B's peer sends 1 MiB, which waits in the kernel (and
    // then in the peer's send buffer).
    send(&mut a, b"pause\n");
    expect_bytes(&mut a, b"paused\n");
    let mut b_out = b.try_clone().expect("clone");
    let writer = thread::spawn(move || {
        let mut at = 0;
        while at < PAYLOAD {
            b_out.write_all(pattern_at(at, CHUNK))?;
            at += CHUNK;
        }
        std::io::Result::Ok(())
    });
    wait_unread(&b, 1);
    // B's bytes arrived before these pings: the engine has seen them, and
    // delivers none while B is paused.
    for _ in 0..20 {
        send(&mut a, b"ping\n");
        expect_bytes(&mut a, b"pong\n");
    }
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        0,
        "delivered while paused"
    );
    send(&mut a, b"resume\n");
    expect_bytes(&mut a, b"resumed\n");
    let echoed = read_n(&mut b, PAYLOAD);
    assert!(is_pattern(0, &echoed), "B's bytes out of order");
    writer
        .join()
        .expect("writer panicked")
        .expect("B's peer sending");
    assert_eq!(delivered.load(Ordering::SeqCst), PAYLOAD);

    // The same from outside the engine: `Engine::set_reading`.
    let id = data_id.lock().unwrap().expect("B's id");
    assert!(server.call(move |e| e.set_reading(id, false)));
    send(&mut b, pattern_at(PAYLOAD, CHUNK));
    wait_unread(&b, CHUNK);
    server.call(|_| ());
    send(&mut a, b"ping\n");
    expect_bytes(&mut a, b"pong\n");
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        PAYLOAD,
        "delivered while paused"
    );
    assert!(server.call(move |e| e.set_reading(id, true)));
    let echoed = read_n(&mut b, CHUNK);
    assert!(is_pattern(PAYLOAD, &echoed), "B's bytes out of order");
    assert_eq!(delivered.load(Ordering::SeqCst), PAYLOAD + CHUNK);
}

// ---------------------------------------------------------------------------
// PastMax::Refuse.

const REFUSE_MAX: usize = 256 * KIB;

/// Sends its id; limits its queue to 256 KiB, refusing writes past it.
struct Refuser {
    ids: Sender<StreamId>,
    events: Tx,
}

#[channel]
impl Refuser {
    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        s.set_write_limits(WriteLimits {
            high: 64 * KIB,
            low: 16 * KIB,
            max: REFUSE_MAX,
            past_max: PastMax::Refuse,
        });
        let _ = self.ids.send(s.id());
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.events.send(format!("close {}", reason(s)));
    }
}

/// In one engine call: whether the stream was writable and how much it
/// had queued just before `len` pattern bytes at `at` were written to it
/// from outside, whether the write was taken, and whether the stream is
/// still open after it.
fn write_from_outside(
    server: &Bg<Refuser>,
    id: StreamId,
    at: usize,
    len: usize,
) -> (bool, usize, bool, bool) {
    let data = pattern_at(at, len);
    server.call(move |e| {
        let writable = e.is_writable(id);
        let queued = e
            .with_stream::<Refuser, _>(id, |_, s| s.queued())
            .expect("the stream is gone");
        let taken = e.write(id, data);
        let open = e
            .with_stream::<Refuser, _>(id, |_, s| s.is_open())
            .unwrap_or(false);
        (writable, queued, taken, open)
    })
}

#[test]
fn past_max_refuse_keeps_the_stream() {
    let (ids, id_rx) = mpsc::channel();
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| {
        Some(Refuser {
            ids: ids.clone(),
            events: tx.clone(),
        })
    });
    let mut peer = connect(server.addr());
    let id = id_rx.recv_timeout(TIMEOUT).expect("the stream's id");
    // The peer does not read: the kernel takes what it can, then the
    // queue fills to its cap and a write that would pass it is refused.
    let mut accepted = 0;
    let (writable, queued) = loop {
        let (writable, queued, taken, open) = write_from_outside(&server, id, accepted, CHUNK);
        assert!(open, "the stream closed after {accepted} bytes");
        if !taken {
            break (writable, queued);
        }
        accepted += CHUNK;
        assert!(accepted < 64 * MIB, "no write refused after 64 MiB");
    };
    assert!(
        queued <= REFUSE_MAX && queued + CHUNK > REFUSE_MAX,
        "{queued} bytes queued when a {CHUNK}-byte write was refused"
    );
    assert!(!writable, "a stream with {queued} bytes queued is writable");
    for _ in 0..3 {
        let (_, queued, taken, open) = write_from_outside(&server, id, accepted, CHUNK);
        assert!(
            !taken && open,
            "a write on a full queue ({queued} bytes): taken {taken}, open {open}"
        );
    }
    // A write that ends exactly at the cap is taken, one more byte is not.
    let (room, one_more) = server
        .call(move |e| {
            e.with_stream::<Refuser, _>(id, move |_, s| {
                let room = REFUSE_MAX - s.queued();
                let fits = s.write(pattern_at(accepted, room));
                let full = s.queued() == REFUSE_MAX;
                (fits && full)
                    .then_some(room)
                    .map(|room| (room, s.write(b"!")))
            })
        })
        .expect("the stream is gone")
        .expect("a write up to the cap was refused");
    accepted += room;
    assert!(!one_more, "a write past the cap was taken");
    assert_eq!(rx.rest(), Vec::<String>::new(), "the stream closed");
    // The peer reads it all, in order; then writes are taken again.
    let got = read_n(&mut peer, accepted);
    assert!(is_pattern(0, &got), "bytes out of order");
    for k in 0..4 {
        let (_, queued, taken, open) = write_from_outside(&server, id, accepted + k * CHUNK, CHUNK);
        assert!(
            taken && open,
            "write {k} after the peer read everything ({queued} bytes queued): taken {taken}, open {open}"
        );
    }
    let got = read_n(&mut peer, 4 * CHUNK);
    assert!(is_pattern(accepted, &got), "bytes out of order");
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rx.next(), "close PeerClosed");
}

// ---------------------------------------------------------------------------
// Two pants programs streaming at each other.

/// Sends `total` pattern bytes while writable (from `on_connect`,
/// `on_write`, `on_resume_writing`), and reads what the other side sends,
/// checking it.
struct Streamer {
    name: &'static str,
    total: usize,
    sent: usize,
    received: usize,
    pauses: usize,
    sent_reported: bool,
    events: Sender<String>,
}

impl Streamer {
    fn new(name: &'static str, total: usize, events: Sender<String>) -> Self {
        Self {
            name,
            total,
            sent: 0,
            received: 0,
            pauses: 0,
            sent_reported: false,
            events,
        }
    }

    fn report(&self, what: impl std::fmt::Display) {
        let _ = self.events.send(format!("{} {what}", self.name));
    }

    fn more(&mut self, s: &mut Stream<'_, Self>) {
        if Producer::produce(self.total, &mut self.sent, s)
            && s.queued() == 0
            && !self.sent_reported
        {
            self.sent_reported = true;
            self.report("sent all");
        }
    }
}

#[channel]
impl Streamer {
    #[on_connect]
    fn start(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_write]
    fn drained(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_pause_writing]
    fn paused(&mut self, _s: &mut Stream<Self>) {
        self.pauses += 1;
    }

    #[on_resume_writing]
    fn resumed(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
        if !is_pattern(self.received, data) {
            self.report(format!("mismatch at {}", self.received));
        }
        self.received += data.len();
        if self.received == self.total {
            self.report(format!("received all (paused {} times)", self.pauses));
        } else if self.received > self.total {
            self.report(format!("received {} bytes", self.received));
        }
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.report(format!("closed: {}", reason(s)));
    }
}

#[test]
fn two_pants_programs_streaming_at_each_other_do_not_deadlock() {
    for over in util::Over::ALL {
        streaming_at_each_other(over);
    }
}

/// Two engines (two programs, as far as the sockets go) each stream 64 MiB
/// at the other over `over`, and read what comes back.
fn streaming_at_each_other(over: util::Over) {
    const TOTAL: usize = 64 * MIB;
    let place = over.place();
    let limit = Duration::from_mins(1);
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let tx_a = tx.clone();
    let a = util::spawn(move |e: &mut Engine<Streamer>| {
        let id = e
            .listen_with(place.addr.as_str(), move |_| {
                Some(Streamer::new("A", TOTAL, tx_a.clone()))
            })
            .expect("listen");
        Some(id)
    });
    let addr = a.local();
    let b = util::spawn(move |e: &mut Engine<Streamer>| {
        e.connect(addr, Streamer::new("B", TOTAL, tx))
            .expect("connect");
        None
    });
    let deadline = started + limit;
    let mut done = Vec::new();
    while done.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = next_within(&rx, left);
        assert!(
            event.ends_with("sent all") || event.contains("received all"),
            "{event} (so far: {done:?})"
        );
        done.push(event);
    }
    eprintln!(
        "{TOTAL} bytes each way over {over:?} in {:?}: {done:?}",
        started.elapsed()
    );
    b.stop();
    a.stop();
}

// ---------------------------------------------------------------------------
// `max` is a frame-length limit, whatever the split.

/// Writes `overflow limit=N\n` and keeps the stream open; records the
/// error as `overflow KIND LIMIT`. A line still unfinished when it passed
/// `max` is [`pants::Error::Overflow`]; one that arrived whole, delimiter
/// included, is [`pants::Error::FrameTooLarge`]: either is an overflow.
fn overflowed<C: Channel>(events: &Tx, s: &mut Stream<'_, C>, error: &pants::Error) {
    let (kind, limit) = match error {
        pants::Error::Overflow { limit, .. } => ("Overflow", limit.to_string()),
        pants::Error::FrameTooLarge { limit, .. } => ("FrameTooLarge", limit.to_string()),
        other => ("unexpected", other.to_string()),
    };
    events.send(format!("overflow {kind} {limit}"));
    s.write(format!("overflow limit={limit}\n").as_bytes());
}

/// Lines of at most 4096 bytes.
struct Lines4096 {
    events: Tx,
}

#[channel]
impl Lines4096 {
    #[on_read(delimiter = "\n", max = 4096)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[b"[", line, b"]\n"]);
    }

    #[on_overflow_error]
    fn too_long(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        overflowed(&self.events, s, error);
    }
}

/// Lines of at most 16 bytes.
struct Lines16 {
    events: Tx,
}

#[channel]
impl Lines16 {
    #[on_read(delimiter = "\n", max = 16)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[b"[", line, b"]\n"]);
    }

    #[on_overflow_error]
    fn too_long(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        overflowed(&self.events, s, error);
    }
}

/// Sends a `len`-byte line then `short\n`, the line's bytes split after
/// each of `splits` (the engine reading each piece before the next is
/// sent); expects `reply`, then `short` delivered intact.
#[track_caller]
fn send_line_split<C: App>(server: &Bg<C>, rx: &Rx, len: usize, splits: &[usize], reply: &str) {
    let mut line = vec![b'a'; len];
    line.push(b'\n');
    line.extend_from_slice(b"short\n");
    let mut c = connect(server.addr());
    let mut from = 0;
    for &cut in splits {
        send(&mut c, &line[from..cut]);
        wait_read_by_server(&c);
        from = cut;
    }
    send(&mut c, &line[from..]);
    let want = format!("{reply}[short]\n");
    let got = read_n(&mut c, want.len());
    assert_eq!(
        show(&got),
        show(want.as_bytes()),
        "a {len}-byte line split at {splits:?}"
    );
    let kind = reply.strip_prefix("overflow limit=").map(|limit| {
        let event = rx.next();
        let kind = event
            .strip_prefix("overflow ")
            .and_then(|e| e.strip_suffix(limit.trim_end()))
            .map(str::trim_end);
        assert!(
            matches!(kind, Some("Overflow" | "FrameTooLarge")),
            "a {len}-byte line split at {splits:?}: {event}"
        );
        event
    });
    assert_eq!(rx.rest(), Vec::<String>::new(), "split at {splits:?}");
    eprintln!(
        "{len}-byte line split at {splits:?}: {}",
        kind.as_deref().unwrap_or("delivered")
    );
}

#[test]
fn max_is_a_frame_length_limit_whatever_the_split() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Lines4096 { events: tx.clone() }));
    let overflow = "overflow limit=4096\n";
    let splits: &[&[usize]] = &[
        &[],
        &[1],
        &[3000],
        &[4096],
        &[4097],
        &[4999],
        &[5000],
        &[2000, 4000],
        &[4096, 4097, 4999],
    ];
    for cuts in splits {
        send_line_split(&server, &rx, 5000, cuts, overflow);
    }
    send_line_split(
        &server,
        &rx,
        4096,
        &[],
        &format!("[{}]\n", "a".repeat(4096)),
    );
    send_line_split(
        &server,
        &rx,
        4096,
        &[4096],
        &format!("[{}]\n", "a".repeat(4096)),
    );

    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Lines16 { events: tx.clone() }));
    let overflow = "overflow limit=16\n";
    for cuts in [&[][..], &[8], &[16], &[17], &[21], &[22]] {
        send_line_split(&server, &rx, 22, cuts, overflow);
    }
    for cuts in [&[][..], &[16], &[17]] {
        send_line_split(&server, &rx, 17, cuts, overflow);
    }
    let sixteen = format!("[{}]\n", "a".repeat(16));
    for cuts in [&[][..], &[8], &[16]] {
        send_line_split(&server, &rx, 16, cuts, &sixteen);
    }
}
