//! loadgen — drives N TCP or Unix-socket connections against an echo or
//! line-framed server, or downloads from a file server.
//!
//! ```text
//! loadgen MODE ADDR [-c CONNS] [-s SIZE] [-p DEPTH] [-d SECS] [-w SECS]
//!         [--connect-par K] [--watch-pid PID] [-n MSGS] [--expect BYTES]
//!         [--tls --ca CA_PEM [--sni NAME]]
//! MODE: echo | lines | idle | drain | handshake | udp
//! ADDR: HOST:PORT, or a Unix stream socket: unix:PATH (or a path starting
//!       with / or ./); udp: HOST:PORT only
//! ```
//!
//! `--tls` (echo, lines, idle, handshake; TCP only): every connection does a
//! TLS handshake first (tokio-rustls, rustls' `ring` provider, TLS 1.3 or 1.2
//! as the server picks), trusting only the CA certificates in `--ca`,
//! asking for and verifying the name `--sni` (default `localhost`). Session
//! resumption is off: every handshake is a full one. The handshake is part
//! of connecting, before any timed window.
//!
//! `-n MSGS` (echo, lines, udp): instead of a timed run, exchange exactly MSGS
//! messages in total (spread evenly over the connections, no warm-up) and
//! exit; used to count a server's system calls per message under `strace`.
//!
//! * `echo`  — every connection keeps DEPTH messages of SIZE bytes in flight and
//!   waits for the same bytes back (DEPTH=1 is plain ping-pong).
//! * `lines` — the same, but each message is a line of SIZE payload bytes
//!   (printable, no CR/LF) followed by "\r\n", so SIZE+2 bytes on the wire; the
//!   server must echo each line with its "\r\n".
//! * `idle`  — opens CONNS connections and holds them for SECS seconds, sending
//!   nothing; reports how many were established and how many were still open.
//!   With `--tls` each connection first completes its handshake and one
//!   SIZE-byte echo (default 64), then sits idle.
//! * `handshake` — CONNS workers (`-c`), each repeating for the run: a new
//!   TCP connection, the TLS handshake (with `--tls`; a full one, no
//!   resumption), one echo of SIZE bytes (`-s`, default 64) checked, then
//!   close: the client sends `close_notify` without its FIN and waits for
//!   the server's `close_notify` and FIN (so the TIME_WAIT state stays on the
//!   server side, not on the client's ephemeral ports). Reports
//!   `hs_per_s` (completed cycles per second, also as `msgs_per_s`),
//!   p50/p99 of a whole cycle, `errors` (failed or timed-out cycles, 5 s
//!   each), `truncated` (cycles whose server closed without `close_notify`:
//!   counted, not errors), and with --watch-pid `srv_us_per_hs` (server CPU
//!   per completed cycle; also as `srv_ns_per_msg`). Without `--tls` it is a
//!   plain connect-echo-close rate. `-p -n` are ignored.
//! * `drain` — connects CONNS times (default 1), one connection after the
//!   other, and reads each to EOF, sending nothing; every connection must
//!   deliver exactly `--expect BYTES` bytes (a count mismatch is an error).
//!   Reports `bytes secs gb_per_s` (10^9 bytes/s, all connections, connect
//!   to EOF) and, with --watch-pid, `srv_cpu_secs srv_s_per_gib` (the
//!   watched process's CPU seconds over the downloads, and per GiB sent).
//!   `-s -p -d -w -n` are ignored.
//! * `udp` — UDP echo: CONNS client sockets (tokio `UdpSocket`s connected to
//!   the server), each keeping DEPTH datagrams of SIZE bytes (8 to 65,507)
//!   in flight; each reply is checked (a counter in the first 8 bytes, a
//!   pattern after it) and answered with the next datagram. A datagram
//!   without a reply for 200 ms is counted `lost` and sent again (new
//!   counter), so loss cannot stall a socket; a reply that still arrives
//!   for it is counted `late`. Extra fields: `lost late msgs`. See `udp.rs`.
//!
//! Every byte that comes back is compared with what was sent: each connection
//! sends a periodic pseudo-random byte stream (period > 2*DEPTH messages, one of
//! eight streams, each connection starting at its own offset), so loss,
//! duplication, reordering, truncation and cross-talk between connections all
//! show up as `errors`.
//!
//! The engine is a tokio current_thread runtime (one core: pin it with taskset),
//! one task per connection, no allocation per message, batched writes: after
//! each read, all messages that completed are replaced with one write.
//!
//! The final stdout line is machine-readable:
//! `mode=… conns=… size=… depth=… msgs_per_s=… mb_per_s=… p50_us=… p99_us=… errors=…`
//! followed by extra fields (`p999_us established secs lg_cpu_pct lg_usr_pct
//! lg_ns_per_msg`, and with --watch-pid `srv_cpu_pct srv_ns_per_msg`: the
//! watched process's CPU time over the measured window, in % of one core and
//! in CPU-ns per message).
//! `mb_per_s` counts one direction of wire bytes (SIZE per echo message, SIZE+2
//! per line). Latency is from the write that carried a message to the read that
//! completed its echo.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::LocalSet;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

