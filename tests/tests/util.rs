//! Shared helpers: engines on background threads, blocking loopback clients
//! with bounded waits, recorded events, child processes killed on drop, and a
//! few protocols several modules use.
//!
//! Every wait here is bounded by [`TIMEOUT`]: a read that gets nothing, an
//! engine that does not stop, a process that does not exit all fail the test
//! with a message instead of hanging it. Nothing sleeps to wait for an event.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pants::prelude::*;
use pants::{Channel, Handle, ServerId};

/// The longest any single wait may take before the test fails.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// State shared between a single-threaded test and the channels it drives.
pub(crate) type Shared<T> = Rc<RefCell<T>>;

/// Bytes as readable text, with `\r\n` and friends escaped.
pub(crate) fn show(data: &[u8]) -> String {
    data.escape_ascii().to_string()
}

// ---------------------------------------------------------------------------
// Protocols used by several modules.

/// Writes back every byte that arrives.
#[derive(Default)]
pub(crate) struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

/// Writes back each `\r\n`-terminated line in brackets: `a\r\n` -> `[a]`.
#[derive(Default)]
pub(crate) struct Lines;

#[channel]
impl Lines {
    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        bracket(s, line);
    }
}

/// Writes `[frame]`.
pub(crate) fn bracket<C: Channel>(s: &mut Stream<'_, C>, frame: &[u8]) {
    s.write_all(&[b"[", frame, b"]"]);
}

// ---------------------------------------------------------------------------
// Engines on a background thread.

/// An engine running on its own thread (engines are not `Send`, so it is built
/// there); stopped and joined on drop, within [`TIMEOUT`].
pub(crate) struct Bg<A: App> {
    pub(crate) handle: Handle<A>,
    server: Option<(ServerId, Addr)>,
    done: Receiver<pants::Result<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Builds an engine on a new thread with `setup` (which may listen: return
/// the server's id), then runs it until stopped.
#[track_caller]
pub(crate) fn spawn<A, F>(setup: F) -> Bg<A>
where
    A: App,
    F: FnOnce(&mut Engine<A>) -> Option<ServerId> + Send + 'static,
{
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let mut engine = Engine::<A>::new().expect("Engine::new");
            let server = setup(&mut engine).map(|id| {
                let addr = engine
                    .server(id)
                    .expect("the server just listened")
                    .local_addr()
                    .expect("a listening server has an address");
                (id, addr)
            });
            if ready_tx.send((server, engine.handle())).is_ok() {
                let _ = done_tx.send(engine.start());
            }
        })
        .expect("spawn the engine thread");
    match ready_rx.recv_timeout(TIMEOUT) {
        Ok((server, handle)) => Bg {
            handle,
            server,
            done: done_rx,
            thread: Some(thread),
        },
        // The setup panicked: show its panic.
        Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => resume_unwind(panic),
            Ok(()) => panic!("the engine thread ended without reporting"),
        },
        Err(RecvTimeoutError::Timeout) => panic!("engine setup took more than {TIMEOUT:?}"),
    }
}

/// An engine serving `C::default()` channels on `127.0.0.1:0`.
#[track_caller]
pub(crate) fn serve<C>() -> Bg<C>
where
    C: Channel<App = C> + App + Default,
{
    spawn(|e: &mut Engine<C>| Some(e.listen::<C>("127.0.0.1:0").expect("listen")))
}

/// An engine serving `C::default()` channels over `over`; keep the
/// [`Place`] as long as the server.
#[track_caller]
pub(crate) fn serve_over<C>(over: Over) -> (Bg<C>, Place)
where
    C: Channel<App = C> + App + Default,
{
    let place = over.place();
    let addr = place.addr.clone();
    let bg = spawn(move |e: &mut Engine<C>| Some(e.listen::<C>(addr.as_str()).expect("listen")));
    (bg, place)
}

