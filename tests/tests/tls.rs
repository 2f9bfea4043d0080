//! TLS with real peers: Python 3's `ssl` module and `openssl s_client` /
//! `s_server` against pants TLS servers and clients, and pants against
//! pants. Certificates are made at test time with rcgen (a CA, server
//! certificates signed by it, an expired one, a self-signed one, a client
//! certificate), once per test process, and written to a temp dir per test.
//!
//! Channels report what happens to them as events tagged with the peer's
//! address (`127.0.0.1:PORT`, `unix:(unnamed)`) or `client`, so tests with
//! several connections at once can tell them apart; Python peers print
//! their own address for the same purpose.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pants::Channel;
use pants::prelude::*;
use pants::tls::{ClientAuth, ClientTls, ServerTls};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

use crate::util::{
    self, Bg, ChildGuard, ExampleServer, Over, Place, Rx, TIMEOUT, TempDir, Tx, connect, python,
    read_until_closed, send, show,
};

const OPENSSL: &str = "/usr/bin/openssl";

// ---------------------------------------------------------------------------
// Certificates.

/// PEM texts: (certificate, key) pairs and the CA's certificate.
struct Pems {
    ca: String,
    /// `localhost` and `127.0.0.1`, signed by the CA.
    server: (String, String),
    /// `other.test`, signed by the CA.
    other: (String, String),
    /// `localhost` and `127.0.0.1`, signed by the CA, expired in 2001.
    expired: (String, String),
    /// `localhost` and `127.0.0.1`, self-signed.
    self_signed: (String, String),
    /// A client certificate (no names), signed by the CA.
    client: (String, String),
    /// A client certificate, self-signed.
    stranger: (String, String),
}

fn named(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// A leaf certificate for `names`, signed by `issuer` (self-signed if none).
fn leaf(
    cn: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
    issuer: Option<&Issuer<'_, KeyPair>>,
) -> (String, String) {
    let key = KeyPair::generate().expect("generate a key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("certificate parameters");
    params.distinguished_name = named(cn);
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = issuer.is_some();
    if expired {
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2001, 1, 1);
    }
    let cert = match issuer {
        Some(ca) => params.signed_by(&key, ca),
        None => params.self_signed(&key),
    }
    .expect("sign a certificate");
    (cert.pem(), key.serialize_pem())
}

/// Made once per test process.
fn pems() -> &'static Pems {
    static PEMS: OnceLock<Pems> = OnceLock::new();
    PEMS.get_or_init(|| {
        let ca_key = KeyPair::generate().expect("generate the CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name = named("pants test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, ca_key).expect("the CA certificate");
        let local = ["localhost", "127.0.0.1"];
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        Pems {
            ca: ca.pem(),
            server: leaf("localhost", &local, server.clone(), false, Some(&ca)),
            other: leaf(
                "other.test",
                &["other.test"],
                server.clone(),
                false,
                Some(&ca),
            ),
            expired: leaf("localhost", &local, server.clone(), true, Some(&ca)),
            self_signed: leaf("localhost", &local, server, false, None),
            client: leaf(
                "pants test client",
                &[],
                ExtendedKeyUsagePurpose::ClientAuth,
                false,
                Some(&ca),
            ),
            stranger: leaf(
                "pants test stranger",
                &[],
                ExtendedKeyUsagePurpose::ClientAuth,
                false,
                None,
            ),
        }
    })
}

impl Pki {
    /// The server certificate's file.
    pub(crate) fn server_cert(&self) -> &Path {
        &self.server.cert
    }

    /// The server key's file.
    pub(crate) fn server_key(&self) -> &Path {
        &self.server.key
    }
}

/// Starts the `tls_echo` example on `127.0.0.1:0` with `pki`'s server
/// certificate.
#[track_caller]
pub(crate) fn start_tls_echo(pki: &Pki) -> ExampleServer {
    ExampleServer::start_args(
        "tls_echo",
        &[
            "127.0.0.1:0".as_ref(),
            pki.server.cert.as_os_str(),
            pki.server.key.as_os_str(),
        ],
    )
}

/// A certificate file and its key file.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

/// The certificates as files, in a directory removed with this.
pub(crate) struct Pki {
    dir: TempDir,
    pub(crate) ca: PathBuf,
    server: Pair,
    other: Pair,
    expired: Pair,
    self_signed: Pair,
    client: Pair,
    stranger: Pair,
}

pub(crate) fn pki() -> Pki {
    let pems = pems();
    let dir = TempDir::new("tls");
    let write = |name: &str, text: &str| {
        let path = dir.path(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    };
    let pair = |name: &str, (cert, key): &(String, String)| Pair {
        cert: write(&format!("{name}.pem"), cert),
        key: write(&format!("{name}-key.pem"), key),
    };
    Pki {
        ca: write("ca.pem", &pems.ca),
        server: pair("server", &pems.server),
        other: pair("other", &pems.other),
        expired: pair("expired", &pems.expired),
        self_signed: pair("self-signed", &pems.self_signed),
        client: pair("client", &pems.client),
        stranger: pair("stranger", &pems.stranger),
        dir,
    }
}

impl Pki {
    /// The server settings with the `localhost` certificate.
    pub(crate) fn server_tls(&self) -> ServerTls {
        ServerTls::from_pem_files(&self.server.cert, &self.server.key).expect("server TLS settings")
    }

    /// Client settings trusting the test CA only.
    fn client_tls(&self) -> ClientTls {
        ClientTls::from_ca_file(&self.ca).expect("client TLS settings")
    }
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

// ---------------------------------------------------------------------------
// Events.

/// What a TLS stream negotiated, as events show it.
fn summary<C: Channel>(s: &Stream<'_, C>) -> String {
    let alpn = s.alpn_protocol().map_or_else(
        || "-".to_owned(),
        |p| String::from_utf8_lossy(p).into_owned(),
    );
    let certs = s.peer_certificates().map_or(0, <[_]>::len);
    let version = s
        .tls_version()
        .map_or_else(|| "-".to_owned(), |v| format!("{v:?}"));
    format!(
        "sni={} alpn={alpn} certs={certs} version={version}",
        s.server_name().unwrap_or("-")
    )
}

/// A close reason as events record it: `PeerClosed`, `Truncated`, ...
fn reason<C: Channel>(s: &Stream<'_, C>) -> String {
    s.close_reason()
        .map_or_else(|| "open".to_owned(), |r| format!("{r:?}"))
}

/// Events tagged `TAG text`, taken per tag in order.
struct Log {
    rx: Rx,
    kept: VecDeque<String>,
}

impl Log {
    fn new(rx: Rx) -> Self {
        Self {
            rx,
            kept: VecDeque::new(),
        }
    }

    /// The next event of `tag` (its text), within [`TIMEOUT`].
    #[track_caller]
    fn next(&mut self, tag: &str) -> String {
        let of = |event: &str| {
            event
                .split_once(' ')
                .filter(|(t, _)| *t == tag)
                .map(|(_, rest)| rest.to_owned())
        };
        if let Some(i) = self.kept.iter().position(|e| of(e).is_some()) {
            let event = self.kept.remove(i).unwrap_or_default();
            return of(&event).unwrap_or(event);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(event) = self.rx.try_next(left) else {
                panic!(
                    "no event of {tag} within {TIMEOUT:?}; other events: {:?}",
                    self.kept
                );
            };
            if let Some(rest) = of(&event) {
                return rest;
            }
            self.kept.push_back(event);
        }
    }

    /// Asserts the next event of `tag`.
    #[track_caller]
    fn expect(&mut self, tag: &str, want: &str) {
        let got = self.next(tag);
        assert_eq!(got, want, "event of {tag}");
    }

    /// Asserts the next event of `tag` starts with `prefix`; returns it.
    #[track_caller]
    fn expect_start(&mut self, tag: &str, prefix: &str) -> String {
        let got = self.next(tag);
        assert!(
            got.starts_with(prefix),
            "event of {tag}: expected {prefix:?}..., got {got:?}"
        );
        got
    }

    /// The tag of the next event of a peer other than `client`: the first
    /// connection a server saw.
    #[track_caller]
    fn next_peer(&mut self) -> String {
        let peer = |e: &str| {
            e.split_once(' ')
                .map(|(t, _)| t.to_owned())
                .filter(|t| t != "client")
        };
        if let Some(tag) = self.kept.iter().find_map(|e| peer(e)) {
            return tag;
        }
        let event = self.rx.next();
        let tag = peer(&event);
        self.kept.push_back(event);
        tag.unwrap_or_else(|| self.next_peer())
    }

    /// Asserts that nothing else was recorded (call after the engines
    /// stopped).
    #[track_caller]
    fn assert_quiet(&mut self) {
        self.kept.extend(self.rx.rest());
        assert!(self.kept.is_empty(), "unexpected events: {:?}", self.kept);
    }
}

// ---------------------------------------------------------------------------
// Channels.

/// A TLS echo server's stream that reports its handshake, connect, failure
/// and close.
struct Probe {
    tx: Tx,
    tag: String,
}

#[channel]
impl Probe {
    #[on_handshake]
    fn secured(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("{} handshake {}", self.tag, summary(s)));
    }

    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("{} connect tls={}", self.tag, s.is_tls()));
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx
            .send(format!("{} handshake error: {error}", self.tag));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("{} close {}", self.tag, reason(s)));
    }
}

