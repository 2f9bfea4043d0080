//! The listener seam: a server's socket behind one enum (Unix listeners
//! join TCP here).

use std::io;
use std::net::SocketAddr;

use mio::net::TcpListener;
use mio::{Interest, Registry, Token};

use crate::sys::transport::Transport;

/// A server's listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
}

impl Listener {
    /// Accepts one connection: its transport (`TCP_NODELAY` set) and the
    /// peer's address (IPv4 peers of a dual-stack socket shown as IPv4).
    pub(crate) fn accept(&self) -> io::Result<(Transport, SocketAddr)> {
        match self {
            Self::Tcp(listener) => {
                let (sock, peer) = listener.accept()?;
                let _ = sock.set_nodelay(true);
                Ok((Transport::Tcp(sock), canonical(peer)))
            }
        }
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Self::Tcp(listener) => registry.register(listener, token, Interest::READABLE),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        match self {
            Self::Tcp(listener) => {
                let _ = registry.deregister(listener);
            }
        }
    }
}

/// IPv4 peers of a dual-stack listener arrive as `::ffff:a.b.c.d`; show them as IPv4.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Whether an accept error means the process is out of descriptors or
/// memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): back off instead of spinning.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
