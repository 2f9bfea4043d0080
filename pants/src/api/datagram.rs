//! The handle a datagram channel's handlers get: [`Datagram`].

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::{Addr, IntoAddr};
use crate::api::channel::Channel;
use crate::core::Core;
use crate::error::{Error, Result};

/// Names a datagram socket for as long as it is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatagramId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for DatagramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "datagram #{}.{}", self.key, self.generation)
    }
}

/// A datagram socket (UDP, or a Unix datagram socket), as seen from one of
/// its handlers.
///
/// Each datagram arrives whole, as one frame, with its sender's address.
/// Sending never blocks: a datagram the socket cannot take now waits in a
/// bounded queue ([`DATAGRAM_QUEUE_LEN`](crate::DATAGRAM_QUEUE_LEN)
/// datagrams, [`DATAGRAM_QUEUE_BYTES`](crate::DATAGRAM_QUEUE_BYTES) bytes)
/// and goes out, in order, when the socket is writable; past the bound a
/// new datagram is dropped (tail drop) and counted in
/// [`dropped`](Self::dropped).
pub struct Datagram<'a, C: Channel> {
    core: &'a mut Core<C::App>,
    key: usize,
    from: Option<&'a Addr>,
    _channel: PhantomData<fn(C)>,
}

impl<'a, C: Channel> Datagram<'a, C> {
    pub(crate) fn new(core: &'a mut Core<C::App>, key: usize, from: Option<&'a Addr>) -> Self {
        Self {
            core,
            key,
            from,
            _channel: PhantomData,
        }
    }

    /// The socket's id.
    pub fn id(&self) -> DatagramId {
        let generation = self.core.datagram(self.key).map_or(0, |io| io.generation);
        DatagramId {
            key: self.key as u32,
            generation,
        }
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> Option<Addr> {
        self.core.datagram(self.key).map(|io| io.local.clone())
    }

    /// Sends `data` as one datagram to `to`: an IP address
    /// (`"127.0.0.1:9000"`, a [`SocketAddr`](std::net::SocketAddr)) or a
    /// Unix socket path (host names are not resolved here: resolve them
    /// first, it would block). `Ok(true)`: sent or queued; `Ok(false)`:
    /// dropped, the queue being full.
    ///
    /// # Errors
    /// [`Error::FrameTooLarge`] for a datagram over 65,507 bytes (IPv4;
    /// 65,527 on IPv6), [`Error::Address`] for a bad address,
    /// [`Error::Io`] if the system refused it (no route, say),
    /// [`Error::Closed`] after [`close`](Self::close).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn send_to(&mut self, to: impl IntoAddr, data: &[u8]) -> Result<bool> {
        let to = target(&to)?;
        self.core.send_datagram(self.key, Some(&to), data)
    }

    /// Sends `data` to the sender of the datagram being handled.
    ///
    /// # Errors
    /// As [`send_to`](Self::send_to); [`Error::Closed`] outside a datagram
    /// handler.
    pub fn reply(&mut self, data: &[u8]) -> Result<bool> {
        let to = self.from.ok_or(Error::Closed)?;
        self.core.send_datagram(self.key, Some(to), data)
    }

    /// The sender of the datagram being handled.
    pub fn sender(&self) -> Option<&Addr> {
        self.from
    }

    /// Sends to the connected peer ([`connect`](Self::connect)).
    ///
    /// # Errors
    /// As [`send_to`](Self::send_to); [`Error::Io`] if not connected.
    pub fn send(&mut self, data: &[u8]) -> Result<bool> {
        self.core.send_datagram(self.key, None, data)
    }

    /// Talks to one peer only: [`send`](Self::send) goes there, and
    /// datagrams from anyone else are no longer received.
    ///
    /// # Errors
    /// A bad address, or the system's error.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn connect(&mut self, to: impl IntoAddr) -> Result<()> {
        let to = target(&to)?;
        let io = self.core.datagram(self.key).ok_or(Error::Closed)?;
        Ok(io.sock.connect(&to)?)
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    ///
    /// # Errors
    /// On a Unix socket, or the system's error.
    pub fn set_broadcast(&mut self, on: bool) -> Result<()> {
        Ok(self.udp()?.set_broadcast(on)?)
    }