/// The same as a [`Probe`], with a 1 s handshake timeout declared on the
/// channel.
struct QuickProbe {
    tx: Tx,
    tag: String,
}

#[channel(handshake_timeout = "1s")]
impl QuickProbe {
    #[on_handshake]
    fn secured(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("{} handshake {}", self.tag, summary(s)));
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx
            .send(format!("{} handshake error: {error}", self.tag));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("{} close {}", self.tag, reason(s)));
    }
}

/// A line server: `[line]\r\n` for every line, `bye\r\n` and a close for
/// `BYE`, STARTTLS (when it has settings for it): `GO\r\n`, then TLS
/// (and `after`, to go over it).
struct Liner {
    tx: Tx,
    tag: String,
    starttls: Option<ServerTls>,
    /// Written right after `start_tls_server`, in the same handler.
    after: &'static [u8],
}

#[channel]
impl Liner {
    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("{} connect tls={}", self.tag, s.is_tls()));
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.tx.send(format!(
            "{} line {} tls={}",
            self.tag,
            show(line),
            s.is_tls()
        ));
        match (line, &self.starttls) {
            (b"BYE", _) => {
                s.write(b"bye\r\n");
                s.close();
            }
            (b"STARTTLS", Some(tls)) if s.is_tls() => {
                let e = s.start_tls_server(tls).expect_err("TLS is on already");
                s.write(format!("ERR {e}\r\n").as_bytes());
            }
            (b"STARTTLS", Some(tls)) => {
                // Plaintext, then the upgrade, from the same handler.
                s.write(b"GO\r\n");
                s.start_tls_server(tls).expect("start_tls_server");
                s.write(self.after);
                self.tx.send(format!("{} upgrading", self.tag));
            }
            _ => {
                s.write_all(&[b"[", line, b"]\r\n"]);
            }
        }
    }

    #[on_handshake]
    fn secured(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("{} handshake {}", self.tag, summary(s)));
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx
            .send(format!("{} handshake error: {error}", self.tag));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("{} close {}", self.tag, reason(s)));
    }
}

/// A client: writes `msg` once connected, closes when `want` bytes came
/// back; reports everything as `client ...`.
struct Pinger {
    tx: Tx,
    msg: Vec<u8>,
    got: Vec<u8>,
    /// How many bytes to wait for (`msg.len()` unless set).
    want: usize,
}

impl Pinger {
    fn new(tx: &Tx, msg: &[u8]) -> Self {
        Self {
            tx: tx.clone(),
            msg: msg.to_vec(),
            got: Vec::new(),
            want: msg.len(),
        }
    }
}

#[channel]
impl Pinger {
    #[on_handshake]
    fn secured(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client handshake {}", summary(s)));
    }

    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client connect tls={}", s.is_tls()));
        s.write(&self.msg);
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        self.got.extend_from_slice(data);
        if self.got.len() >= self.want {
            self.tx.send(format!("client got {}", show(&self.got)));
            s.close();
        }
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx.send(format!("client handshake error: {error}"));
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx.send(format!("client connect error: {error}"));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client close {}", reason(s)));
    }
}

// ---------------------------------------------------------------------------
// Engines.

/// A TLS server of channels made by `make` (given the peer's address, the
/// tag) over `over`; keep the [`Place`] as long as the server.
fn serve_tls<C, F>(over: Over, tls: ServerTls, mut make: F) -> (Bg<C>, Place)
where
    C: Channel<App = C> + App,
    F: FnMut(String) -> C + Send + 'static,
{
    let place = over.place();
    let addr = place.addr.clone();
    let bg = util::spawn(move |e: &mut Engine<C>| {
        Some(
            e.listen_tls_with(addr.as_str(), tls, move |peer: &Addr| {
                Some(make(peer.to_string()))
            })
            .expect("listen_tls"),
        )
    });
    (bg, place)
}

/// A [`Probe`] TLS server.
fn serve_probe(over: Over, tls: ServerTls, tx: &Tx) -> (Bg<Probe>, Place) {
    let tx = tx.clone();
    serve_tls(over, tls, move |tag| Probe {
        tx: tx.clone(),
        tag,
    })
}

/// A plain line server that upgrades on `STARTTLS` (writing `after` right
/// after the upgrade call).
fn serve_starttls(tls: ServerTls, tx: &Tx, after: &'static [u8]) -> Bg<Liner> {
    let tx = tx.clone();
    util::spawn(move |e: &mut Engine<Liner>| {
        Some(
            e.listen_with("127.0.0.1:0", move |peer: &Addr| {
                Some(Liner {
                    tx: tx.clone(),
                    tag: peer.to_string(),
                    starttls: Some(tls.clone()),
                    after,
                })
            })
            .expect("listen"),
        )
    })
}

/// An engine with one TLS client stream to `addr`.
fn dial_tls<C>(addr: String, tls: ClientTls, channel: C) -> Bg<C>
where
    C: Channel<App = C> + App + Send,
{
    util::spawn(move |e: &mut Engine<C>| {
        e.connect_tls(addr.as_str(), &tls, channel)
            .expect("connect_tls");
        None
    })
}

/// How a Python peer reaches a listener: `HOST:PORT` or a socket path.
fn target(addr: &Addr) -> String {
    addr.as_ip()
        .map_or_else(|| addr.to_string(), |ip| ip.to_string())
}

// ---------------------------------------------------------------------------
// Python peers.

/// The prelude of every Python TLS peer: `TARGET CA ARGS...`; `dial()`
/// returns an `ssl` socket (verifying the CA and the name) and the local
/// address as the server's events tag it.
pub(crate) const PY_TLS: &str = r#"
import os, socket, ssl, sys, time
TARGET, CA = sys.argv[1], sys.argv[2]
ARGS = sys.argv[3:]
def raw():
    if TARGET.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(TARGET)
        return s
    host, port = TARGET.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)
def tag(s):
    name = s.getsockname()
    return "%s:%d" % name if isinstance(name, tuple) else "unix:(unnamed)"
def context(cert=None, key=None, alpn=None, verify=True):
    c = ssl.create_default_context(cafile=CA)
    if not verify:
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
    if cert:
        c.load_cert_chain(cert, key)
    if alpn:
        c.set_alpn_protocols(alpn)
    return c
def dial(name="localhost", ctx=None, **kw):
    s = raw()
    t = tag(s)
    return (ctx or context()).wrap_socket(s, server_hostname=name, **kw), t
def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("the server closed after %r, expected %d bytes" % (data, n))
        data += chunk
    return data
def say(*words):
    print(*words, flush=True)
"#;

/// Runs a Python peer against `target`; returns its output lines.
#[track_caller]
pub(crate) fn py(script: &str, target: &str, pki: &Pki, args: &[&str]) -> Vec<String> {
    let mut all = vec![target.to_owned(), text(&pki.ca)];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let out = python(&format!("{PY_TLS}{script}"), &all);
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Connects, sends `ping`, reads it back, closes with `close_notify`.
pub(crate) const PY_PING: &str = r#"
s, t = dial()
say("peer", t)
s.sendall(b"ping")
say("echo", recv_exact(s, 4).decode())
s.unwrap().close()
"#;

/// The peer tag a Python peer printed as `peer TAG`.
#[track_caller]
fn peer_of(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("peer "))
        .unwrap_or_else(|| panic!("the python peer printed no `peer` line: {lines:?}"))
        .to_owned()
}

/// A Python TLS client round trip, and its events on a [`Probe`] server.
#[track_caller]
fn ping_probe(log: &mut Log, target: &str, pki: &Pki) {
    let out = py(PY_PING, target, pki, &[]);
    assert_eq!(out.get(1).map(String::as_str), Some("echo ping"), "{out:?}");
    let peer = peer_of(&out);
    log.expect_start(&peer, "handshake sni=localhost");
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "close PeerClosed");
}

// ---------------------------------------------------------------------------
// Round trips.

