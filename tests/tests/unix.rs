//! Unix stream sockets: every framing kind over TCP and over a Unix socket
//! (the same cases, Python 3 as the peer), abstract names, stale and busy
//! socket files, peer credentials, the `unix_echo` example.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use pants::Channel;
use pants::prelude::*;

use crate::util::{self, ExampleServer, TIMEOUT, TempDir, bracket, python};

// ---------------------------------------------------------------- channels

#[derive(Default)]
struct Lines;

#[channel]
impl Lines {
    #[on_read(delimiter = "\r\n", max = 16)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        bracket(s, line);
    }

    #[on_overflow_error]
    fn long(&mut self, s: &mut Stream<Self>, _error: &pants::Error) {
        s.write(b"<overflow>");
    }
}

#[derive(Default)]
struct Blocks;

#[channel]
impl Blocks {
    #[on_read(bytes = 3)]
    fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
        bracket(s, block);
    }
}

#[derive(Default)]
struct Words;

#[channel]
impl Words {
    #[on_read(regex = r"\s+")]
    fn word(&mut self, s: &mut Stream<Self>, word: &[u8]) {
        bracket(s, word);
    }
}

#[derive(Default)]
struct Pairs;

#[channel]
impl Pairs {
    #[on_read(regex = r"([a-z]+)=([0-9]+);", mode = "match")]
    fn pair(&mut self, s: &mut Stream<Self>, m: Match<'_>) {
        s.write_all(&[
            b"[",
            m.get(1).unwrap_or(b"?"),
            b":",
            m.get(2).unwrap_or(b"?"),
            b"]",
        ]);
    }
}

#[derive(Default)]
struct Prefixed;

#[channel]
impl Prefixed {
    #[on_read(prefix = u16, max = 64)]
    fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        bracket(s, payload);
    }
}

#[derive(Default)]
struct Sums;

#[channel]
impl Sums {
    #[on_read]
    fn pair(&mut self, s: &mut Stream<Self>, (a, b): (u16, u16)) {
        s.write(format!("[{}]", u32::from(a) + u32::from(b)).as_bytes());
    }
}

#[derive(Default)]
struct HeadBody {
    len: u8,
}

#[channel]
impl HeadBody {
    #[on_read(initial)]
    fn head(&mut self, s: &mut Stream<Self>, len: u8) {
        self.len = len;
        s.switch(Self::BODY);
    }

    #[on_read(bytes = self.len)]
    fn body(&mut self, s: &mut Stream<Self>, body: &[u8]) {
        bracket(s, body);
        s.switch(Self::HEAD);
    }
}

#[derive(Default)]
struct Chunks;

#[channel]
impl Chunks {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

// ---------------------------------------------------------------- the peer

/// Python 3 client: connects to `tcp HOST PORT` or `unix PATH` (`tls CA
/// HOST PORT`, `tlsunix CA PATH`: the same, then TLS verifying `localhost`
/// against the CA), sends each hex-encoded piece as its own `send` (with a
/// short pause so the server reads them apart), half-closes, and prints all
/// it receives until EOF.
const PEER: &str = r#"
import socket, ssl, sys, time
kind = sys.argv[1]
ca = None
if kind.startswith("tls"):
    ca = sys.argv[2]
    del sys.argv[2]
    kind = kind[3:] or "tcp"
if kind == "tcp":
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5)
    pieces = sys.argv[4:]
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    name = sys.argv[2]
    s.connect("\0" + name[1:] if name.startswith("@") else name)
    pieces = sys.argv[3:]
if ca:
    s = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost")
for p in pieces:
    s.sendall(bytes.fromhex(p))
    time.sleep(0.02)