    /// Joins a multicast group (IPv4 or IPv6) on the system's default
    /// interface for it. On a host without a multicast route (a container
    /// with only loopback), join on an interface:
    /// [`join_multicast_v4`](Self::join_multicast_v4) with `127.0.0.1`.
    ///
    /// # Errors
    /// On a Unix socket, a group that is not multicast, or the system's
    /// error.
    pub fn join_multicast(&mut self, group: IpAddr) -> Result<()> {
        match group {
            IpAddr::V4(g) => self.join_multicast_v4(g, Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(g) => self.join_multicast_v6(g, 0),
        }
    }

    /// Leaves a group joined with [`join_multicast`](Self::join_multicast).
    ///
    /// # Errors
    /// As `join_multicast`.
    pub fn leave_multicast(&mut self, group: IpAddr) -> Result<()> {
        match group {
            IpAddr::V4(g) => self.leave_multicast_v4(g, Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(g) => self.leave_multicast_v6(g, 0),
        }
    }

    /// Joins an IPv4 group on the interface with address `interface`
    /// (`0.0.0.0`: the default one).
    ///
    /// # Errors
    /// As [`join_multicast`](Self::join_multicast).
    pub fn join_multicast_v4(&mut self, group: Ipv4Addr, interface: Ipv4Addr) -> Result<()> {
        check_group(group.into())?;
        Ok(self.udp()?.join_multicast_v4(&group, &interface)?)
    }

    /// Leaves an IPv4 group joined on `interface`.
    ///
    /// # Errors
    /// As [`join_multicast`](Self::join_multicast).
    pub fn leave_multicast_v4(&mut self, group: Ipv4Addr, interface: Ipv4Addr) -> Result<()> {
        check_group(group.into())?;
        Ok(self.udp()?.leave_multicast_v4(&group, &interface)?)
    }

    /// Joins an IPv6 group on the interface with index `interface` (0: the
    /// default one).
    ///
    /// # Errors
    /// As [`join_multicast`](Self::join_multicast).
    pub fn join_multicast_v6(&mut self, group: Ipv6Addr, interface: u32) -> Result<()> {
        check_group(group.into())?;
        Ok(self.udp()?.join_multicast_v6(&group, interface)?)
    }

    /// Leaves an IPv6 group joined on `interface`.
    ///
    /// # Errors
    /// As [`join_multicast`](Self::join_multicast).
    pub fn leave_multicast_v6(&mut self, group: Ipv6Addr, interface: u32) -> Result<()> {
        check_group(group.into())?;
        Ok(self.udp()?.leave_multicast_v6(&group, interface)?)
    }

    /// Sends multicast datagrams out of the interface with this address
    /// (IPv4; `127.0.0.1` keeps them on the host).
    ///
    /// # Errors
    /// On a Unix or IPv6-only socket, or the system's error.
    pub fn set_multicast_interface_v4(&mut self, interface: Ipv4Addr) -> Result<()> {
        let sock = self.udp()?;
        Ok(socket2::SockRef::from(sock).set_multicast_if_v4(&interface)?)
    }

    /// Sends IPv6 multicast datagrams out of the interface with this index.
    ///
    /// # Errors
    /// On a Unix or IPv4 socket, or the system's error.
    pub fn set_multicast_interface_v6(&mut self, interface: u32) -> Result<()> {
        let sock = self.udp()?;
        Ok(socket2::SockRef::from(sock).set_multicast_if_v6(interface)?)
    }

    /// Whether this host's own members of a group receive what this socket
    /// sends to it (on by default).
    ///
    /// # Errors
    /// On a Unix socket, or the system's error.
    pub fn set_multicast_loop(&mut self, on: bool) -> Result<()> {
        let sock = self.udp()?;
        let v6 = sock.local_addr().is_ok_and(|a| a.is_ipv6());
        let done = if v6 {
            sock.set_multicast_loop_v6(on)
        } else {
            sock.set_multicast_loop_v4(on)
        };
        Ok(done?)
    }

    /// How many hops multicast datagrams may travel (IPv4; default 1).
    ///
    /// # Errors
    /// On a Unix socket, or the system's error.
    pub fn set_multicast_ttl(&mut self, ttl: u32) -> Result<()> {
        Ok(self.udp()?.set_multicast_ttl_v4(ttl)?)
    }

    fn udp(&self) -> Result<&mio::net::UdpSocket> {
        let io = self.core.datagram(self.key).ok_or(Error::Closed)?;
        Ok(io.sock.udp()?)
    }

    /// Datagrams waiting for the socket to take them.
    pub fn queued(&self) -> usize {
        self.core
            .datagram(self.key)
            .map_or(0, super::super::core::DatagramIo::queued)
    }

    /// Datagrams dropped so far because the send queue was full.
    pub fn dropped(&self) -> u64 {
        self.core.datagram(self.key).map_or(0, |io| io.dropped)
    }

    /// Stops the engine after this turn (as [`Engine::stop`](crate::Engine::stop)).
    pub fn stop_engine(&mut self) {
        self.core.stopping = true;
    }

    /// Closes the socket when the handler returns (`on_close` runs; queued
    /// datagrams are sent if the socket takes them at once, else dropped).
    pub fn close(&mut self) {
        if let Some(io) = self.core.datagram_mut(self.key)
            && !io.closing
        {
            io.closing = true;
            self.core.datagram_closing.push(self.key);
        }
    }
}

fn check_group(group: IpAddr) -> Result<()> {
    if group.is_multicast() {
        Ok(())
    } else {
        Err(Error::Address {
            input: group.to_string(),
            reason: "not a multicast group address".into(),
        })
    }
}

/// A datagram target: an IP address or a Unix socket name, never a host
/// name (resolving would block the loop).
pub(crate) fn target(to: &impl IntoAddr) -> Result<Addr> {
    if let Some(unix) = to.unix() {
        return Ok(Addr::unix(unix?));
    }
    if to.name().is_some() {
        return Err(Error::Address {
            input: to.describe(),
            reason: "a datagram goes to an IP address or a socket path; resolve host names first"
                .into(),
        });
    }
    let addrs = to.resolve(false)?;
    addrs
        .first()
        .map(|a| Addr::Ip(*a))
        .ok_or_else(|| Error::Address {
            input: to.describe(),
            reason: "no address".into(),
        })
}

impl<C: Channel> fmt::Debug for Datagram<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datagram")
            .field("id", &self.id())
            .field("local", &self.local_addr())
            .field("from", &self.from)
            .finish()
    }
}