#[test]
fn python_round_trips_over_tcp_and_unix() {
    const ECHO: &str = r#"
s, t = dial()
say("peer", t)
say("version", s.version())
for n in [1, 100, 65536, 1048576]:
    data = os.urandom(n)
    got = bytearray()
    sent = 0
    while len(got) < n:
        if sent < n and sent - len(got) < 262144:
            sent += s.send(data[sent:sent + 16384])
        else:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("closed after %d of %d bytes" % (len(got), n))
            got += chunk
    if bytes(got) != data:
        raise SystemExit("%d bytes came back different" % n)
    say("ok", n)
s.unwrap().close()
"#;
    let pki = pki();
    for over in Over::ALL {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let (server, _place) = serve_probe(over, pki.server_tls(), &tx);
        let out = py(ECHO, &target(&server.local()), &pki, &[]);
        assert_eq!(
            out[1..],
            [
                "version TLSv1.3",
                "ok 1",
                "ok 100",
                "ok 65536",
                "ok 1048576"
            ],
            "over {over:?}"
        );
        let peer = peer_of(&out);
        log.expect(
            &peer,
            "handshake sni=localhost alpn=- certs=0 version=TLSv1_3",
        );
        log.expect(&peer, "connect tls=true");
        log.expect(&peer, "close PeerClosed");
        server.stop();
        log.assert_quiet();
    }
}

// ---------------------------------------------------------------------------
// Not TLS on a TLS port.

/// `n` bytes from a fixed xorshift sequence.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn plaintext_and_noise_on_a_tls_port_fail_their_handshake_only() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_probe(Over::Tcp, pki.server_tls(), &tx);
    let addr = server.addr();
    let here = target(&server.local());

    // Connected, silent for now: a good client is served meanwhile.
    let mut noisy = connect(addr);
    ping_probe(&mut log, &here, &pki);

    // Random bytes.
    send(&mut noisy, &noise(512));
    let tag = noisy.local_addr().expect("local_addr").to_string();
    let error = log.expect_start(&tag, "handshake error: TLS handshake with");
    log.expect_start(&tag, "close Handshake(");
    let answer = read_until_closed(&mut noisy);
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "the server answered noise with something other than an alert: {:?} ({error})",
        show(&answer)
    );

    // A plaintext HTTP request.
    let mut http = connect(addr);
    send(
        &mut http,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let tag = http.local_addr().expect("local_addr").to_string();
    let error = log.expect_start(&tag, "handshake error: TLS handshake with");
    log.expect_start(&tag, "close Handshake(");
    let answer = read_until_closed(&mut http);
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "the server answered HTTP with something other than an alert: {:?} ({error})",
        show(&answer)
    );

    // And still serves after.
    ping_probe(&mut log, &here, &pki);
    server.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// Our client refuses bad certificates.

#[test]
fn our_client_refuses_expired_self_signed_and_misnamed_certificates() {
    let pki = pki();
    let cases = [
        (
            &pki.expired,
            None,
            "certificate expired",
            "CertificateExpired",
        ),
        (&pki.self_signed, None, "UnknownIssuer", "UnknownCA"),
        (
            &pki.server,
            Some("wrong.test"),
            "certificate not valid for name \"wrong.test\"",
            "BadCertificate",
        ),
    ];
    for (pair, name, why, alert) in cases {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let tls = ServerTls::from_pem_files(&pair.cert, &pair.key).expect("server TLS");
        let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
        let mut client_tls = pki.client_tls();
        if let Some(name) = name {
            client_tls = client_tls.with_server_name(name);
        }
        let client = dial_tls(
            server.addr().to_string(),
            client_tls,
            Pinger::new(&tx, b"ping"),
        );
        let error = log.next("client");
        assert!(
            error.starts_with("handshake error: TLS handshake with 127.0.0.1:")
                && error.contains(why),
            "expected a handshake error naming {why:?}, got {error:?}"
        );
        log.expect_start("client", "close Handshake(");
        // The alert reached the server.
        let peer = log.next_peer();
        let seen = log.next(&peer);
        assert!(
            seen.starts_with("handshake error")
                && seen.contains(&format!("received fatal alert: {alert}")),
            "the server saw {seen:?}, expected the alert {alert}"
        );
        log.expect_start(&peer, "close Handshake(");
        client.stop();
        server.stop();
        log.assert_quiet();
    }
}

#[test]
fn our_client_accepts_a_good_certificate_by_name_and_by_ip() {
    let pki = pki();
    for host in ["localhost", "127.0.0.1"] {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let (server, _place) = serve_probe(Over::Tcp, pki.server_tls(), &tx);
        let addr = format!("{host}:{}", server.addr().port());
        let client = dial_tls(addr.clone(), pki.client_tls(), Pinger::new(&tx, b"ping"));
        log.expect("client", "handshake sni=- alpn=- certs=1 version=TLSv1_3");
        log.expect("client", "connect tls=true");
        log.expect("client", "got ping");
        log.expect("client", "close Local");
        let peer = log.next_peer();
        let sni = if host == "localhost" { host } else { "-" };
        log.expect(
            &peer,
            &format!("handshake sni={sni} alpn=- certs=0 version=TLSv1_3"),
        );
        log.expect(&peer, "connect tls=true");
        log.expect(&peer, "close PeerClosed");
        client.stop();
        server.stop();
        log.assert_quiet();
    }
}

#[test]
fn bytes_queued_while_connecting_go_over_tls() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_probe(Over::Tcp, pki.server_tls(), &tx);
    let addr = server.addr();
    let client_tls = pki.client_tls();
    let pinger = Pinger {
        want: 9,
        ..Pinger::new(&tx, b"ping")
    };
    let client = util::spawn(move |e: &mut Engine<Pinger>| {
        let id = e
            .connect_tls(addr, &client_tls, pinger)
            .expect("connect_tls");
        assert!(e.write(id, b"early"), "a connecting stream takes writes");
        None
    });
    log.expect_start("client", "handshake ");
    log.expect("client", "connect tls=true");
    log.expect("client", "got earlyping");
    log.expect("client", "close Local");
    let peer = log.next_peer();
    log.expect_start(&peer, "handshake ");
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "close PeerClosed");
    client.stop();
    server.stop();
    log.assert_quiet();
}

#[test]
fn dangerous_accept_any_certificate_takes_a_self_signed_one() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let tls =
        ServerTls::from_pem_files(&pki.self_signed.cert, &pki.self_signed.key).expect("server TLS");
    let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
    let client = dial_tls(
        server.addr().to_string(),
        ClientTls::dangerous_accept_any_certificate().with_server_name("anything.test"),
        Pinger::new(&tx, b"ping"),
    );
    log.expect_start("client", "handshake ");
    log.expect("client", "connect tls=true");
    log.expect("client", "got ping");
    log.expect("client", "close Local");
    client.stop();
    server.stop();
}

// ---------------------------------------------------------------------------
// Our client against OpenSSL's server.

/// `openssl s_server` on an ephemeral port; killed on drop.
struct OpensslServer {
    port: u16,
    _child: ChildGuard,
    _stdin: std::process::ChildStdin,
}

impl OpensslServer {
    /// `openssl s_server -accept 127.0.0.1:0 ARGS...`, once it accepts.
    #[track_caller]
    fn start(args: &[String]) -> Self {
        let mut child = ChildGuard(
            Command::new(OPENSSL)
                .args(["s_server", "-accept", "127.0.0.1:0"])
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {OPENSSL}: {e}")),
        );
        let stdin = child.0.stdin.take().expect("stdin is piped");
        let stdout = child.0.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead;
            // Read to the end (even when nobody listens any more) so the
            // server never blocks on a full pipe.
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("openssl s_server printed no ACCEPT line: {e}"));
            if let Some(addr) = line.strip_prefix("ACCEPT ") {
                let port = addr.rsplit(':').next().and_then(|p| p.trim().parse().ok());
                break port.unwrap_or_else(|| panic!("no port in {line:?}"));
            }
        };
        Self {
            port,
            _child: child,
            _stdin: stdin,
        }
    }
}

/// A client writing `\n`-terminated lines one at a time, each after the
/// previous one's reply; closes after the last reply.
struct Talker {
    tx: Tx,
    lines: Vec<&'static str>,
    next: usize,
}

impl Talker {
    fn say_next(&mut self, s: &mut Stream<'_, Self>) {
        match self.lines.get(self.next) {
            Some(line) => {
                s.write_all(&[line.as_bytes(), b"\n"]);
                self.next += 1;
            }
            None => s.close(),
        }
    }
}

#[channel]
impl Talker {
    #[on_handshake]
    fn secured(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client handshake {}", summary(s)));
    }

    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        self.say_next(s);
    }

    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.tx.send(format!("client line {}", show(line)));
        self.say_next(s);
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx.send(format!("client handshake error: {error}"));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client close {}", reason(s)));
    }
}

#[test]
fn our_client_against_openssl_s_server() {
    let pki = pki();
    for (flag, version) in [(None, "TLSv1_3"), (Some("-tls1_2"), "TLSv1_2")] {
        let mut args = vec![
            "-cert".to_owned(),
            text(&pki.server.cert),
            "-key".to_owned(),
            text(&pki.server.key),
            "-rev".to_owned(),
            "-naccept".to_owned(),
            "1".to_owned(),
        ];
        args.extend(flag.map(str::to_owned));
        let server = OpensslServer::start(&args);
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let client = dial_tls(
            format!("127.0.0.1:{}", server.port),
            pki.client_tls(),
            Talker {
                tx,
                lines: vec!["hello world", "pants over tls"],
                next: 0,
            },
        );
        log.expect(
            "client",
            &format!("handshake sni=- alpn=- certs=1 version={version}"),
        );
        log.expect("client", "line dlrow olleh");
        log.expect("client", "line slt revo stnap");
        log.expect("client", "close Local");
        client.stop();
    }
}

