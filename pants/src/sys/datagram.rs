//! The datagram seam: a datagram socket behind one enum, UDP or Unix, each
//! operation a static `match`.

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::{UdpSocket, UnixDatagram};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{Addr, IntoAddr, UnixAddr};
use crate::error::{Error, Result};
use crate::sys::listener::{SocketFile, canonical, clear_stale_datagram};

/// The largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes).
pub const MAX_UDP_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65,535 − 8).
pub const MAX_UDP_V6: usize = 65_527;

/// A datagram socket.
#[derive(Debug)]
pub(crate) enum DatagramSock {
    /// A UDP socket, and whether it is IPv6 (known at bind: sends ask it
    /// per datagram, and a system call for it would double their cost).
    Udp(UdpSocket, bool),
    /// A Unix datagram socket, with the socket file it made (removed when
    /// the socket goes).
    Unix(
        UnixDatagram,
        #[allow(dead_code, reason = "held for its Drop")] Option<SocketFile>,
    ),
}

impl DatagramSock {
    /// Binds `addr`: an IP address (dual-stack on `[::]`) or a Unix path
    /// or abstract name (a stale socket file is replaced, a live one is in
    /// use).
    pub(crate) fn bind(addr: &impl IntoAddr) -> Result<(Self, Addr)> {
        if let Some(name) = addr.unix() {
            return bind_unix(&name?);
        }
        crate::sys::net::bind_first(addr, |candidate| {
            let sock = bind_udp(candidate)?;
            let local = sock.local_addr()?;
            Ok((Self::Udp(sock, local.is_ipv6()), Addr::Ip(local)))
        })
    }

    /// Receives one datagram: its length and sender (`Interrupted` retried).
    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        loop {
            let got = match self {
                Self::Udp(sock, _) => sock
                    .recv_from(buf)
                    .map(|(n, from)| (n, Addr::Ip(canonical(from)))),
                Self::Unix(sock, _) => sock
                    .recv_from(buf)
                    .map(|(n, from)| (n, Addr::unix(UnixAddr::from_std(&from)))),
            };
            match got {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    /// Sends one datagram to `to` (`None`: the connected peer).
    pub(crate) fn send_to(&self, data: &[u8], to: Option<&Addr>) -> io::Result<usize> {
        loop {
            let sent = match (self, to) {
                (Self::Udp(sock, _), None) => sock.send(data),
                (Self::Udp(sock, _), Some(Addr::Ip(to))) => sock.send_to(data, self.ip_target(*to)),
                (Self::Unix(sock, _), None) => sock.send(data),
                (Self::Unix(sock, _), Some(Addr::Unix(to))) => match &**to {
                    UnixAddr::Path(path) => sock.send_to(data, path),
                    UnixAddr::Abstract(name) => {
                        let to = rustix::net::SocketAddrUnix::new_abstract_name(name)?;
                        Ok(rustix::net::sendto(
                            sock,
                            data,
                            rustix::net::SendFlags::empty(),
                            &to,
                        )?)
                    }
                    UnixAddr::Unnamed => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "an unnamed Unix socket cannot be sent to",
                    )),
                },
                (Self::Udp(..) | Self::Unix(..), Some(to)) => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{to} is not an address this socket can send to"),
                )),
            };
            match sent {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    /// An IPv4 target as seen from a dual-stack IPv6 socket (`::ffff:a.b.c.d`).
    fn ip_target(&self, to: SocketAddr) -> SocketAddr {
        match (self, to) {
            (Self::Udp(_, true), SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => to,
        }
    }

    /// The largest datagram this socket may send.
    pub(crate) fn max_datagram(&self) -> usize {
        match self {
            Self::Udp(_, true) => MAX_UDP_V6,
            Self::Udp(_, false) => MAX_UDP_V4,
            // The kernel's limit is the send buffer; this is what a
            // receiver's 64 KiB buffer takes whole.
            Self::Unix(..) => 64 * 1024,
        }
    }

    /// Sends and receives with one peer only (`send_to(.., None)`).
    pub(crate) fn connect(&self, to: &Addr) -> io::Result<()> {
        match (self, to) {
            (Self::Udp(sock, _), Addr::Ip(to)) => sock.connect(self.ip_target(*to)),
            (Self::Unix(sock, _), Addr::Unix(to)) => match &**to {
                UnixAddr::Path(path) => sock.connect(path),
                UnixAddr::Abstract(name) => {
                    let to = rustix::net::SocketAddrUnix::new_abstract_name(name)?;
                    Ok(rustix::net::connect(sock, &to)?)
                }
                UnixAddr::Unnamed => Err(io::ErrorKind::InvalidInput.into()),
            },
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{to} is not an address this socket can connect to"),
            )),
        }
    }