/// An engine serving channels made by `make` on `127.0.0.1:0`.
#[track_caller]
pub(crate) fn serve_with<C, F>(mut make: F) -> Bg<C>
where
    C: Channel<App = C> + App,
    F: FnMut(SocketAddr) -> Option<C> + Send + 'static,
{
    spawn(move |e: &mut Engine<C>| {
        Some(
            e.listen_with("127.0.0.1:0", move |peer: &Addr| {
                make(peer.as_ip().expect("an IP peer"))
            })
            .expect("listen"),
        )
    })
}

impl<A: App> Bg<A> {
    /// The listening address.
    #[track_caller]
    pub(crate) fn addr(&self) -> SocketAddr {
        self.local().as_ip().expect("this engine listens on IP")
    }

    /// The listening address (IP or Unix).
    #[track_caller]
    pub(crate) fn local(&self) -> Addr {
        self.server.as_ref().expect("this engine listens").1.clone()
    }

    /// The listening server's id.
    #[track_caller]
    pub(crate) fn server_id(&self) -> ServerId {
        self.server.as_ref().expect("this engine listens").0
    }

    /// Runs `f` on the engine's thread and returns its result.
    #[track_caller]
    pub(crate) fn call<R, F>(&self, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&mut Engine<A>) -> R + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        self.handle.call(move |e| {
            let _ = tx.send(f(e));
        });
        rx.recv_timeout(TIMEOUT)
            .expect("the engine did not run a call sent through its Handle")
    }

    /// Stops the engine and checks that it stopped cleanly.
    #[track_caller]
    pub(crate) fn stop(self) {
        self.handle.stop();
        self.join().expect("engine.start() failed");
    }

    /// Waits for the engine to stop by itself (no `stop` is sent).
    #[track_caller]
    pub(crate) fn join(mut self) -> pants::Result<()> {
        let thread = self.thread.take().expect("joined once");
        match self.done.recv_timeout(TIMEOUT) {
            Ok(result) => {
                let _ = thread.join();
                result
            }
            Err(RecvTimeoutError::Disconnected) => match thread.join() {
                Err(panic) => resume_unwind(panic),
                Ok(()) => panic!("the engine thread ended without reporting"),
            },
            Err(RecvTimeoutError::Timeout) => panic!("the engine did not stop within {TIMEOUT:?}"),
        }
    }
}