# The TCP half-close itself: an SSLSocket's own shutdown() would drop TLS
# for the reads that follow (the server sees an end without close_notify,
# and delivers what came before it just the same).
socket.socket.shutdown(s, socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.buffer.write(data)
"#;

/// Where a case runs.
#[derive(Clone, Copy, Debug)]
enum Over {
    Tcp,
    Unix,
    Abstract,
    /// TLS over TCP, and over a Unix socket.
    Tls,
    TlsUnix,
}

/// Runs channel `C` over `over`, sends `pieces` (each its own write) from
/// Python, and returns what came back.
fn exchange<C>(over: Over, pieces: &[&[u8]]) -> Vec<u8>
where
    C: Channel<App = C> + App + Default,
{
    let dir = TempDir::new("framing");
    let listen = match over {
        Over::Tcp | Over::Tls => "127.0.0.1:0".to_owned(),
        Over::Unix | Over::TlsUnix => dir.path("s.sock").display().to_string(),
        Over::Abstract => format!(
            "@pants-test-{}-{}",
            std::process::id(),
            dir.0.file_name().and_then(|n| n.to_str()).unwrap_or("x")
        ),
    };
    let pki = crate::tls::pki();
    let tls = matches!(over, Over::Tls | Over::TlsUnix).then(|| pki.server_tls());
    let bg = util::spawn(move |e: &mut Engine<C>| {
        Some(match tls {
            Some(tls) => e.listen_tls::<C>(listen.as_str(), tls).expect("listen_tls"),
            None => e.listen::<C>(listen.as_str()).expect("listen"),
        })
    });
    let local = bg.local();
    let ca = pki.ca.display().to_string();
    let mut args: Vec<String> = match (&local, over) {
        (addr, Over::Tcp | Over::Tls) => {
            let ip = addr.as_ip().expect("an IP listener");
            let kind = if matches!(over, Over::Tls) {
                "tls"
            } else {
                "tcp"
            };
            vec![kind.into(), ip.ip().to_string(), ip.port().to_string()]
        }
        (addr, Over::TlsUnix) => vec!["tlsunix".into(), addr.to_string()],
        (addr, _) => vec!["unix".into(), addr.to_string()],
    };
    if matches!(over, Over::Tls | Over::TlsUnix) {
        args.insert(1, ca);
    }
    args.extend(pieces.iter().map(|p| hex(p)));
    let out = python(PEER, &args);
    bg.stop();
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Runs the same case over every transport and checks the answer.
#[track_caller]
fn same_everywhere<C>(pieces: &[&[u8]], want: &[u8])
where
    C: Channel<App = C> + App + Default,
{
    for over in [
        Over::Tcp,
        Over::Unix,
        Over::Abstract,
        Over::Tls,
        Over::TlsUnix,
    ] {
        let got = exchange::<C>(over, pieces);
        assert_eq!(
            util::show(&got),
            util::show(want),
            "over {over:?}, pieces {pieces:?}"
        );
    }
}

#[test]
fn every_framing_kind_over_tcp_unix_and_tls() {
    same_everywhere::<Lines>(
        &[b"one\r", b"\ntwo\r\n", b"a-line-over-16-bytes\r\nok\r\nend"],
        b"[one][two]<overflow>[ok][end]",
    );
    same_everywhere::<Blocks>(&[b"ab", b"cdef", b"g"], b"[abc][def]");
    same_everywhere::<Words>(&[b"alpha  be", b"ta\ngamma"], b"[alpha][beta][gamma]");
    same_everywhere::<Pairs>(&[b"a=1;bb=", b"22;"], b"[a:1][bb:22]");
    same_everywhere::<Prefixed>(&[b"\x00\x03ab", b"c\x00\x00\x00\x02hi"], b"[abc][][hi]");
    same_everywhere::<Sums>(&[b"\x00\x2a\x00", b"\x51"], b"[123]");
    same_everywhere::<HeadBody>(&[b"\x03ab", b"c\x00\x02x", b"y"], b"[abc][][xy]");
    same_everywhere::<Chunks>(&[b"any", b"thing"], b"anything");
}

// ---------------------------------------------------------------- files and names

/// Listens on `addr` in a new engine thread; the listen result.
fn try_listen(addr: &str) -> pants::Result<String> {
    let addr = addr.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    let bg = util::spawn(move |e: &mut Engine<Chunks>| {
        let result = e.listen::<Chunks>(addr.as_str());
        let shown = result.as_ref().map(|id| {
            e.server(*id)
                .and_then(|s| s.local_addr())
                .map(|a| a.to_string())
        });
        tx.send(
            shown
                .map(Option::unwrap_or_default)
                .map_err(|e| ToString::to_string(&e)),
        )
        .expect("send");
        None
    });
    let result = rx.recv_timeout(TIMEOUT).expect("listen result");
    bg.stop();
    result.map_err(|message| pants::Error::Address {
        input: String::new(),
        reason: message,
    })
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_one_is_not_stolen() {
    let dir = TempDir::new("stale");
    let path = dir.path("s.sock");
    // A socket file nobody listens on: what a killed server leaves.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(path.exists());
    let shown = try_listen(path.to_str().expect("utf-8")).expect("a stale file is replaced");
    assert_eq!(shown, path.display().to_string());
    assert!(!path.exists(), "the file is removed when the engine goes");

    // A live listener owns the path: listening there is an error.
    let live = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let err = try_listen(path.to_str().expect("utf-8")).expect_err("in use");
    let message = err.to_string();
    assert!(
        message.contains("s.sock") && message.contains("listening"),
        "{message}"
    );
    assert!(path.exists(), "the live server keeps its file");
    UnixStream::connect(&path).expect("the live server still answers");
    drop(live);
}

#[test]
fn unix_listen_errors_name_the_path() {
    let dir = TempDir::new("errors");
    let missing = dir.path("no/such/dir/s.sock");
    let long = dir.path(&"x".repeat(200));
    let file = dir.path("plain");
    std::fs::write(&file, b"not a socket").expect("write");
    for (path, words) in [
        (&missing, "No such file"),
        (&long, "shorter"),
        (&file, "not a socket"),
    ] {
        let err = try_listen(path.to_str().expect("utf-8")).expect_err("must fail");
        let message = err.to_string();
        assert!(
            message.contains(path.file_name().and_then(|n| n.to_str()).expect("name"))
                && message.contains(words),
            "{}: {message}",
            path.display()
        );
    }
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"not a socket",
        "left alone"
    );
}

#[test]
fn server_close_removes_the_socket_file() {
    let dir = TempDir::new("close");
    let path = dir.path("s.sock");
    let listen = path.clone();
    let bg = util::spawn(move |e: &mut Engine<Chunks>| {
        Some(e.listen::<Chunks>(listen.as_path()).expect("listen"))
    });
    assert!(path.exists());
    let id = bg.server_id();
    bg.call(move |e| e.server(id).expect("server").close());
    assert!(!path.exists(), "closing the server removes its file");
    bg.stop();
}

// ---------------------------------------------------------------- credentials, addresses

#[derive(Default)]
struct WhoAmI;

#[channel]
impl WhoAmI {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        let line = match s.peer_credentials() {
            Ok(c) => format!(
                "pid={} uid={} gid={} peer={}\n",
                c.pid,
                c.uid,
                c.gid,
                s.remote_addr()
            ),
            Err(e) => format!("error {e}\n"),
        };
        s.write(line.as_bytes());
        s.close();
    }
}

#[test]
fn peer_credentials_on_a_unix_stream() {
    let dir = TempDir::new("cred");
    let path = dir.path("s.sock");
    let listen = path.clone();
    let bg = util::spawn(move |e: &mut Engine<WhoAmI>| {
        Some(e.listen::<WhoAmI>(listen.as_path()).expect("listen"))
    });
    let mut client = UnixStream::connect(&path).expect("connect");
    client.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut got = String::new();
    std::io::Read::read_to_string(&mut client, &mut got).expect("read");
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("uid");
    assert_eq!(
        got,
        format!(
            "pid={} uid={uid} gid={} peer=unix:(unnamed)\n",
            std::process::id(),
            std::os::unix::fs::MetadataExt::gid(&std::fs::metadata("/proc/self").expect("gid"))
        ),
    );
    bg.stop();

    // Over TCP there are no credentials: a clear error.
    let bg = util::serve::<WhoAmI>();
    let mut tcp = util::connect(bg.addr());
    let got = util::read_to_eof(&mut tcp);
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("error ") && got.contains("Unix"), "{got}");
}