    pub(crate) fn udp(&self) -> io::Result<&UdpSocket> {
        match self {
            Self::Udp(sock, _) => Ok(sock),
            Self::Unix(..) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a Unix datagram socket has no IP options",
            )),
        }
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self {
            Self::Udp(sock, _) => registry.register(sock, token, interest),
            Self::Unix(sock, _) => registry.register(sock, token, interest),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Self::Udp(sock, _) => registry.deregister(sock),
            Self::Unix(sock, _) => registry.deregister(sock),
        };
    }
}

/// A non-blocking UDP socket bound to `addr` (dual-stack on `[::]`).
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

fn bind_unix(name: &UnixAddr) -> Result<(DatagramSock, Addr)> {
    let addr = Addr::unix(name.clone());
    let fail = |source: io::Error| Error::Listen {
        addr: addr.clone(),
        source,
    };
    if let UnixAddr::Path(path) = name {
        clear_stale_datagram(path).map_err(fail)?;
    }
    let std_addr = name.to_std().map_err(fail)?;
    let sock = UnixDatagram::bind_addr(&std_addr).map_err(fail)?;
    let file = match name {
        UnixAddr::Path(path) => Some(SocketFile::new(path.clone())),
        _ => None,
    };
    Ok((DatagramSock::Unix(sock, file), addr))
}

/// Datagrams received or sent per system call when batching (`recvmmsg`,
/// `sendmmsg`).
pub(crate) const BATCH: usize = 32;

/// Buffers for one batched receive: a whole UDP payload each.
pub(crate) struct RecvBatch {
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    pub(crate) bufs: Vec<Box<[u8]>>,
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        Self {
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
            bufs: (0..BATCH)
                .map(|_| vec![0u8; 64 * 1024].into_boxed_slice())
                .collect(),
        }
    }
}

fn socket_addr(from: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = from.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    from.as_sockaddr_in6()
        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
}

impl DatagramSock {
    /// Whether this socket receives and sends in batches (UDP).
    pub(crate) fn batches(&self) -> bool {
        matches!(self, Self::Udp(..))
    }

    /// Receives up to [`BATCH`] datagrams with one `recvmmsg`: their
    /// lengths and senders go to `out` (the bytes stay in `batch.bufs`, in
    /// order). `WouldBlock` when there is none.
    pub(crate) fn recv_batch(
        &self,
        batch: &mut RecvBatch,
        out: &mut Vec<(usize, Addr)>,
    ) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        out.clear();
        let Self::Udp(sock, _) = self else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let RecvBatch { headers, bufs } = batch;
        let mut iovs: Vec<[io::IoSliceMut<'_>; 1]> =
            bufs.iter_mut().map(|b| [io::IoSliceMut::new(b)]).collect();
        let msgs = nix::sys::socket::recvmmsg(
            sock.as_raw_fd(),
            headers,
            iovs.iter_mut(),
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        for msg in msgs {
            let from = msg.address.as_ref().and_then(socket_addr).map_or_else(
                || Addr::Ip(SocketAddr::from(([0, 0, 0, 0], 0))),
                |a| Addr::Ip(canonical(a)),
            );
            out.push((msg.bytes, from));
        }
        Ok(())
    }

    /// Sends queued datagrams with one `sendmmsg` (at most [`BATCH`]);
    /// how many the socket took. `WouldBlock` when it took none.
    pub(crate) fn send_batch(&self, queue: &[(&Option<Addr>, &[u8])]) -> io::Result<usize> {
        use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrStorage};
        use std::os::fd::AsRawFd;
        let Self::Udp(sock, _) = self else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let n = queue.len().min(BATCH);
        let slices: Vec<[io::IoSlice<'_>; 1]> = queue[..n]
            .iter()
            .map(|(_, data)| [io::IoSlice::new(data)])
            .collect();
        let mut addrs: Vec<Option<SockaddrStorage>> = Vec::with_capacity(n);
        for (to, _) in &queue[..n] {
            addrs.push(match to {
                None => None,
                Some(Addr::Ip(to)) => Some(SockaddrStorage::from(self.ip_target(*to))),
                Some(other) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{other} is not an address this socket can send to"),
                    ));
                }
            });
        }
        let mut headers = nix::sys::socket::MultiHeaders::<SockaddrStorage>::preallocate(n, None);
        let cmsgs: [ControlMessage<'_>; 0] = [];
        let sent = nix::sys::socket::sendmmsg(
            sock.as_raw_fd(),
            &mut headers,
            slices.iter(),
            &addrs,
            cmsgs,
            MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(sent.count())
    }
}
