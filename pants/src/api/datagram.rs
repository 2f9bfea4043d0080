//! The handle a datagram channel's handlers get: [`Datagram`].

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

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
        let io = self.core.datagram(self.key).ok_or(Error::Closed)?;
        Ok(io.sock.udp()?.set_broadcast(on)?)
    }

    /// Joins a multicast group (IPv4 or IPv6) on the default interface.
    ///
    /// # Errors
    /// On a Unix socket, a group that is not multicast, or the system's
    /// error.
    pub fn join_multicast(&mut self, group: IpAddr) -> Result<()> {
        self.multicast(group, true)
    }

    /// Leaves a multicast group joined with [`join_multicast`](Self::join_multicast).
    ///
    /// # Errors
    /// As `join_multicast`.
    pub fn leave_multicast(&mut self, group: IpAddr) -> Result<()> {
        self.multicast(group, false)
    }

    fn multicast(&mut self, group: IpAddr, join: bool) -> Result<()> {
        if !group.is_multicast() {
            return Err(Error::Address {
                input: group.to_string(),
                reason: "not a multicast group address".into(),
            });
        }
        let io = self.core.datagram(self.key).ok_or(Error::Closed)?;
        let sock = io.sock.udp()?;
        let done = match (group, join) {
            (IpAddr::V4(g), true) => sock.join_multicast_v4(&g, &std::net::Ipv4Addr::UNSPECIFIED),
            (IpAddr::V4(g), false) => sock.leave_multicast_v4(&g, &std::net::Ipv4Addr::UNSPECIFIED),
            (IpAddr::V6(g), true) => sock.join_multicast_v6(&g, 0),
            (IpAddr::V6(g), false) => sock.leave_multicast_v6(&g, 0),
        };
        Ok(done?)
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