impl<A: App> Drop for Bg<A> {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.stop();
        let outcome = self.done.recv_timeout(TIMEOUT);
        if thread::panicking() {
            return;
        }
        match outcome {
            Ok(result) => {
                let _ = thread.join();
                result.expect("engine.start() failed");
            }
            Err(RecvTimeoutError::Disconnected) => {
                if let Err(panic) = thread.join() {
                    resume_unwind(panic);
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!("the engine did not stop within {TIMEOUT:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Single-threaded driving: the engine runs on the test thread.

/// Polls `engine` until `done` holds; fails after [`TIMEOUT`].
#[track_caller]
pub(crate) fn pump<A: App>(engine: &mut Engine<A>, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        engine
            .poll(Some(Duration::from_millis(20)))
            .expect("engine.poll");
    }
}

/// [`pump`] with a condition on the engine itself (`stream_count`,
/// `is_stopping`, ...).
#[track_caller]
pub(crate) fn pump_engine<A: App>(
    engine: &mut Engine<A>,
    what: &str,
    mut done: impl FnMut(&mut Engine<A>) -> bool,
) {
    let deadline = Instant::now() + TIMEOUT;
    while !done(engine) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        engine
            .poll(Some(Duration::from_millis(20)))
            .expect("engine.poll");
    }
}

/// The address of a freshly bound server.
#[track_caller]
pub(crate) fn server_addr<A: App>(engine: &mut Engine<A>, id: ServerId) -> SocketAddr {
    engine
        .server(id)
        .expect("server is listening")
        .local_addr()
        .and_then(|a| a.as_ip())
        .expect("server has an IP address")
}

// ---------------------------------------------------------------------------
// Events recorded by channels, checked by the test.

/// The sending side, kept in channel values (`Send`, cheap to clone).
#[derive(Clone)]
pub(crate) struct Tx(Sender<String>);

impl Tx {
    pub(crate) fn send(&self, event: impl Into<String>) {
        let _ = self.0.send(event.into());
    }
}

/// The test's side.
pub(crate) struct Rx(Receiver<String>);

pub(crate) fn events() -> (Tx, Rx) {
    let (tx, rx) = mpsc::channel();
    (Tx(tx), Rx(rx))
}

impl Rx {
    /// The next event, within [`TIMEOUT`].
    #[track_caller]
    pub(crate) fn next(&self) -> String {
        self.0
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no event within {TIMEOUT:?}: {e}"))
    }

    /// Asserts the next event.
    #[track_caller]
    pub(crate) fn expect(&self, want: &str) {
        assert_eq!(self.next(), want, "unexpected event");
    }

    /// Everything recorded and not yet taken (call once the engine stopped).
    pub(crate) fn rest(&self) -> Vec<String> {
        self.0.try_iter().collect()
    }
}

// ---------------------------------------------------------------------------
// Blocking clients, every read bounded by TIMEOUT.

fn configure(s: &TcpStream) {
    s.set_read_timeout(Some(TIMEOUT)).expect("set_read_timeout");
    s.set_write_timeout(Some(TIMEOUT))
        .expect("set_write_timeout");
    s.set_nodelay(true).expect("set_nodelay");
}

/// Connects a client with read and write timeouts.
#[track_caller]
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, TIMEOUT)
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    configure(&s);
    s
}

/// Accepts one connection on a std listener, within [`TIMEOUT`].
#[track_caller]
pub(crate) fn accept(listener: &TcpListener) -> TcpStream {
    let listener = listener.try_clone().expect("clone listener");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(listener.accept());
    });
    let (s, _) = rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("no connection arrived within {TIMEOUT:?}"))
        .expect("accept");
    configure(&s);
    s
}

/// Asserts that the server that was at `addr` stopped listening. It must be
/// one that writes something on connect, which is how a live one is told
/// apart from a transient holder: a child process that another test is
/// spawning holds copies of this process's descriptors between its `fork`
/// and its `exec` (close-on-exec or not), so a closed listener can still
/// complete a handshake for a moment; that connection is reset at the
/// child's `exec` without a byte, and the check tries again.
#[track_caller]
pub(crate) fn assert_refused(addr: SocketAddr) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut s = match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            Err(e) => panic!("connect to {addr}: {e}"),
            Ok(s) => s,
        };
        configure(&s);
        let mut byte = [0u8];
        match s.read(&mut byte) {
            Ok(1) => panic!("{addr} is still served"),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => panic!("{addr} accepted a connection and then: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "{addr} kept accepting connections"
        );
    }
}

/// A loopback port where nothing listens, reserved while this lives.
///
/// A port merely bound and released could be taken at once by a listener of
/// a test running in parallel. This one is the local port of a connected
/// client socket: nobody can bind it, and connecting to it is refused.
pub(crate) struct ClosedPort {
    pub(crate) addr: SocketAddr,
    _hold: (TcpListener, TcpStream, TcpStream),
}

pub(crate) fn closed_port() -> ClosedPort {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = connect(listener.local_addr().expect("local_addr"));
    let server = accept(&listener);
    ClosedPort {
        addr: client.local_addr().expect("local_addr"),
        _hold: (listener, client, server),
    }
}

/// `127.0.0.N` when this host routes all of 127/8 to loopback (Linux does),
/// else `127.0.0.1`. Tests that check a port stops listening use their own
/// address, so a parallel test's listener cannot take the freed port.
pub(crate) fn own_loopback(n: u8) -> String {
    let ip = format!("127.0.0.{n}");
    match TcpListener::bind((ip.as_str(), 0)) {
        Ok(_) => ip,
        Err(_) => "127.0.0.1".to_owned(),
    }
}

// ---------------------------------------------------------------------------
// The same test over TCP and over a Unix socket.

/// The stream transports a test runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Over {
    Tcp,
    Unix,
}