// ---------------------------------------------------------------------------
// SNI.

#[test]
fn sni_picks_the_certificate_and_the_server_sees_the_name() {
    const SNI: &str = r#"
for name in ARGS:
    if name == "unknown.test":
        s, t = dial(name, ctx=context(verify=False))
        # Unverified: getpeercert() is empty; look in the binary form.
        der = s.getpeercert(binary_form=True)
        sans = "default" if b"localhost" in der and b"other.test" not in der else "other"
    else:
        s, t = dial(name)
        sans = ",".join("%s=%s" % kv for kv in s.getpeercert()["subjectAltName"])
    s.sendall(b"x")
    recv_exact(s, 1)
    say(t, name, sans)
    s.unwrap().close()
"#;
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let tls = pki
        .server_tls()
        .with_certificate_for("other.test", &pki.other.cert, &pki.other.key)
        .expect("with_certificate_for");
    let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
    let out = py(
        SNI,
        &target(&server.local()),
        &pki,
        &["localhost", "other.test", "OTHER.TEST", "unknown.test"],
    );
    let rows: Vec<Vec<&str>> = out.iter().map(|l| l.splitn(3, ' ').collect()).collect();
    let want = [
        ("localhost", "DNS=localhost,IP Address=127.0.0.1"),
        ("other.test", "DNS=other.test"),
        ("OTHER.TEST", "DNS=other.test"),
        ("unknown.test", "default"),
    ];
    assert_eq!(rows.len(), want.len(), "{out:?}");
    for (row, (name, sans)) in rows.iter().zip(want) {
        assert_eq!(row[1..], [name, sans], "{out:?}");
        let sni = name.to_ascii_lowercase();
        log.expect(
            row[0],
            &format!("handshake sni={sni} alpn=- certs=0 version=TLSv1_3"),
        );
        log.expect(row[0], "connect tls=true");
        log.expect(row[0], "close PeerClosed");
    }
    server.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// ALPN.

#[test]
fn alpn_is_negotiated_with_python_and_with_our_client() {
    const ALPN: &str = r#"
offer = [p for p in ARGS[0].split(",") if p]
try:
    s, t = dial(ctx=context(alpn=offer))
    s.sendall(b"x")
    recv_exact(s, 1)
    say(t, "chose", s.selected_alpn_protocol())
    s.unwrap().close()
except (ssl.SSLError, OSError) as e:
    say("?", "refused", type(e).__name__, getattr(e, "reason", None), e)
"#;
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let tls = pki.server_tls().with_alpn(["h2", "http/1.1"]);
    let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
    let here = target(&server.local());
    for (offer, chosen) in [("http/1.1", "http/1.1"), ("http/1.1,h2", "h2"), ("", "-")] {
        let out = py(ALPN, &here, &pki, &[offer]);
        let words: Vec<&str> = out[0].split(' ').collect();
        let python_saw = if chosen == "-" { "None" } else { chosen };
        assert_eq!(words[1..], ["chose", python_saw], "offer {offer:?}");
        log.expect(
            words[0],
            &format!("handshake sni=localhost alpn={chosen} certs=0 version=TLSv1_3"),
        );
        log.expect(words[0], "connect tls=true");
        log.expect(words[0], "close PeerClosed");
    }

    // Nothing in common: refused on both sides.
    let out = py(ALPN, &here, &pki, &["spdy/3"]);
    assert!(
        out[0].contains("refused") && out[0].contains("no application protocol"),
        "{out:?}"
    );
    let peer = log.next_peer();
    let error = log.next(&peer);
    assert!(
        error.starts_with("handshake error")
            && error.contains("peer doesn't support any known protocol"),
        "{error}"
    );
    log.expect_start(&peer, "close Handshake(");

    // Our client.
    let client = dial_tls(
        server.addr().to_string(),
        pki.client_tls().with_alpn(["http/1.1"]),
        Pinger::new(&tx, b"ping"),
    );
    log.expect(
        "client",
        "handshake sni=- alpn=http/1.1 certs=1 version=TLSv1_3",
    );
    log.expect("client", "connect tls=true");
    log.expect("client", "got ping");
    log.expect("client", "close Local");
    let peer = log.next_peer();
    log.expect(
        &peer,
        "handshake sni=- alpn=http/1.1 certs=0 version=TLSv1_3",
    );
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "close PeerClosed");
    client.stop();
    server.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// Mutual TLS.

/// Presents `ARGS[0]`/`ARGS[1]` as the client certificate, if given.
const PY_MTLS: &str = r#"
cert, key = (ARGS[0], ARGS[1]) if ARGS else (None, None)
s, t = dial(ctx=context(cert=cert, key=key))
say("peer", t)
try:
    s.sendall(b"ping")
    say("echo", recv_exact(s, 4).decode())
    s.unwrap().close()
except (ssl.SSLError, OSError, SystemExit) as e:
    say("refused", getattr(e, "reason", None) or e)
"#;

#[test]
fn mutual_tls_with_a_required_client_certificate() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let tls = pki
        .server_tls()
        .with_client_auth(&pki.ca, ClientAuth::Required)
        .expect("with_client_auth");
    let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
    let here = target(&server.local());

    // With the client certificate.
    let (cert, key) = (text(&pki.client.cert), text(&pki.client.key));
    let out = py(PY_MTLS, &here, &pki, &[&cert, &key]);
    assert_eq!(out[1], "echo ping", "{out:?}");
    let peer = peer_of(&out);
    // OpenSSL sends the chain it builds from its trust store: the client
    // certificate, then the CA's.
    log.expect(
        &peer,
        "handshake sni=localhost alpn=- certs=2 version=TLSv1_3",
    );
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "close PeerClosed");

    // Without one, and with one the CA did not sign.
    let (cert, key) = (text(&pki.stranger.cert), text(&pki.stranger.key));
    for (args, why) in [
        (vec![], "peer sent no certificates"),
        (vec![cert.as_str(), key.as_str()], "UnknownIssuer"),
    ] {
        let out = py(PY_MTLS, &here, &pki, &args);
        assert!(out[1].starts_with("refused"), "{out:?}");
        let peer = peer_of(&out);
        let error = log.next(&peer);
        assert!(
            error.starts_with("handshake error") && error.contains(why),
            "expected a handshake error naming {why:?}, got {error:?}"
        );
        log.expect_start(&peer, "close Handshake(");
    }

    // Our client with its certificate.
    let client_tls = pki
        .client_tls()
        .with_client_certificate(&pki.client.cert, &pki.client.key)
        .expect("with_client_certificate");
    let client = dial_tls(
        server.addr().to_string(),
        client_tls,
        Pinger::new(&tx, b"ping"),
    );
    log.expect("client", "handshake sni=- alpn=- certs=1 version=TLSv1_3");
    log.expect("client", "connect tls=true");
    log.expect("client", "got ping");
    log.expect("client", "close Local");
    let peer = log.next_peer();
    log.expect(&peer, "handshake sni=- alpn=- certs=1 version=TLSv1_3");
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "close PeerClosed");
    client.stop();
    server.stop();
    log.assert_quiet();
}

#[test]
fn mutual_tls_with_an_optional_client_certificate() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let tls = pki
        .server_tls()
        .with_client_auth(&pki.ca, ClientAuth::Optional)
        .expect("with_client_auth");
    let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
    let here = target(&server.local());
    let (cert, key) = (text(&pki.client.cert), text(&pki.client.key));
    // With a certificate, OpenSSL sends the CA's after it.
    for (args, certs) in [(vec![], 0), (vec![cert.as_str(), key.as_str()], 2)] {
        let out = py(PY_MTLS, &here, &pki, &args);
        assert_eq!(out[1], "echo ping", "{out:?}");
        let peer = peer_of(&out);
        log.expect(
            &peer,
            &format!("handshake sni=localhost alpn=- certs={certs} version=TLSv1_3"),
        );
        log.expect(&peer, "connect tls=true");
        log.expect(&peer, "close PeerClosed");
    }
    server.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// STARTTLS, server side, with a Python client.

/// A STARTTLS client's tools: the socket `s`, an `ssl` object `tls` over
/// a memory BIO pair (`inc`, `outg`), `plain_until(marker)` (plaintext,
/// the rest kept in `buf`), `step(op)` (runs a TLS operation, moving
/// records both ways), `tls_line()`.
const PY_BIO: &str = r#"
s = raw()
say("peer", tag(s))
inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = context().wrap_bio(inc, outg, server_hostname="localhost")
buf = b""
def plain_until(marker):
    global buf
    while marker not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed in plaintext after %r" % buf)
        buf += chunk
    i = buf.index(marker) + len(marker)
    head, buf = buf[:i], buf[i:]
    return head
