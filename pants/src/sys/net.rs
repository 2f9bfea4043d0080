//! Socket setup: listeners (socket2 options) and non-blocking connects.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{Addr, IntoAddr, UnixAddr};
use crate::error::{Error, Result};
use crate::sys::listener::Listener;
use crate::sys::transport::Transport;

/// How a server listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    /// The accept backlog (default 1024).
    pub backlog: i32,
    /// Set `SO_REUSEPORT`, so several engines (one per core) can share the
    /// port and the kernel spreads connections among them (default false).
    pub reuse_port: bool,
    /// The most connections this server keeps open at once (default: no
    /// limit). At the limit it stops accepting: new connections wait in
    /// the kernel's backlog (and past it are refused or time out, as the
    /// kernel decides) until one of its connections closes.
    pub max_connections: Option<usize>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            backlog: 1024,
            reuse_port: false,
            max_connections: None,
        }
    }
}

/// Binds a non-blocking listener: `SO_REUSEADDR`, dual-stack on `[::]`.
pub(crate) fn bind_listener(addr: SocketAddr, options: ListenOptions) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(options.backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Listens on the first address that binds; the error names the first failure.
pub(crate) fn listen_any(addr: &impl IntoAddr, options: ListenOptions) -> Result<(Listener, Addr)> {
    if let Some(name) = addr.unix() {
        return crate::sys::listener::bind_unix(&name?);
    }
    bind_first(addr, |candidate| {
        let listener = bind_listener(candidate, options)?;
        let local = listener.local_addr()?;
        Ok((Listener::Tcp(listener), Addr::Ip(local)))
    })
}

/// Resolves `addr` for binding and returns what `bind` makes of the first
/// address it accepts; the error names the first failure (or the address,
/// if it resolved to none).
pub(crate) fn bind_first<T>(
    addr: &impl IntoAddr,
    mut bind: impl FnMut(SocketAddr) -> io::Result<T>,
) -> Result<T> {
    let addrs = addr.resolve(true).map_err(|e| match e {
        Error::Connect { addr, source } => Error::Address {
            input: addr,
            reason: source.to_string(),
        },
        other => other,
    })?;
    let mut first = None;
    for candidate in addrs {
        match bind(candidate) {
            Ok(bound) => return Ok(bound),
            Err(source) => {
                first.get_or_insert(Error::Listen {
                    addr: Addr::Ip(candidate),
                    source,
                });
            }
        }
    }
    Err(first.unwrap_or_else(|| Error::Address {
        input: addr.describe(),
        reason: "no address".into(),
    }))
}

/// Starts a connect to a Unix socket.
pub(crate) fn start_connect_unix(name: &UnixAddr) -> io::Result<(Transport, Addr)> {
    let sock = mio::net::UnixStream::connect_addr(&name.to_std()?)?;
    Ok((Transport::Unix(sock), Addr::unix(name.clone())))
}

/// Starts a connect to the first address that accepts the attempt.
pub(crate) fn start_connect(
    rest: &mut Vec<SocketAddr>,
) -> std::result::Result<(Transport, Addr), io::Error> {
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to connect to");
    while !rest.is_empty() {
        let addr = rest.remove(0);
        match TcpStream::connect(addr) {
            Ok(sock) => {
                let _ = sock.set_nodelay(true);
                return Ok((Transport::Tcp(sock), Addr::Ip(addr)));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
