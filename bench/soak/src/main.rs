//! soak — many connections opening, talking (mixed framing, some slow, some
//! resetting) and vanishing against the pants examples for a set time, while
//! the servers' open file descriptors, RSS and CPU time are sampled.
//!
//! ```text
//! soak --secs SECS [--warmup SECS] [--sample SECS] [--settle SECS]
//!      [--ca CA_PEM] [--sni NAME] [--out DIR] [--rss-tol PCT] [--seed N]
//!      TARGET...
//! TARGET: NAME:KIND:CONNS:PID:ADDR
//!   KIND: echo (echo, unix_echo) | lines (line_echo) | blocks (block_echo)
//!         | chat (chat) | tls (tls_echo; needs --ca)
//!   ADDR: HOST:PORT or unix:PATH
//! ```
//!
//! Every one of the CONNS workers of a target loops until the time is up:
//! connect, run one *session* of a behaviour picked at random (weights in
//! `weights`), vanish in the way the behaviour says, reconnect. Behaviours:
//!
//! * `polite` — 1..20 exchanges, each verified byte for byte: echo kinds a
//!   message of 1 B..64 KiB of random bytes back whole; `lines` 1..8
//!   `\r\n` lines of 0..2,000 printable bytes back as sent; `blocks` 1..64
//!   8-byte blocks, each back followed by `\r\n`; `chat` 1..5 lines, each of
//!   which must come back to us as a broadcast `127.0.0.1: LINE`. Then a
//!   graceful close (FIN, after `close_notify` over TLS) or a plain drop.
//! * `slow_writer` — one short message written a byte at a time, 100..400
//!   ms apart; the echo verified.
//! * `slow_reader` — 256 KiB..2 MiB written (chat: 1..5 lines) while reading
//!   nothing for 1..5 s, then everything drained and verified.
//! * `reset` — 0..3 verified exchanges, then part of a frame (or a whole
//!   message whose echo is never read), then SO_LINGER 0 and close: a RST
//!   (Unix sockets: a close with data unread).
//! * `half_close` — 0..5 verified exchanges, a last message (lines: maybe
//!   with a fragment without `\r\n`, which must come back as a last line;
//!   blocks: maybe with a fragment shorter than 8 bytes, which must not),
//!   shutdown of the write side, then everything read to EOF: the bytes
//!   must be exactly the expected ones, then EOF (over TLS a server that
//!   closes without `close_notify` is counted `unclean`, not an error).
//! * `abrupt` — 0..3 verified exchanges, part of a frame (echo kinds: a
//!   message never read back), then close (FIN) without reading.
//! * `tls_vanish` (tls only) — a plain TCP connection that sends nothing,
//!   a cut ClientHello, or a whole one and reads part of the server's
//!   answer, then closes or resets.
//!
//! Chat lines are `soak W S L FILLER` (FILLER derived from W S L, so every
//! receiver checks every broadcast line) or `cut …` (a fragment left by an
//! abrupt or reset session, which the server delivers at EOF); any other
//! line, or one of ours that does not come back, is an error.
//!
//! Errors (counted per target and behaviour, printed with detail): bytes
//! that differ from the expected ones, an EOF or a reset in the verified
//! part of a session, a failed or timed-out connect (10 s), an exchange that
//! does not complete in 20 s (plus its slow writer's pauses), a server
//! process that is gone. A session whose server closes it while the
//! behaviour itself is being rude does not count.
//!
//! Sampling: each target's PID (several targets may share one) is read from
//! /proc every `--sample` seconds: open fds, VmRSS, utime+stime. Rows:
//! `idle` (before any connection), `start` (after the warm-up: SECS/6, at
//! least 10 s but at most SECS/3, at most 30 s; or `--warmup`), the
//! periodic ones, `middle`, `last` (last under load), `end` (after every
//! connection is closed and the fds settled, at most `--settle` s), `peak`.
//! PASS needs: no error, every server alive, end fds == idle fds, end RSS <=
//! start RSS * (1 + rss-tol %) (default 10 %). Writes `samples.tsv` and
//! `summary.md` to `--out` and prints the summary; exit 0 on PASS, 1 on
//! FAIL, 2 on bad arguments.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::{sleep, timeout};
use tokio_rustls::TlsConnector;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);
/// Clock ticks per second in /proc/PID/stat (USER_HZ: 100 on Linux).
const CLK_TCK: f64 = 100.0;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Echo,
    Lines,
    Blocks,
    Chat,
    Tls,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Beh {
    Polite,
    SlowWriter,
    SlowReader,
    Reset,
    HalfClose,
    Abrupt,
    TlsVanish,
}

impl Beh {
    fn name(self) -> &'static str {
        match self {
            Beh::Polite => "polite",
            Beh::SlowWriter => "slow_writer",
            Beh::SlowReader => "slow_reader",
            Beh::Reset => "reset",
            Beh::HalfClose => "half_close",
            Beh::Abrupt => "abrupt",
            Beh::TlsVanish => "tls_vanish",
        }
    }
}

fn weights(kind: Kind) -> &'static [(Beh, u32)] {
    use Beh::*;
    match kind {
        Kind::Tls => &[
            (Polite, 35),
            (SlowWriter, 6),
            (SlowReader, 6),
            (Reset, 12),
            (HalfClose, 12),
            (Abrupt, 12),
            (TlsVanish, 17),
        ],
        Kind::Chat => &[
            (Polite, 50),
            (SlowWriter, 10),
            (SlowReader, 10),
            (Reset, 10),
            (HalfClose, 10),
            (Abrupt, 10),
        ],
        _ => &[
            (Polite, 40),
            (SlowWriter, 8),
            (SlowReader, 8),
            (Reset, 15),
            (HalfClose, 15),
            (Abrupt, 14),
        ],
    }
}

#[derive(Clone)]
enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

struct Target {
    name: String,
    kind: Kind,
    conns: usize,
    pid: u32,
    addr: Addr,
    open: Cell<i64>,
}

/// xorshift64*: enough for picking sizes and behaviours.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// lo..=hi
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.range(lo, hi))
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
    fn printable(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b' ' + (self.next() % 95) as u8).collect()
    }
}

#[derive(Default, Clone)]
struct Counts {
    sessions: u64,
    verified: u64,
    errors: u64,
    unclean: u64,
}