def flush():
    data = outg.read()
    if data:
        s.sendall(data)
def step(op, send=True):
    while True:
        try:
            r = op()
        except ssl.SSLWantReadError:
            flush()
            data = s.recv(65536)
            if data:
                inc.write(data)
            else:
                inc.write_eof()
            continue
        if send:
            flush()
        return r
def tls_line():
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = step(lambda: tls.read(1))
        if not chunk:
            raise SystemExit("TLS closed after %r" % line)
        line += chunk
    return line
"#;

/// Plaintext `hello`, then STARTTLS: with the `ClientHello` in the same
/// segment (`together`, `coalesced`) or after `GO` (`apart`); then lines
/// over TLS (`coalesced`: the first in the same segment as the client's
/// Finished), and `close_notify`.
const PY_STARTTLS: &str = r#"
mode = ARGS[0]
if mode in ("together", "coalesced"):
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outg.read()
    s.sendall(b"hello\r\nSTARTTLS\r\n" + hello)
    say("plain", plain_until(b"GO\r\n"))
else:
    s.sendall(b"hello\r\n")
    say("plain", plain_until(b"]\r\n"))
    s.sendall(b"STARTTLS\r\n")
    say("plain", plain_until(b"GO\r\n"))
inc.write(buf)
# Coalesced: the client's Finished and its first data in one segment.
step(tls.do_handshake, send=(mode != "coalesced"))
say("version", tls.version())
step(lambda: tls.write(b"secret\r\nSTARTTLS\r\n"))
say("tls", tls_line())
say("tls", tls_line())
step(tls.unwrap)
s.close()
"#;

#[test]
fn starttls_server_side_with_python() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let server = serve_starttls(pki.server_tls(), &tx, b"");
    let here = target(&server.local());
    for mode in ["together", "coalesced", "apart"] {
        let out = py(&format!("{PY_BIO}{PY_STARTTLS}"), &here, &pki, &[mode]);
        let plain: &[&str] = if mode == "apart" {
            &["plain b'[hello]\\r\\n'", "plain b'GO\\r\\n'"]
        } else {
            &["plain b'[hello]\\r\\nGO\\r\\n'"]
        };
        let mut want: Vec<&str> = plain.to_vec();
        want.extend([
            "version TLSv1.3",
            "tls b'[secret]\\r\\n'",
            "tls b'ERR TLS: stream PEER: TLS is already on, or starting\\r\\n'",
        ]);
        let peer = peer_of(&out);
        let got: Vec<String> = out[1..].iter().map(|l| l.replace(&peer, "PEER")).collect();
        assert_eq!(got, want, "mode {mode}");
        log.expect(&peer, "connect tls=false");
        log.expect(&peer, "line hello tls=false");
        log.expect(&peer, "line STARTTLS tls=false");
        log.expect(&peer, "upgrading");
        log.expect(
            &peer,
            "handshake sni=localhost alpn=- certs=0 version=TLSv1_3",
        );
        log.expect(&peer, "line secret tls=true");
        log.expect(&peer, "line STARTTLS tls=true");
        log.expect(&peer, "close PeerClosed");
    }
    server.stop();
    log.assert_quiet();
}

#[test]
fn starttls_server_bytes_written_after_the_call_go_over_tls() {
    // Regression: `Stream::start_tls_server` documents "bytes written
    // before this call go out in plaintext first; bytes written after it
    // ... are TLS". The server writes `GO\r\n`, calls `start_tls_server`,
    // then writes `SECRET\r\n` in the same handler. The plaintext prefix
    // was once taken when the upgrade was applied (after the handler
    // returned), so `SECRET\r\n` leaked in plaintext; the transport now
    // turns TLS at the call. `SECRET\r\n` must arrive over TLS.
    const AFTER: &str = r#"
s.sendall(b"STARTTLS\r\n")
say("plain", plain_until(b"GO\r\n"))
inc.write(buf)
try:
    step(tls.do_handshake)
    say("tls", tls_line())
    step(tls.unwrap)
except ssl.SSLError as e:
    say("handshake failed:", e.reason, "with", buf)
"#;
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let server = serve_starttls(pki.server_tls(), &tx, b"SECRET\r\n");
    let out = py(
        &format!("{PY_BIO}{AFTER}"),
        &target(&server.local()),
        &pki,
        &[],
    );
    assert_eq!(
        out[1..],
        ["plain b'GO\\r\\n'", "tls b'SECRET\\r\\n'"],
        "{out:?}"
    );
    let peer = peer_of(&out);
    log.expect(&peer, "connect tls=false");
    log.expect(&peer, "line STARTTLS tls=false");
    log.expect(&peer, "upgrading");
    log.expect_start(&peer, "handshake sni=localhost");
    log.expect(&peer, "close PeerClosed");
    server.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// STARTTLS, client side: two pants programs.

/// Plaintext `hello` and `STARTTLS` in one write; on `GO`, upgrades (and
/// writes `early` in the same handler); then `one` and `two` over TLS, and
/// closes.
struct Upgrader {
    tx: Tx,
    tls: ClientTls,
    /// Written right after `start_tls_client`, in the same handler.
    early: &'static [u8],
}

#[channel]
impl Upgrader {
    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        s.write(b"hello\r\nSTARTTLS\r\n");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.tx
            .send(format!("client line {} tls={}", show(line), s.is_tls()));
        match line {
            b"GO" => {
                s.start_tls_client(&self.tls).expect("start_tls_client");
                // After the call: sent over TLS, once the handshake is done.
                s.write(self.early);
            }
            b"[one]" => {
                s.write(b"two\r\n");
            }
            b"[two]" => s.close(),
            _ => {}
        }
    }

    #[on_handshake]
    fn secured(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client handshake {}", summary(s)));
        s.write(b"one\r\n");
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx.send(format!("client handshake error: {error}"));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("client close {}", reason(s)));
    }
}

#[test]
fn starttls_client_side_between_two_pants_programs() {
    starttls_client_side(b"");
}

#[test]
fn starttls_client_bytes_written_after_the_call_go_over_tls() {
    // Regression: the client writes `early\r\n` right after
    // `start_tls_client`, in the same handler; it must go over TLS after
    // the handshake (it once went in plaintext before the ClientHello, and
    // the server's rustls failed with DecodeError).
    starttls_client_side(b"early\r\n");
}

/// Two pants programs: the STARTTLS server, and an [`Upgrader`] writing
/// `early` right after its upgrade call (if not empty).
fn starttls_client_side(early: &'static [u8]) {
    let pki = pki();
    for name in [Some("localhost"), None] {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let server = serve_starttls(pki.server_tls(), &tx, b"");
        let mut tls = pki.client_tls();
        if let Some(name) = name {
            tls = tls.with_server_name(name);
        }
        let addr = server.addr();
        let client_tx = tx.clone();
        let client = util::spawn(move |e: &mut Engine<Upgrader>| {
            let upgrader = Upgrader {
                tx: client_tx,
                tls,
                early,
            };
            e.connect(addr, upgrader).expect("connect");
            None
        });
        log.expect("client", "line [hello] tls=false");
        log.expect("client", "line GO tls=false");
        log.expect("client", "handshake sni=- alpn=- certs=1 version=TLSv1_3");
        if !early.is_empty() {
            log.expect("client", "line [early] tls=true");
        }
        log.expect("client", "line [one] tls=true");
        log.expect("client", "line [two] tls=true");
        log.expect("client", "close Local");
        let peer = log.next_peer();
        log.expect(&peer, "connect tls=false");
        log.expect(&peer, "line hello tls=false");
        log.expect(&peer, "line STARTTLS tls=false");
        log.expect(&peer, "upgrading");
        log.expect(
            &peer,
            &format!(
                "handshake sni={} alpn=- certs=0 version=TLSv1_3",
                name.unwrap_or("-")
            ),
        );
        if !early.is_empty() {
            log.expect(&peer, "line early tls=true");
        }
        log.expect(&peer, "line one tls=true");
        log.expect(&peer, "line two tls=true");
        log.expect(&peer, "close PeerClosed");
        client.stop();
        server.stop();
        log.assert_quiet();
    }
}

// ---------------------------------------------------------------------------
// Handshake timeouts.

/// A raw client that connects and sends `first` (maybe nothing), then
/// waits (running `during` meanwhile): a server with a 1 s handshake
/// timeout must close it about 1 s after it connected.
#[track_caller]
fn stalls_until_closed(
    log: &mut Log,
    addr: std::net::SocketAddr,
    first: &[u8],
    during: impl FnOnce(&mut Log),
) {
    let started = Instant::now();
    let mut stalled = connect(addr);
    send(&mut stalled, first);
    let tag = stalled.local_addr().expect("local_addr").to_string();
    during(log);
    let answer = read_until_closed(&mut stalled);
    let took = started.elapsed();
    // Nothing, or an alert (a plaintext `close_notify`, as it happens).
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "{:?}",
        show(&answer)
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "closed after {took:?}, expected about 1 s"
    );
    log.expect(
        &tag,
        &format!("handshake error: TLS handshake with {tag} failed: TLS handshake timed out"),
    );
    log.expect(&tag, "close Timeout(Handshake)");
}

