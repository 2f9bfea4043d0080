//! The transport seam: a stream's socket behind one enum, each operation a
//! static `match`. The engine and the core never name a variant, so a new
//! transport (Unix sockets, TLS boxed to keep plain streams small) is added
//! here alone.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::addr::{Addr, UnixAddr};
use crate::proto::write_queue::{FilePart, WriteQueue};
use crate::sys::tls::Tls;

/// A stream's socket.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over a TCP or Unix socket (boxed: most streams are plain).
    Tls(Box<Tls>),
    /// Not connected yet, or connecting failed before a socket existed.
    None,
}

impl Transport {
    /// Reads once into `buf` (`Interrupted` is retried): plaintext, for TLS.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(sock) => retry(|| sock.read(buf)),
            Self::Unix(sock) => retry(|| sock.read(buf)),
            Self::Tls(tls) => tls.read(buf),
            Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Whether the last read, if shorter than its buffer, proved the socket
    /// drained (always, for a plain socket; for TLS, when it stopped at the
    /// socket's `WouldBlock` rather than with plaintext still in rustls).
    pub(crate) fn short_read_drains(&self) -> bool {
        match self {
            Self::Tls(tls) => tls.drained(),
            _ => true,
        }
    }

    /// Whether protocol records wait to be written (TLS handshake
    /// messages, alerts, `close_notify`) whatever the write queue holds.
    pub(crate) fn wants_write(&self) -> bool {
        matches!(self, Self::Tls(tls) if tls.conn.wants_write())
    }

    /// Whether a TLS handshake is under way.
    pub(crate) fn is_handshaking(&self) -> bool {
        matches!(self, Self::Tls(tls) if tls.conn.is_handshaking())
    }

    /// The TLS session, if this is TLS.
    pub(crate) fn tls(&self) -> Option<&Tls> {
        match self {
            Self::Tls(tls) => Some(tls),
            _ => None,
        }
    }

    pub(crate) fn tls_mut(&mut self) -> Option<&mut Tls> {
        match self {
            Self::Tls(tls) => Some(tls),
            _ => None,
        }
    }

    /// Puts TLS over this plain socket: `plain` bytes of the write queue
    /// go out before it.
    pub(crate) fn start_tls(&mut self, conn: rustls::Connection, plain: u64) -> io::Result<()> {
        if matches!(self, Self::Tls(_) | Self::None) {
            return Err(io::Error::other(
                "the stream is already TLS, or has no socket",
            ));
        }
        let sock = std::mem::replace(self, Self::None);
        *self = Self::Tls(Box::new(Tls::new(sock, conn, plain)));
        Ok(())
    }

    /// Whether plaintext the application wrote waits inside the transport
    /// (TLS records not yet taken by the socket).
    pub(crate) fn holds_data(&self) -> bool {
        matches!(self, Self::Tls(tls) if tls.data_in_flight)
    }

    /// Queues TLS `close_notify` (once); `true` if there is now a record to
    /// send before the socket may close.
    pub(crate) fn close_notify(&mut self) -> bool {
        match self {
            Self::Tls(tls) => tls.close_notify(),
            _ => false,
        }
    }

    /// Sends a queued TLS alert if the socket takes it now.
    pub(crate) fn flush_alert(&mut self) {
        if let Self::Tls(tls) = self {
            tls.flush_alert();
        }
    }