struct Ctx {
    targets: Vec<Target>,
    tls: Option<(TlsConnector, ServerName<'static>, Arc<rustls::ClientConfig>)>,
    stop: Cell<bool>,
    counts: RefCell<BTreeMap<(usize, Beh), Counts>>,
    errors: RefCell<Vec<String>>,
    errors_total: Cell<u64>,
    t0: Instant,
}

impl Ctx {
    fn error(&self, ti: usize, beh: Beh, msg: String) {
        let n = self.errors_total.get() + 1;
        self.errors_total.set(n);
        let line = format!(
            "t={:.1}s {}/{}: {}",
            self.t0.elapsed().as_secs_f64(),
            self.targets[ti].name,
            beh.name(),
            msg
        );
        if n <= 200 {
            eprintln!("soak: ERROR {line}");
        }
        let mut e = self.errors.borrow_mut();
        if e.len() < 100 {
            e.push(line);
        }
        self.counts
            .borrow_mut()
            .entry((ti, beh))
            .or_default()
            .errors += 1;
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// A connection, counted open in its target until dropped.
struct Conn<'a> {
    s: Box<dyn Io + 'a>,
    _open: OpenGuard<'a>,
}

struct OpenGuard<'a>(&'a Cell<i64>);

impl<'a> OpenGuard<'a> {
    fn new(c: &'a Cell<i64>) -> Self {
        c.set(c.get() + 1);
        OpenGuard(c)
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

async fn tcp_connect(a: &SocketAddr, linger0: bool) -> Result<TcpStream, String> {
    let s = timeout(CONNECT_TIMEOUT, TcpStream::connect(a))
        .await
        .map_err(|_| "connect: timed out (10 s)".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    if linger0 {
        #[allow(
            deprecated,
            reason = "SO_LINGER 0 is the point: close sends a RST and does not block"
        )]
        s.set_linger(Some(Duration::ZERO))
            .map_err(|e| format!("SO_LINGER: {e}"))?;
    }
    Ok(s)
}

async fn connect<'a>(ctx: &Ctx, t: &'a Target, linger0: bool) -> Result<Conn<'a>, String> {
    let s: Box<dyn Io + 'a> = match &t.addr {
        Addr::Tcp(a) => {
            let s = tcp_connect(a, linger0).await?;
            if t.kind == Kind::Tls {
                let (connector, name, _) = ctx.tls.as_ref().expect("--ca checked");
                let s = timeout(CONNECT_TIMEOUT, connector.connect(name.clone(), s))
                    .await
                    .map_err(|_| "TLS handshake: timed out (10 s)".to_string())?
                    .map_err(|e| format!("TLS handshake: {e}"))?;
                Box::new(s)
            } else {
                Box::new(s)
            }
        }
        Addr::Unix(p) => Box::new(
            timeout(CONNECT_TIMEOUT, UnixStream::connect(p))
                .await
                .map_err(|_| "connect: timed out (10 s)".to_string())?
                .map_err(|e| format!("connect: {e}"))?,
        ),
    };
    Ok(Conn {
        s,
        _open: OpenGuard::new(&t.open),
    })
}

/// One message of a target's framing: the bytes to send and the bytes that
/// must come back.
fn message(kind: Kind, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    match kind {
        Kind::Echo | Kind::Tls => {
            let n = match rng.range(0, 99) {
                0..=69 => rng.usize(1, 1024),
                70..=94 => rng.usize(1025, 16 * 1024),
                _ => rng.usize(16 * 1024 + 1, 64 * 1024),
            };
            let mut m = vec![0; n];
            rng.fill(&mut m);
            (m.clone(), m)
        }
        Kind::Lines => {
            let mut m = Vec::new();
            for _ in 0..rng.range(1, 8) {
                let n = if rng.pct(80) {
                    rng.usize(0, 200)
                } else {
                    rng.usize(201, 2000)
                };
                let l = rng.printable(n);
                m.extend(l);
                m.extend_from_slice(b"\r\n");
            }
            (m.clone(), m)
        }
        Kind::Blocks => blocks(rng.usize(1, 64), rng),
        Kind::Chat => unreachable!("chat has its own sessions"),
    }
}

fn blocks(n: usize, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let mut m = vec![0; 8 * n];
    rng.fill(&mut m);
    let mut e = Vec::with_capacity(10 * n);
    for b in m.chunks(8) {
        e.extend_from_slice(b);
        e.extend_from_slice(b"\r\n");
    }
    (m, e)
}

/// A short message for a slow writer.
fn short_message(kind: Kind, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    match kind {
        Kind::Echo | Kind::Tls => {
            let n = rng.usize(4, 24);
            let mut m = vec![0; n];
            rng.fill(&mut m);
            (m.clone(), m)
        }
        Kind::Lines => {
            let n = rng.usize(2, 20);
            let mut m = rng.printable(n);
            m.extend_from_slice(b"\r\n");
            (m.clone(), m)
        }
        Kind::Blocks => blocks(rng.usize(1, 3), rng),
        Kind::Chat => unreachable!(),
    }
}

/// An incomplete frame: nothing comes back for it (echo kinds: a message
/// whose echo is never read).
fn partial(kind: Kind, rng: &mut Rng) -> Vec<u8> {
    match kind {
        Kind::Echo | Kind::Tls => message(kind, rng).0,
        Kind::Lines => {
            let n = rng.usize(1, 3000);
            rng.printable(n)
        }
        Kind::Blocks => {
            let n = rng.usize(1, 7);
            let mut m = vec![0; n];
            rng.fill(&mut m);
            m
        }
        Kind::Chat => unreachable!(),
    }
}

fn describe_mismatch(got: &[u8], want: &[u8], at_base: usize) -> String {
    let i = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let lo = i.saturating_sub(4);
    let hi = |v: &[u8]| (i + 12).min(v.len());
    format!(
        "bytes differ at offset {} of {}: expected {:02x?}, got {:02x?} (from offset {})",
        at_base + i,
        want.len(),
        &want[lo..hi(want)],
        &got[lo..hi(got)],
        at_base + lo
    )
}