// ---------------------------------------------------------------- clients

#[derive(Default)]
struct Fetch {
    got: Vec<u8>,
    error: Option<String>,
}

#[channel]
impl Fetch {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write(b"ping");
        s.shutdown_write();
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
        self.got.extend_from_slice(data);
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.error = Some(error.to_string());
    }
}

#[test]
fn a_client_connects_to_a_unix_path_and_an_abstract_name() {
    let dir = TempDir::new("client");
    let path = dir.path("echo.sock");
    let name = format!("@pants-client-{}", std::process::id());
    for target in [path.display().to_string(), name] {
        let listen = target.clone();
        let bg = util::spawn(move |e: &mut Engine<Chunks>| {
            Some(e.listen::<Chunks>(listen.as_str()).expect("listen"))
        });
        let mut engine = Engine::<Fetch>::new().expect("engine");
        let id = engine
            .connect(target.as_str(), Fetch::default())
            .expect("connect");
        let fetch: Fetch = engine.run_until_closed(id).expect("closed");
        assert_eq!(fetch.got, b"ping", "{target}");
        assert_eq!(fetch.error, None);
        bg.stop();
    }
    // Nobody there: on_connect_error names the path.
    let mut engine = Engine::<Fetch>::new().expect("engine");
    let missing = dir.path("nobody.sock");
    let id = engine
        .connect(missing.as_path(), Fetch::default())
        .expect("connect");
    let fetch: Fetch = engine.run_until_closed(id).expect("closed");
    let error = fetch.error.expect("a connect error");
    assert!(error.contains("nobody.sock"), "{error}");
}

