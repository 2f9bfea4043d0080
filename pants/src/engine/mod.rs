//! The event loop: the only layer that calls user code and reads the clock.
//!
//! One turn of [`Engine::poll`], in order (`turn.rs`):
//!
//! 1. read the clock once; run the turn timers (`callback`, `every_turn`),
//!    then the timed ones and timeouts whose deadline has passed; run calls
//!    sent from other threads; report connect failures; re-read streams that
//!    have unread input (a read budget ran out, a paused stream drained, a
//!    state switch from a timer);
//! 2. unless stopping, wait for readiness: not at all if step 1 left work,
//!    else until the next timer deadline or the caller's timeout;
//! 3. handle each event: accept on a server (`accept.rs`), connect, write or
//!    read on a stream (`io.rs`).
//!
//! After every call into user code the engine *settles* (`settle.rs`):
//! channels created by the handler join the table, streams written to are
//! flushed (one `write` each), and streams closed are finished (`on_close`,
//! exactly once). Graceful shutdown is `shutdown.rs`; timers and timeouts
//! are `timers.rs`.

mod accept;
mod datagram;
mod io;
mod settle;
mod shutdown;
mod timers;
mod tls;

pub(crate) use tls::install_tls;
mod turn;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Token, Waker};

use crate::addr::{Addr, IntoAddr};
use crate::api::channel::{App, Channel, Member};
use crate::api::server::{ServerId, ServerRef, StreamId};
use crate::api::stream::Stream;
use crate::core::{Core, ServerIo, Slot, token};
use crate::error::{Error, Result};
use crate::proto::close::CloseReason;
use crate::proto::lifecycle::Lifecycle;
use crate::proto::write_queue::WriteLimits;
use crate::sys::clock::Clock;
use crate::sys::net::{ListenOptions, listen_any};

/// Size of the read buffer shared by every stream of an engine.
const READ_CHUNK: usize = 64 * 1024;

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);

/// How long the examples' graceful shutdown on SIGINT/SIGTERM may take.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

type RemoteCall<A> = Box<dyn FnOnce(&mut Engine<A>) + Send>;

/// An event loop that runs channels of type `A` (one `#[channel]` type, or an
/// enum of several made with `#[derive(App)]`) and timers.
///
/// # Examples
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Echo;
///
/// #[channel]
/// impl Echo {
///     #[on_read]
///     fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
///         s.write(data);
///     }
/// }
///
/// # fn main() -> pants::Result<()> {
/// let mut engine = Engine::new()?;
/// let server = engine.listen::<Echo>("127.0.0.1:0")?;
/// println!("listening on {}", engine.server(server).unwrap().local_addr().unwrap());
/// engine.defer(std::time::Duration::from_millis(10), |e| e.stop())?;
/// engine.start()
/// # }
/// ```
pub struct Engine<A> {
    core: Core<A>,
    users: Vec<Option<A>>,
    /// Values of closed streams kept for [`Engine::run_until_closed`].
    kept: Vec<(usize, u32, A)>,
    scratch: Box<[u8]>,
    /// Buffers for batched datagram receives (made on first use), and
    /// whether batching is on.
    datagram_batch: Option<Box<crate::sys::datagram::RecvBatch>>,
    batch_datagrams: bool,
    events: Events,
    shared: Arc<Shared<A>>,
    signals: Option<mio::net::UnixStream>,
    signal_grace: Duration,
}

struct Shared<A> {
    waker: Arc<Waker>,
    stop: AtomicBool,
    calls: Mutex<Vec<RemoteCall<A>>>,
}

/// A handle to an engine for other threads: stop it, shut it down, or run
/// code on it.
///
/// Cheap to clone; `Send` and `Sync`.
pub struct Handle<A> {
    shared: Arc<Shared<A>>,
}

impl<A: App> Engine<A> {
    /// Creates an engine with its poller, on the system clock.
    pub fn new() -> Result<Self> {
        Self::with_clock(Clock::system())
    }