#[test]
fn handshake_timeout_set_on_the_server() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let tls = pki
        .server_tls()
        .with_handshake_timeout(Duration::from_secs(1));
    let (server, _place) = serve_probe(Over::Tcp, tls, &tx);
    let here = target(&server.local());
    let addr = server.addr();
    // Silent, and half a record header: both timed out; a good client is
    // served meanwhile.
    for first in [&b""[..], &[0x16, 0x03][..]] {
        stalls_until_closed(&mut log, addr, first, |log| ping_probe(log, &here, &pki));
    }
    server.stop();
    log.assert_quiet();
}

#[test]
fn handshake_timeout_declared_on_the_channel() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_tls(Over::Tcp, pki.server_tls(), move |tag| QuickProbe {
        tx: tx.clone(),
        tag,
    });
    let here = target(&server.local());
    stalls_until_closed(&mut log, server.addr(), b"", |log| {
        let out = py(PY_PING, &here, &pki, &[]);
        assert_eq!(out[1], "echo ping");
        let peer = peer_of(&out);
        log.expect_start(&peer, "handshake sni=localhost");
        log.expect(&peer, "close PeerClosed");
    });
    server.stop();
    log.assert_quiet();
}

#[test]
fn handshake_timeout_of_our_client() {
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let started = Instant::now();
    let client = dial_tls(
        listener.local_addr().expect("local_addr").to_string(),
        pki.client_tls()
            .with_handshake_timeout(Duration::from_secs(1)),
        Pinger::new(&tx, b"ping"),
    );
    let mut mute = util::accept(&listener);
    let error = log.next("client");
    let took = started.elapsed();
    assert!(
        error.starts_with("handshake error") && error.contains("timed out"),
        "{error}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "gave up after {took:?}, expected about 1 s"
    );
    log.expect("client", "close Timeout(Handshake)");
    // The server side got a ClientHello, then the end.
    let hello = read_until_closed(&mut mute);
    assert_eq!(hello.first(), Some(&0x16), "{:?}", show(&hello));
    client.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// close_notify and truncation.

#[test]
fn close_notify_or_truncation_from_a_python_client() {
    const CLOSE: &str = r#"
s, t = dial()
say("peer", t)
s.sendall(b"ping")
recv_exact(s, 4)
if ARGS[0] == "notify":
    s.unwrap().close()
else:
    # The socket's FIN without close_notify.
    s.shutdown(socket.SHUT_WR)
    s.close()
"#;
    let pki = pki();
    for over in Over::ALL {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let (server, _place) = serve_probe(over, pki.server_tls(), &tx);
        let here = target(&server.local());
        for (how, why) in [("notify", "PeerClosed"), ("truncate", "Truncated")] {
            let out = py(CLOSE, &here, &pki, &[how]);
            let peer = peer_of(&out);
            log.expect_start(&peer, "handshake");
            log.expect(&peer, "connect tls=true");
            log.expect(&peer, &format!("close {why}"));
        }
        server.stop();
        log.assert_quiet();
    }
}

#[test]
fn a_server_close_sends_close_notify() {
    const BYE: &str = r#"
s, t = dial(suppress_ragged_eofs=False)
say("peer", t)
s.sendall(b"hi\r\nBYE\r\n")
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ssl.SSLEOFError as e:
        say("ragged", data)
        break
    if not chunk:
        say("clean", data)
        break
    data += chunk
"#;
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_tls(Over::Tcp, pki.server_tls(), move |tag| Liner {
        tx: tx.clone(),
        tag,
        starttls: None,
        after: b"",
    });
    let out = py(BYE, &target(&server.local()), &pki, &[]);
    assert_eq!(out[1], r"clean b'[hi]\r\nbye\r\n'", "{out:?}");
    let peer = peer_of(&out);
    log.expect(
        &peer,
        "handshake sni=localhost alpn=- certs=0 version=TLSv1_3",
    );
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "line hi tls=true");
    log.expect(&peer, "line BYE tls=true");
    log.expect(&peer, "close Local");
    server.stop();
    log.assert_quiet();
}

// ---------------------------------------------------------------------------
// The tls_echo example.

#[test]
fn example_tls_echo_refuses_bad_files() {
    let pki = pki();
    let missing = pki.dir.path("missing.pem");
    let garbage = pki.dir.path("garbage.pem");
    std::fs::write(&garbage, "this is not a key\n").expect("write");
    let cases = [
        (&missing, &pki.server.key, &missing),
        (&pki.server.cert, &garbage, &garbage),
        // A key that is not the certificate's.
        (&pki.server.cert, &pki.other.key, &pki.server.cert),
    ];
    for (cert, key, named) in cases {
        let child = ChildGuard(
            Command::new(util::example("tls_echo"))
                .arg("127.0.0.1:0")
                .args([cert, key])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tls_echo"),
        );
        let done = util::finish(child, "tls_echo", TIMEOUT);
        assert_eq!(done.status.code(), Some(1), "stderr: {}", done.stderr);
        assert!(
            done.stderr.contains(&text(named)),
            "the error does not name {}: {}",
            named.display(),
            done.stderr
        );
        assert!(done.stdout.is_empty(), "{:?}", show(&done.stdout));
    }
}

/// Runs a client process with `input` on stdin, kept open until `want`
/// came out on stdout; then closes stdin and waits for it to exit.
#[track_caller]
fn converse(mut cmd: Command, input: &[u8], want: &[u8]) -> util::Finished {
    let mut child = ChildGuard(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client"),
    );
    let mut stdin = child.0.stdin.take().expect("stdin is piped");
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    stdin.write_all(input).expect("write the client's stdin");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    let mut got = Vec::new();
    while !got.windows(want.len()).any(|w| w == want) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => got.extend(chunk),
            Err(e) => {
                let done = util::finish(child, "the client", TIMEOUT);
                panic!(
                    "the client printed {:?}, not {:?} ({e}); stderr: {}",
                    show(&got),
                    show(want),
                    done.stderr
                );
            }
        }
    }
    drop(stdin);
    let mut done = util::finish(child, "the client", TIMEOUT);
    // What it wrote after `want`, if anything.
    got.extend(rx.try_iter().flatten());
    done.stdout = got;
    done
}

/// A Python TLS server (`PORT_FILE CERT KEY`): writes its port to
/// `PORT_FILE`, greets the first client with `hello\n`, reads to its EOF,
/// then closes with `close_notify`; prints what it read.
const PY_GREETER: &str = r#"
import socket, ssl, sys
port_file, cert, key = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
l.settimeout(10)
open(port_file, "w").write(str(l.getsockname()[1]))
raw, _ = l.accept()
raw.settimeout(10)
s = ctx.wrap_socket(raw, server_side=True)
s.sendall(b"hello\n")
got = b""
while True:
    data = s.recv(65536)
    if not data:
        break
    got += data
print("read", len(got), flush=True)
s.unwrap().close()
"#;

#[test]
fn client_example_half_closes_after_the_handshake_not_during_it() {
    // `client --ca CA ADDR < /dev/null`: stdin ends at once, so the
    // half-close (`close_notify`, FIN) is asked for before the handshake
    // ends. It must wait for the handshake: the server's greeting is
    // printed, the server sees a clean EOF, and the client exits 0.
    // (It once sent `close_notify` in the middle of the handshake.)
    let pki = pki();
    // First: it may build the examples, longer than the server waits.
    let client = util::example("client");
    let port_file = pki.dir.path("port");
    let server = ChildGuard(
        Command::new("python3")
            .arg("-c")
            .arg(PY_GREETER)
            .arg(&port_file)
            .arg(&pki.server.cert)
            .arg(&pki.server.key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3"),
    );
    let deadline = Instant::now() + TIMEOUT;
    let port = loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
        {
            break port;
        }
        assert!(
            Instant::now() < deadline,
            "the Python server never listened"
        );
        thread::sleep(Duration::from_millis(5));
    };
    let client = ChildGuard(
        Command::new(client)
            .arg("--ca")
            .arg(&pki.ca)
            .arg(format!("localhost:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client example"),
    );
    let done = util::finish(client, "the client example", TIMEOUT);
    let greeter = util::finish(server, "the Python server", TIMEOUT);
    assert!(
        done.status.success(),
        "client: {} {}; the Python server: {} {}",
        done.status,
        done.stderr,
        greeter.status,
        greeter.stderr
    );
    assert_eq!(show(&done.stdout), "hello\\n");
    assert!(greeter.status.success(), "server: {}", greeter.stderr);
    assert_eq!(show(&greeter.stdout), "read 0\\n");
}

#[test]
fn example_tls_echo_with_openssl_s_client_and_the_client_example() {
    let pki = pki();
    let server = start_tls_echo(&pki);
    let port = server.addr.port();

    let mut openssl = Command::new(OPENSSL);
    openssl.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-CAfile",
        &text(&pki.ca),
        "-servername",
        "localhost",
        "-verify_hostname",
        "localhost",
        "-verify_return_error",
        "-quiet",
        "-no_ign_eof",
    ]);
    let done = converse(openssl, b"hello over tls\n", b"hello over tls\n");
    assert!(done.status.success(), "s_client: {}", done.stderr);
    assert_eq!(show(&done.stdout), show(b"hello over tls\n"));

    let mut client = Command::new(util::example("client"));
    client
        .arg("--ca")
        .arg(&pki.ca)
        .arg(format!("localhost:{port}"));
    let done = converse(client, b"one\ntwo\n", b"one\ntwo\n");
    assert!(done.status.success(), "client: {}", done.stderr);
    assert_eq!(show(&done.stdout), show(b"one\ntwo\n"));
}

