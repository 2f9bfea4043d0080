//! The listener seam: a server's socket behind one enum, TCP or Unix.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mio::net::{TcpListener, UnixListener};
use mio::{Interest, Registry, Token};

use crate::addr::{Addr, UnixAddr};
use crate::error::{Error, Result};
use crate::sys::transport::Transport;

/// A server's listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// A Unix listener, with the socket file it made (none for an
    /// abstract name), removed when the listener goes.
    Unix(
        UnixListener,
        #[allow(dead_code, reason = "held for its Drop")] Option<SocketFile>,
    ),
}

/// The socket file of a Unix listener: removed when the listener is dropped
/// (the server closes, the engine shuts down or is dropped).
#[derive(Debug)]
pub(crate) struct SocketFile(PathBuf);

impl SocketFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self(path)
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Listener {
    /// Accepts one connection: its transport (`TCP_NODELAY` set on TCP) and
    /// the peer's address (IPv4 peers of a dual-stack socket shown as IPv4).
    pub(crate) fn accept(&self) -> io::Result<(Transport, Addr)> {
        match self {
            Self::Tcp(listener) => {
                let (sock, peer) = listener.accept()?;
                let _ = sock.set_nodelay(true);
                Ok((Transport::Tcp(sock), Addr::Ip(canonical(peer))))
            }
            Self::Unix(listener, _) => {
                let (sock, peer) = listener.accept()?;
                Ok((Transport::Unix(sock), Addr::unix(UnixAddr::from_std(&peer))))
            }
        }
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Self::Tcp(listener) => registry.register(listener, token, Interest::READABLE),
            Self::Unix(listener, _) => registry.register(listener, token, Interest::READABLE),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Self::Tcp(listener) => registry.deregister(listener),
            Self::Unix(listener, _) => registry.deregister(listener),
        };
    }
}

/// Listens on a Unix socket. A socket file left by a process that died is
/// replaced; a path where a live server listens is `AddrInUse` (never
/// stolen); a path that is not a socket is left alone and reported.
pub(crate) fn bind_unix(name: &UnixAddr) -> Result<(Listener, Addr)> {
    let addr = Addr::unix(name.clone());
    let fail = |source: io::Error| Error::Listen {
        addr: addr.clone(),
        source,
    };
    if let UnixAddr::Path(path) = name {
        clear_stale(path).map_err(fail)?;
    }
    let std_addr = name.to_std().map_err(fail)?;
    let listener = UnixListener::bind_addr(&std_addr).map_err(fail)?;
    let file = match name {
        UnixAddr::Path(path) => Some(SocketFile(path.clone())),
        _ => None,
    };
    Ok((Listener::Unix(listener, file), addr))
}

/// Removes a socket file nobody listens on.
fn clear_stale(path: &Path) -> io::Result<()> {
    clear_stale_with(path, "a server is listening there", |path| {
        std::os::unix::net::UnixStream::connect(path).map(drop)
    })
}

/// Removes a datagram socket file nobody is bound to.
pub(crate) fn clear_stale_datagram(path: &Path) -> io::Result<()> {
    clear_stale_with(path, "a live socket is bound there", |path| {
        std::os::unix::net::UnixDatagram::unbound().and_then(|probe| probe.connect(path))
    })
}

/// Removes the socket file at `path` if `probe` (a connect) is refused;
/// a live one is `AddrInUse`, a path that is not a socket is reported.
fn clear_stale_with(
    path: &Path,
    busy: &str,
    probe: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        ));
    }
    match probe(path) {
        Ok(()) => Err(io::Error::new(io::ErrorKind::AddrInUse, busy.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            log::info!("{}: removing a stale socket file", path.display());
            std::fs::remove_file(path)
        }
        // Let bind report what is wrong (permissions, say).
        Err(_) => Ok(()),
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