/// Writes `send` (a byte at a time with the pauses in `gaps`, if any) while
/// reading exactly `expect.len()` bytes (after `read_delay`), then compares.
/// Returns the bytes verified.
async fn exchange(
    s: &mut (dyn Io + '_),
    send: &[u8],
    expect: &[u8],
    read_delay: Duration,
    gaps: Option<Vec<Duration>>,
) -> Result<u64, String> {
    let budget =
        EXCHANGE_TIMEOUT + read_delay + gaps.as_ref().map_or(Duration::ZERO, |g| g.iter().sum());
    let (mut r, mut w) = tokio::io::split(s);
    let wf = async {
        match &gaps {
            None => w.write_all(send).await?,
            Some(g) => {
                for (b, gap) in send.iter().zip(g) {
                    w.write_all(std::slice::from_ref(b)).await?;
                    w.flush().await?;
                    sleep(*gap).await;
                }
            }
        }
        w.flush().await
    };
    let rf = async {
        if !read_delay.is_zero() {
            sleep(read_delay).await;
        }
        let mut got = vec![0; expect.len().min(64 * 1024)];
        let mut n = 0;
        while n < expect.len() {
            let want = (expect.len() - n).min(got.len());
            let k = r
                .read(&mut got[..want])
                .await
                .map_err(|e| format!("read after {n} of {} bytes: {e}", expect.len()))?;
            if k == 0 {
                return Err(format!("EOF after {n} of {} bytes", expect.len()));
            }
            // Checked as it arrives, so the offset of a first wrong byte is exact.
            if got[..k] != expect[n..n + k] {
                return Err(describe_mismatch(&got[..k], &expect[n..n + k], n));
            }
            n += k;
        }
        Ok(())
    };
    let both = async {
        let (a, b) = tokio::join!(wf, rf);
        b?;
        a.map_err(|e| format!("write: {e}"))
    };
    match timeout(budget, both).await {
        Err(_) => Err(format!(
            "exchange of {} bytes timed out ({:.0} s)",
            send.len(),
            budget.as_secs_f64()
        )),
        Ok(r) => r.map(|()| expect.len() as u64),
    }
}

/// Reads to EOF after a half-close: exactly `expect`, then EOF. Ok(true)
/// if the end was unclean (TLS without close_notify).
async fn read_to_eof(
    s: &mut (impl AsyncRead + Unpin + ?Sized),
    expect: &[u8],
    tls: bool,
) -> Result<bool, String> {
    let mut got = Vec::with_capacity(expect.len());
    let mut buf = vec![0; 64 * 1024];
    let f = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) => return Ok(false),
                Ok(k) => {
                    let n = got.len();
                    if n + k > expect.len() {
                        return Err(format!(
                            "{} bytes after the {} expected ones before EOF: {:02x?}",
                            n + k - expect.len(),
                            expect.len(),
                            &buf[..k.min(16)]
                        ));
                    }
                    if buf[..k] != expect[n..n + k] {
                        return Err(describe_mismatch(&buf[..k], &expect[n..n + k], n));
                    }
                    got.extend_from_slice(&buf[..k]);
                }
                Err(e) if tls && e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(true),
                Err(e) => {
                    return Err(format!(
                        "read after {} of {} bytes: {e}",
                        got.len(),
                        expect.len()
                    ))
                }
            }
        }
    };
    let unclean = timeout(EXCHANGE_TIMEOUT, f)
        .await
        .map_err(|_| "no EOF within 20 s of the half-close".to_string())??;
    if got.len() != expect.len() {
        return Err(format!("EOF after {} of {} bytes", got.len(), expect.len()));
    }
    Ok(unclean)
}

struct Outcome {
    verified: u64,
    unclean: bool,
}

async fn session(
    ctx: &Ctx,
    ti: usize,
    beh: Beh,
    rng: &mut Rng,
    wid: u64,
    seq: u64,
) -> Result<Outcome, String> {
    let t = &ctx.targets[ti];
    if t.kind == Kind::Chat {
        return chat_session(ctx, ti, beh, rng, wid, seq).await;
    }
    if beh == Beh::TlsVanish {
        return tls_vanish(ctx, t, rng).await;
    }
    let mut verified = 0;
    let mut unclean = false;
    let mut c = connect(ctx, t, beh == Beh::Reset).await?;
    let s = &mut *c.s;
    match beh {
        Beh::Polite => {
            for _ in 0..rng.range(1, 20) {
                let (m, e) = message(t.kind, rng);
                verified += exchange(s, &m, &e, Duration::ZERO, None).await?;
                let pause = if rng.pct(90) {
                    rng.ms(0, 200)
                } else {
                    rng.ms(200, 1500)
                };
                sleep(pause).await;
            }
            if rng.pct(50) {
                // Graceful: close_notify over TLS, then FIN.
                let _ = timeout(Duration::from_secs(5), s.shutdown()).await;
            }
        }
        Beh::SlowWriter => {
            let (m, e) = short_message(t.kind, rng);
            let gaps = (0..m.len()).map(|_| rng.ms(100, 400)).collect();
            verified += exchange(s, &m, &e, Duration::ZERO, Some(gaps)).await?;
        }
        Beh::SlowReader => {
            let total = rng.usize(128 * 1024, 1024 * 1024);
            let (mut m, mut e) = (Vec::with_capacity(total), Vec::with_capacity(total * 5 / 4));
            while m.len() < total {
                let (a, b) = message(t.kind, rng);
                m.extend(a);
                e.extend(b);
            }
            verified += exchange(s, &m, &e, rng.ms(1000, 5000), None).await?;
        }
        Beh::Reset | Beh::Abrupt => {
            for _ in 0..rng.range(0, 3) {
                let (m, e) = message(t.kind, rng);
                verified += exchange(s, &m, &e, Duration::ZERO, None).await?;
            }
            let p = partial(t.kind, rng);
            // The server may already be answering or gone: rude, not an error.
            let _ = timeout(Duration::from_secs(2), async {
                s.write_all(&p).await?;
                s.flush().await
            })
            .await;
            sleep(rng.ms(0, 50)).await;
        }
        Beh::HalfClose => {
            for _ in 0..rng.range(0, 5) {
                let (m, e) = message(t.kind, rng);
                verified += exchange(s, &m, &e, Duration::ZERO, None).await?;
            }
            let (mut m, mut e) = message(t.kind, rng);
            if rng.pct(50) {
                match t.kind {
                    // A last line without its delimiter comes back as a line.
                    Kind::Lines => {
                        let n = rng.usize(1, 100);
                        let f = rng.printable(n);
                        m.extend_from_slice(&f);
                        e.extend_from_slice(&f);
                        e.extend_from_slice(b"\r\n");
                    }
                    // A fragment of a block is dropped.
                    Kind::Blocks => m.extend(partial(Kind::Blocks, rng)),
                    _ => {}
                }
            }
            // The echo may need reading before the write completes: write
            // and shut down concurrently with the read.
            let (r, w) = {
                let (mut rh, mut wh) = tokio::io::split(&mut *s);
                let w = async {
                    wh.write_all(&m).await?;
                    wh.flush().await?;
                    wh.shutdown().await
                };
                let r = read_to_eof(&mut rh, &e, t.kind == Kind::Tls);
                tokio::join!(r, timeout(EXCHANGE_TIMEOUT, w))
            };
            let _ = w;
            match r {
                Ok(u) => {
                    unclean = u;
                    verified += e.len() as u64;
                }
                Err(e) => return Err(format!("half-closed after {} bytes: {e}", m.len())),
            }
        }
        Beh::TlsVanish => unreachable!(),
    }
    drop(c);
    Ok(Outcome { verified, unclean })
}