mod udp;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Echo,
    Lines,
    Idle,
    Drain,
    Handshake,
    Udp,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Lines => "lines",
            Mode::Idle => "idle",
            Mode::Drain => "drain",
            Mode::Handshake => "handshake",
            Mode::Udp => "udp",
        }
    }
}

/// Where to connect: TCP, or a Unix stream socket.
#[derive(Clone)]
enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Target {
    /// `unix:PATH`, a path starting with `/` or `./`, or `HOST:PORT`.
    fn parse(s: &str) -> Option<Target> {
        if let Some(path) = s.strip_prefix("unix:") {
            return (!path.is_empty()).then(|| Target::Unix(PathBuf::from(path)));
        }
        if s.starts_with('/') || s.starts_with("./") {
            return Some(Target::Unix(PathBuf::from(s)));
        }
        s.to_socket_addrs().ok().and_then(|mut a| a.next()).map(Target::Tcp)
    }
}

/// One connection, either transport; `drive` is generic, so the match is
/// made once per connection, not per message.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The TLS client side (`--tls`): one config for every connection.
struct TlsCtx {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl TlsCtx {
    /// Trusts the CA certificates in `ca` only; no session resumption.
    fn new(ca: &str, sni: &str) -> TlsCtx {
        let die = |msg: String| -> ! {
            eprintln!("loadgen: {msg}");
            std::process::exit(2)
        };
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .unwrap_or_else(|e| die(format!("{ca}: {e:?}")));
        if certs.is_empty() {
            die(format!("{ca}: no certificate"));
        }
        for c in certs {
            roots.add(c).unwrap_or_else(|e| die(format!("{ca}: {e}")));
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap_or_else(|e| die(format!("TLS versions: {e}")))
                .with_root_certificates(roots)
                .with_no_client_auth();
        // Every handshake a full one.
        config.resumption = rustls::client::Resumption::disabled();
        let name = ServerName::try_from(sni.to_owned()).unwrap_or_else(|_| die(format!("bad --sni {sni:?}")));
        TlsCtx { connector: TlsConnector::from(Arc::new(config)), name }
    }
}

impl Conn {
    async fn connect(t: &Target, tls: Option<&TlsCtx>) -> std::io::Result<Conn> {
        match t {
            Target::Tcp(a) => {
                let s = TcpStream::connect(a).await?;
                let _ = s.set_nodelay(true);
                match tls {
                    Some(tls) => {
                        let s = tls.connector.connect(tls.name.clone(), s).await?;
                        Ok(Conn::Tls(Box::new(s)))
                    }
                    None => Ok(Conn::Tcp(s)),
                }
            }
            Target::Unix(p) => Ok(Conn::Unix(UnixStream::connect(p).await?)),
        }
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
            Conn::Tls(s) => s.get_ref().0.as_raw_fd(),
        }
    }
}

/// One echo of `msg`, checked.
async fn echo_once<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, msg: &[u8], buf: &mut [u8]) -> Result<(), String> {
    s.write_all(msg).await.map_err(|e| format!("write: {e}"))?;
    s.flush().await.map_err(|e| format!("flush: {e}"))?;
    let mut got = 0;
    while got < msg.len() {
        match s.read(&mut buf[got..msg.len()]).await {
            Ok(0) => return Err("server closed the connection".into()),
            Ok(n) => got += n,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    if buf[..msg.len()] != *msg {
        return Err("echoed bytes differ from what was sent".into());
    }
    Ok(())
}

struct Args {
    mode: Mode,
    addr: Target,
    conns: usize,
    size: usize,
    depth: usize,
    duration: f64,
    warmup: f64,
    connect_par: usize,
    watch_pid: Option<u32>,
    count: Option<u64>,
    expect: Option<u64>,
    tls: bool,
    ca: Option<String>,
    sni: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen MODE ADDR [-c CONNS] [-s SIZE] [-p DEPTH] [-d SECS] [-w SECS]\n\
         \x20              [--connect-par K] [--watch-pid PID] [-n MSGS] [--expect BYTES]\n\
         \x20              [--tls --ca CA_PEM [--sni NAME]]\n\
         MODE: echo | lines | idle | drain | handshake | udp   (defaults: -c 1 -s 64 -p 1 -d 5 -w 1 --connect-par 64)\n\
         ADDR: HOST:PORT, or unix:PATH (or a path starting with / or ./)\n\
         drain: CONNS downloads one after the other, each read to EOF; --expect BYTES is required\n\
         handshake: CONNS workers, each: connect, (TLS handshake,) one SIZE-byte echo, close; repeated\n\
         udp: CONNS sockets, each DEPTH datagrams of SIZE (8..65507) bytes in flight; HOST:PORT only\n\
         --tls: TLS over TCP (not drain), trusting only --ca, verifying --sni (default localhost)"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = match it.next().as_deref() {
        Some("echo") => Mode::Echo,
        Some("lines") => Mode::Lines,
        Some("idle") => Mode::Idle,
        Some("drain") => Mode::Drain,
        Some("handshake") => Mode::Handshake,
        Some("udp") => Mode::Udp,
        _ => usage(),
    };
    let addr_s = it.next().unwrap_or_else(|| usage());
    let addr = match Target::parse(&addr_s) {
        Some(a) => a,
        None => {
            eprintln!("loadgen: cannot resolve {addr_s}");
            std::process::exit(2)
        }
    };
    let mut a = Args {
        mode,
        addr,
        conns: 1,
        size: 64,
        depth: 1,
        duration: 5.0,
        warmup: 1.0,
        connect_par: 64,
        watch_pid: None,
        count: None,
        expect: None,
        tls: false,
        ca: None,
        sni: "localhost".to_string(),
    };
    while let Some(flag) = it.next() {
        if flag == "--tls" {
            a.tls = true;
            continue;
        }
        let val = it.next().unwrap_or_else(|| usage());
        let bad = || -> ! {
            eprintln!("loadgen: bad value {val:?} for {flag}");
            std::process::exit(2)
        };
        match flag.as_str() {
            "-c" | "--conns" => a.conns = val.parse().unwrap_or_else(|_| bad()),
            "-s" | "--size" => a.size = val.parse().unwrap_or_else(|_| bad()),
            "-p" | "--depth" => a.depth = val.parse().unwrap_or_else(|_| bad()),
            "-d" | "--duration" => a.duration = val.parse().unwrap_or_else(|_| bad()),
            "-w" | "--warmup" => a.warmup = val.parse().unwrap_or_else(|_| bad()),
            "--connect-par" => a.connect_par = val.parse().unwrap_or_else(|_| bad()),
            "--watch-pid" => a.watch_pid = Some(val.parse().unwrap_or_else(|_| bad())),
            "-n" | "--count" => a.count = Some(val.parse().unwrap_or_else(|_| bad())),
            "--expect" => a.expect = Some(val.parse().unwrap_or_else(|_| bad())),
            "--ca" => a.ca = Some(val),
            "--sni" => a.sni = val,
            _ => usage(),
        }
    }
    if a.conns == 0 || a.depth == 0 || a.connect_par == 0 || (a.mode == Mode::Echo && a.size == 0) {
        eprintln!("loadgen: conns, depth, connect-par must be >= 1 (and size >= 1 for echo)");
        std::process::exit(2)
    }
    if a.mode == Mode::Drain && a.expect.is_none() {
        eprintln!("loadgen: drain needs --expect BYTES (the size of one download)");
        std::process::exit(2)
    }
    if a.mode == Mode::Handshake && a.size == 0 {
        eprintln!("loadgen: handshake needs size >= 1");
        std::process::exit(2)
    }
    if a.mode == Mode::Udp && (a.size < 8 || a.size > udp::MAX_UDP || a.tls || matches!(a.addr, Target::Unix(_))) {
        eprintln!("loadgen: udp needs 8 <= size <= {}, a HOST:PORT address, and no --tls", udp::MAX_UDP);
        std::process::exit(2)
    }
    if a.tls && (a.ca.is_none() || a.mode == Mode::Drain || matches!(a.addr, Target::Unix(_))) {
        eprintln!("loadgen: --tls needs --ca CA_PEM, a HOST:PORT address, and a mode other than drain");
        std::process::exit(2)
    }
    if !a.tls && a.ca.is_some() {
        eprintln!("loadgen: --ca without --tls");
        std::process::exit(2)
    }
    a
}

// ---------------------------------------------------------------------------
// Latency histogram: log-linear buckets over nanoseconds, 64 sub-buckets per
// power of two (relative error < 1.6%).

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

struct Hist {
    counts: Vec<u64>,
    total: u64,
}

impl Hist {
    fn new() -> Hist {
        Hist { counts: vec![0; 64 * SUB as usize], total: 0 }
    }

    #[inline]
    fn index(v: u64) -> usize {
        if v < SUB {
            v as usize
        } else {
            let msb = 63 - v.leading_zeros();
            let shift = msb - SUB_BITS;
            let sub = (v >> shift) & (SUB - 1);
            (((shift + 1) as u64) << SUB_BITS | sub) as usize
        }
    }

    /// Midpoint of a bucket, in ns.
    fn value(idx: usize) -> f64 {
        let idx = idx as u64;
        if idx < SUB {
            idx as f64
        } else {
            let shift = (idx >> SUB_BITS) - 1;
            let lower = (SUB + (idx & (SUB - 1))) << shift;
            lower as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
        }
    }

    #[inline]
    fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
    }

    fn quantile_us(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let want = ((q * self.total as f64).ceil() as u64).max(1);
        let mut acc = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= want {
                return Self::value(i) / 1000.0;
            }
        }
        0.0
    }
}