    /// Writes plaintext to a plain socket.
    pub(crate) fn write_plain(&self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(sock) => Write::write(&mut &*sock, bytes),
            Self::Unix(sock) => Write::write(&mut &*sock, bytes),
            Self::Tls(_) | Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes several buffers to a plain socket with one system call.
    pub(crate) fn write_plain_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Tcp(sock) => send_vectored(sock, bufs),
            Self::Unix(sock) => send_vectored(sock, bufs),
            Self::Tls(_) | Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Sends part of a file on a plain socket (`sendfile`).
    pub(crate) fn send_file_plain(&self, part: &mut FilePart, max: usize) -> io::Result<usize> {
        match self {
            Self::Tcp(sock) => sendfile(sock, part, max),
            Self::Unix(sock) => sendfile(sock, part, max),
            Self::Tls(_) | Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes the queue until it is empty (`Ok(true)`) or the socket is full.
    pub(crate) fn write_queue(&mut self, queue: &mut WriteQueue) -> io::Result<bool> {
        match self {
            Self::Tcp(sock) => {
                let sock = &*sock;
                queue.drain(
                    |bytes| Write::write(&mut &*sock, bytes),
                    |part, max| sendfile(sock, part, max),
                )
            }
            Self::Unix(sock) => {
                let sock = &*sock;
                queue.drain(
                    |bytes| Write::write(&mut &*sock, bytes),
                    |part, max| sendfile(sock, part, max),
                )
            }
            Self::Tls(tls) => tls.write_queue(queue),
            Self::None => Ok(queue.is_empty()),
        }
    }

    /// Shuts the write side (sends FIN).
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(sock) => sock.shutdown(Shutdown::Write),
            Self::Unix(sock) => sock.shutdown(Shutdown::Write),
            Self::Tls(tls) => tls.sock.shutdown_write(),
            Self::None => Ok(()),
        }
    }

    /// Registers for readable and writable readiness, edge-triggered.
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Self::Tcp(sock) => {
                registry.register(sock, token, Interest::READABLE | Interest::WRITABLE)
            }
            Self::Unix(sock) => {
                registry.register(sock, token, Interest::READABLE | Interest::WRITABLE)
            }
            Self::Tls(tls) => tls.sock.register(registry, token),
            Self::None => Ok(()),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        match self {
            Self::Tcp(sock) => {
                let _ = registry.deregister(sock);
            }
            Self::Unix(sock) => {
                let _ = registry.deregister(sock);
            }
            Self::Tls(tls) => tls.sock.deregister(registry),
            Self::None => {}
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Self::Tcp(sock) => sock.local_addr().map(Addr::Ip),
            Self::Unix(sock) => sock
                .local_addr()
                .map(|a| Addr::unix(UnixAddr::from_std(&a))),
            Self::Tls(tls) => tls.sock.local_addr(),
            Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// A connecting socket's outcome: `Ok(Some(peer))` connected,
    /// `Ok(None)` not yet, `Err` failed.
    pub(crate) fn connect_result(&self, errored: bool) -> io::Result<Option<Addr>> {
        let (error, peer) = match self {
            Self::Tcp(sock) => (
                sock.take_error()?,
                sock.peer_addr()
                    .map(|a| Addr::Ip(crate::sys::listener::canonical(a))),
            ),
            Self::Unix(sock) => (
                sock.take_error()?,
                sock.peer_addr().map(|a| Addr::unix(UnixAddr::from_std(&a))),
            ),
            Self::Tls(tls) => return tls.sock.connect_result(errored),
            Self::None => return Err(io::ErrorKind::NotConnected.into()),
        };
        if let Some(e) = error {
            return Err(e);
        }
        match peer {
            Ok(peer) => Ok(Some(peer)),
            Err(e) if e.kind() == io::ErrorKind::NotConnected && !errored => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The peer's process, user and group, for a Unix stream (`SO_PEERCRED`).
    pub(crate) fn peer_credentials(&self) -> io::Result<crate::addr::Credentials> {
        match self {
            Self::Unix(sock) => {
                let cred = rustix::net::sockopt::socket_peercred(sock)?;
                Ok(crate::addr::Credentials {
                    pid: cred.pid.as_raw_nonzero().get(),
                    uid: cred.uid.as_raw(),
                    gid: cred.gid.as_raw(),
                })
            }
            Self::Tls(tls) => tls.sock.peer_credentials(),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "peer credentials exist only for Unix sockets",
            )),
        }
    }
}

/// Sends up to `max` bytes of a file part with `sendfile` (no copy through
/// user space); the part's offset moves on. A file `sendfile` cannot read
/// (`EINVAL`: most of `/proc`; `ENOSYS`) is read and written instead, from
/// then on.
fn sendfile(sock: impl std::os::fd::AsFd, part: &mut FilePart, max: usize) -> io::Result<usize> {
    if !part.copy {
        match rustix::fs::sendfile(&sock, &part.file, Some(&mut part.offset), max) {
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => part.copy = true,
            other => return Ok(other?),
        }
    }
    copy_file(part, max, |bytes| {
        rustix::io::write(&sock, bytes).map_err(io::Error::from)
    })
}

/// The bytes read from a file per step of the read-and-write fallback.
const COPY_CHUNK: usize = 64 * 1024;

/// The read-and-write fallback of `sendfile`: reads up to `max` bytes
/// (at most [`COPY_CHUNK`]) of the part at its offset and writes them to
/// `sink`; the offset moves by what the sink took. Bytes read and not taken
/// are read again next time (positional reads: nothing is lost or kept).
/// `Ok(0)` is the end of the file.
pub(crate) fn copy_file(
    part: &mut FilePart,
    max: usize,
    mut sink: impl FnMut(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; max.min(COPY_CHUNK)];
    let got = retry(|| part.file.read_at(&mut buf, part.offset))?;
    if got == 0 {
        return Ok(0);
    }
    let n = retry(|| sink(&buf[..got]))?;
    part.offset += n as u64;
    Ok(n)
}

fn retry(mut f: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// `sendmsg` with `MSG_NOSIGNAL`: a peer that reset gives `EPIPE`, never a
/// `SIGPIPE` (`writev` raises one, which kills a host program that has not
/// ignored it; std's own socket writes use `MSG_NOSIGNAL` for the same
/// reason).
fn send_vectored(sock: &impl std::os::fd::AsFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let mut control = rustix::net::SendAncillaryBuffer::default();
    rustix::net::sendmsg(sock, bufs, &mut control, rustix::net::SendFlags::NOSIGNAL)
        .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::write_queue::WriteQueue;

    /// A file of `n` pattern bytes in a fresh temp dir (removed with it).
    fn file_of(n: usize, tag: &str) -> (std::fs::File, Vec<u8>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("pants-copy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        (std::fs::File::open(&path).expect("open"), data, dir)
    }

    #[test]
    fn the_copy_fallback_sends_ranges_through_a_sink_taking_little_at_a_time() {
        let (file, data, dir) = file_of(200_000, "ranges");
        let mut q = WriteQueue::default();
        q.extend(&[b"<"]);
        q.push_file(file.try_clone().expect("clone"), 0, data.len() as u64);
        q.extend(&[b"|"]);
        q.push_file(file, 1000, 70_000);
        q.extend(&[b">"]);
        let out = std::cell::RefCell::new(Vec::new());
        let mut turn = 0usize;
        loop {
            // Bytes 7000 per call, file bytes 5000 per call; every third
            // byte write would block.
            let done = q
                .drain(
                    |b| {
                        turn += 1;
                        if turn.is_multiple_of(3) {
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        let n = b.len().min(7000);
                        out.borrow_mut().extend_from_slice(&b[..n]);
                        Ok(n)
                    },
                    |part, max| {
                        copy_file(part, max, |b| {
                            let n = b.len().min(5000);
                            out.borrow_mut().extend_from_slice(&b[..n]);
                            Ok(n)
                        })
                    },
                )
                .expect("drain");
            if done {
                break;
            }
        }
        let mut want = b"<".to_vec();
        want.extend_from_slice(&data);
        want.push(b'|');
        want.extend_from_slice(&data[1000..71_000]);
        want.push(b'>');
        let out = out.into_inner();
        assert_eq!(out.len(), want.len());
        assert!(out == want, "bytes differ");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_copy_fallback_reports_a_short_file() {
        let (file, _, dir) = file_of(10, "short");
        let mut q = WriteQueue::default();
        q.push_file(file, 4, 100);
        let mut out = Vec::new();
        let err = q
            .drain(
                |b| Ok(b.len()),
                |part, max| {
                    copy_file(part, max, |b| {
                        out.extend_from_slice(b);
                        Ok(b.len())
                    })
                },
            )
            .expect_err("a range past the end of the file");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(out, [4, 5, 6, 7, 8, 9]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