/// A plain TCP connection to a TLS server that gives up during the handshake.
async fn tls_vanish(ctx: &Ctx, t: &Target, rng: &mut Rng) -> Result<Outcome, String> {
    let Addr::Tcp(a) = &t.addr else {
        unreachable!()
    };
    let (_, name, config) = ctx.tls.as_ref().expect("--ca checked");
    let mut s = tcp_connect(a, rng.pct(50)).await?;
    let _open = OpenGuard::new(&t.open);
    let mut hello = Vec::new();
    let mut cc = rustls::ClientConnection::new(config.clone(), name.clone())
        .map_err(|e| format!("rustls: {e}"))?;
    while cc.wants_write() {
        cc.write_tls(&mut hello)
            .map_err(|e| format!("rustls: {e}"))?;
    }
    let mut verified = 0;
    match rng.range(0, 3) {
        0 => sleep(rng.ms(0, 200)).await,
        1 => {
            let cut = rng.usize(1, hello.len() - 1);
            let _ = s.write_all(&hello[..cut]).await;
            sleep(rng.ms(0, 200)).await;
        }
        _ => {
            let _ = s.write_all(&hello).await;
            // The server's answer starts with a handshake record (0x16).
            let mut buf = vec![0; rng.usize(1, 2000)];
            match timeout(EXCHANGE_TIMEOUT, s.read(&mut buf)).await {
                Err(_) => return Err("no answer to a whole ClientHello in 20 s".into()),
                Ok(Err(e)) => return Err(format!("read after a ClientHello: {e}")),
                Ok(Ok(0)) => return Err("EOF after a ClientHello".into()),
                Ok(Ok(_)) if buf[0] != 0x16 => {
                    return Err(format!(
                        "answer to a ClientHello is not a handshake record: {:02x?}",
                        &buf[..8.min(buf.len())]
                    ))
                }
                Ok(Ok(k)) => verified += k as u64,
            }
        }
    }
    Ok(Outcome {
        verified,
        unclean: false,
    })
}

// ---- chat ----

/// The filler of chat line (w, s, l): its length and bytes follow from them.
fn chat_filler(w: u64, s: u64, l: u64) -> Vec<u8> {
    let mut r = Rng::new(
        w.wrapping_mul(1_000_003) ^ s.wrapping_mul(7919) ^ l.wrapping_mul(104_729) ^ 0xC4A7,
    );
    let n = if r.pct(90) {
        r.usize(0, 80)
    } else {
        r.usize(81, 1500)
    };
    (0..n).map(|_| b'a' + (r.next() % 26) as u8).collect()
}

fn chat_line(w: u64, s: u64, l: u64) -> Vec<u8> {
    let mut v = format!("soak {w} {s} {l} ").into_bytes();
    v.extend(chat_filler(w, s, l));
    v
}

/// Checks one received chat line (without `\r\n`); returns the id of a
/// `soak` line.
fn check_chat_line(line: &[u8]) -> Result<Option<(u64, u64, u64)>, String> {
    let bad = || {
        format!(
            "unexpected chat line {:?}",
            String::from_utf8_lossy(&line[..line.len().min(120)])
        )
    };
    if line == b"Connected: 127.0.0.1" || line == b"Disconnected: 127.0.0.1" {
        return Ok(None);
    }
    let Some(body) = line.strip_prefix(b"127.0.0.1: ") else {
        return Err(bad());
    };
    if let Some(cut) = body.strip_prefix(b"cut ") {
        return if cut.iter().all(|b| b.is_ascii_lowercase()) {
            Ok(None)
        } else {
            Err(bad())
        };
    }
    let Some(rest) = body.strip_prefix(b"soak ") else {
        return Err(bad());
    };
    let text = std::str::from_utf8(rest).map_err(|_| bad())?;
    let mut it = text.splitn(4, ' ');
    let mut num = || it.next().and_then(|x| x.parse::<u64>().ok());
    let (Some(w), Some(s), Some(l)) = (num(), num(), num()) else {
        return Err(bad());
    };
    if body != chat_line(w, s, l) {
        return Err(format!("{} (filler differs)", bad()));
    }
    Ok(Some((w, s, l)))
}

/// Reads chat lines until each of `want` has arrived (in order) and, if
/// `to_eof`, until EOF; every line is checked. Returns the bytes verified.
async fn chat_read(
    s: &mut (impl AsyncRead + Unpin + ?Sized),
    want: &[(u64, u64, u64)],
    to_eof: bool,
    delay: Duration,
) -> Result<u64, String> {
    sleep(delay).await;
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = vec![0; 16 * 1024];
    let mut next = 0;
    let mut verified = 0u64;
    loop {
        if next == want.len() && !to_eof {
            return Ok(verified);
        }
        let k = s
            .read(&mut tmp)
            .await
            .map_err(|e| format!("read: {e} (own lines seen {next} of {})", want.len()))?;
        if k == 0 {
            if next < want.len() {
                return Err(format!("EOF with own lines seen {next} of {}", want.len()));
            }
            if !buf.is_empty() {
                return Err(format!(
                    "EOF after a partial line {:?}",
                    String::from_utf8_lossy(&buf)
                ));
            }
            return Ok(verified);
        }
        buf.extend_from_slice(&tmp[..k]);
        let mut start = 0;
        while let Some(p) = buf[start..].windows(2).position(|w| w == b"\r\n") {
            let line = &buf[start..start + p];
            if let Some(id) = check_chat_line(line)? {
                verified += line.len() as u64 + 2;
                if next < want.len() && id == want[next] {
                    next += 1;
                } else if want.contains(&id) {
                    return Err(format!(
                        "own chat line {id:?} out of order or twice (expected {:?})",
                        want.get(next)
                    ));
                }
            }
            start += p + 2;
        }
        buf.drain(..start);
    }
}