// ---------------------------------------------------------------------------
// Payload streams.

struct Pattern {
    /// Two copies of one period, so any window of <= period bytes starting
    /// below `period` is contiguous.
    data: Vec<u8>,
    period: usize,
    unit: usize,
}

impl Pattern {
    fn new(mode: Mode, size: usize, depth: usize, seed: u64) -> Pattern {
        let unit = if mode == Mode::Lines { size + 2 } else { size };
        // Units per period: more than twice the window, so a batch of up to
        // `depth` messages never wraps and neighbouring messages differ.
        let q = (2 * depth + 1).max(61);
        let period = q * unit;
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut one = Vec::with_capacity(period);
        for _ in 0..q {
            if mode == Mode::Lines {
                for _ in 0..size {
                    one.push(b'!' + ((next() >> 32) % 94) as u8);
                }
                one.extend_from_slice(b"\r\n");
            } else {
                for _ in 0..size {
                    one.push((next() >> 56) as u8);
                }
            }
        }
        let mut data = one.clone();
        data.extend_from_slice(&one);
        Pattern { data, period, unit }
    }
}

// ---------------------------------------------------------------------------

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const DONE: u8 = 2;

struct Shared {
    phase: Cell<u8>,
    msgs: Cell<u64>,
    errors: Cell<u64>,
    hist: RefCell<Hist>,
}