// ---------------------------------------------------------------------------
// Half-close over TLS.

/// Writes `n` lines then half-closes (`close_notify`, FIN); counts the
/// replies.
struct HalfCloser {
    tx: Tx,
    n: usize,
    replies: usize,
    wrong: Option<String>,
}

#[channel]
impl HalfCloser {
    #[on_connect]
    fn up(&mut self, s: &mut Stream<Self>) {
        for i in 0..self.n {
            s.write(format!("line {i}\r\n").as_bytes());
        }
        s.shutdown_write();
    }

    #[on_read(delimiter = "\r\n")]
    fn reply(&mut self, _s: &mut Stream<Self>, line: &[u8]) {
        let want = format!("[line {}]", self.replies);
        if line != want.as_bytes() && self.wrong.is_none() {
            self.wrong = Some(format!("{} instead of {want}", show(line)));
        }
        self.replies += 1;
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!(
            "client close {} replies={} wrong={:?}",
            reason(s),
            self.replies,
            self.wrong
        ));
    }
}

#[test]
fn half_close_between_two_pants_programs() {
    const N: usize = 20_000;
    let pki = pki();
    for over in Over::ALL {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let server_tx = tx.clone();
        let (server, _place) = serve_tls(over, pki.server_tls(), move |tag| Liner {
            tx: server_tx.clone(),
            tag,
            starttls: None,
            after: b"",
        });
        let client = dial_tls(
            target(&server.local()),
            pki.client_tls().with_server_name("localhost"),
            HalfCloser {
                tx,
                n: N,
                replies: 0,
                wrong: None,
            },
        );
        log.expect(
            "client",
            &format!("close PeerClosed replies={N} wrong=None"),
        );
        let peer = log.next_peer();
        log.expect_start(&peer, "handshake");
        log.expect(&peer, "connect tls=true");
        for i in 0..N {
            log.expect(&peer, &format!("line line {i} tls=true"));
        }
        log.expect(&peer, "close PeerClosed");
        client.stop();
        server.stop();
        log.assert_quiet();
    }
}

// ---------------------------------------------------------------------------
// Flow over TLS.

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const CHUNK: usize = 64 * KIB;
/// The pattern's period, a prime: a chunk lost or doubled shows.
const PERIOD: usize = 65_521;

/// `PERIOD + CHUNK` bytes of the pattern, so any chunk is one slice.
fn pattern_at(at: usize, n: usize) -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        (0..PERIOD + CHUNK)
            .map(|i| {
                let i = i % PERIOD;
                (i * 7 + i / 251) as u8
            })
            .collect()
    });
    let off = at % PERIOD;
    &pattern[off..off + n]
}

/// Streams `total` pattern bytes while writable and checks what arrives.
struct Streamer {
    name: &'static str,
    tx: Tx,
    total: usize,
    sent: usize,
    received: usize,
    reported: bool,
}

impl Streamer {
    fn new(name: &'static str, total: usize, tx: Tx) -> Self {
        Self {
            name,
            tx,
            total,
            sent: 0,
            received: 0,
            reported: false,
        }
    }

    fn more(&mut self, s: &mut Stream<'_, Self>) {
        let high = s.write_limits().high;
        while self.sent < self.total && s.is_open() && s.is_writable() && s.queued() <= high {
            let n = CHUNK.min(self.total - self.sent);
            s.write(pattern_at(self.sent, n));
            self.sent += n;
            s.flush();
        }
        if self.sent == self.total && s.queued() == 0 && !self.reported {
            self.reported = true;
            self.tx.send(format!("{} sent all", self.name));
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

    #[on_resume_writing]
    fn resumed(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
        if data != pattern_at(self.received, data.len()) {
            self.tx
                .send(format!("{} mismatch at {}", self.name, self.received));
        }
        self.received += data.len();
        if self.received == self.total {
            self.tx.send(format!("{} received all", self.name));
        }
    }

    #[on_handshake_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        self.tx
            .send(format!("{} handshake error: {error}", self.name));
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx.send(format!("{} closed: {}", self.name, reason(s)));
    }
}

#[test]
fn two_pants_programs_streaming_at_each_other_over_tls() {
    const TOTAL: usize = 16 * MIB;
    let pki = pki();
    for over in Over::ALL {
        let started = Instant::now();
        let limit = Duration::from_secs(30);
        let (tx, rx) = util::events();
        let server_tx = tx.clone();
        let (a, _place) = serve_tls(over, pki.server_tls(), move |_| {
            Streamer::new("A", TOTAL, server_tx.clone())
        });
        let (id_tx, id_rx) = mpsc::channel();
        let addr = target(&a.local());
        let tls = pki.client_tls().with_server_name("localhost");
        let b = util::spawn(move |e: &mut Engine<Streamer>| {
            let id = e
                .connect_tls(addr.as_str(), &tls, Streamer::new("B", TOTAL, tx))
                .expect("connect_tls");
            let _ = id_tx.send(id);
            None
        });
        let b_id = id_rx.recv_timeout(TIMEOUT).expect("the client's id");
        let mut done = Vec::new();
        while done.len() < 4 {
            let left = (started + limit).saturating_duration_since(Instant::now());
            let Some(event) = rx.try_next(left) else {
                let server = a.server_id();
                let a_state = a.call(move |e| {
                    let ids: Vec<_> = e
                        .server(server)
                        .map(|s| s.connections().collect())
                        .unwrap_or_default();
                    streamer_states(e, ids)
                });
                let b_state = b.call(move |e| streamer_states(e, vec![b_id]));
                panic!("stuck over {over:?} after {done:?}: {a_state:?} {b_state:?}");
            };
            assert!(
                event.ends_with("sent all") || event.ends_with("received all"),
                "{event} (so far: {done:?})"
            );
            done.push(event);
        }
        eprintln!(
            "{TOTAL} bytes each way over TLS over {over:?} in {:?}: {done:?}",
            started.elapsed()
        );
        b.stop();
        a.stop();
    }
}

/// What [`Streamer`] streams have done, and their queues.
fn streamer_states(e: &mut Engine<Streamer>, ids: Vec<StreamId>) -> Vec<String> {
    ids.into_iter()
        .filter_map(|id| {
            e.with_stream(id, |c: &mut Streamer, s: &mut Stream<'_, Streamer>| {
                format!(
                    "{} sent={} received={} queued={} writable={}",
                    c.name,
                    c.sent,
                    c.received,
                    s.queued(),
                    s.is_writable()
                )
            })
        })
        .collect()
}

/// An echo server's stream that records the most it ever had queued.
struct Gauge {
    tx: Tx,
    most: usize,
}

#[channel]
impl Gauge {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
        self.most = self.most.max(s.queued());
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("server most={} close {}", self.most, reason(s)));
    }
}

