//! The TLS transport: a plain socket (TCP or Unix) and a rustls session.
//! Ciphertext never leaves this file; `read` hands out plaintext, and the
//! write queue's plaintext is encrypted here on its way to the socket.

use std::io::{self, Read, Write};

use rustls::{ClientConnection, Connection, ServerConnection};
use rustls_pki_types::ServerName;

use crate::tls::{ClientTls, ServerTls};

use crate::proto::write_queue::WriteQueue;
use crate::sys::transport::{Transport, copy_file};

/// Plaintext handed to rustls per step: four full records. rustls holds
/// at most this much beyond the write queue.
const CHUNK: usize = 64 * 1024;

/// What a stream is to start TLS with.
pub(crate) enum TlsStart {
    Server(ServerTls),
    Client(ClientTls, ServerName<'static>),
}

impl TlsStart {
    /// A rustls session for it.
    pub(crate) fn connection(&self) -> Result<Connection, rustls::Error> {
        Ok(match self {
            Self::Server(tls) => Connection::Server(ServerConnection::new(tls.config())?),
            Self::Client(tls, name) => {
                Connection::Client(ClientConnection::new(tls.config(), name.clone())?)
            }
        })
    }

    pub(crate) fn handshake_timeout(&self) -> std::time::Duration {
        match self {
            Self::Server(tls) => tls.handshake_timeout(),
            Self::Client(tls, _) => tls.handshake_timeout(),
        }
    }
}

/// A TLS session over a plain socket.
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one session"
)]
pub(crate) struct Tls {
    /// The socket (never itself TLS).
    pub(crate) sock: Transport,
    pub(crate) conn: Connection,
    /// Bytes at the head of the write queue that go out in plaintext
    /// first: what was queued before a STARTTLS upgrade.
    plain: u64,
    /// The socket reached its end of input.
    eof: bool,
    /// `close_notify` has been queued.
    notified: bool,
    /// A TLS error happened (its alert is queued; nothing else will be).
    failed: bool,
    /// `on_connect` waits for the handshake (a stream TLS from the start).
    pub(crate) connect_pending: bool,
    /// Plaintext the application wrote sits in records not yet sent (so
    /// `on_write` is still owed when they go).
    pub(crate) data_in_flight: bool,
    /// How long the handshake may take.
    pub(crate) handshake_timeout: std::time::Duration,
    /// The last read stopped at the socket's `WouldBlock`.
    drained: bool,
    /// An error met after some plaintext, for the next read.
    pending: Option<io::Error>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("sock", &self.sock)
            .field("handshaking", &self.conn.is_handshaking())
            .finish_non_exhaustive()
    }
}

/// The plain socket as `io::Read`/`io::Write` for rustls.
struct Sock<'a>(&'a mut Transport);

/// The plain socket as `io::Read`, noting a read shorter than asked: on a
/// plain socket that proves it drained.
struct ShortRead<'a>(&'a mut Transport, bool);

impl Read for ShortRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1 = n < buf.len();
        Ok(n)
    }
}