    /// Creates an engine that reads the time from `clock` (a
    /// [`Clock::manual`] one makes timers and timeouts testable without
    /// sleeping).
    pub fn with_clock(clock: Clock) -> Result<Self> {
        let core = Core::new(clock)?;
        let waker = Arc::new(Waker::new(core.poll.registry(), WAKER)?);
        core.resolver.set_waker(Arc::clone(&waker));
        Ok(Self {
            core,
            users: Vec::new(),
            kept: Vec::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            datagram_batch: None,
            batch_datagrams: true,
            events: Events::with_capacity(1024),
            shared: Arc::new(Shared {
                waker,
                stop: AtomicBool::new(false),
                calls: Mutex::new(Vec::new()),
            }),
            signals: None,
            signal_grace: DEFAULT_SHUTDOWN_GRACE,
        })
    }

    /// Listens on `addr`; each connection gets `C::default()`.
    ///
    /// `addr` is `"HOST:PORT"`, `"[V6]:PORT"` (`"[::]:PORT"` is dual-stack), a
    /// bare port (every interface) or a [`SocketAddr`](std::net::SocketAddr);
    /// port 0 picks a free port, which [`ServerRef::local_addr`] tells. A
    /// path (`"/run/app.sock"`, `"./app.sock"`, `"unix:app.sock"`, a
    /// [`Path`](std::path::Path)) listens on a Unix stream socket, `"@name"`
    /// on a Linux abstract one: a socket file left by a dead process is
    /// replaced, a path where a live server listens is an error, and the
    /// file is removed when the server closes or the engine goes.
    pub fn listen<C>(&mut self, addr: impl IntoAddr) -> Result<ServerId>
    where
        C: Channel<App = A> + Default,
        A: Member<C>,
    {
        self.listen_with(addr, |_| Some(C::default()))
    }

    /// Listens on `addr`; `accept` makes each connection's channel value from
    /// the peer address, or returns `None` to refuse the connection.
    pub fn listen_with<C, F>(&mut self, addr: impl IntoAddr, accept: F) -> Result<ServerId>
    where
        C: Channel<App = A>,
        A: Member<C>,
        F: FnMut(&Addr) -> Option<C> + 'static,
    {
        self.listen_with_options(addr, ListenOptions::default(), accept)
    }

