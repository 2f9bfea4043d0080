//! The handle a handler gets: [`Stream`], its owning [`ServerRef`], and ids.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::addr::IntoAddr;
use crate::channel::{Channel, Member, ReadState};
use crate::core::{Core, NO_SERVER, Slot, StreamIo, TimerFn, Transport, flag};
use crate::error::{Error, Result};
use crate::packed::{Endian, Packed, PrefixLen};
use crate::timer::{Kind, TimerId};

/// Names a stream for as long as it lives; stale ids never reach a newer stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

/// Names a listening server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.key, self.generation)
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server #{}.{}", self.key, self.generation)
    }
}

/// A connected TCP stream, as seen from one of its handlers.
///
/// Every handler of a `#[channel]` gets `&mut Stream<Self>`: the handler's own
/// value is `&mut self`, and the stream is how it talks to the peer and the
/// engine. Writes are queued and sent when the handler returns, all of them in
/// one `write`, so a handler that writes three times costs one system call;
/// the queue is attempted at once, not a loop turn later.
///
/// # Examples
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Upper;
///
/// #[channel]
/// impl Upper {
///     #[on_read(delimiter = "\n")]
///     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
///         s.write(&line.to_ascii_uppercase());
///         s.write(b"\n");
///         if line == b"quit" {
///             s.close();
///         }
///     }
/// }
/// # fn main() -> pants::Result<()> {
/// # let mut engine = Engine::new()?;
/// # engine.listen::<Upper>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub struct Stream<'a, C: Channel> {
    core: &'a mut Core<C::App>,
    key: usize,
    _channel: PhantomData<fn(C)>,
}

impl<'a, C: Channel> Stream<'a, C> {
    pub(crate) fn new(core: &'a mut Core<C::App>, key: usize) -> Self {
        Self {
            core,
            key,
            _channel: PhantomData,
        }
    }

    /// This stream's id, valid until it closes.
    pub fn id(&self) -> StreamId {
        StreamId {
            key: self.key as u32,
            generation: self.io().generation,
        }
    }

    /// Queues `data`; it is sent when the handler returns (or on [`flush`](Self::flush)).
    ///
    /// Returns false, and drops `data`, if the stream is closing or closed,
    /// or its write side is shut: check [`is_open`](Self::is_open) where it matters.
    pub fn write(&mut self, data: &[u8]) -> bool {
        self.core.write(self.key, data)
    }

    /// Queues several buffers as one write (a header and a body, say).
    pub fn write_all(&mut self, parts: &[&[u8]]) -> bool {
        self.core.write_parts(self.key, parts)
    }

    /// Queues a typed frame in network order (big endian, or the order its
    /// `#[derive(Packed)]` declares): the inverse of a typed `#[on_read]`
    /// argument. Returns false, like [`write`](Self::write), when the
    /// stream no longer takes writes.
    ///
    /// ```
    /// use pants::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Adder;
    ///
    /// #[channel]
    /// impl Adder {
    ///     // Two big-endian u16s in, their sum as a big-endian u32 out.
    ///     #[on_read]
    ///     fn pair(&mut self, s: &mut Stream<Self>, (a, b): (u16, u16)) {
    ///         s.write_packed(&(u32::from(a) + u32::from(b)));
    ///     }
    /// }
    /// # fn main() {}
    /// ```
    pub fn write_packed<T: Packed>(&mut self, value: &T) -> bool {
        self.core.write_with(self.key, T::SIZE, |out| {
            value.write_to(out, Endian::Big);
        })
    }

    /// Queues `payload` after its length as a big-endian `P` (`u8`, `u16`
    /// or `u32`): the inverse of `#[on_read(prefix = u16)]`.
    ///
    /// Fails with [`Error::FrameTooLarge`] if the length does not fit in a
    /// `P` (nothing is queued), or [`Error::Closed`] if the stream no longer
    /// takes writes.
    ///
    /// ```
    /// use pants::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Shout;
    ///
    /// #[channel]
    /// impl Shout {
    ///     #[on_read(prefix = u16, max = 4096)]
    ///     fn message(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
    ///         let _ = s.write_prefixed::<u16>(&payload.to_ascii_uppercase());
    ///     }
    /// }
    /// # fn main() {}
    /// ```
    pub fn write_prefixed<P: PrefixLen>(&mut self, payload: &[u8]) -> Result<()> {
        let Ok(len) = P::try_from(payload.len()) else {
            return Err(Error::FrameTooLarge {
                size: payload.len(),
                limit: (1usize << (8 * P::SIZE)) - 1,
            });
        };
        let queued = self
            .core
            .write_with(self.key, P::SIZE + payload.len(), |out| {
                len.write_to(out, Endian::Big);
                out[P::SIZE..].copy_from_slice(payload);
            });
        if queued { Ok(()) } else { Err(Error::Closed) }
    }

    /// Tries to send the queue now instead of when the handler returns.
    pub fn flush(&mut self) {
        if let Err(e) = self.core.flush(self.key) {
            log::debug!("stream {}: write failed: {e}", self.id());
            self.core.close_now(self.key);
        }
    }