impl Over {
    /// Every stream transport.
    pub(crate) const ALL: [Self; 2] = [Self::Tcp, Self::Unix];

    /// A fresh address to listen on: `127.0.0.1:0`, or a socket path in a
    /// new directory that lives as long as the returned [`Place`].
    pub(crate) fn place(self) -> Place {
        match self {
            Self::Tcp => Place {
                addr: "127.0.0.1:0".to_owned(),
                _dir: None,
            },
            Self::Unix => {
                let dir = TempDir::new("over");
                Place {
                    addr: dir.path("s.sock").display().to_string(),
                    _dir: Some(dir),
                }
            }
        }
    }
}

/// An address to listen on, and the directory that holds it (if a path).
pub(crate) struct Place {
    pub(crate) addr: String,
    _dir: Option<TempDir>,
}

/// A fresh directory under the system's temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pants-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A blocking client over TCP or a Unix socket, with the same timeouts as
/// [`connect`].
pub(crate) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Connects to a pants listener's address, IP or Unix.
#[track_caller]
pub(crate) fn connect_to(addr: &Addr) -> Conn {
    if let Some(ip) = addr.as_ip() {
        return Conn::Tcp(connect(ip));
    }
    let s = match addr.as_unix() {
        Some(pants::UnixAddr::Abstract(name)) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)
                .and_then(|a| UnixStream::connect_addr(&a))
        }
        _ => UnixStream::connect(addr.to_string()),
    }
    .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    s.set_read_timeout(Some(TIMEOUT)).expect("set_read_timeout");
    s.set_write_timeout(Some(TIMEOUT))
        .expect("set_write_timeout");
    Conn::Unix(s)
}

impl Conn {
    pub(crate) fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(how),
            Self::Unix(s) => s.shutdown(how),
        }
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_nonblocking(on),
            Self::Unix(s) => s.set_nonblocking(on),
        }
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(t),
            Self::Unix(s) => s.set_write_timeout(t),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Asserts that nothing serves `addr` any more: a TCP port refuses (see
/// [`assert_refused`]), a socket path is gone or refuses.
#[track_caller]
pub(crate) fn assert_not_served(addr: &Addr) {
    if let Some(ip) = addr.as_ip() {
        return assert_refused(ip);
    }
    let path = addr.to_string();
    match UnixStream::connect(&path) {
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {}
        Err(e) => panic!("connect to {path}: {e}"),
        Ok(_) => panic!("{path} is still served"),
    }
}

#[track_caller]
pub(crate) fn send(s: &mut impl Write, data: &[u8]) {
    s.write_all(data)
        .unwrap_or_else(|e| panic!("writing {:?}: {e}", show(data)));
}

/// Reads exactly `n` bytes.
#[track_caller]
pub(crate) fn read_n(s: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        match s.read(&mut buf[got..]) {
            Ok(0) => panic!(
                "the peer closed after {got} of {n} bytes: {:?}",
                show(&buf[..got])
            ),
            Ok(k) => got += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "reading {n} bytes, got {got} ({:?}): {e}",
                show(&buf[..got])
            ),
        }
    }
    buf
}

/// Reads `want.len()` bytes and asserts they are `want`.
#[track_caller]
pub(crate) fn expect_bytes(s: &mut impl Read, want: &[u8]) {
    let got = read_n(s, want.len());
    assert_eq!(show(&got), show(want), "unexpected bytes from the peer");
}

/// Reads one line, up to and including `\r\n`.
#[track_caller]
pub(crate) fn read_line(s: &mut impl Read) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while !line.ends_with(b"\r\n") {
        match s.read(&mut byte) {
            Ok(0) => panic!("the peer closed in a line: {:?}", show(&line)),
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading a line (got {:?}): {e}", show(&line)),
        }
    }
    line
}

/// Reads until the peer closes (a reset is an error).
#[track_caller]
pub(crate) fn read_to_eof(s: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "waiting for EOF (got {} bytes: {:?}): {e}",
                all.len(),
                show(&all[..all.len().min(200)])
            ),
        }
    }
}