    /// [`listen_with`](Self::listen_with) with a backlog and `SO_REUSEPORT` choice.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn listen_with_options<C, F>(
        &mut self,
        addr: impl IntoAddr,
        options: ListenOptions,
        accept: F,
    ) -> Result<ServerId>
    where
        C: Channel<App = A>,
        A: Member<C>,
        F: FnMut(&Addr) -> Option<C> + 'static,
    {
        self.listen_inner(&addr, options, accept, None)
    }

    /// Every `listen`: binds, registers, and records the server (TLS or not).
    pub(super) fn listen_inner<C, F>(
        &mut self,
        addr: &impl IntoAddr,
        options: ListenOptions,
        mut accept: F,
        tls: Option<Box<crate::tls::ServerTls>>,
    ) -> Result<ServerId>
    where
        C: Channel<App = A>,
        A: Member<C>,
        F: FnMut(&Addr) -> Option<C> + 'static,
    {
        let (mut listener, local) = listen_any(addr, options)?;
        let generation = self.core.next_generation();
        let entry = self.core.slots.vacant_entry();
        let key = entry.key();
        listener.register(self.core.poll.registry(), token(key, generation))?;
        entry.insert(Slot::Server(ServerIo {
            listener: Some(listener),
            generation,
            local,
            conns: Vec::new(),
            make: Box::new(move |peer| accept(peer).map(<A as From<C>>::from)),
            initial: C::__PANTS_INITIAL,
            timeouts: || C::__PANTS_TIMEOUTS,
            paused: false,
            exhausted: false,
            tls,
            max_connections: options
                .max_connections
                .map_or(u32::MAX, |max| u32::try_from(max).unwrap_or(u32::MAX)),
            at_limit: false,
        }));
        Ok(ServerId {
            key: key as u32,
            generation,
        })
    }

    /// Opens a client stream to `addr`, run by `channel`.
    ///
    /// Returns at once; `#[on_connect]` runs when the connection is up. A
    /// malformed address is an error here; a refused or unreachable peer, a
    /// host name that does not resolve, or the channel's connect timeout
    /// arrives at `#[on_connect_error]` (then `#[on_close]`). Host names are
    /// resolved on a helper thread (the engine keeps serving meanwhile; see
    /// [`set_resolver`](Self::set_resolver)) and every address is tried in
    /// turn, IPv6 and IPv4 interleaved. A path or `"@name"` connects to a
    /// Unix socket.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn connect<C>(&mut self, addr: impl IntoAddr, channel: C) -> Result<StreamId>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let (key, generation) = self
            .core
            .connect(&addr, (C::__PANTS_INITIAL, C::__PANTS_TIMEOUTS))?;
        self.core.born.push((key, <A as From<C>>::from(channel)));
        self.settle();
        Ok(StreamId {
            key: key as u32,
            generation,
        })
    }

    /// Runs until [`stop`](Self::stop) (from a handler, a timer, a
    /// [`Handle`]) or until a [`shutdown`](Self::shutdown) (or a signal,
    /// after [`stop_on_signals`](Self::stop_on_signals)) has finished.
    /// After a stop, channels and timers stay: `start` again resumes.
    pub fn start(&mut self) -> Result<()> {
        while !self.core.stopping {
            self.poll(None)?;
        }
        self.core.stopping = false;
        Ok(())
    }

    /// Runs the loop until the stream `id` closes and returns its channel
    /// value: a client program's result, without shared cells.
    ///
    /// ```no_run
    /// use pants::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Fetch {
    ///     got: Vec<u8>,
    /// }
    ///
    /// #[channel]
    /// impl Fetch {
    ///     #[on_read]
    ///     fn data(&mut self, _s: &mut Stream<Self>, data: &[u8]) {
    ///         self.got.extend_from_slice(data);
    ///     }
    /// }
    ///
    /// # fn main() -> pants::Result<()> {
    /// let mut engine = Engine::new()?;
    /// let id = engine.connect("127.0.0.1:4040", Fetch::default())?;
    /// let fetch: Fetch = engine.run_until_closed(id)?;
    /// println!("{} bytes", fetch.got.len());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// To wait for several streams, [`keep_when_closed`](Self::keep_when_closed)
    /// each first, then call this for each: one that closed while the loop
    /// ran for another is handed over at once.
    ///
    /// # Errors
    /// [`Error::Closed`] if the stream was already gone and not kept (or
    /// is of another channel type), [`Error::Stopped`] if the engine was
    /// stopped first.
    pub fn run_until_closed<C>(&mut self, id: StreamId) -> Result<C>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let (key, generation) = (id.key as usize, id.generation);
        self.keep_when_closed(id);
        loop {
            if let Some(i) = self
                .kept
                .iter()
                .position(|(k, g, _)| *k == key && *g == generation)
            {
                let (_, _, app) = self.kept.swap_remove(i);
                return app.into_member().map_err(|_| Error::Closed);
            }
            if !self.core.is_live(key, generation) {
                return Err(Error::Closed);
            }
            if self.core.stopping {
                self.core.stopping = false;
                return Err(Error::Stopped);
            }
            self.poll(None)?;
        }
    }

    /// Keeps a stream's channel value when it closes, for
    /// [`run_until_closed`](Self::run_until_closed) to hand over later.
    pub fn keep_when_closed(&mut self, id: StreamId) {
        if let Some(io) = self.core.stream_mut(id.key as usize)
            && io.generation == id.generation
        {
            io.life.set(Lifecycle::KEEP);
        }
    }

    /// Asks the loop to stop after this turn (channels stay open).
    pub fn stop(&mut self) {
        self.core.stopping = true;
    }

    /// Whether a stop was requested ([`stop`](Self::stop), a handler, a
    /// [`Handle`], or a finished shutdown): for programs that drive
    /// [`poll`](Self::poll) themselves.
    pub fn is_stopping(&self) -> bool {
        self.core.stopping
    }

    /// A handle for other threads.
    pub fn handle(&self) -> Handle<A> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The time this loop turn started (from the engine's [`Clock`]).
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.core.clock
    }

    /// Replaces the resolver `connect` uses for host names (the system's,
    /// `getaddrinfo`, by default). It runs on a helper thread, never on the
    /// engine's, so a slow one holds no other stream up; IP literals and
    /// Unix paths never reach it. For tests, and for programs with their
    /// own name service.
    pub fn set_resolver(
        &mut self,
        resolve: impl Fn(&str, u16) -> std::io::Result<Vec<std::net::SocketAddr>>
        + Send
        + Sync
        + 'static,
    ) {
        self.core.resolver.hook = Arc::new(resolve);
    }

    /// Sets the write limits of every stream that sets none of its own
    /// (see [`WriteLimits`] for the defaults).
    pub fn set_write_limits(&mut self, limits: WriteLimits) {
        self.core.limits = limits.normalized();
    }

    /// The most streams this engine keeps open at once, accepted and
    /// connected together (default: no limit). At the limit its servers
    /// stop accepting (new connections wait in the kernel's backlog) until
    /// a stream closes; connects from handlers are not refused. Per server:
    /// [`ListenOptions::max_connections`].
    pub fn set_max_connections(&mut self, max: Option<usize>) {
        self.core.max_streams = max;
        if max.is_none() {
            // Lifting the limit resumes whoever stopped at it.
            self.core.resume_limited(usize::MAX);
        }
    }

    /// A listening server, by id.
    pub fn server(&mut self, id: ServerId) -> Option<ServerRef<'_, A>> {
        self.core
            .is_live(id.key as usize, id.generation)
            .then_some(ServerRef {
                core: &mut self.core,
                key: id.key as usize,
            })
    }

    /// Runs `f` with a stream's channel value and handle, if it is still open.
    pub fn with_stream<C, R>(
        &mut self,
        id: StreamId,
        f: impl FnOnce(&mut C, &mut Stream<'_, C>) -> R,
    ) -> Option<R>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let key = id.key as usize;
        if !self.core.is_live(key, id.generation) || self.core.stream(key).is_none() {
            return None;
        }
        let channel = Member::<C>::member_mut(self.users.get_mut(key)?.as_mut()?)?;
        let result = f(channel, &mut Stream::new(&mut self.core, key));
        self.settle();
        Some(result)
    }

    /// Queues `data` on a stream; false if it is gone, closing, or over
    /// its hard cap (see [`WriteLimits`]).
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> bool {
        let ok = self.core.is_live(id.key as usize, id.generation)
            && self.core.write_parts(id.key as usize, &[data]);
        self.settle();
        ok
    }

    /// Whether a stream is open and at or below its high watermark: a
    /// producer feeding it from outside (a thread through a [`Handle`])
    /// should wait for `#[on_resume_writing]` when this is false.
    pub fn is_writable(&self, id: StreamId) -> bool {
        self.core.is_live(id.key as usize, id.generation)
            && self
                .core
                .stream(id.key as usize)
                .is_some_and(|io| io.life.is_open() && !io.life.has(Lifecycle::UNWRITABLE))
    }

    /// Pauses or resumes reading a stream; false if it is gone.
    pub fn set_reading(&mut self, id: StreamId, on: bool) -> bool {
        let live = self.core.is_live(id.key as usize, id.generation);
        if live {
            self.core.set_reading(id.key as usize, on);
        }
        live
    }

    /// Closes a stream once its queue is sent.
    pub fn close(&mut self, id: StreamId) {
        if self.core.is_live(id.key as usize, id.generation) {
            self.core.close(id.key as usize, CloseReason::Local);
            self.settle();
        }
    }

    /// Half-closes a stream: shuts its write side once its queue is sent.
    pub fn shutdown_write(&mut self, id: StreamId) {
        if self.core.is_live(id.key as usize, id.generation) {
            self.core.shutdown_write(id.key as usize);
            self.settle();
        }
    }

    /// Live streams (accepted and connected).
    pub fn stream_count(&self) -> usize {
        self.core.streams
    }
}

impl<A: App> Handle<A> {
    /// Stops the engine after its current turn (wakes it if it is waiting).
    pub fn stop(&self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::Release);
        let _ = self.shared.waker.wake();
    }

    /// Shuts the engine down gracefully (see [`Engine::shutdown`]).
    pub fn shutdown(&self, grace: Duration) {
        self.call(move |engine| engine.shutdown(grace));
    }

    /// Runs `f` on the engine's thread, on its next turn.
    ///
    /// Calls wait in a queue without a bound: a thread producing data for
    /// a stream should keep only a few calls in flight and wait while the
    /// stream is unwritable (`#[on_pause_writing]` / `#[on_resume_writing]`),
    /// as the `client` example does, rather than outrun the engine.
    pub fn call(&self, f: impl FnOnce(&mut Engine<A>) + Send + 'static) {
        self.shared
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(f));
        let _ = self.shared.waker.wake();
    }
}

impl<A: App> Clone for Handle<A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<A: App> std::fmt::Debug for Handle<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<A: App> std::fmt::Debug for Engine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("channels", &self.core.slots.len())
            .field("timers", &self.core.timers)
            .finish_non_exhaustive()
    }
}