impl Shared {
    fn error(&self, what: &str) {
        if self.phase.get() != DONE {
            if self.errors.get() < 5 {
                eprintln!("loadgen: connection error: {what}");
            }
            self.errors.set(self.errors.get() + 1);
        }
    }
}

/// write_all, then flush: a TLS stream may hold records back when the
/// socket is full (a no-op for plain sockets).
async fn write_flush<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    pat: Rc<Pattern>,
    start_unit: usize,
    depth: usize,
    sh: Rc<Shared>,
    quota: Option<u64>,
) {
    let unit = pat.unit;
    let period = pat.period;
    // With a quota, never send more than it.
    let depth = match quota {
        Some(q) => depth.min(q as usize),
        None => depth,
    };
    if depth == 0 {
        return;
    }
    let mut sent = depth as u64;
    let mut received = 0u64;
    let window = depth * unit;
    let mut send_off = (start_unit % (period / unit)) * unit;
    let mut recv_off = send_off;
    let mut partial = 0usize;
    let mut stamps: VecDeque<Instant> = VecDeque::with_capacity(depth);
    // Never more than `window` bytes are outstanding, so no read returns more.
    let mut rbuf = vec![0u8; window];

    let t = Instant::now();
    stamps.extend(std::iter::repeat(t).take(depth));
    if let Err(e) = write_flush(&mut s, &pat.data[send_off..send_off + window]).await {
        sh.error(&format!("write: {e}"));
        return;
    }
    send_off = (send_off + window) % period;

    loop {
        let n = match s.read(&mut rbuf).await {
            Ok(0) => {
                sh.error("server closed the connection");
                return;
            }
            Ok(n) => n,
            Err(e) => {
                sh.error(&format!("read: {e}"));
                return;
            }
        };
        // Verify against the stream we sent.
        let mut done = 0;
        while done < n {
            let len = (n - done).min(period);
            if rbuf[done..done + len] != pat.data[recv_off..recv_off + len] {
                sh.error("echoed bytes differ from what was sent");
                return;
            }
            done += len;
            recv_off = (recv_off + len) % period;
        }
        partial += n;
        let k = partial / unit;
        if k == 0 {
            continue;
        }
        partial -= k * unit;
        let now = Instant::now();
        match sh.phase.get() {
            MEASURE => {
                let mut h = sh.hist.borrow_mut();
                for _ in 0..k {
                    let t0 = stamps.pop_front().expect("stamp");
                    h.record(now.duration_since(t0).as_nanos() as u64);
                }
                sh.msgs.set(sh.msgs.get() + k as u64);
            }
            WARMUP => {
                stamps.drain(..k);
            }
            _ => return,
        }
        received += k as u64;
        let k = match quota {
            Some(q) if received >= q => return,
            Some(q) => k.min((q - sent) as usize),
            None => k,
        };
        if k == 0 {
            continue;
        }
        sent += k as u64;
        stamps.extend(std::iter::repeat(now).take(k));
        let len = k * unit;
        if let Err(e) = write_flush(&mut s, &pat.data[send_off..send_off + len]).await {
            sh.error(&format!("write: {e}"));
            return;
        }
        send_off = (send_off + len) % period;
    }
}