/// Asserts that the peer closes without sending anything more.
#[track_caller]
pub(crate) fn expect_eof(s: &mut impl Read) {
    let rest = read_to_eof(s);
    assert!(rest.is_empty(), "expected EOF, got {:?}", show(&rest));
}

/// Reads until the peer closes, by EOF or by reset (a socket closed with
/// unread input resets); returns what came before.
#[track_caller]
pub(crate) fn read_until_closed(s: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return all;
            }
            Err(e) => panic!("waiting for the peer to close (got {:?}): {e}", show(&all)),
        }
    }
}

// ---------------------------------------------------------------------------
// Child processes.

/// A child process, killed (and reaped) on drop.
pub(crate) struct ChildGuard(pub(crate) Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process left.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

/// Reads a pipe to its end on a thread; the bytes arrive on the receiver.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut all = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut all);
        }
        let _ = tx.send(all);
    });
    rx
}

/// Waits for a child (stdout and stderr piped) to exit, within `limit`;
/// killed if it does not.
#[track_caller]
pub(crate) fn finish(mut child: ChildGuard, what: &str, limit: Duration) -> Finished {
    drop(child.0.stdin.take());
    let stdout = drain(child.0.stdout.take());
    let stderr = drain(child.0.stderr.take());
    let deadline = Instant::now() + limit;
    let take = |rx: &Receiver<Vec<u8>>| {
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
    };
    let stdout = take(&stdout);
    let stderr = String::from_utf8_lossy(&take(&stderr)).into_owned();
    let status = child.0.wait().expect("wait for the child");
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// Runs a Python 3 script (`python3 -c SCRIPT ARGS...`); returns its stdout.
#[track_caller]
pub(crate) fn python(script: &str, args: &[String]) -> Vec<u8> {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 (is Python 3 installed?): {e}"));
    let done = finish(ChildGuard(child), "the python client", TIMEOUT * 2);
    assert!(
        done.status.success(),
        "the python client failed ({}):\n{}",
        done.status,
        done.stderr
    );
    done.stdout
}

/// The Python prelude of every client script: `HOST PORT` arguments,
/// `connect()` and `recv_exact()` with timeouts.
pub(crate) const PY_PRELUDE: &str = r#"
import socket, sys
HOST, PORT = sys.argv[1], int(sys.argv[2])
def connect():
    return socket.create_connection((HOST, PORT), timeout=5)
def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("server closed after %r, expected %d bytes" % (data, n))
        data += chunk
    return data
def out(data):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
"#;

/// `[host, port]` for a Python client.
pub(crate) fn py_args(addr: SocketAddr) -> Vec<String> {
    vec![addr.ip().to_string(), addr.port().to_string()]
}

// ---------------------------------------------------------------------------
// The example binaries.

/// `<target>/<profile>`: the test binary is `<target>/<profile>/deps/<name>`;
/// otherwise `$CARGO_TARGET_DIR` or the workspace's `target`, profile `debug`.
fn profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name() == Some(OsStr::new("deps"))
        && let Some(profile) = deps.parent()
    {
        return profile.to_path_buf();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("debug")
}

/// Builds the examples once per test run (`cargo test -p pants-tests` does
/// not build another package's examples; this is a no-op when they are fresh).
fn build_examples() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "pants-examples", "--examples"])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let profile = profile_dir();
    if profile.file_name() == Some(OsStr::new("release")) {
        cmd.arg("--release");
    }
    // Build where this test binary was built (`--target-dir` included).
    if let Some(target) = profile.parent()
        && target.join("CACHEDIR.TAG").is_file()
    {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let child = cmd.spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
    let done = finish(
        ChildGuard(child),
        "cargo build --examples",
        Duration::from_mins(5),
    );
    if done.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo build failed ({}):\n{}",
            done.status, done.stderr
        ))
    }
}