async fn chat_session(
    ctx: &Ctx,
    ti: usize,
    beh: Beh,
    rng: &mut Rng,
    wid: u64,
    seq: u64,
) -> Result<Outcome, String> {
    let t = &ctx.targets[ti];
    let mut c = connect(ctx, t, beh == Beh::Reset).await?;
    let s = &mut *c.s;
    let n = match beh {
        Beh::Polite | Beh::SlowReader | Beh::HalfClose => rng.range(1, 5),
        Beh::SlowWriter => 1,
        _ => rng.range(0, 2),
    };
    let ids: Vec<_> = (0..n).map(|l| (wid, seq, l)).collect();
    let mut lines = Vec::new();
    for &(w, s, l) in &ids {
        lines.push(chat_line(w, s, l));
    }
    let mut verified = 0;
    match beh {
        Beh::Polite | Beh::SlowReader | Beh::SlowWriter | Beh::HalfClose => {
            let gaps: Vec<Duration> = (0..n).map(|_| rng.ms(0, 500)).collect();
            // A slow writer dribbles the first 8..30 bytes of its line, then
            // writes the rest at once.
            let byte_gaps: Vec<Duration> = if beh == Beh::SlowWriter {
                let n = rng.usize(8, 30);
                (0..lines[0].len() + 2)
                    .map(|i| {
                        if i < n {
                            rng.ms(100, 400)
                        } else {
                            Duration::ZERO
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let delay = if beh == Beh::SlowReader {
                rng.ms(1000, 5000)
            } else {
                Duration::ZERO
            };
            let budget = EXCHANGE_TIMEOUT
                + delay
                + gaps.iter().sum::<Duration>()
                + byte_gaps.iter().sum::<Duration>();
            let (mut r, mut w) = tokio::io::split(&mut *s);
            let wf = async {
                for (line, gap) in lines.iter().zip(&gaps) {
                    let mut m = line.clone();
                    m.extend_from_slice(b"\r\n");
                    if byte_gaps.is_empty() {
                        w.write_all(&m).await?;
                    } else {
                        let slow = byte_gaps.iter().take_while(|g| !g.is_zero()).count();
                        for (b, g) in m[..slow].iter().zip(&byte_gaps) {
                            w.write_all(std::slice::from_ref(b)).await?;
                            w.flush().await?;
                            sleep(*g).await;
                        }
                        w.write_all(&m[slow..]).await?;
                    }
                    w.flush().await?;
                    sleep(*gap).await;
                }
                if beh == Beh::HalfClose {
                    w.shutdown().await?;
                }
                Ok::<_, std::io::Error>(())
            };
            let rf = chat_read(&mut r, &ids, beh == Beh::HalfClose, delay);
            match timeout(budget, async { tokio::join!(wf, rf) }).await {
                Err(_) => {
                    return Err(format!(
                        "own chat lines not all back within {:.0} s",
                        budget.as_secs_f64()
                    ))
                }
                Ok((w, r)) => {
                    verified += r?;
                    w.map_err(|e| format!("write: {e}"))?;
                }
            }
        }
        Beh::Reset | Beh::Abrupt => {
            let mut m = Vec::new();
            for line in &lines {
                m.extend_from_slice(line);
                m.extend_from_slice(b"\r\n");
            }
            m.extend_from_slice(b"cut ");
            for _ in 0..rng.range(0, 40) {
                m.push(b'a' + (rng.next() % 26) as u8);
            }
            let _ = timeout(Duration::from_secs(2), async {
                s.write_all(&m).await?;
                s.flush().await
            })
            .await;
            sleep(rng.ms(0, 50)).await;
        }
        Beh::TlsVanish => unreachable!(),
    }
    drop(c);
    Ok(Outcome {
        verified,
        unclean: false,
    })
}

async fn worker(ctx: Rc<Ctx>, ti: usize, wid: u64, start_delay: Duration, seed: u64) {
    let mut rng = Rng::new(seed ^ wid.wrapping_mul(0x1234_5678_9ABC_DEF1));
    sleep(start_delay).await;
    let w = weights(ctx.targets[ti].kind);
    let total: u32 = w.iter().map(|x| x.1).sum();
    let mut seq = 0;
    while !ctx.stop.get() {
        let mut pick = rng.range(0, u64::from(total) - 1) as u32;
        let mut beh = w[0].0;
        for &(b, wt) in w {
            if pick < wt {
                beh = b;
                break;
            }
            pick -= wt;
        }
        seq += 1;
        let r = session(&ctx, ti, beh, &mut rng, wid, seq).await;
        match r {
            Ok(o) => {
                let mut c = ctx.counts.borrow_mut();
                let e = c.entry((ti, beh)).or_default();
                e.sessions += 1;
                e.verified += o.verified;
                e.unclean += u64::from(o.unclean);
            }
            Err(msg) => {
                ctx.counts
                    .borrow_mut()
                    .entry((ti, beh))
                    .or_default()
                    .sessions += 1;
                ctx.error(ti, beh, msg);
                // Do not spin on a server that refuses everything.
                sleep(Duration::from_millis(200)).await;
            }
        }
        // Between sessions: reconnect at once or after a short pause.
        if rng.pct(30) {
            sleep(rng.ms(0, 100)).await;
        }
    }
}

// ---- sampling ----

#[derive(Clone, Copy, Default)]
struct Sample {
    alive: bool,
    fds: u64,
    rss_kb: u64,
    cpu_s: f64,
}

fn sample(pid: u32) -> Sample {
    let fds = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(d) => d.count() as u64,
        Err(_) => return Sample::default(),
    };
    let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    let cpu_s = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the state.
            let u: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((u + st) / CLK_TCK)
        })
        .unwrap_or(0.0);
    Sample {
        alive: rss_kb > 0,
        fds,
        rss_kb,
        cpu_s,
    }
}

/// One row of samples: one per distinct server pid, in target order.
#[derive(Clone)]
struct Row {
    phase: String,
    t: f64,
    s: Vec<Sample>,
    open: Vec<i64>,
    sessions: u64,
    errors: u64,
}

struct Args {
    secs: f64,
    warmup: f64,
    sample: f64,
    settle: f64,
    ca: Option<String>,
    sni: String,
    out: Option<PathBuf>,
    rss_tol: f64,
    seed: u64,
    targets: Vec<Target>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "soak: {msg}\n\
         usage: soak --secs SECS [--warmup SECS] [--sample SECS] [--settle SECS] [--ca CA_PEM] [--sni NAME]\n\
         \x20           [--out DIR] [--rss-tol PCT] [--seed N] NAME:KIND:CONNS:PID:ADDR...\n\
         KIND: echo | lines | blocks | chat | tls; ADDR: HOST:PORT or unix:PATH"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        secs: 0.0,
        warmup: -1.0,
        sample: 10.0,
        settle: 30.0,
        ca: None,
        sni: "localhost".into(),
        out: None,
        rss_tol: 10.0,
        seed: 1,
        targets: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        let num = |v: String, name: &str| {
            v.parse::<f64>()
                .unwrap_or_else(|_| usage(&format!("bad {name} {v:?}")))
        };
        match arg.as_str() {
            "--secs" => a.secs = num(val("--secs"), "--secs"),
            "--warmup" => a.warmup = num(val("--warmup"), "--warmup"),
            "--sample" => a.sample = num(val("--sample"), "--sample"),
            "--settle" => a.settle = num(val("--settle"), "--settle"),
            "--rss-tol" => a.rss_tol = num(val("--rss-tol"), "--rss-tol"),
            "--seed" => a.seed = num(val("--seed"), "--seed") as u64,
            "--ca" => a.ca = Some(val("--ca")),
            "--sni" => a.sni = val("--sni"),
            "--out" => a.out = Some(PathBuf::from(val("--out"))),
            t if !t.starts_with("--") => {
                let p: Vec<&str> = t.splitn(5, ':').collect();
                let [name, kind, conns, pid, addr] = p[..] else {
                    usage(&format!("bad target {t:?}"))
                };
                let kind = match kind {
                    "echo" => Kind::Echo,
                    "lines" => Kind::Lines,
                    "blocks" => Kind::Blocks,
                    "chat" => Kind::Chat,
                    "tls" => Kind::Tls,
                    _ => usage(&format!("bad kind {kind:?}")),
                };
                let addr = if let Some(p) = addr.strip_prefix("unix:") {
                    Addr::Unix(PathBuf::from(p))
                } else {
                    Addr::Tcp(
                        addr.to_socket_addrs()
                            .ok()
                            .and_then(|mut x| x.next())
                            .unwrap_or_else(|| usage(&format!("bad address {addr:?}"))),
                    )
                };
                if kind == Kind::Tls && matches!(addr, Addr::Unix(_)) {
                    usage("tls needs a HOST:PORT");
                }
                a.targets.push(Target {
                    name: name.into(),
                    kind,
                    conns: conns
                        .parse()
                        .unwrap_or_else(|_| usage(&format!("bad CONNS {conns:?}"))),
                    pid: pid
                        .parse()
                        .unwrap_or_else(|_| usage(&format!("bad PID {pid:?}"))),
                    addr,
                    open: Cell::new(0),
                });
            }
            _ => usage(&format!("unknown flag {arg}")),
        }
    }
    if a.secs <= 0.0 || a.targets.is_empty() {
        usage("--secs and at least one target are needed");
    }
    if a.targets.iter().any(|t| t.kind == Kind::Tls) && a.ca.is_none() {
        usage("a tls target needs --ca");
    }
    if a.warmup < 0.0 {
        // Long enough for RSS to level off (about 10 s here), at most a third
        // of a short run.
        a.warmup = (a.secs / 6.0).max(10.0).min(a.secs / 3.0).min(30.0);
    }
    a
}