/// Opens `n` connections, `par` at a time (each with its TLS handshake);
/// with `ping`, each then does one echo of it (a failed one is dropped).
async fn connect_all(
    addr: &Target,
    n: usize,
    par: usize,
    tls: Option<Rc<TlsCtx>>,
    ping: Option<Rc<Vec<u8>>>,
) -> Vec<Option<Conn>> {
    let slots: Rc<RefCell<Vec<Option<Conn>>>> =
        Rc::new(RefCell::new((0..n).map(|_| None).collect()));
    let next = Rc::new(Cell::new(0usize));
    let mut workers = Vec::new();
    for _ in 0..par.min(n) {
        let slots = slots.clone();
        let next = next.clone();
        let addr = addr.clone();
        let (tls, ping) = (tls.clone(), ping.clone());
        workers.push(tokio::task::spawn_local(async move {
            let mut reported = false;
            let mut buf = vec![0u8; ping.as_ref().map_or(0, |p| p.len())];
            loop {
                let i = next.get();
                if i >= n {
                    break;
                }
                next.set(i + 1);
                for attempt in 0..3 {
                    match tokio::time::timeout(Duration::from_secs(5), Conn::connect(&addr, tls.as_deref())).await {
                        Ok(Ok(mut s)) => {
                            if let Some(msg) = &ping {
                                let r = match &mut s {
                                    Conn::Tcp(s) => echo_once(s, msg, &mut buf).await,
                                    Conn::Unix(s) => echo_once(s, msg, &mut buf).await,
                                    Conn::Tls(s) => echo_once(s, msg, &mut buf).await,
                                };
                                if let Err(e) = r {
                                    eprintln!("loadgen: connection {i}: first echo: {e}");
                                    break;
                                }
                            }
                            slots.borrow_mut()[i] = Some(s);
                            break;
                        }
                        Ok(Err(e)) => {
                            if !reported {
                                eprintln!("loadgen: connect attempt {attempt}: {e}");
                                reported = true;
                            }
                        }
                        Err(_) => {
                            if !reported {
                                eprintln!("loadgen: connect attempt {attempt}: timed out");
                                reported = true;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    Rc::try_unwrap(slots).ok().expect("workers done").into_inner()
}

fn clk_tck() -> f64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (utime, stime) of a process (all threads), in seconds.
fn cpu_secs(pid: Option<u32>) -> Option<(f64, f64)> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let s = std::fs::read_to_string(path).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": field 3 (state) is f[0]; utime is field 14, stime field 15.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut / clk_tck(), st / clk_tck()))
}

fn raise_nofile() {
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// True if the peer has not closed the socket (no EOF / error pending).
fn still_open(s: &Conn) -> bool {
    let mut b = [0u8; 1];
    let r = unsafe {
        libc::recv(
            s.as_raw_fd(),
            b.as_mut_ptr() as *mut libc::c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if r > 0 {
        return true;
    }
    if r == 0 {
        return false;
    }
    let e = std::io::Error::last_os_error();
    e.kind() == std::io::ErrorKind::WouldBlock
}

/// How many of the connections the server still holds open. Plain ones: a
/// peek (no EOF pending). TLS ones: a read that must not complete within
/// 200 ms (a `close_notify`, EOF or error does), all at once.
async fn count_open(streams: Vec<Option<Conn>>) -> usize {
    let mut open = 0;
    let mut checks = Vec::new();
    for s in streams.into_iter().flatten() {
        match s {
            Conn::Tls(mut s) => checks.push(tokio::task::spawn_local(async move {
                let mut b = [0u8; 1];
                tokio::time::timeout(Duration::from_millis(200), s.read(&mut b)).await.is_err()
            })),
            s => open += usize::from(still_open(&s)),
        }
    }
    for c in checks {
        open += usize::from(c.await.unwrap_or(false));
    }
    open
}

/// One `handshake` cycle: connect (and TLS handshake), one echo, close.
/// `Ok(true)` if the server closed without `close_notify`.
async fn cycle(t: &Target, tls: Option<&TlsCtx>, msg: &[u8], buf: &mut [u8]) -> Result<bool, String> {
    let c = Conn::connect(t, tls).await.map_err(|e| format!("connect: {e}"))?;
    match c {
        Conn::Tls(mut s) => {
            echo_once(&mut *s, msg, buf).await?;
            // close_notify without a FIN: the server answers with its own
            // and closes first.
            s.get_mut().1.send_close_notify();
            s.flush().await.map_err(|e| format!("close_notify: {e}"))?;
            loop {
                match s.read(buf).await {
                    Ok(0) => return Ok(false),
                    Ok(_) => return Err("data after close_notify".into()),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(true),
                    Err(e) => return Err(format!("read at close: {e}")),
                }
            }
        }
        Conn::Tcp(mut s) => {
            echo_once(&mut s, msg, buf).await?;
            let _ = s.shutdown().await;
            let _ = s.read(buf).await;
            Ok(false)
        }
        Conn::Unix(mut s) => {
            echo_once(&mut s, msg, buf).await?;
            let _ = s.shutdown().await;
            let _ = s.read(buf).await;
            Ok(false)
        }
    }
}

/// `handshake`: CONNS workers, each repeating connect-handshake-echo-close.
async fn handshakes(a: &Args, tls: Option<Rc<TlsCtx>>) -> String {
    let sh = Rc::new(Shared {
        phase: Cell::new(WARMUP),
        msgs: Cell::new(0),
        errors: Cell::new(0),
        hist: RefCell::new(Hist::new()),
    });
    let truncated = Rc::new(Cell::new(0u64));
    let completed = Rc::new(Cell::new(0u64));
    let msg: Rc<Vec<u8>> = Rc::new((0..a.size).map(|i| (i * 13 + 5) as u8).collect());
    for _ in 0..a.conns {
        let (sh, tls, msg, addr) = (sh.clone(), tls.clone(), msg.clone(), a.addr.clone());
        let (truncated, completed) = (truncated.clone(), completed.clone());
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; msg.len().max(256)];
            while sh.phase.get() != DONE {
                let t0 = Instant::now();
                let r = tokio::time::timeout(Duration::from_secs(5), cycle(&addr, tls.as_deref(), &msg, &mut buf)).await;
                match r {
                    Ok(Ok(cut)) => {
                        completed.set(completed.get() + 1);
                        if sh.phase.get() == MEASURE {
                            sh.msgs.set(sh.msgs.get() + 1);
                            sh.hist.borrow_mut().record(t0.elapsed().as_nanos() as u64);
                            truncated.set(truncated.get() + u64::from(cut));
                        }
                    }
                    Ok(Err(e)) => {
                        sh.error(&e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(_) => sh.error("cycle timed out (5 s)"),
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    sh.phase.set(MEASURE);
    let t0 = Instant::now();
    let lg0 = cpu_secs(None);
    let srv0 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    sh.phase.set(DONE);
    let secs = t0.elapsed().as_secs_f64();
    let lg1 = cpu_secs(None);
    let srv1 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    let n = sh.msgs.get();
    let h = sh.hist.borrow();
    let rate = n as f64 / secs;
    let mut line = format!(
        "mode=handshake conns={} size={} depth=1 msgs_per_s={rate:.0} mb_per_s=0 p50_us={:.1} p99_us={:.1} errors={} \
         hs_per_s={rate:.1} tls={} handshakes={n} truncated={} established={} secs={secs:.3}",
        a.conns,
        a.size,
        h.quantile_us(0.50),
        h.quantile_us(0.99),
        sh.errors.get(),
        u8::from(a.tls),
        truncated.get(),
        completed.get(),
    );
    let per = |cpu: f64| if n > 0 { cpu * 1e9 / n as f64 } else { 0.0 };
    if let (Some(x), Some(y)) = (lg0, lg1) {
        let t = (y.0 + y.1) - (x.0 + x.1);
        line += &format!(" lg_cpu_pct={:.0} lg_ns_per_msg={:.0}", t / secs * 100.0, per(t));
    }
    if let (Some(x), Some(y)) = (srv0, srv1) {
        let t = (y.0 + y.1) - (x.0 + x.1);
        line += &format!(
            " srv_cpu_pct={:.0} srv_ns_per_msg={:.0} srv_us_per_hs={:.1}",
            t / secs * 100.0,
            per(t),
            per(t) / 1e3
        );
    }
    line
}

async fn run(a: Args) -> String {
    if a.mode == Mode::Drain {
        return drain(&a).await;
    }
    if a.mode == Mode::Udp {
        return udp::run(&a).await;
    }
    let tls = a.tls.then(|| Rc::new(TlsCtx::new(a.ca.as_deref().unwrap_or_default(), &a.sni)));
    if a.mode == Mode::Handshake {
        return handshakes(&a, tls).await;
    }
    // Idle TLS connections: handshake and one small echo first.
    let ping = (a.tls && a.mode == Mode::Idle).then(|| {
        let size = if a.size == 0 { 64 } else { a.size };
        Rc::new((0..size).map(|i| (i * 7 + 1) as u8).collect::<Vec<u8>>())
    });
    let t_conn = Instant::now();
    let streams = connect_all(&a.addr, a.conns, a.connect_par, tls, ping).await;
    let established = streams.iter().filter(|s| s.is_some()).count();
    eprintln!(
        "loadgen: {established}/{} connections established in {:.2}s",
        a.conns,
        t_conn.elapsed().as_secs_f64()
    );
    let connect_errors = (a.conns - established) as u64;

    if a.mode == Mode::Idle {
        eprintln!("established={established}");
        let _ = std::io::stderr().flush();
        tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
        let alive = count_open(streams).await;
        return format!(
            "mode=idle conns={} size=0 depth=0 msgs_per_s=0 mb_per_s=0 p50_us=0 p99_us=0 errors={} \
             established={established} alive_at_end={alive} secs={:.3}",
            a.conns,
            connect_errors + (established - alive) as u64,
            a.duration
        );
    }

    let sh = Rc::new(Shared {
        phase: Cell::new(WARMUP),
        msgs: Cell::new(0),
        errors: Cell::new(connect_errors),
        hist: RefCell::new(Hist::new()),
    });
    let pats: Vec<Rc<Pattern>> =
        (0..8).map(|i| Rc::new(Pattern::new(a.mode, a.size, a.depth, 1000 + i as u64))).collect();
    let live = streams.iter().filter(|s| s.is_some()).count() as u64;
    let mut tasks = Vec::new();
    if a.count.is_some() {
        sh.phase.set(MEASURE);
    }
    let t_count = Instant::now();
    let srv_count = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    for (i, s) in streams.into_iter().enumerate() {
        if let Some(s) = s {
            let start_unit = i.wrapping_mul(7919) + i / 8;
            // Spread the fixed count: the first `count % live` connections take one more.
            let quota = a.count.map(|n| n / live.max(1) + u64::from((i as u64) < n % live.max(1)));
            let (pat, sh) = (pats[i % 8].clone(), sh.clone());
            tasks.push(match s {
                Conn::Tcp(s) => tokio::task::spawn_local(drive(s, pat, start_unit, a.depth, sh, quota)),
                Conn::Unix(s) => tokio::task::spawn_local(drive(s, pat, start_unit, a.depth, sh, quota)),
                Conn::Tls(s) => tokio::task::spawn_local(drive(s, pat, start_unit, a.depth, sh, quota)),
            });
        }
    }

    if a.count.is_some() {
        for t in tasks {
            let _ = t.await;
        }
        let secs = t_count.elapsed().as_secs_f64();
        let srv1 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
        let msgs = sh.msgs.get();
        let mut line = format!(
            "mode={} conns={} size={} depth={} msgs_per_s={:.0} mb_per_s=0 p50_us=0 p99_us=0 errors={} \
             msgs={msgs} established={established} secs={secs:.3}",
            a.mode.name(),
            a.conns,
            a.size,
            a.depth,
            msgs as f64 / secs,
            sh.errors.get(),
        );
        if let (Some(x), Some(y)) = (srv_count, srv1) {
            let t = (y.0 + y.1) - (x.0 + x.1);
            line += &format!(" srv_ns_per_msg={:.0}", if msgs > 0 { t * 1e9 / msgs as f64 } else { 0.0 });
        }
        return line;
    }

    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    sh.phase.set(MEASURE);
    let t0 = Instant::now();
    let lg0 = cpu_secs(None);
    let srv0 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    sh.phase.set(DONE);
    let secs = t0.elapsed().as_secs_f64();
    let lg1 = cpu_secs(None);
    let srv1 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));

    let msgs = sh.msgs.get();
    let unit = if a.mode == Mode::Lines { a.size + 2 } else { a.size };
    let h = sh.hist.borrow();
    let mut line = format!(
        "mode={} conns={} size={} depth={} msgs_per_s={:.0} mb_per_s={:.2} p50_us={:.1} p99_us={:.1} errors={} \
         p999_us={:.1} established={established} secs={:.3}",
        a.mode.name(),
        a.conns,
        a.size,
        a.depth,
        msgs as f64 / secs,
        msgs as f64 * unit as f64 / secs / 1e6,
        h.quantile_us(0.50),
        h.quantile_us(0.99),
        sh.errors.get(),
        h.quantile_us(0.999),
        secs
    );
    // CPU seconds per message are robust even when both sides are saturated.
    let per_msg_ns = |cpu: f64| if msgs > 0 { cpu * 1e9 / msgs as f64 } else { 0.0 };
    if let (Some(x), Some(y)) = (lg0, lg1) {
        let (u, t) = (y.0 - x.0, (y.0 + y.1) - (x.0 + x.1));
        line += &format!(
            " lg_cpu_pct={:.0} lg_usr_pct={:.0} lg_ns_per_msg={:.0}",
            t / secs * 100.0,
            u / secs * 100.0,
            per_msg_ns(t)
        );
    }
    if let (Some(x), Some(y)) = (srv0, srv1) {
        let t = (y.0 + y.1) - (x.0 + x.1);
        line += &format!(" srv_cpu_pct={:.0} srv_ns_per_msg={:.0}", t / secs * 100.0, per_msg_ns(t));
    }
    line
}

/// Reads one connection to EOF: (bytes, error).
async fn drain_one<S: AsyncRead + Unpin>(mut s: S, buf: &mut [u8]) -> (u64, Option<String>) {
    let mut n = 0u64;
    loop {
        match s.read(buf).await {
            Ok(0) => return (n, None),
            Ok(k) => n += k as u64,
            Err(e) => return (n, Some(format!("read: {e}"))),
        }
    }
}

/// `drain`: CONNS downloads in turn, each read to EOF and counted.
async fn drain(a: &Args) -> String {
    let expect = a.expect.unwrap_or(0);
    let mut buf = vec![0u8; 256 * 1024];
    let (mut bytes, mut errors, mut established) = (0u64, 0u64, 0usize);
    let t0 = Instant::now();
    let lg0 = cpu_secs(None);
    let srv0 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    for i in 0..a.conns {
        let conn = match tokio::time::timeout(Duration::from_secs(5), Conn::connect(&a.addr, None)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                eprintln!("loadgen: download {i}: connect: {e}");
                errors += 1;
                continue;
            }
            Err(_) => {
                eprintln!("loadgen: download {i}: connect timed out");
                errors += 1;
                continue;
            }
        };
        established += 1;
        let (n, err) = match conn {
            Conn::Tcp(s) => drain_one(s, &mut buf).await,
            Conn::Unix(s) => drain_one(s, &mut buf).await,
            Conn::Tls(s) => drain_one(s, &mut buf).await,
        };
        bytes += n;
        if let Some(e) = err {
            eprintln!("loadgen: download {i}: {e} after {n} bytes");
            errors += 1;
        } else if n != expect {
            eprintln!("loadgen: download {i}: {n} bytes, expected {expect}");
            errors += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let lg1 = cpu_secs(None);
    let srv1 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    let mut line = format!(
        "mode=drain conns={} size={expect} depth=0 msgs_per_s=0 mb_per_s={:.2} p50_us=0 p99_us=0 errors={errors} \
         established={established} bytes={bytes} secs={secs:.3} gb_per_s={:.3}",
        a.conns,
        bytes as f64 / secs / 1e6,
        bytes as f64 / secs / 1e9,
    );
    let gib = bytes as f64 / (1u64 << 30) as f64;
    if let (Some(x), Some(y)) = (lg0, lg1) {
        let t = (y.0 + y.1) - (x.0 + x.1);
        line += &format!(" lg_cpu_pct={:.0} lg_usr_pct={:.0}", t / secs * 100.0, (y.0 - x.0) / secs * 100.0);
    }
    if let (Some(x), Some(y)) = (srv0, srv1) {
        let t = (y.0 + y.1) - (x.0 + x.1);
        line += &format!(
            " srv_cpu_pct={:.0} srv_cpu_secs={t:.3} srv_s_per_gib={:.3}",
            t / secs * 100.0,
            if gib > 0.0 { t / gib } else { 0.0 }
        );
    }
    line
}

fn main() {
    let a = parse_args();
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = LocalSet::new();
    let line = local.block_on(&rt, run(a));
    println!("{line}");
    let _ = std::io::stdout().flush();
    // Skip tearing down thousands of tasks/sockets one by one.
    std::process::exit(0);
}