/// The path of an example binary, built if needed.
#[track_caller]
pub(crate) fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(build_examples);
    let path = profile_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "example binary {} is missing (building the examples: {built:?}); \
         run `cargo build -p pants-examples --examples`",
        path.display()
    );
    if let Err(e) = built {
        eprintln!("warning: using existing example binaries: {e}");
    }
    path
}

/// A server example running as a child process; killed on drop.
pub(crate) struct ExampleServer {
    /// The IP address it listens on (unspecified for a Unix socket).
    pub(crate) addr: SocketAddr,
    /// What it printed after `listening on `.
    pub(crate) shown: String,
    child: ChildGuard,
    /// Its stderr, line by line, as it is written.
    stderr: Receiver<String>,
}

impl ExampleServer {
    /// Starts `name LISTEN` and waits for its `listening on ADDR` line.
    #[track_caller]
    pub(crate) fn start(name: &str, listen: &str) -> Self {
        let mut cmd = Command::new(example(name));
        cmd.arg(listen);
        Self::spawn(name, cmd)
    }

    /// Starts `cmd` (which runs the example `name`, maybe through a
    /// wrapper) and waits for its `listening on ADDR` line.
    #[track_caller]
    pub(crate) fn spawn(name: &str, mut cmd: Command) -> Self {
        let mut child = ChildGuard(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start example {name}: {e}")),
        );
        let stdout = child.0.stdout.take().expect("stdout is piped");
        let stderr = child.0.stderr.take().expect("stderr is piped");
        let (err_tx, err_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                if err_tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            // A test of this binary run as a server (`attack::child_server`)
            // first prints libtest's preamble: a blank line, `running 1 test`,
            // `test NAME ... `.
            let first = lines.find(|line| {
                !matches!(line, Ok(l) if l.is_empty() || l.starts_with("running ") || l.starts_with("test "))
            });
            let _ = tx.send(first);
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.0.kill();
                let deadline = Instant::now() + TIMEOUT;
                let mut err = Vec::new();
                while let Ok(line) =
                    err_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    err.push(line);
                }
                panic!(
                    "example {name} printed no address ({other:?}); stderr:\n{}",
                    err.join("\n")
                );
            }
        };
        let shown = line.strip_prefix("listening on ").map_or_else(
            || panic!("example {name}: unexpected first line {line:?}"),
            |a| a.trim().to_owned(),
        );
        let addr = shown.parse().unwrap_or_else(|_| {
            assert!(
                shown.starts_with(['/', '.', '@']) || !shown.contains(':'),
                "example {name}: not an address in {line:?}"
            );
            SocketAddr::from(([0, 0, 0, 0], 0))
        });
        Self {
            addr,
            shown,
            child,
            stderr: err_rx,
        }
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Sends `signal` (`TERM`, `INT`, ...) to the server with `kill`.
    #[track_caller]
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(status.success(), "kill -{signal} {}: {status}", self.pid());
    }

    /// The next line the server writes to stderr, if one comes within `wait`.
    pub(crate) fn try_stderr(&self, wait: Duration) -> Option<String> {
        self.stderr.recv_timeout(wait).ok()
    }

    /// Waits, within `limit`, for the server to exit; returns its status
    /// and the stderr lines [`try_stderr`](Self::try_stderr) did not take.
    #[track_caller]
    pub(crate) fn wait(mut self, limit: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        // stderr ends when the process exits.
        loop {
            match self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the server did not exit within {limit:?}; stderr: {lines:?}")
                }
            }
        }
        let status = self.child.0.wait().expect("wait for the server");
        (status, lines)
    }
}

// ---------------------------------------------------------------------------
// Additions for the TLS tests.

impl Rx {
    /// The next event if one comes within `wait`.
    pub(crate) fn try_next(&self, wait: Duration) -> Option<String> {
        self.0.recv_timeout(wait).ok()
    }
}

impl ExampleServer {
    /// Starts `name ARGS...` and waits for its `listening on ADDR` line.
    #[track_caller]
    pub(crate) fn start_args<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Self {
        let mut cmd = Command::new(example(name));
        cmd.args(args);
        Self::spawn(name, cmd)
    }
}
