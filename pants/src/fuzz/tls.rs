//! TLS to framing: an in-memory rustls client talks to our server side
//! (`sys/tls.rs` over one end of a Unix socket pair, read the way the
//! engine reads a stream); its records arrive in random chunks.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, OnceLock};

use mio::net::UnixStream;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::Input;
use super::read::Machine;
use crate::sys::transport::Transport;

/// A self-signed P-256 certificate for `localhost`, for fuzzing only.
const CERT: &[u8] = include_bytes!("cert.pem");
const KEY: &[u8] = include_bytes!("key.pem");

/// Read sizes of the engine's buffer (64 KiB in the engine), small ones
/// to cut plaintext inside records.
const SCRATCH: [usize; 8] = [1, 2, 5, 16, 100, 1000, 16 * 1024, 64 * 1024];

/// Reads of one readable edge before the harness calls it a spin.
const READS_PER_EDGE: usize = 100_000;

struct Configs {
    /// TLS 1.3 and 1.2, as `ServerTls` builds them.
    server: Arc<ServerConfig>,
    /// TLS 1.2 only.
    server12: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

fn configs() -> &'static Configs {
    static CONFIGS: OnceLock<Configs> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT)
            .collect::<Result<_, _>>()
            .expect("the fuzz certificate");
        let key = PrivateKeyDer::from_pem_slice(KEY).expect("the fuzz key");
        let server = |versions: &[&'static rustls::SupportedProtocolVersion]| {
            let config = ServerConfig::builder_with_provider(crate::tls::provider())
                .with_protocol_versions(versions)
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(certs.clone(), key.clone_key())
                .expect("the fuzz certificate and key");
            Arc::new(config)
        };
        Configs {
            server: server(rustls::DEFAULT_VERSIONS),
            server12: server(&[&rustls::version::TLS12]),
            client: crate::tls::ClientTls::dangerous_accept_any_certificate().config(),
        }
    })
}

/// Our side: the TLS transport over one end of a socket pair, read as
/// `engine/io.rs` reads a stream on each readable edge.
struct Server {
    sock: Transport,
    scratch: Vec<u8>,
    /// Plaintext read so far, and where each read ended.
    plain: Vec<u8>,
    cuts: Vec<usize>,
    /// How the stream ended: `Ok` after `Ok(0)` (the peer's
    /// `close_notify`), or the read error.
    end: Option<io::Result<()>>,
}

impl Server {
    fn new(config: Arc<ServerConfig>, sock: UnixStream, scratch: usize) -> Self {
        let mut transport = Transport::Unix(sock);
        let conn = ServerConnection::new(config).expect("a server session");
        transport
            .start_tls(Connection::Server(conn), 0)
            .expect("TLS over the socket");
        Self {
            sock: transport,
            scratch: vec![0; scratch],
            plain: Vec::new(),
            cuts: Vec::new(),
            end: None,
        }
    }