impl Write for Sock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_plain(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_plain_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Tls {
    /// A session over `sock`. `plain` bytes of the write queue go out
    /// before it; `early` is input already received that belongs to it.
    /// A session over `sock`; `plain` bytes of the write queue go out
    /// before it.
    pub(crate) fn new(sock: Transport, conn: Connection, plain: u64) -> Self {
        Self {
            sock,
            conn,
            plain,
            eof: false,
            notified: false,
            failed: false,
            connect_pending: false,
            data_in_flight: false,
            handshake_timeout: crate::tls::DEFAULT_HANDSHAKE_TIMEOUT,
            drained: false,
            pending: None,
        }
    }

    /// Input already read from the socket that belongs to the session
    /// (what followed STARTTLS in the same read).
    pub(crate) fn feed(&mut self, mut early: &[u8]) -> io::Result<()> {
        while !early.is_empty() {
            self.conn.read_tls(&mut early)?;
            self.process()?;
        }
        Ok(())
    }

    fn process(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => {
                self.failed = true;
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }

    /// Reads plaintext into `buf`: as much as the socket has now, across
    /// records, so one delivery (and one reply) covers what one read of a
    /// plain socket would. A result shorter than `buf` with
    /// [`drained`](Self::drained) set means the socket would block.
    /// `Ok(0)` follows the peer's `close_notify`; an `UnexpectedEof` error
    /// a socket EOF without one (after the plaintext before it);
    /// `WouldBlock` when there is nothing. An error after some plaintext is
    /// returned by the next call.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.drained = false;
        let mut got = 0;
        loop {
            if got == buf.len() {
                return Ok(got);
            }
            let failure = match self.conn.reader().read(&mut buf[got..]) {
                Ok(0) => return Ok(got),
                Ok(n) => {
                    got += n;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(e) => Some(e),
            };
            // An error met while rustls still held plaintext (below), or
            // after some plaintext: once rustls holds no more.
            let failure = failure.or_else(|| self.pending.take());
            let failure = failure.or_else(|| {
                // rustls has seen the end and still says "no data": the
                // handshake never finished.
                self.eof.then(|| io::ErrorKind::UnexpectedEof.into())
            });
            // A short read of the socket proved it drained: no read that
            // would only say `WouldBlock`.
            let failure = failure.or_else(|| {
                self.drained
                    .then(|| io::ErrorKind::WouldBlock.into())
                    .or_else(|| self.fill().err())
            });
            if let Some(e) = failure {
                // Plaintext of the records before a failing one (read from
                // the socket together with it) comes first, as it would
                // had they arrived in separate reads (found by fuzzing).
                if e.kind() != io::ErrorKind::WouldBlock
                    && let Ok(n @ 1..) = self.conn.reader().read(&mut buf[got..])
                {
                    got += n;
                    self.pending = Some(e);
                    continue;
                }
                if e.kind() == io::ErrorKind::WouldBlock {
                    self.drained = true;
                }
                if got == 0 {
                    return Err(e);
                }
                if e.kind() != io::ErrorKind::WouldBlock {
                    self.pending = Some(e);
                }
                return Ok(got);
            }
        }
    }

    /// One read of ciphertext from the socket, processed.
    fn fill(&mut self) -> io::Result<()> {
        if self.failed {
            // rustls has sent its fatal alert: nothing more goes in.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the TLS session has failed",
            ));
        }
        if self.conn.is_handshaking() && self.conn.wants_write() {
            // Answer before reading on: the peer waits for it.
            self.send_records()?;
        }
        let mut sock = ShortRead(&mut self.sock, false);
        if self.conn.read_tls(&mut sock)? == 0 {
            self.eof = true;
        }
        self.drained = sock.1;
        self.process()
    }

    /// Whether the last [`read`](Self::read) stopped because the socket
    /// would block (the next readiness edge brings more).
    pub(crate) fn drained(&self) -> bool {
        self.drained
    }

    /// Writes the records rustls holds; `Ok(true)` when none is left.
    pub(crate) fn send_records(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Sock(&mut self.sock)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.data_in_flight = false;
        Ok(true)
    }

    /// Sends the write queue: the plaintext prefix as it is, then pending
    /// records, then the queue's bytes (and file ranges) encrypted.
    /// `Ok(true)` once the queue is empty and no record waits.
    pub(crate) fn write_queue(&mut self, queue: &mut WriteQueue) -> io::Result<bool> {
        if self.plain > 0 {
            let before = queue.len() as u64;
            let plain = self.plain;
            let sock = &self.sock;
            let left = std::cell::Cell::new(plain);
            // How much of `max` the prefix still allows; 0 stops the drain.
            let room = |max: usize| usize::try_from(left.get()).unwrap_or(usize::MAX).min(max);
            queue.drain(
                |bytes| match room(bytes.len()) {
                    0 => Err(io::ErrorKind::WouldBlock.into()),
                    n => {
                        let n = sock.write_plain(&bytes[..n])?;
                        left.set(left.get() - n as u64);
                        Ok(n)
                    }
                },
                |part, max| match room(max) {
                    0 => Err(io::ErrorKind::WouldBlock.into()),
                    max => {
                        let n = sock.send_file_plain(part, max)?;
                        left.set(left.get() - n as u64);
                        Ok(n)
                    }
                },
            )?;
            self.plain = plain.saturating_sub(before - queue.len() as u64);
            if self.plain > 0 {
                return Ok(false);
            }
        }
        if !self.send_records()? {
            return Ok(false);
        }
        if self.conn.is_handshaking() {
            // Plaintext waits for the handshake (the engine flushes again
            // when it completes).
            return Ok(queue.is_empty());
        }
        let this = std::cell::RefCell::new(&mut *self);
        let encrypt = |bytes: &[u8]| -> io::Result<usize> {
            let mut tls = this.borrow_mut();
            if !tls.send_records()? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = tls.conn.writer().write(&bytes[..bytes.len().min(CHUNK)])?;
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            tls.data_in_flight = true;
            // What was just encrypted goes out now if the socket takes it;
            // if not, it waits in rustls (at most one chunk).
            tls.send_records()?;
            Ok(n)
        };
        let done = queue.drain(&encrypt, |part, max| {
            copy_file(part, max.min(CHUNK), &encrypt)
        })?;
        Ok(done && !self.conn.wants_write())
    }

    /// Queues `close_notify` once; `true` if it was queued now.
    pub(crate) fn close_notify(&mut self) -> bool {
        if self.notified || self.failed {
            return false;
        }
        self.notified = true;
        self.conn.send_close_notify();
        true
    }

    /// Sends a queued alert if the socket takes it now (a failing stream
    /// does not wait).
    pub(crate) fn flush_alert(&mut self) {
        let _ = self.send_records();
    }
}