fn tls_config(
    ca: &str,
    sni: &str,
) -> (TlsConnector, ServerName<'static>, Arc<rustls::ClientConfig>) {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| usage(&format!("{ca}: {e:?}")));
    for c in certs {
        roots
            .add(c)
            .unwrap_or_else(|e| usage(&format!("{ca}: {e}")));
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);
    let name = ServerName::try_from(sni.to_owned())
        .unwrap_or_else(|_| usage(&format!("bad --sni {sni:?}")));
    (TlsConnector::from(config.clone()), name, config)
}

fn main() {
    let a = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, run(a));
    std::process::exit(code);
}

async fn run(mut a: Args) -> i32 {
    let tls = a.ca.as_deref().map(|ca| tls_config(ca, &a.sni));
    let targets = std::mem::take(&mut a.targets);
    // Distinct server processes, in target order, with their targets' names.
    let mut pids: Vec<(u32, String)> = Vec::new();
    for t in &targets {
        match pids.iter_mut().find(|p| p.0 == t.pid) {
            Some(p) => p.1 = format!("{}+{}", p.1, t.name),
            None => pids.push((t.pid, t.name.clone())),
        }
    }
    let ctx = Rc::new(Ctx {
        targets,
        tls,
        stop: Cell::new(false),
        counts: RefCell::new(BTreeMap::new()),
        errors: RefCell::new(Vec::new()),
        errors_total: Cell::new(0),
        t0: Instant::now(),
    });
    let take = |phase: &str| -> Row {
        let c = ctx.counts.borrow();
        Row {
            phase: phase.into(),
            t: ctx.t0.elapsed().as_secs_f64(),
            s: pids.iter().map(|p| sample(p.0)).collect(),
            open: ctx.targets.iter().map(|t| t.open.get()).collect(),
            sessions: c.values().map(|x| x.sessions).sum(),
            errors: ctx.errors_total.get(),
        }
    };
    let mut rows = vec![take("idle")];
    for (i, p) in pids.iter().enumerate() {
        if !rows[0].s[i].alive {
            eprintln!("soak: server {} (pid {}) is not running", p.1, p.0);
            return 1;
        }
    }
    let progress = |r: &Row| {
        let mut l = format!(
            "soak: {:>7.1}s {:<7} sessions={} errors={} |",
            r.t, r.phase, r.sessions, r.errors
        );
        for (p, s) in pids.iter().zip(&r.s) {
            let _ = write!(
                l,
                " {} fds={} rss={}K cpu={:.1}s",
                p.1, s.fds, s.rss_kb, s.cpu_s
            );
        }
        let _ = write!(l, " | open={}", r.open.iter().sum::<i64>());
        eprintln!("{l}");
    };
    progress(&rows[0]);

    // Workers: ramped over the first 3 s (or the warm-up, if shorter).
    let ramp = a.warmup.min(3.0);
    let total: usize = ctx.targets.iter().map(|t| t.conns).sum();
    let mut handles = Vec::new();
    let mut wid = 0u64;
    for (ti, t) in ctx.targets.iter().enumerate() {
        for _ in 0..t.conns {
            let delay = Duration::from_secs_f64(ramp * wid as f64 / total as f64);
            handles.push(tokio::task::spawn_local(worker(
                ctx.clone(),
                ti,
                wid,
                delay,
                a.seed,
            )));
            wid += 1;
        }
    }
    let load0 = Instant::now();
    let at = |secs: f64| load0 + Duration::from_secs_f64(secs);
    let mut any_dead = false;
    let mut check_alive = |r: &Row| {
        for (p, s) in pids.iter().zip(&r.s) {
            if !s.alive {
                if !any_dead {
                    eprintln!(
                        "soak: ERROR server {} (pid {}) is gone at t={:.1}s",
                        p.1, p.0, r.t
                    );
                }
                any_dead = true;
            }
        }
    };
    tokio::time::sleep_until(at(a.warmup).into()).await;
    let r = take("start");
    check_alive(&r);
    progress(&r);
    rows.push(r);
    let mut k = 1;
    let mut mid_done = false;
    loop {
        let next = a.warmup + k as f64 * a.sample;
        let mid = a.secs / 2.0;
        if !mid_done && mid <= next + 0.5 && mid > a.warmup {
            tokio::time::sleep_until(at(mid).into()).await;
            let r = take("middle");
            check_alive(&r);
            progress(&r);
            rows.push(r);
            mid_done = true;
            if (next - mid).abs() < 0.5 {
                // The middle stands for this periodic sample.
                k += 1;
            }
            continue;
        }
        if next >= a.secs - 0.5 {
            break;
        }
        tokio::time::sleep_until(at(next).into()).await;
        let r = take("load");
        check_alive(&r);
        progress(&r);
        rows.push(r);
        k += 1;
    }
    tokio::time::sleep_until(at(a.secs).into()).await;
    let r = take("last");
    check_alive(&r);
    progress(&r);
    rows.push(r);

    // Stop: sessions finish (20 s at most), then whatever is left is dropped.
    ctx.stop.set(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    for h in &handles {
        while !h.is_finished() && Instant::now() < deadline {
            sleep(Duration::from_millis(50)).await;
        }
    }
    let aborted = handles.iter().filter(|h| !h.is_finished()).count();
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    if aborted > 0 {
        eprintln!("soak: {aborted} sessions still running 20 s after the stop were dropped");
    }
    // Settle: until every server is back to its idle fd count (bounded).
    let settle0 = Instant::now();
    let idle_fds: Vec<u64> = rows[0].s.iter().map(|s| s.fds).collect();
    loop {
        let now: Vec<u64> = pids.iter().map(|p| sample(p.0).fds).collect();
        if now == idle_fds || settle0.elapsed().as_secs_f64() >= a.settle {
            break;
        }
        sleep(Duration::from_millis(250)).await;
    }
    sleep(Duration::from_secs(1)).await;
    let settle_s = settle0.elapsed().as_secs_f64();
    let r = take("end");
    check_alive(&r);
    progress(&r);
    rows.push(r);

    report(&a, &ctx, &pids, &rows, settle_s, any_dead)
}

fn report(
    a: &Args,
    ctx: &Ctx,
    pids: &[(u32, String)],
    rows: &[Row],
    settle_s: f64,
    any_dead: bool,
) -> i32 {
    let find = |ph: &str| rows.iter().find(|r| r.phase == ph).expect("phase sampled");
    let (idle, start, mid, last, end) = (
        find("idle"),
        find("start"),
        find("middle"),
        find("last"),
        find("end"),
    );
    let mut md = String::new();
    let total: usize = ctx.targets.iter().map(|t| t.conns).sum();
    let _ = writeln!(
        md,
        "{} connections for {:.0} s (warm-up {:.0} s, samples every {:.0} s); fds settled {:.1} s after the stop\n",
        total, a.secs, a.warmup, a.sample, settle_s
    );
    let _ = writeln!(md, "| server | connections | pid |\n|---|---:|---:|");
    for (p, _) in pids {
        let names: Vec<String> = ctx
            .targets
            .iter()
            .filter(|t| t.pid == *p)
            .map(|t| {
                let addr = match &t.addr {
                    Addr::Tcp(a) => a.to_string(),
                    Addr::Unix(p) => format!("unix:{}", p.display()),
                };
                format!("`{}` ({:?}, {addr})", t.name, t.kind)
            })
            .collect();
        let conns: usize = ctx
            .targets
            .iter()
            .filter(|t| t.pid == *p)
            .map(|t| t.conns)
            .sum();
        let _ = writeln!(md, "| {} | {} | {} |", names.join(", "), conns, p);
    }
    let _ = writeln!(md);
    // Per server: the rows.
    let _ = writeln!(
        md,
        "| server | row | t (s) | client conns open | fds | VmRSS (KiB) | CPU (s) | CPU % since previous row |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    let mut pass = true;
    let mut verdicts = Vec::new();
    let mut halves = Vec::new();
    for (i, (pid, name)) in pids.iter().enumerate() {
        let open_of = |r: &Row| -> i64 {
            ctx.targets
                .iter()
                .zip(&r.open)
                .filter(|(t, _)| t.pid == *pid)
                .map(|(_, o)| *o)
                .sum()
        };
        let mut prev: Option<&Row> = None;
        for r in [idle, start, mid, last, end] {
            let s = r.s[i];
            let pct = prev.map_or(String::new(), |p| {
                let dt = r.t - p.t;
                if dt > 0.0 {
                    format!("{:.1}", 100.0 * (s.cpu_s - p.s[i].cpu_s) / dt)
                } else {
                    String::new()
                }
            });
            let _ = writeln!(
                md,
                "| {name} | {} | {:.1} | {} | {} | {} | {:.2} | {pct} |",
                r.phase,
                r.t,
                open_of(r),
                s.fds,
                s.rss_kb,
                s.cpu_s
            );
            prev = Some(r);
        }
        let peak_fds = rows.iter().map(|r| r.s[i].fds).max().unwrap_or(0);
        let peak_rss = rows.iter().map(|r| r.s[i].rss_kb).max().unwrap_or(0);
        let peak_open = rows.iter().map(open_of).max().unwrap_or(0);
        let _ = writeln!(
            md,
            "| {name} | peak | | {peak_open} | {peak_fds} | {peak_rss} | | |"
        );
        let fds_ok = end.s[i].fds == idle.s[i].fds && end.s[i].alive;
        let alive = rows.iter().all(|r| r.s[i].alive);
        // Under load after the warm-up: the RSS range in each half, a trend a
        // leak would show.
        let under: Vec<u64> = rows
            .iter()
            .filter(|r| matches!(r.phase.as_str(), "start" | "load" | "middle" | "last"))
            .map(|r| r.s[i].rss_kb)
            .collect();
        let (h1, h2) = under.split_at(under.len() / 2);
        // The level: the first half's peak under load (RSS moves ±10 %
        // from sample to sample with the buffers of slow readers, so one
        // sample is no level). A leak shows as the second half or the end
        // above it.
        let level = h1.iter().copied().max().unwrap_or(start.s[i].rss_kb);
        let limit = level as f64 * (1.0 + a.rss_tol / 100.0);
        let h2_peak = h2.iter().copied().max().unwrap_or(0);
        let rss_ok =
            (end.s[i].rss_kb as f64) <= limit && (h2_peak as f64) <= limit && end.s[i].alive;
        let range = |h: &[u64]| {
            format!(
                "{}–{}",
                h.iter().min().unwrap_or(&0),
                h.iter().max().unwrap_or(&0)
            )
        };
        halves.push(format!(
            "* {name}: {} KiB in the first half, {} KiB in the second",
            range(h1),
            range(h2)
        ));
        pass &= fds_ok && rss_ok && alive;
        verdicts.push(format!(
            "* {name}: fds idle {} → end {}: **{}**; RSS level (first half's peak under load) {} KiB → second half's peak {} KiB, end {} KiB ({:+.1} %, limit +{:.0} %; idle was {} KiB): **{}**{}",
            idle.s[i].fds,
            end.s[i].fds,
            if fds_ok { "PASS" } else { "FAIL" },
            level,
            h2_peak,
            end.s[i].rss_kb,
            100.0 * (end.s[i].rss_kb as f64 / level.max(1) as f64 - 1.0),
            a.rss_tol,
            idle.s[i].rss_kb,
            if rss_ok { "PASS" } else { "FAIL" },
            if alive { "" } else { "; **the process died**" }
        ));
    }
    let _ = writeln!(md, "\n{}\n", verdicts.join("\n"));
    let _ = writeln!(
        md,
        "VmRSS over the samples under load (after the warm-up):\n\n{}\n",
        halves.join("\n")
    );
    let me = sample(std::process::id());
    let _ = writeln!(
        md,
        "The soak client itself: {:.1} CPU s over {:.0} s ({:.0} % of a core), VmRSS {} KiB at the end.\n",
        me.cpu_s,
        ctx.t0.elapsed().as_secs_f64(),
        100.0 * me.cpu_s / ctx.t0.elapsed().as_secs_f64(),
        me.rss_kb
    );
    // Per behaviour.
    let _ = writeln!(
        md,
        "| server | behaviour | sessions | bytes verified | unclean TLS ends | errors |\n|---|---|---:|---:|---:|---:|"
    );
    let counts = ctx.counts.borrow();
    let mut tot = Counts::default();
    for ((ti, beh), c) in counts.iter() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            ctx.targets[*ti].name,
            beh.name(),
            c.sessions,
            c.verified,
            c.unclean,
            c.errors
        );
        tot.sessions += c.sessions;
        tot.verified += c.verified;
        tot.unclean += c.unclean;
        tot.errors += c.errors;
    }
    let _ = writeln!(
        md,
        "| **all** | | **{}** | **{}** | **{}** | **{}** |\n",
        tot.sessions, tot.verified, tot.unclean, tot.errors
    );
    let errs = ctx.errors.borrow();
    if errs.is_empty() {
        let _ = writeln!(md, "Errors: none.\n");
    } else {
        let _ = writeln!(
            md,
            "Errors ({} in all; the first {}):\n\n```",
            ctx.errors_total.get(),
            errs.len()
        );
        for e in errs.iter() {
            let _ = writeln!(md, "{e}");
        }
        let _ = writeln!(md, "```\n");
    }
    pass &= ctx.errors_total.get() == 0 && !any_dead;
    let _ = writeln!(md, "Result: **{}**", if pass { "PASS" } else { "FAIL" });

    if let Some(out) = &a.out {
        let _ = std::fs::create_dir_all(out);
        let mut tsv = String::from(
            "t_s\tphase\tserver\tpid\tfds\tvmrss_kb\tcpu_s\tclient_open\tsessions\terrors\n",
        );
        for r in rows {
            for (i, (pid, name)) in pids.iter().enumerate() {
                let open: i64 = ctx
                    .targets
                    .iter()
                    .zip(&r.open)
                    .filter(|(t, _)| t.pid == *pid)
                    .map(|(_, o)| *o)
                    .sum();
                let s = r.s[i];
                let _ = writeln!(
                    tsv,
                    "{:.1}\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{}\t{}\t{}",
                    r.t, r.phase, name, pid, s.fds, s.rss_kb, s.cpu_s, open, r.sessions, r.errors
                );
            }
        }
        if let Err(e) = std::fs::write(out.join("samples.tsv"), tsv) {
            eprintln!("soak: {}: {e}", out.join("samples.tsv").display());
        }
        if let Err(e) = std::fs::write(out.join("soak.md"), &md) {
            eprintln!("soak: {}: {e}", out.join("soak.md").display());
        }
    }
    print!("{md}");
    if pass {
        0
    } else {
        1
    }
}