    /// Bytes queued and not yet accepted by the kernel.
    pub fn queued(&self) -> usize {
        self.core.queued(self.key)
    }

    /// Closes the stream once the queued bytes are sent; no more frames are delivered.
    pub fn close(&mut self) {
        self.core.close(self.key);
    }

    /// Closes the stream at once, discarding queued bytes.
    pub fn close_now(&mut self) {
        self.core.close_now(self.key);
    }

    /// Half-close: shuts the write side once the queue is sent, and keeps reading.
    pub fn shutdown_write(&mut self) {
        self.core.shutdown_write(self.key);
    }

    /// The peer's address (IPv4 peers of a dual-stack listener show as IPv4).
    pub fn remote_addr(&self) -> SocketAddr {
        self.io().remote
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        match &self.io().sock {
            Transport::Tcp(sock) => Ok(sock.local_addr()?),
            Transport::None => Err(Error::Closed),
        }
    }

    /// Whether writes are still accepted (not closing, closed or shut).
    pub fn is_open(&self) -> bool {
        self.io().flags & (flag::CLOSING | flag::CLOSED) == 0
    }

    /// Whether the connection is established.
    pub fn is_connected(&self) -> bool {
        self.io().flags & flag::CONNECTED != 0
    }

    /// Whether the peer has shut its write side: the frame being handled is
    /// among the last ones.
    pub fn peer_closed(&self) -> bool {
        self.io().flags & flag::PEER_EOF != 0
    }

    /// Switches the read state; applies at once to bytes already buffered.
    ///
    /// From inside an `#[on_read]` handler the next frame is cut by the new
    /// state's rule. From anywhere else (a timer) the buffered bytes are
    /// framed on this loop turn, without waiting for more input.
    ///
    /// Switching re-enters the state even when it is the current one: a
    /// `bytes = expr` state evaluates its length again.
    pub fn switch(&mut self, state: ReadState<C>) {
        let key = self.key;
        let io = self.io_mut();
        let changed = io.state != state.index() || io.flags & flag::SIZED != 0;
        io.flags &= !(flag::SIZED | flag::SPENT);
        if io.state != state.index() {
            io.state = state.index();
            io.scan = 0;
        }
        if changed && !io.rbuf.is_empty() {
            self.core.resume(key);
        }
    }

    /// The current read state's index (see [`ReadState::index`]).
    pub fn state(&self) -> u16 {
        self.io().state
    }