// ---------------------------------------------------------------- the example

#[test]
fn unix_echo_example() {
    let dir = TempDir::new("example");
    let path = dir.path("echo.sock");
    let server = ExampleServer::start("unix_echo", path.to_str().expect("utf-8"));
    assert_eq!(
        server.shown,
        path.display().to_string(),
        "listening on PATH"
    );
    let mut client = UnixStream::connect(&path).expect("connect");
    client.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    std::io::Write::write_all(&mut client, b"hello over unix").expect("write");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut client, &mut got).expect("read");
    assert_eq!(got, b"hello over unix");

    // A second server on the same path: a clear error, exit 1.
    let busy = std::process::Command::new(util::example("unix_echo"))
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(busy.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("echo.sock"),
        "{stderr}"
    );

    server.signal("TERM");
    let (status, _) = server.wait(TIMEOUT);
    assert!(status.success(), "{status}");
    assert!(!path.exists(), "the socket file is removed at shutdown");
}

// ---------------------------------------------------------------- name resolution

/// A client that says `ping`, half-closes, and notes when it ends (gives
/// up connecting after 5 s: no test waits longer).
#[derive(Default)]
struct Timed {
    got: Vec<u8>,
    connected: Option<std::time::Instant>,
    closed: Option<std::time::Instant>,
    error: Option<String>,
}

#[channel(connect_timeout = "5s")]
impl Timed {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        self.connected = Some(std::time::Instant::now());
        s.write(b"ping");
        s.shutdown_write();
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
        self.got.extend_from_slice(data);
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.error = Some(error.to_string());
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.closed = Some(std::time::Instant::now());
    }
}

#[test]
fn a_slow_resolution_holds_no_other_stream_up_and_every_address_is_tried() {
    let good = util::serve::<Chunks>();
    let good_addr = good.addr();
    let refused = util::closed_port();
    let refused_addr = refused.addr;
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut engine = Engine::<Timed>::new().expect("engine");
    let log = std::sync::Arc::clone(&asked);
    engine.set_resolver(move |host, port| {
        log.lock().expect("log").push(format!("{host}:{port}"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        match host {
            // The first address refuses, the second answers.
            "slow.test" => Ok(vec![refused_addr, good_addr]),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host",
            )),
        }
    });
    let started = std::time::Instant::now();
    let slow = engine
        .connect("slow.test:7", Timed::default())
        .expect("connect");
    let missing = engine
        .connect("nowhere.test:7", Timed::default())
        .expect("connect");
    let direct = engine
        .connect(good_addr, Timed::default())
        .expect("connect");
    for id in [slow, missing, direct] {
        engine.keep_when_closed(id);
    }
    let direct: Timed = engine.run_until_closed(direct).expect("closed");
    let slow: Timed = engine.run_until_closed(slow).expect("closed");
    let missing: Timed = engine.run_until_closed(missing).expect("closed");

    assert_eq!(direct.got, b"ping");
    let direct_done = direct.closed.expect("closed") - started;
    assert!(
        direct_done < std::time::Duration::from_millis(300),
        "the IP literal waited for the resolver: {direct_done:?}"
    );
    assert_eq!(
        slow.got, b"ping",
        "connected to the second address: {:?}",
        slow.error
    );
    assert!(slow.connected.expect("connected") - started >= std::time::Duration::from_millis(300));
    let error = missing.error.expect("a connect error");
    assert!(
        error.contains("nowhere.test") && error.contains("no such host"),
        "{error}"
    );
    let mut asked = asked.lock().expect("log").clone();
    asked.sort();
    assert_eq!(
        asked,
        ["nowhere.test:7", "slow.test:7"],
        "IP literals skip the resolver"
    );
    good.stop();
}