    /// A readable edge (`closed`: the event says the peer closed): read
    /// until drained or ended, then send what rustls has to send.
    fn readable(&mut self, closed: bool) {
        if self.end.is_some() {
            return;
        }
        let mut reads = 0;
        loop {
            let read = self.sock.read(&mut self.scratch);
            let drains = self.sock.short_read_drains();
            match read {
                Ok(0) => {
                    self.end = Some(Ok(()));
                    return;
                }
                Ok(n) => {
                    self.plain.extend_from_slice(&self.scratch[..n]);
                    self.cuts.push(self.plain.len());
                    if n < self.scratch.len() && !closed && drains {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.sock.flush_alert();
                    // Read again after the error: no panic, no plaintext.
                    let again = self.sock.read(&mut self.scratch);
                    assert!(
                        !matches!(again, Ok(n) if n > 0),
                        "plaintext after an error ({e})"
                    );
                    self.end = Some(Err(e));
                    return;
                }
            }
            reads += 1;
            assert!(reads < READS_PER_EDGE, "reads that never drain: a spin");
        }
        if let Some(tls) = self.sock.tls_mut() {
            // What the engine's flush does after a read: handshake
            // messages and alerts go out.
            let _ = tls.send_records();
        }
        if closed {
            assert!(self.end.is_some(), "no end after the peer closed: a hang");
        }
    }
}

/// The other end of the pair, and the client's ciphertext on its way.
struct Wire {
    peer: UnixStream,
    /// Chunk sizes the client's bytes are written in, in turn.
    chunks: Vec<usize>,
    next_chunk: usize,
    mutations: Mutations,
}

impl Wire {
    /// Writes `bytes` to the server in chunks, an edge after each.
    fn deliver(&mut self, server: &mut Server, bytes: &[u8]) {
        let bytes = self.mutations.apply(bytes);
        let mut rest = &bytes[..];
        let mut stalls = 0;
        while !rest.is_empty() && server.end.is_none() {
            let size = self.chunks[self.next_chunk % self.chunks.len()];
            self.next_chunk += 1;
            let chunk = &rest[..size.min(rest.len())];
            match (&self.peer).write(chunk) {
                Ok(n) => {
                    rest = &rest[n..];
                    server.readable(false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    stalls += 1;
                    assert!(stalls < 1000, "the server does not drain its socket");
                    self.discard_replies();
                    server.readable(false);
                }
                Err(e) => panic!("writing to the pair: {e}"),
            }
        }
    }

    /// Reads what the server sent; `None` at its end.
    fn replies(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0; 16 * 1024];
        loop {
            match (&self.peer).read(&mut buf) {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn discard_replies(&mut self) {
        let _ = self.replies();
    }

    /// End of input (a FIN), then the edge that brings it.
    fn close(&mut self, server: &mut Server) {
        let _ = self.peer.shutdown(Shutdown::Write);
        server.readable(true);
    }
}

/// Changes to the client's ciphertext, by offset in what it sent.
#[derive(Debug, Default)]
struct Mutations {
    ops: Vec<(usize, Op)>,
    offset: usize,
    truncated: bool,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Xor(u8),
    Insert(u8),
    Delete,
    Truncate,
}

impl Mutations {
    fn decode(input: &mut Input<'_>) -> Self {
        let ops = (0..=input.below(6))
            .map(|_| {
                let at = usize::from(input.u16()) % 4096;
                let op = match input.u8() % 4 {
                    0 => Op::Xor(input.u8().max(1)),
                    1 => Op::Insert(input.u8()),
                    2 => Op::Delete,
                    _ => Op::Truncate,
                };
                (at, op)
            })
            .collect();
        Self {
            ops,
            ..Self::default()
        }
    }

    fn apply(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.ops.is_empty() {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        for &byte in bytes {
            let at = self.offset;
            self.offset += 1;
            let mut byte = Some(byte);
            for &(_, op) in self.ops.iter().filter(|(o, _)| *o == at) {
                match op {
                    Op::Xor(x) => byte = byte.map(|b| b ^ x),
                    Op::Insert(x) if !self.truncated => out.push(x),
                    Op::Insert(_) => {}
                    Op::Delete => byte = None,
                    Op::Truncate => self.truncated = true,
                }
            }
            if let Some(byte) = byte.filter(|_| !self.truncated) {
                out.push(byte);
            }
        }
        out
    }
}

/// The in-memory client.
struct Client {
    conn: ClientConnection,
    failed: bool,
}

impl Client {
    /// Ciphertext the client has to send.
    fn records(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut out).is_err() {
                break;
            }
        }
        out
    }

    /// Takes the server's records; notes a failure (the client then
    /// stops, its alert queued).
    fn receive(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.failed {
            let taken = self.conn.read_tls(&mut bytes);
            if taken.is_err() || self.conn.process_new_packets().is_err() {
                self.failed = true;
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The records as the client made them: the plaintext and its frames
    /// must come out as they went in.
    Roundtrip,
    /// The records changed on the way: an error or a prefix of the
    /// plaintext, never anything else.
    Mutate,
    /// The fuzzer's bytes are the records: an error, never plaintext.
    Garbage,
}

/// The fuzz target `tls`: a mode (round trip, mutated records, garbage),
/// TLS 1.3 or 1.2, `close_notify` or a bare end of input, the read size,
/// chunk sizes, record sizes, mutations, a read machine for the frames,
/// then the plaintext (or, in garbage mode, the records).
pub fn tls(data: &[u8]) {
    let mut input = Input(data);
    let mode_byte = input.u8();
    let mode = match mode_byte % 3 {
        0 => Mode::Roundtrip,
        1 => Mode::Mutate,
        _ => Mode::Garbage,
    };
    let tls12 = (mode_byte / 3) % 2 == 1;
    let bare_eof = (mode_byte / 6) % 2 == 1;
    let early = (mode_byte / 12) % 2 == 1;
    let scratch = input.pick(&SCRATCH);
    let chunks: Vec<usize> = (0..=input.below(8))
        .map(|_| 1 + usize::from(input.u16()) % 3000)
        .collect();

    let configs = configs();
    let config = if tls12 {
        &configs.server12
    } else {
        &configs.server
    };
    let (ours, peer) = UnixStream::pair().expect("a socket pair");
    let mut server = Server::new(Arc::clone(config), ours, scratch);

    if mode == Mode::Garbage {
        let wire = Wire {
            peer,
            chunks,
            next_chunk: 0,
            mutations: Mutations::default(),
        };
        return garbage(&mut server, wire, input.rest());
    }

    let records: Vec<usize> = (0..=input.below(8))
        .map(|_| 1 + usize::from(input.u16()) % 17_000)
        .collect();
    let mutations = if mode == Mode::Mutate {
        Mutations::decode(&mut input)
    } else {
        Mutations::default()
    };
    let machine = Machine::decode(&mut input);
    let plaintext = input.rest();

    let name = ServerName::try_from("localhost").expect("a server name");
    // A session cache of its own: no ticket of an earlier run is resumed,
    // so a run depends on its input alone.
    let mut config = ClientConfig::clone(&configs.client);
    config.resumption = rustls::client::Resumption::in_memory_sessions(4);
    let mut client = Client {
        conn: ClientConnection::new(Arc::new(config), name).expect("a client"),
        failed: false,
    };
    let mut wire = Wire {
        peer,
        chunks,
        next_chunk: 0,
        mutations,
    };

    // The plaintext, in records of the chosen sizes (before the handshake
    // ends when `early`: rustls sends it right after its Finished).
    let mut written = false;
    let write = |client: &mut Client| {
        let mut rest = plaintext;
        let mut sizes = records.iter().cycle();
        while !rest.is_empty() {
            let size = sizes.next().copied().unwrap_or(1).min(rest.len());
            let n = client
                .conn
                .writer()
                .write(&rest[..size])
                .expect("plaintext");
            assert!(n > 0, "rustls took no plaintext");
            rest = &rest[n..];
        }
    };
    for _ in 0..64 {
        if !written && (early || !client.conn.is_handshaking()) {
            write(&mut client);
            written = true;
        }
        let out = client.records();
        wire.deliver(&mut server, &out);
        let replies = wire.replies();
        client.receive(&replies);
        if server.end.is_some() || client.failed || (out.is_empty() && replies.is_empty()) {
            break;
        }
    }

    if mode == Mode::Roundtrip {
        assert!(written && !client.failed, "the handshake completes");
        assert!(server.end.is_none(), "the stream is open: {:?}", server.end);
        // Every record delivered: all its plaintext read on the edges that
        // brought it, with no further edge.
        assert_eq!(server.plain, plaintext, "the plaintext, before the close");
    }
    if !bare_eof && !client.failed {
        client.conn.send_close_notify();
        let out = client.records();
        wire.deliver(&mut server, &out);
    }
    wire.close(&mut server);

    check_end(mode, bare_eof, &server, plaintext, &machine);
}

/// Garbage mode: the bytes as records, then end of input.
fn garbage(server: &mut Server, mut wire: Wire, records: &[u8]) {
    wire.deliver(server, records);
    wire.discard_replies();
    wire.close(server);
    assert!(server.plain.is_empty(), "plaintext from garbage");
    let failed = matches!(server.end, Some(Err(_)));
    assert!(
        failed || server.sock.is_handshaking(),
        "garbage must end in an error: {:?}",
        server.end
    );
}

/// How a round trip or a mutated exchange must have ended.
fn check_end(mode: Mode, bare_eof: bool, server: &Server, plaintext: &[u8], machine: &Machine) {
    match mode {
        Mode::Roundtrip => {
            assert_eq!(server.plain, plaintext, "the plaintext");
            match &server.end {
                Some(Ok(())) => assert!(!bare_eof, "a clean end without close_notify"),
                Some(Err(e)) => assert!(
                    bare_eof && e.kind() == io::ErrorKind::UnexpectedEof,
                    "after close_notify: {e}"
                ),
                None => unreachable!("checked by `close`"),
            }
            // The frames of the plaintext as TLS cut it are those of the
            // plaintext whole.
            machine.check_split(plaintext, &server.cuts);
        }
        Mode::Mutate => {
            assert!(
                plaintext.starts_with(&server.plain),
                "plaintext that was never sent"
            );
            if matches!(server.end, Some(Ok(()))) && !server.sock.is_handshaking() {
                assert_eq!(server.plain, plaintext, "a clean end loses nothing");
            }
            machine.check_split(&server.plain, &server.cuts);
        }
        Mode::Garbage => unreachable!("handled above"),
    }
}