    /// The server that accepted this stream, if any.
    pub fn server(&mut self) -> Option<ServerRef<'_, C::App>> {
        let server = self.io().server;
        (server != NO_SERVER).then_some(ServerRef {
            core: &mut *self.core,
            key: server as usize,
        })
    }

    /// Writes `data` to every live connection of this stream's server
    /// (this one included); returns how many took it. A client stream has
    /// no server and writes nothing.
    pub fn broadcast(&mut self, data: &[u8]) -> usize {
        self.server().map_or(0, |mut server| server.broadcast(data))
    }

    /// Queues `data` on another stream of this engine.
    pub fn write_to(&mut self, id: StreamId, data: &[u8]) -> bool {
        self.core.is_live(id.key as usize, id.generation) && self.core.write(id.key as usize, data)
    }

    /// Closes another stream of this engine (gracefully).
    pub fn close_stream(&mut self, id: StreamId) {
        if self.core.is_live(id.key as usize, id.generation) {
            self.core.close(id.key as usize);
        }
    }

    /// Opens a client stream to `addr` on this engine, run by `channel`.
    ///
    /// Address syntax errors are returned; everything else (refused,
    /// unreachable, a name that does not resolve) arrives at the new
    /// channel's `#[on_connect_error]`.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn connect<D>(&mut self, addr: impl IntoAddr, channel: D) -> Result<StreamId>
    where
        D: Channel<App = C::App>,
        C::App: Member<D>,
    {
        let id = self.core.connect(&addr, D::__PANTS_INITIAL)?;
        self.core
            .born
            .push((id.key as usize, <C::App as From<D>>::from(channel)));
        Ok(id)
    }

    /// Stops the engine after this loop turn.
    pub fn stop_engine(&mut self) {
        self.core.stopping = true;
    }

    /// The time the engine's loop turn started (monotonic).
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// Runs `f` on the next loop turn, if this stream is still open then.
    pub fn callback(&mut self, f: impl FnOnce(&mut C, &mut Stream<'_, C>) + 'static) -> TimerId {
        let mut f = Some(f);
        self.timer(Kind::NextTurn, move |c, s| {
            if let Some(f) = f.take() {
                f(c, s);
            }
        })
    }

    /// Runs `f` on every loop turn until cancelled or the stream closes.
    pub fn every_turn(&mut self, f: impl FnMut(&mut C, &mut Stream<'_, C>) + 'static) -> TimerId {
        self.timer(Kind::EveryTurn, f)
    }

    /// Runs `f` once, `delay` from now, if this stream is still open then.
    ///
    /// # Errors
    /// [`Error::InvalidDelay`] for a zero delay.
    pub fn defer(
        &mut self,
        delay: Duration,
        f: impl FnOnce(&mut C, &mut Stream<'_, C>) + 'static,
    ) -> Result<TimerId> {
        if delay.is_zero() {
            return Err(Error::InvalidDelay);
        }
        let mut f = Some(f);
        Ok(self.timer(Kind::After(delay), move |c, s| {
            if let Some(f) = f.take() {
                f(c, s);
            }
        }))
    }

    /// Runs `f` every `interval` until cancelled or the stream closes.
    ///
    /// # Errors
    /// [`Error::InvalidDelay`] for a zero interval.
    pub fn cycle(
        &mut self,
        interval: Duration,
        f: impl FnMut(&mut C, &mut Stream<'_, C>) + 'static,
    ) -> Result<TimerId> {
        if interval.is_zero() {
            return Err(Error::InvalidDelay);
        }
        Ok(self.timer(Kind::Every(interval), f))
    }

    /// Cancels a timer; true if it was still scheduled.
    pub fn cancel(&mut self, timer: TimerId) -> bool {
        self.core.timers.cancel(timer)
    }

    fn timer(
        &mut self,
        kind: Kind,
        mut f: impl FnMut(&mut C, &mut Stream<'_, C>) + 'static,
    ) -> TimerId {
        let generation = self.io().generation;
        let call = move |app: &mut C::App, core: &mut Core<C::App>, key: usize| {
            if let Some(channel) = Member::<C>::member_mut(app) {
                f(channel, &mut Stream::new(core, key));
            }
        };
        let payload = TimerFn::Channel {
            key: self.key,
            generation,
            f: Box::new(call),
        };
        self.core.timers.insert(kind, payload, Instant::now())
    }

    pub(crate) fn io(&self) -> &StreamIo {
        self.core
            .stream(self.key)
            .expect("a Stream handle only exists for a live slot")
    }

    pub(crate) fn io_mut(&mut self) -> &mut StreamIo {
        self.core
            .stream_mut(self.key)
            .expect("a Stream handle only exists for a live slot")
    }

    /// Whether frames may still be handed out.
    pub(crate) fn is_reading(&self) -> bool {
        self.io().flags & (flag::CLOSING | flag::CLOSED) == 0
    }
}

impl<C: Channel> fmt::Debug for Stream<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.id())
            .field("remote", &self.remote_addr())
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// A listening server, reached from one of its streams (or the engine).
pub struct ServerRef<'a, A> {
    pub(crate) core: &'a mut Core<A>,
    pub(crate) key: usize,
}

impl<A> ServerRef<'_, A> {
    /// The server's id.
    pub fn id(&self) -> ServerId {
        let generation = self.core.server(self.key).map_or(0, |s| s.generation);
        ServerId {
            key: self.key as u32,
            generation,
        }
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.core.server(self.key).map(|s| s.local)
    }

    /// Number of live connections: those [`connections`](Self::connections)
    /// yields (a stream that is closing no longer counts).
    pub fn len(&self) -> usize {
        self.connections().count()
    }

    /// Whether the server has no live connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live connections (a closed one never shows up).
    pub fn connections(&self) -> impl Iterator<Item = StreamId> + '_ {
        let conns = self.core.server(self.key).map_or(&[][..], |s| &s.conns[..]);
        conns.iter().filter_map(|&key| {
            let io = self.core.stream(key as usize)?;
            (io.flags & (flag::CLOSING | flag::CLOSED) == 0).then_some(StreamId {
                key,
                generation: io.generation,
            })
        })
    }

    /// Writes `data` to every live connection; returns how many took it.
    pub fn broadcast(&mut self, data: &[u8]) -> usize {
        let mut sent = 0;
        let mut i = 0;
        while let Some(&key) = self.core.server(self.key).and_then(|s| s.conns.get(i)) {
            sent += usize::from(self.core.write(key as usize, data));
            i += 1;
        }
        sent
    }

    /// Stops listening and closes every connection (queued bytes are sent first).
    pub fn close(&mut self) {
        self.core.close_server(self.key);
    }
}

impl<A> fmt::Debug for ServerRef<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerRef")
            .field("id", &self.id())
            .field("connections", &self.len())
            .finish()
    }
}

impl<A> Core<A> {
    /// Stops a listener and closes its connections.
    pub(crate) fn close_server(&mut self, key: usize) {
        let Some(Slot::Server(srv)) = self.slots.get_mut(key) else {
            return;
        };
        let Some(mut listener) = srv.listener.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut listener);
        let conns = std::mem::take(&mut srv.conns);
        for conn in conns {
            if let Some(io) = self.stream_mut(conn as usize) {
                io.server = NO_SERVER;
            }
            self.close(conn as usize);
        }
        self.slots.remove(key);
    }
}
