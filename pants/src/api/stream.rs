//! The handle a handler gets: [`Stream`].

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::addr::{Addr, Credentials, IntoAddr};
use crate::api::channel::{Channel, Member, ReadState};
use crate::api::server::{ServerRef, StreamId};
use crate::core::{Core, NO_SERVER, StreamIo, TimerFn};
use crate::error::{Error, Result};
use crate::packed::{Endian, Packed, PrefixLen};
use crate::proto::close::CloseReason;
use crate::proto::deadlines::{Timeout, Timeouts};
use crate::proto::lifecycle::Lifecycle;
use crate::proto::timer::{Kind, TimerId};
use crate::proto::write_queue::WriteLimits;

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
        self.core.write_parts(self.key, &[data])
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

    /// Queues `len` bytes of `file` from `offset` (`None`: to its end), sent
    /// with `sendfile` in order with the other writes: bytes written before
    /// go first, bytes written after follow. The range counts toward the
    /// write watermarks but not the hard cap (it is not in memory). An
    /// empty range queues nothing. A file `sendfile` cannot read (most of
    /// `/proc`) is read and written instead. If the file turns out shorter
    /// than the range (or is truncated while being sent), the stream closes
    /// with an `UnexpectedEof` error (its close reason), never hangs.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be duplicated or measured,
    /// [`Error::Closed`] if the stream no longer takes writes.
    pub fn write_file(
        &mut self,
        file: &std::fs::File,
        offset: u64,
        len: Option<u64>,
    ) -> Result<()> {
        let len = match len {
            Some(n) => n,
            None => file.metadata()?.len().saturating_sub(offset),
        };
        let key = self.key;
        let Some(io) = self
            .core
            .stream_mut(key)
            .filter(|io| io.life.takes_writes())
        else {
            return Err(Error::Closed);
        };
        if len > 0 {
            io.wq.push_file(file.try_clone()?, offset, len);
            self.core.mark_dirty(key);
        }
        Ok(())
    }

    /// Tries to send the queue now instead of when the handler returns.
    /// A write error closes the stream (its close reason says why).
    pub fn flush(&mut self) {
        match self.core.flush(self.key) {
            Ok(_) => self.core.mark_dirty(self.key),
            Err(e) => {
                log::debug!("stream {}: write failed: {e}", self.id());
                self.core.close_now(self.key, CloseReason::from_io(e));
            }
        }
    }

    /// Bytes queued and not yet accepted by the kernel.
    pub fn queued(&self) -> usize {
        self.core.queued(self.key)
    }

    /// Closes the stream once the queued bytes are sent; no more frames are delivered.
    pub fn close(&mut self) {
        self.core.close(self.key, CloseReason::Local);
    }

    /// Closes the stream at once, discarding queued bytes.
    pub fn close_now(&mut self) {
        self.core.close_now(self.key, CloseReason::Local);
    }

    /// Closes the stream gracefully with `reason` (what the default
    /// handlers use: a timeout, an overflow).
    #[doc(hidden)]
    pub fn close_because(&mut self, reason: CloseReason) {
        self.core.close(self.key, reason);
    }

    /// Closes the stream at once (queued bytes discarded) with `reason`.
    #[doc(hidden)]
    pub fn close_now_because(&mut self, reason: CloseReason) {
        self.core.close_now(self.key, reason);
    }

    /// Why the stream closed or is closing; `None` while it is open.
    ///
    /// In `#[on_close]` this is always set: the peer closed or reset it, the
    /// application closed it, a timeout, an overflow, a slow consumer, a
    /// shutdown, or a socket error (with its `io::Error`).
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.io().reason()
    }

    /// Half-close: shuts the write side once the queue is sent, and keeps reading.
    pub fn shutdown_write(&mut self) {
        self.core.shutdown_write(self.key);
    }

    /// The peer's address (IPv4 peers of a dual-stack listener show as IPv4).
    pub fn remote_addr(&self) -> Addr {
        self.io().remote.clone()
    }

    /// The peer's process, user and group on a Unix stream (`SO_PEERCRED`);
    /// an error on other transports.
    pub fn peer_credentials(&self) -> Result<Credentials> {
        Ok(self.io().sock.peer_credentials()?)
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> Result<Addr> {
        self.io().sock.local_addr().map_err(|_| Error::Closed)
    }

    /// Whether the stream is open (not closing or closed).
    pub fn is_open(&self) -> bool {
        self.io().life.is_open()
    }

    /// Whether the connection is established.
    pub fn is_connected(&self) -> bool {
        self.io().life.has(Lifecycle::CONNECTED)
    }

    /// Whether the peer has shut its write side: the frame being handled is
    /// among the last ones.
    pub fn peer_closed(&self) -> bool {
        self.io().life.has(Lifecycle::PEER_EOF)
    }

    /// Whether the write queue is at or below its high watermark (see
    /// [`WriteLimits`]); producers should wait for `#[on_resume_writing]`
    /// when it is not.
    pub fn is_writable(&self) -> bool {
        !self.io().life.has(Lifecycle::UNWRITABLE)
    }

    /// This stream's write limits (the engine's unless set here).
    pub fn write_limits(&self) -> WriteLimits {
        self.core.limits_of(self.io())
    }

    /// Sets this stream's write limits (made consistent: `low <= high <= max`).
    pub fn set_write_limits(&mut self, limits: WriteLimits) {
        self.io_mut().extra().limits = Some(limits.normalized());
    }

    /// Stops reading this stream until [`resume_reading`](Self::resume_reading)
    /// (Netty's `autoRead = false`): the peer's bytes wait in the kernel, and
    /// TCP flow control slows the peer down.
    pub fn pause_reading(&mut self) {
        self.core.set_reading(self.key, false);
    }

    /// Reads this stream again after [`pause_reading`](Self::pause_reading);
    /// bytes already waiting are framed on this loop turn.
    pub fn resume_reading(&mut self) {
        self.core.set_reading(self.key, true);
    }

    /// Pauses or resumes reading another stream of this engine (a proxy
    /// pausing its front while its back is unwritable); false if it is gone.
    pub fn set_reading_of(&mut self, id: StreamId, on: bool) -> bool {
        let live = self.core.is_live(id.key as usize, id.generation);
        if live {
            self.core.set_reading(id.key as usize, on);
        }
        live
    }

    /// Sets or clears one of this stream's timeouts; its period starts now.
    /// Declared defaults come from `#[channel(idle_timeout = "30s", ...)]`.
    pub fn set_timeout(&mut self, kind: Timeout, value: Option<Duration>) {
        self.core.set_timeout(self.key, kind, value);
    }

    /// This stream's timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.io()
            .extra
            .as_ref()
            .and_then(|e| e.deadlines.as_ref())
            .map_or(Timeouts::NONE, crate::proto::deadlines::Deadlines::timeouts)
    }

    /// Whether the engine is shutting down (`#[on_shutdown]` ran).
    pub fn is_shutting_down(&self) -> bool {
        self.core.shutdown.is_some()
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
        if io.read.switch(state.index()) && !io.rbuf.is_empty() {
            self.core.resume(key);
        }
    }

    /// The current read state's index (see [`ReadState::index`]).
    pub fn state(&self) -> u16 {
        self.io().read.state()
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
        self.core.is_live(id.key as usize, id.generation)
            && self.core.write_parts(id.key as usize, &[data])
    }

    /// Closes another stream of this engine (gracefully).
    pub fn close_stream(&mut self, id: StreamId) {
        if self.core.is_live(id.key as usize, id.generation) {
            self.core.close(id.key as usize, CloseReason::Local);
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
        let (key, generation) = self
            .core
            .connect(&addr, (D::__PANTS_INITIAL, D::__PANTS_TIMEOUTS))?;
        self.core
            .born
            .push((key, <C::App as From<D>>::from(channel)));
        Ok(StreamId {
            key: key as u32,
            generation,
        })
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
        let id = self.core.schedule(kind, payload);
        self.core.track_timer(self.key, id);
        id
    }

    pub(crate) fn key(&self) -> usize {
        self.key
    }

    pub(crate) fn core_mut(&mut self) -> &mut Core<C::App> {
        self.core
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

    /// The read driver handed out frames: the read timeout starts over.
    pub(crate) fn framed(&mut self) {
        let now = self.core.now;
        if let Some(deadlines) = self.io_mut().deadlines() {
            deadlines.frame(now);
        }
    }

    /// Whether frames may still be handed out.
    pub(crate) fn is_reading(&self) -> bool {
        self.io().life.delivers()
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
