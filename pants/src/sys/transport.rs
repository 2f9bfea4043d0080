//! The transport seam: a stream's socket behind one enum, each operation a
//! static `match`. The engine and the core never name a variant, so a new
//! transport (Unix sockets, TLS boxed to keep plain streams small) is added
//! here alone.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::proto::write_queue::WriteQueue;

/// A stream's socket.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    /// Not connected yet, or connecting failed before a socket existed.
    None,
}

impl Transport {
    /// Reads once into `buf` (`Interrupted` is retried).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(sock) => loop {
                match sock.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => return other,
                }
            },
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
            Self::Tcp(sock) => queue.drain_into(|bytes| sock.write(bytes)),
            Self::None => Ok(queue.is_empty()),
        }
    }

    /// Shuts the write side (sends FIN).
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(sock) => sock.shutdown(Shutdown::Write),
            Self::None => Ok(()),
        }
    }

    /// Registers for readable and writable readiness, edge-triggered.
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Self::Tcp(sock) => {
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
            Self::None => {}
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Tcp(sock) => sock.local_addr(),
            Self::None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// A connecting socket's outcome: `Ok(Some(peer))` connected,
    /// `Ok(None)` not yet, `Err` failed.
    pub(crate) fn connect_result(&self, errored: bool) -> io::Result<Option<SocketAddr>> {
        let Self::Tcp(sock) = self else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if let Some(e) = sock.take_error()? {
            return Err(e);
        }
        match sock.peer_addr() {
            Ok(peer) => Ok(Some(peer)),
            Err(e) if e.kind() == io::ErrorKind::NotConnected && !errored => Ok(None),
            Err(e) => Err(e),
        }
    }
}
