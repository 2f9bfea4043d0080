//! Socket setup: listeners (socket2 options) and non-blocking connects.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::IntoAddr;
use crate::core::{ConnectPlan, Core, NO_SERVER, Transport};
use crate::error::{Error, Result};
use crate::stream::StreamId;

/// How a server listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    /// The accept backlog (default 1024).
    pub backlog: i32,
    /// Set `SO_REUSEPORT`, so several engines (one per core) can share the
    /// port and the kernel spreads connections among them (default false).
    pub reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            backlog: 1024,
            reuse_port: false,
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
pub(crate) fn listen_any(
    addr: &impl IntoAddr,
    options: ListenOptions,
) -> Result<(TcpListener, SocketAddr)> {
    let addrs = addr.resolve(true).map_err(|e| match e {
        Error::Connect { addr, source } => Error::Address {
            input: addr,
            reason: source.to_string(),
        },
        other => other,
    })?;
    let mut first = None;
    for candidate in addrs {
        match bind_listener(candidate, options) {
            Ok(listener) => {
                let local = listener.local_addr()?;
                return Ok((listener, local));
            }
            Err(source) => {
                first.get_or_insert(Error::Listen {
                    addr: candidate,
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

/// Starts a connect to the first address that accepts the attempt.
pub(crate) fn start_connect(
    rest: &mut Vec<SocketAddr>,
) -> std::result::Result<(TcpStream, SocketAddr), io::Error> {
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to connect to");
    while !rest.is_empty() {
        let addr = rest.remove(0);
        match TcpStream::connect(addr) {
            Ok(sock) => {
                let _ = sock.set_nodelay(true);
                return Ok((sock, addr));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl<A> Core<A> {
    /// Creates a connecting stream slot; failures after parsing are queued
    /// for `on_connect_error` on the next turn.
    pub(crate) fn connect(&mut self, addr: &impl IntoAddr, initial: u16) -> Result<StreamId> {
        let target = addr.describe();
        let (mut rest, mut failure) = match addr.resolve(false) {
            Ok(found) => (found, None),
            Err(Error::Connect { addr, source }) => {
                (Vec::new(), Some(Error::Connect { addr, source }))
            }
            Err(e) => return Err(e),
        };
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let (sock, remote) = if failure.is_some() {
            (Transport::None, unspecified)
        } else {
            match start_connect(&mut rest) {
                Ok((sock, remote)) => (Transport::Tcp(sock), remote),
                Err(source) => {
                    failure = Some(Error::Connect {
                        addr: target.clone(),
                        source,
                    });
                    (Transport::None, unspecified)
                }
            }
        };
        let key = self.insert_stream(sock, remote, NO_SERVER, initial, true)?;
        let io = self.stream_mut(key).expect("inserted above");
        io.connect = Some(Box::new(ConnectPlan { target, rest }));
        let generation = io.generation;
        if let Some(error) = failure {
            self.failed.push((key, generation, error));
        }
        Ok(StreamId {
            key: key as u32,
            generation,
        })
    }

    /// Moves a failed connect on to the next address; false when none is left.
    pub(crate) fn retry_connect(&mut self, key: usize) -> bool {
        let Some(crate::core::Slot::Stream(io)) = self.slots.get_mut(key) else {
            return false;
        };
        let generation = io.generation;
        let Some(plan) = io.connect.as_mut() else {
            return false;
        };
        let Ok((sock, remote)) = start_connect(&mut plan.rest) else {
            return false;
        };
        if let Transport::Tcp(old) = &mut io.sock {
            let _ = self.poll.registry().deregister(old);
        }
        io.sock = Transport::Tcp(sock);
        io.remote = remote;
        let Transport::Tcp(sock) = &mut io.sock else {
            return false;
        };
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        self.poll
            .registry()
            .register(sock, crate::core::token(key, generation), interest)
            .is_ok()
    }
}