// ---------------------------------------------------------------- write_file

/// The files the `Sender` channel sends: 10 MiB of a pattern, and 1 byte.
fn test_files() -> &'static (PathBuf, PathBuf, Vec<u8>) {
    static FILES: std::sync::OnceLock<(PathBuf, PathBuf, Vec<u8>)> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pants-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let big: Vec<u8> = (0..10u32 << 20).map(|i| (i % 251) as u8).collect();
        let (a, b) = (dir.join("big"), dir.join("one"));
        std::fs::write(&a, &big).expect("write");
        std::fs::write(&b, b"!").expect("write");
        (a, b, big)
    })
}

#[derive(Default)]
struct Sender;

#[channel]
impl Sender {
    #[on_connect]
    fn send(&mut self, s: &mut Stream<Self>) {
        let (big, one, _) = test_files();
        let big = std::fs::File::open(big).expect("open");
        let one = std::fs::File::open(one).expect("open");
        s.write(b"<");
        s.write_file(&big, 0, None).expect("whole file");
        s.write(b"|");
        s.write_file(&big, 1000, Some(5000))
            .expect("a middle range");
        s.write(b"|");
        s.write_file(&big, 7, Some(0)).expect("an empty range");
        s.write_file(&one, 0, None).expect("one byte");
        s.write(b">");
        s.close();
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[test]
fn write_file_in_order_with_writes_over_tcp_and_unix() {
    let (_, _, big) = test_files();
    let mut want = b"<".to_vec();
    want.extend_from_slice(big);
    want.push(b'|');
    want.extend_from_slice(&big[1000..6000]);
    want.extend_from_slice(b"|!>");
    let dir = TempDir::new("sendfile");
    let path = dir.path("s.sock");
    for listen in ["127.0.0.1:0".to_owned(), path.display().to_string()] {
        let bg = util::spawn(move |e: &mut Engine<Sender>| {
            Some(e.listen::<Sender>(listen.as_str()).expect("listen"))
        });
        let got = match bg.local() {
            Addr::Ip(addr) => util::read_to_eof(&mut util::connect(addr)),
            other => {
                let mut s = UnixStream::connect(other.to_string()).expect("connect");
                s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
                let mut got = Vec::new();
                std::io::Read::read_to_end(&mut s, &mut got).expect("read");
                got
            }
        };
        assert_eq!(got.len(), want.len(), "over {}", bg.local());
        assert!(got == want, "bytes differ over {}", bg.local());
        bg.stop();
    }
}

/// Sends a range longer than its file.
#[derive(Default)]
struct Short;

#[channel]
impl Short {
    #[on_connect]
    fn send(&mut self, s: &mut Stream<Self>) {
        let one = std::fs::File::open(&test_files().1).expect("open");
        s.write_file(&one, 0, Some(100)).expect("queued");
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        let reason = s
            .close_reason()
            .map(ToString::to_string)
            .unwrap_or_default();
        SHORT_REASON.lock().expect("lock").push(reason);
    }
}

static SHORT_REASON: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[test]
fn write_file_of_a_file_shorter_than_its_range_closes_with_an_error() {
    let bg = util::serve::<Short>();
    let mut client = util::connect(bg.addr());
    let got = util::read_until_closed(&mut client);
    assert_eq!(got, b"!", "the bytes the file had");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while SHORT_REASON.lock().expect("lock").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no on_close");
        std::thread::yield_now();
    }
    let reason = SHORT_REASON.lock().expect("lock")[0].clone();
    assert!(reason.contains("ended before the range"), "{reason}");
    bg.stop();
}

/// Sends `file` (its whole length when the stream opens) and reports how
/// the stream closed.
struct FileSender {
    path: PathBuf,
    range: Option<(u64, u64)>,
    events: util::Tx,
}

#[channel]
impl FileSender {
    #[on_connect]
    fn send(&mut self, s: &mut Stream<Self>) {
        let file = std::fs::File::open(&self.path).expect("open");
        let (offset, len) = self.range.map_or((0, None), |(at, n)| (at, Some(n)));
        s.write_file(&file, offset, len).expect("queued");
        s.write(b"end");
        s.close();
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        let reason = s.close_reason().map(ToString::to_string);
        self.events.send(reason.unwrap_or_default());
    }
}

/// Serves `FileSender`s of `path` over `over`.
fn file_server(
    over: util::Over,
    path: PathBuf,
    range: Option<(u64, u64)>,
) -> (util::Bg<FileSender>, util::Place, util::Rx) {
    let (tx, rx) = util::events();
    let place = over.place();
    let listen = place.addr.clone();
    let bg = util::spawn(move |e: &mut Engine<FileSender>| {
        Some(
            e.listen_with(listen.as_str(), move |_| {
                Some(FileSender {
                    path: path.clone(),
                    range,
                    events: tx.clone(),
                })
            })
            .expect("listen"),
        )
    });
    (bg, place, rx)
}

#[test]
fn a_file_truncated_while_being_sent_closes_the_stream_with_an_error() {
    use std::io::Read;
    const SIZE: usize = 64 << 20;
    const FIRST: usize = 1 << 20;
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 253) as u8).collect();
    for over in util::Over::ALL {
        let dir = TempDir::new("truncated");
        let path = dir.path("big");
        std::fs::write(&path, &data).expect("write");
        let (bg, _place, rx) = file_server(over, path.clone(), None);
        let mut c = util::connect_to(&bg.local());
        // The server is mid-file (64 MiB is far more than the kernel
        // buffers) when the file is cut to nothing.
        let mut got = util::read_n(&mut c, FIRST);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("over {over:?}, after {} bytes: {e}", got.len()),
            }
        }
        assert!(
            got.len() < SIZE,
            "over {over:?}: the whole file arrived after it was truncated"
        );
        assert!(
            got == data[..got.len()],
            "over {over:?}: the bytes sent before the cut differ"
        );
        let reason = rx.next();
        assert!(
            reason.contains("ended before the range"),
            "over {over:?}: {reason}"
        );
        bg.stop();
    }
}

