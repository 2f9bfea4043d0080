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

/// A stream's socket.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Not connected yet, or connecting failed before a socket existed.
    None,
}

impl Transport {
    /// Reads once into `buf` (`Interrupted` is retried).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(sock) => retry(|| sock.read(buf)),
            Self::Unix(sock) => retry(|| sock.read(buf)),
            Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Whether a read shorter than the buffer proves the socket drained
    /// (true for a plain socket; a TLS session may hold more plaintext).
    pub(crate) fn short_read_drains(&self) -> bool {
        true
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
            Self::None => Ok(queue.is_empty()),
        }
    }

    /// Shuts the write side (sends FIN).
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(sock) => sock.shutdown(Shutdown::Write),
            Self::Unix(sock) => sock.shutdown(Shutdown::Write),
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
            Self::None => {}
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Self::Tcp(sock) => sock.local_addr().map(Addr::Ip),
            Self::Unix(sock) => sock
                .local_addr()
                .map(|a| Addr::unix(UnixAddr::from_std(&a))),
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
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "peer credentials exist only for Unix sockets",
            )),
        }
    }
}

/// Sends up to `max` bytes of a file part with `sendfile` (no copy through
/// user space); the part's offset moves on.
fn sendfile(sock: impl std::os::fd::AsFd, part: &mut FilePart, max: usize) -> io::Result<usize> {
    Ok(rustix::fs::sendfile(
        sock,
        &part.file,
        Some(&mut part.offset),
        max,
    )?)
}

fn retry(mut f: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