#[test]
fn a_python_client_that_never_reads_pauses_the_tls_echo() {
    // Sends until a send blocks for a second: the server stopped reading.
    const FLOOD: &str = r#"
s, t = dial()
s.settimeout(1)
chunk = os.urandom(65536)
sent = 0
try:
    while sent < 256 * 1048576:
        sent += s.send(chunk)
    say("never blocked", sent)
except (socket.timeout, ssl.SSLWantWriteError):
    say("blocked after", sent)
s.shutdown(socket.SHUT_RDWR)
s.close()
"#;
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_tls(Over::Tcp, pki.server_tls(), move |_| Gauge {
        tx: tx.clone(),
        most: 0,
    });
    let out = py(FLOOD, &target(&server.local()), &pki, &[]);
    let sent: usize = out[0]
        .strip_prefix("blocked after ")
        .unwrap_or_else(|| panic!("{out:?}"))
        .parse()
        .expect("a count");
    let event = log.next("server");
    let most: usize = event
        .strip_prefix("most=")
        .and_then(|e| e.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{event}"));
    eprintln!("python sent {sent} bytes; the server queued at most {most}: {event}");
    // The high watermark (64 KiB) plus what one read pass brings.
    assert!(
        most <= 64 * KIB + 16 * CHUNK,
        "the server queued {most} bytes"
    );
    assert!(sent < 64 * MIB, "python sent {sent} bytes before blocking");
    server.stop();
}

// ---------------------------------------------------------------------------
// `on_write` over TLS.

/// The `on_write` documentation's producer: a block from `on_connect`,
/// another from each `on_write`, then a close.
struct Source {
    tx: Tx,
    left: usize,
}

impl Source {
    fn more(&mut self, s: &mut Stream<'_, Self>) {
        if self.left == 0 {
            s.close();
            return;
        }
        self.left -= 1;
        s.write(pattern_at(0, CHUNK));
    }
}

#[channel]
impl Source {
    #[on_connect]
    fn start(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_write]
    fn drained(&mut self, s: &mut Stream<Self>) {
        self.more(s);
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        self.tx
            .send(format!("server close {} left={}", reason(s), self.left));
    }
}

#[test]
fn on_write_fires_when_tls_records_drain_later() {
    // Regression: over TLS a flush can move the queue's last bytes into
    // rustls (the queue is now empty) while the socket takes only part of
    // the records. `on_write` was once decided from the write queue alone,
    // so the writable edge that sent the rest skipped it and a producer
    // driven by `on_write` (the documented pattern) waited forever; the
    // transport now says when it holds application data. Here the
    // server writes 64 blocks of 64 KiB, one per `on_write`, then closes;
    // a slowly reading client stalls (over Unix after a few blocks, over
    // TCP before the close). Plain TCP cannot hit it: nothing holds bytes
    // outside the queue.
    // Reads slowly, so the server's socket is full when its queue empties
    // into rustls; then reads to the end.
    const SLOW: &str = r#"
s, t = dial()
s.settimeout(2)
got = 0
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += len(chunk)
        time.sleep(0.0005)
    say("all", got)
except (socket.timeout, TimeoutError):
    say("stalled after", got)
"#;
    const BLOCKS: usize = 64;
    let pki = pki();
    for over in [Over::Unix, Over::Tcp] {
        let (tx, rx) = util::events();
        let mut log = Log::new(rx);
        let (server, _place) = serve_tls(over, pki.server_tls(), move |_| Source {
            tx: tx.clone(),
            left: BLOCKS,
        });
        let out = py(SLOW, &target(&server.local()), &pki, &[]);
        assert_eq!(out, [format!("all {}", BLOCKS * CHUNK)], "over {over:?}");
        log.expect("server", "close Local left=0");
        server.stop();
    }
}

// ---------------------------------------------------------------------------
// More: STARTTLS injection, graceful shutdown, hand-built configs, settings
// errors.

#[test]
fn plaintext_pipelined_after_starttls_is_not_a_command() {
    // The STARTTLS command injection of CVE-2011-0411: a line sent in
    // plaintext right after STARTTLS must not run as if it came over TLS.
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let server = serve_starttls(pki.server_tls(), &tx, b"");
    let mut c = connect(server.addr());
    send(&mut c, b"STARTTLS\r\nEVIL\r\n");
    let answer = read_until_closed(&mut c);
    assert!(answer.starts_with(b"GO\r\n"), "{:?}", show(&answer));
    let rest = &answer[4..];
    assert!(
        rest.is_empty() || rest[0] == 0x15,
        "after GO, something other than an alert: {:?}",
        show(rest)
    );
    let peer = c.local_addr().expect("local_addr").to_string();
    log.expect(&peer, "connect tls=false");
    log.expect(&peer, "line STARTTLS tls=false");
    log.expect(&peer, "upgrading");
    log.expect_start(&peer, "handshake error: TLS handshake with");
    log.expect_start(&peer, "close Handshake(");
    server.stop();
    log.assert_quiet();
}

#[test]
fn graceful_shutdown_sends_close_notify() {
    const WAIT: &str = r#"
s, t = dial(suppress_ragged_eofs=False)
try:
    say("clean", s.recv(100))
except ssl.SSLEOFError:
    say("ragged")
s.unwrap().close()
"#;
    let pki = pki();
    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_probe(Over::Tcp, pki.server_tls(), &tx);
    let here = target(&server.local());
    // One still handshaking (silent), one TLS.
    let mut silent = connect(server.addr());
    let silent_tag = silent.local_addr().expect("local_addr").to_string();
    let python = {
        let ca = text(&pki.ca);
        thread::spawn(move || python(&format!("{PY_TLS}{WAIT}"), &[here, ca]))
    };
    let peer = log.next_peer();
    log.expect_start(&peer, "handshake sni=localhost");
    log.expect(&peer, "connect tls=true");
    let started = Instant::now();
    server.handle.shutdown(Duration::from_secs(3));
    let out = python.join().expect("the python thread");
    assert_eq!(show(&out), show(b"clean b''\n"));
    let answer = read_until_closed(&mut silent);
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "{:?}",
        show(&answer)
    );
    drop(silent);
    server.join().expect("the engine stopped cleanly");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "shutdown took {took:?}");
    log.expect(&peer, "close Shutdown");
    let mut last = log.next(&silent_tag);
    if last.starts_with("handshake error") {
        last = log.next(&silent_tag);
    }
    assert_eq!(last, "close Shutdown");
    log.assert_quiet();
}

#[test]
fn hand_built_rustls_configs() {
    use pants::tls::rustls;
    use std::sync::Arc;
    let pki = pki();
    let certs = pants::tls::load_certs(&pki.server.cert).expect("load_certs");
    let key = pants::tls::load_key(&pki.server.key).expect("load_key");
    let config = rustls::ServerConfig::builder_with_provider(pants::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let server_tls = ServerTls::from_config(Arc::new(config)).with_alpn(["x-pants"]);
    let err = server_tls
        .clone()
        .with_certificate_for("other.test", &pki.other.cert, &pki.other.key)
        .expect_err("a config given whole cannot take SNI certificates");
    assert!(err.to_string().contains("from_config"), "{err}");

    let mut roots = rustls::RootCertStore::empty();
    for cert in pants::tls::load_certs(&pki.ca).expect("load the CA") {
        roots.add(cert).expect("add the CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(pants::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client_tls = ClientTls::from_config(Arc::new(config)).with_alpn(["x-pants"]);

    let (tx, rx) = util::events();
    let mut log = Log::new(rx);
    let (server, _place) = serve_probe(Over::Tcp, server_tls, &tx);
    let client = dial_tls(
        format!("localhost:{}", server.addr().port()),
        client_tls,
        Pinger::new(&tx, b"ping"),
    );
    log.expect(
        "client",
        "handshake sni=- alpn=x-pants certs=1 version=TLSv1_3",
    );
    log.expect("client", "connect tls=true");
    log.expect("client", "got ping");
    log.expect("client", "close Local");
    let peer = log.next_peer();
    log.expect(
        &peer,
        "handshake sni=localhost alpn=x-pants certs=0 version=TLSv1_3",
    );
    log.expect(&peer, "connect tls=true");
    log.expect(&peer, "close PeerClosed");
    client.stop();
    server.stop();
    log.assert_quiet();
}

#[test]
fn settings_errors_name_what_is_wrong() {
    let pki = pki();
    let missing = pki.dir.path("missing.pem");
    let garbage = pki.dir.path("garbage.pem");
    std::fs::write(&garbage, "not PEM at all\n").expect("write");
    let named = |result: pants::Result<()>, what: &Path| {
        let err = result.expect_err("an error");
        assert!(
            err.to_string().contains(&text(what)),
            "the error does not name {}: {err}",
            what.display()
        );
    };
    named(
        ServerTls::from_pem_files(&missing, &pki.server.key).map(drop),
        &missing,
    );
    named(
        ServerTls::from_pem_files(&pki.server.cert, &garbage).map(drop),
        &garbage,
    );
    named(
        pki.server_tls()
            .with_client_auth(&garbage, ClientAuth::Required)
            .map(drop),
        &garbage,
    );
    named(
        pki.server_tls()
            .with_certificate_for("other.test", &pki.other.cert, &missing)
            .map(drop),
        &missing,
    );
    named(ClientTls::from_ca_file(&missing).map(drop), &missing);
    named(
        pki.client_tls()
            .with_client_certificate(&pki.client.cert, &pki.other.key)
            .map(drop),
        &pki.client.cert,
    );

    // A Unix socket has no name to verify unless one is given.
    let mut engine = Engine::<Pinger>::new().expect("Engine::new");
    let (tx, _rx) = util::events();
    let path = pki.dir.path("nobody.sock");
    let err = engine
        .connect_tls(
            path.display().to_string().as_str(),
            &pki.client_tls(),
            Pinger::new(&tx, b"x"),
        )
        .expect_err("no server name");
    assert!(err.to_string().contains("with_server_name"), "{err}");
}