#[test]
fn write_file_reads_and_writes_a_file_sendfile_refuses() {
    // Linux's sendfile cannot read most of /proc (EINVAL); this process's
    // environment is such a file, and stays the same while the test runs.
    let environ = std::fs::read("/proc/self/environ").expect("read /proc/self/environ");
    assert!(environ.len() > 20, "an environment to send");
    let len = environ.len() as u64;
    for over in util::Over::ALL {
        for (at, n) in [(0, len), (5, len - 10)] {
            let path = PathBuf::from("/proc/self/environ");
            let (bg, _place, rx) = file_server(over, path, Some((at, n)));
            let mut c = util::connect_to(&bg.local());
            let got = util::read_to_eof(&mut c);
            let (at, n) = (at as usize, n as usize);
            let mut want = environ[at..at + n].to_vec();
            want.extend_from_slice(b"end");
            assert!(got == want, "over {over:?}, range {at}+{n}: bytes differ");
            assert_eq!(rx.next(), "closed locally", "over {over:?}");
            bg.stop();
        }
    }
}

#[test]
fn happy_eyeballs_races_the_next_address_when_the_first_hangs() {
    // The first address never answers (its SYNs are dropped); the second
    // accepts. Tried in turn, the connect would wait for the first forever;
    // raced, the second starts 250 ms later and wins.
    let (_hole, hole_addr) = crate::timeouts::black_hole();
    let good = util::serve::<Chunks>();
    let good_addr = good.addr();
    let mut engine = Engine::<Timed>::new().expect("engine");
    engine.set_resolver(move |_, _| Ok(vec![hole_addr, good_addr]));
    let started = std::time::Instant::now();
    let id = engine
        .connect("dual.test:7", Timed::default())
        .expect("connect");
    let done: Timed = engine.run_until_closed(id).expect("the stream's value");
    assert_eq!(done.got, b"ping", "error: {:?}", done.error);
    let waited = done.connected.expect("connected") - started;
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "connected after {waited:?}: the second address started before the race delay"
    );
    good.stop();
}
