//! The event loop.
//!
//! One turn of [`Engine::poll`], in order:
//!
//! 1. run the turn timers (`callback`, `every_turn`) due this turn, then the
//!    timed ones whose deadline has passed; run calls sent from other threads;
//!    report connect failures; re-read streams that have unread input
//!    (a read budget ran out, a paused stream drained, a state switch from a timer);
//! 2. unless stopping, wait for readiness: not at all if step 1 left work,
//!    else until the next timer deadline or the caller's timeout;
//! 3. handle each event: accept on a server, connect/write/read on a stream.
//!
//! After every call into user code the engine *settles*: channels created by
//! the handler join the table, streams written to are flushed (one `write`
//! each), and streams closed are finished (`on_close`, exactly once).

use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Token, Waker};

use crate::__private::Event;
use crate::addr::IntoAddr;
use crate::channel::{App, Channel, Member};
use crate::core::{
    Core, NO_SERVER, ServerIo, Slot, TimerFn, Transport, WRITE_HIGH_WATER, flag, token, untoken,
};
use crate::error::{Error, Result};
use crate::net::{ListenOptions, listen_any};
use crate::stream::{ServerId, ServerRef, Stream, StreamId};
use crate::timer::{Kind, TimerId};

/// Size of the read buffer shared by every stream of an engine.
const READ_CHUNK: usize = 64 * 1024;
/// Reads per readiness event before other channels get a turn.
const READ_BUDGET: usize = 16;
/// Accepts per readiness event before other channels get a turn.
const ACCEPT_BUDGET: usize = 256;
/// How long a listener rests after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);

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
    scratch: Box<[u8]>,
    events: Events,
    shared: Arc<Shared<A>>,
    signals: Option<mio::net::UnixStream>,
}

struct Shared<A> {
    waker: Waker,
    stop: AtomicBool,
    calls: Mutex<Vec<RemoteCall<A>>>,
}

/// A handle to an engine for other threads: stop it, or run code on it.
///
/// Cheap to clone; `Send` and `Sync`.
pub struct Handle<A> {
    shared: Arc<Shared<A>>,
}

impl<A: App> Engine<A> {
    /// Creates an engine with its poller.
    pub fn new() -> Result<Self> {
        let core = Core::new()?;
        let waker = Waker::new(core.poll.registry(), WAKER)?;
        Ok(Self {
            core,
            users: Vec::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            events: Events::with_capacity(1024),
            shared: Arc::new(Shared {
                waker,
                stop: AtomicBool::new(false),
                calls: Mutex::new(Vec::new()),
            }),
            signals: None,
        })
    }

    /// Listens on `addr`; each connection gets `C::default()`.
    ///
    /// `addr` is `"HOST:PORT"`, `"[V6]:PORT"` (`"[::]:PORT"` is dual-stack), a
    /// bare port (every interface) or a [`SocketAddr`]; port 0 picks a free
    /// port, which [`ServerRef::local_addr`] tells.
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
        F: FnMut(SocketAddr) -> Option<C> + 'static,
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
        mut accept: F,
    ) -> Result<ServerId>
    where
        C: Channel<App = A>,
        A: Member<C>,
        F: FnMut(SocketAddr) -> Option<C> + 'static,
    {
        let (mut listener, local) = listen_any(&addr, options)?;
        let generation = self.core.next_generation();
        let entry = self.core.slots.vacant_entry();
        let key = entry.key();
        self.core.poll.registry().register(
            &mut listener,
            token(key, generation),
            Interest::READABLE,
        )?;
        entry.insert(Slot::Server(ServerIo {
            listener: Some(listener),
            generation,
            local,
            conns: Vec::new(),
            make: Box::new(move |peer| accept(peer).map(<A as From<C>>::from)),
            initial: C::__PANTS_INITIAL,
            paused: false,
        }));
        Ok(ServerId {
            key: key as u32,
            generation,
        })
    }

    /// Opens a client stream to `addr`, run by `channel`.
    ///
    /// Returns at once; `#[on_connect]` runs when the connection is up. A
    /// malformed address is an error here; a refused or unreachable peer, or a
    /// host name that does not resolve, arrives at `#[on_connect_error]`
    /// (then `#[on_close]`). Host names are resolved with the system resolver
    /// (blocking) and every address is tried in turn.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn connect<C>(&mut self, addr: impl IntoAddr, channel: C) -> Result<StreamId>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let id = self.core.connect(&addr, C::__PANTS_INITIAL)?;
        self.core
            .born
            .push((id.key as usize, <A as From<C>>::from(channel)));
        self.settle();
        Ok(id)
    }

    /// Runs until [`stop`](Self::stop) (from a handler, a timer, a
    /// [`Handle`] or a signal). Channels and timers stay: `start` again resumes.
    pub fn start(&mut self) -> Result<()> {
        while !self.core.stopping {
            self.poll(None)?;
        }
        self.core.stopping = false;
        Ok(())
    }

    /// Runs one turn of the loop, waiting at most `timeout` (`None`: until
    /// something happens) for readiness.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.core.now = Instant::now();
        self.run_timers();
        self.run_remote_calls();
        self.report_failures();
        self.run_resumed();
        if self.core.stopping {
            return Ok(());
        }
        let wait = self.wait_time(timeout);
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let polled = self.core.poll.poll(&mut events, wait);
        self.core.now = Instant::now();
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                self.events = events;
                return Err(e.into());
            }
        }
        for event in &events {
            match event.token() {
                WAKER => self.run_remote_calls(),
                SIGNALS => self.take_signal(),
                token => self.dispatch(token, event),
            }
        }
        self.events = events;
        Ok(())
    }

    /// Asks the loop to stop after this turn.
    pub fn stop(&mut self) {
        self.core.stopping = true;
    }

    /// A handle for other threads.
    pub fn handle(&self) -> Handle<A> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops the engine cleanly on SIGINT or SIGTERM.
    pub fn stop_on_signals(&mut self) -> Result<()> {
        if self.signals.is_some() {
            return Ok(());
        }
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        let mut read = mio::net::UnixStream::from_std(read);
        self.core
            .poll
            .registry()
            .register(&mut read, SIGNALS, Interest::READABLE)?;
        self.signals = Some(read);
        Ok(())
    }

    /// The time this loop turn started (monotonic).
    pub fn now(&self) -> Instant {
        self.core.now
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
        if !self.core.is_live(key, id.generation) {
            return None;
        }
        let channel = Member::<C>::member_mut(self.users.get_mut(key)?.as_mut()?)?;
        let result = f(channel, &mut Stream::new(&mut self.core, key));
        self.settle();
        Some(result)
    }

    /// Queues `data` on a stream; false if it is gone or closing.
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> bool {
        let ok = self.core.is_live(id.key as usize, id.generation)
            && self.core.write(id.key as usize, data);
        self.settle();
        ok
    }

    /// Closes a stream once its queue is sent.
    pub fn close(&mut self, id: StreamId) {
        if self.core.is_live(id.key as usize, id.generation) {
            self.core.close(id.key as usize);
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
        self.core
            .slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Stream(_)))
            .count()
    }

    /// Runs `f` on the next loop turn.
    pub fn callback(&mut self, f: impl FnOnce(&mut Self) + 'static) -> TimerId {
        let mut f = Some(f);
        self.timer(Kind::NextTurn, move |e| {
            if let Some(f) = f.take() {
                f(e);
            }
        })
    }

    /// Runs `f` on every loop turn until cancelled. While one is scheduled
    /// the loop does not block.
    pub fn every_turn(&mut self, f: impl FnMut(&mut Self) + 'static) -> TimerId {
        self.timer(Kind::EveryTurn, f)
    }

    /// Runs `f` once, `delay` from now.
    ///
    /// # Errors
    /// [`Error::InvalidDelay`] for a zero delay.
    pub fn defer(
        &mut self,
        delay: Duration,
        f: impl FnOnce(&mut Self) + 'static,
    ) -> Result<TimerId> {
        if delay.is_zero() {
            return Err(Error::InvalidDelay);
        }
        let mut f = Some(f);
        Ok(self.timer(Kind::After(delay), move |e| {
            if let Some(f) = f.take() {
                f(e);
            }
        }))
    }

    /// Runs `f` every `interval` (on a fixed grid: late runs do not drift and
    /// missed ones are skipped, not bunched) until cancelled.
    ///
    /// # Errors
    /// [`Error::InvalidDelay`] for a zero interval.
    pub fn cycle(
        &mut self,
        interval: Duration,
        f: impl FnMut(&mut Self) + 'static,
    ) -> Result<TimerId> {
        if interval.is_zero() {
            return Err(Error::InvalidDelay);
        }
        Ok(self.timer(Kind::Every(interval), f))
    }

    /// Cancels a timer; true if it was still scheduled. A repeating timer may
    /// cancel itself from its own callback.
    pub fn cancel(&mut self, timer: TimerId) -> bool {
        self.core.timers.cancel(timer)
    }

    fn timer(&mut self, kind: Kind, f: impl FnMut(&mut Self) + 'static) -> TimerId {
        self.core
            .timers
            .insert(kind, TimerFn::Engine(Box::new(f)), Instant::now())
    }

    fn wait_time(&mut self, timeout: Option<Duration>) -> Option<Duration> {
        if self.core.timers.has_turn_work()
            || !self.core.resume.is_empty()
            || !self.core.failed.is_empty()
        {
            return Some(Duration::ZERO);
        }
        let until_timer = self
            .core
            .timers
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        match (until_timer, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn run_timers(&mut self) {
        let turn = self.core.timers.take_turn();
        for &id in &turn {
            self.run_timer(id);
        }
        self.core.timers.recycle_turn(turn);
        let now = Instant::now();
        while let Some(id) = self.core.timers.pop_expired(now) {
            self.run_timer(id);
        }
    }

    fn run_timer(&mut self, id: TimerId) {
        let Some(mut payload) = self.core.timers.start(id) else {
            return;
        };
        match &mut payload {
            TimerFn::Engine(f) => {
                if catch_unwind(AssertUnwindSafe(|| f(self))).is_err() {
                    log::error!("a timer callback panicked; the engine goes on");
                }
            }
            TimerFn::Channel { key, generation, f } => {
                let key = *key;
                let live = self.core.is_live(key, *generation);
                match self.users.get_mut(key).and_then(Option::as_mut) {
                    Some(app) if live => {
                        let core = &mut self.core;
                        if catch_unwind(AssertUnwindSafe(|| f(app, core, key))).is_err() {
                            log::error!(
                                "a timer callback of stream #{key} panicked; closing the stream"
                            );
                            self.core.close_now(key);
                        }
                    }
                    // The stream is gone: its timers die with it (finish frees the slot).
                    _ => {
                        self.core.timers.cancel(id);
                    }
                }
            }
        }
        self.core.timers.finish(id, payload, Instant::now());
        self.settle();
    }

    fn run_remote_calls(&mut self) {
        if self.shared.stop.swap(false, Ordering::AcqRel) {
            self.core.stopping = true;
        }
        let calls = std::mem::take(
            &mut *self
                .shared
                .calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for call in calls {
            if catch_unwind(AssertUnwindSafe(|| call(self))).is_err() {
                log::error!("a call sent through a Handle panicked; the engine goes on");
            }
            self.settle();
        }
    }

    fn take_signal(&mut self) {
        if let Some(sock) = &mut self.signals {
            let mut buf = [0u8; 64];
            while matches!(io::Read::read(sock, &mut buf), Ok(n) if n > 0) {}
        }
        log::info!("signal received; stopping");
        self.core.stopping = true;
    }

    fn report_failures(&mut self) {
        for (key, generation, error) in std::mem::take(&mut self.core.failed) {
            if self.core.is_live(key, generation) {
                self.fail_connect(key, &error);
            }
        }
    }

    fn run_resumed(&mut self) {
        for (key, generation) in std::mem::take(&mut self.core.resume) {
            if !self.core.is_live(key, generation) {
                continue;
            }
            match self.core.slots.get(key) {
                Some(Slot::Stream(io)) => {
                    if !io.rbuf.is_empty() {
                        self.deliver(key, 0, false);
                    }
                    self.read_stream(key, true);
                }
                Some(Slot::Server(_)) => self.accept(key),
                None => {}
            }
            self.settle();
        }
    }

    fn dispatch(&mut self, token: Token, event: &mio::event::Event) {
        let (key, generation) = untoken(token);
        if !self.core.is_live(key, generation) {
            // A channel closed earlier in this batch (its key may be reused): ignore.
            return;
        }
        if let Some(Slot::Server(_)) = self.core.slots.get(key) {
            self.accept(key);
            return;
        }
        let connecting = self
            .core
            .stream(key)
            .is_some_and(|io| io.flags & flag::CONNECTING != 0);
        if connecting && !self.finish_connect(key, event.is_error()) {
            self.settle();
            return;
        }
        if event.is_writable() || event.is_error() {
            self.flush_stream(key);
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read_stream(key, event.is_read_closed() || event.is_error());
        }
        self.settle();
    }

    /// A connecting stream got an event: connected, failed, or not yet.
    fn finish_connect(&mut self, key: usize, errored: bool) -> bool {
        let Some(io) = self.core.stream_mut(key) else {
            return false;
        };
        let Transport::Tcp(sock) = &io.sock else {
            return false;
        };
        let outcome = match sock.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match sock.peer_addr() {
                Ok(peer) => Ok(peer),
                Err(e) if e.kind() == io::ErrorKind::NotConnected && !errored => return false,
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(peer) => {
                io.flags = (io.flags & !flag::CONNECTING) | flag::CONNECTED;
                io.remote = canonical(peer);
                io.connect = None;
                let queued = io.woff < io.wbuf.len();
                self.call(key, Event::Connect);
                if queued {
                    self.flush_stream(key);
                }
                true
            }
            Err(source) => {
                if self.core.retry_connect(key) {
                    return false;
                }
                let target = io_target(&self.core, key);
                self.fail_connect(
                    key,
                    &Error::Connect {
                        addr: target,
                        source,
                    },
                );
                false
            }
        }
    }

    fn fail_connect(&mut self, key: usize, error: &Error) {
        self.call(key, Event::ConnectError(error));
        self.core.close_now(key);
        self.settle();
    }

    /// Reads until the socket is drained, the budget runs out, or the stream
    /// stops reading.
    ///
    /// A short read normally proves the socket drained, saving the read that
    /// would return `WouldBlock`; not when the event says the peer closed,
    /// since the FIN that came with the data brings no further edge.
    fn read_stream(&mut self, key: usize, closed: bool) {
        for _ in 0..READ_BUDGET {
            let Some(io) = self.core.stream(key) else {
                return;
            };
            let stop =
                flag::CONNECTING | flag::CLOSING | flag::CLOSED | flag::PEER_EOF | flag::PAUSED;
            if io.flags & stop != 0 {
                return;
            }
            match self.core.read(key, &mut self.scratch) {
                Ok(0) => {
                    if let Some(io) = self.core.stream_mut(key) {
                        io.flags |= flag::PEER_EOF;
                    }
                    self.deliver(key, 0, true);
                    self.core.close(key);
                    return;
                }
                Ok(n) => {
                    self.deliver(key, n, false);
                    // A short read drained the socket: the next edge brings more.
                    if n < self.scratch.len() && !closed {
                        return;
                    }
                    // A full read: more is waiting. Send this read's replies
                    // before reading on, so the peer is not kept waiting for
                    // a whole budget of reads (a pipelining client stalls).
                    if self
                        .core
                        .stream(key)
                        .is_some_and(|io| io.flags & flag::DIRTY != 0)
                    {
                        self.flush_stream(key);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::debug!("stream #{key}: read failed: {e}; closing");
                    self.core.close_now(key);
                    return;
                }
            }
        }
        self.core.resume(key);
    }

    /// Hands buffered + new bytes to the channel; keeps what it did not use.
    fn deliver(&mut self, key: usize, n: usize, eof: bool) {
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        let mut rbuf = std::mem::take(&mut io.rbuf);
        let Some(app) = self.users.get_mut(key).and_then(Option::as_mut) else {
            return;
        };
        let core = &mut self.core;
        let run = |app: &mut A, core: &mut Core<A>, input: &[u8]| {
            catch_unwind(AssertUnwindSafe(|| {
                app.__pants_event(core, key, Event::Read { input, eof })
            }))
        };
        let used = if rbuf.is_empty() {
            let input = &self.scratch[..n];
            let used = run(app, core, input);
            if let Ok(used) = used {
                rbuf.extend_from_slice(&input[used.min(n)..]);
            }
            used
        } else {
            rbuf.extend_from_slice(&self.scratch[..n]);
            let used = run(app, core, &rbuf);
            if let Ok(used) = used {
                rbuf.drain(..used.min(rbuf.len()));
            }
            used
        };
        if used.is_err() {
            log::error!("a read handler of stream #{key} panicked; closing the stream");
            self.core.close_now(key);
            return;
        }
        if let Some(io) = self.core.stream_mut(key)
            && io.flags & (flag::CLOSING | flag::CLOSED) == 0
            && !rbuf.is_empty()
        {
            io.rbuf = rbuf;
        }
    }

    /// Writes a stream's queue; drained: `on_write`, resume reading, or finish closing.
    fn flush_stream(&mut self, key: usize) {
        // on_write reports a queue that drained, not every writable edge.
        let had_queue = self.core.queued(key) > 0;
        match self.core.flush(key) {
            Ok(true) => {
                let Some(io) = self.core.stream_mut(key) else {
                    return;
                };
                if io.flags & flag::PAUSED != 0 {
                    io.flags &= !flag::PAUSED;
                    self.core.resume(key);
                }
                let Some(io) = self.core.stream(key) else {
                    return;
                };
                if io.flags & flag::CLOSING != 0 {
                    self.core.close(key);
                    let io = self.core.stream_mut(key).expect("checked above");
                    if io.flags & flag::IN_CLOSING == 0 {
                        io.flags |= flag::IN_CLOSING;
                        self.core.closing.push_back(key);
                    }
                } else if had_queue
                    && io.flags & flag::CONNECTED != 0
                    && self
                        .users
                        .get(key)
                        .and_then(Option::as_ref)
                        .is_some_and(App::__pants_on_write)
                {
                    self.call(key, Event::Write);
                }
            }
            Ok(false) => {
                if self.core.queued(key) > WRITE_HIGH_WATER
                    && let Some(io) = self.core.stream_mut(key)
                {
                    io.flags |= flag::PAUSED;
                }
            }
            Err(e) => {
                log::debug!("stream #{key}: write failed: {e}; closing");
                self.core.close_now(key);
            }
        }
    }

    /// Accepts until the backlog is empty or the budget runs out.
    fn accept(&mut self, key: usize) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(Slot::Server(srv)) = self.core.slots.get_mut(key) else {
                return;
            };
            let Some(listener) = &srv.listener else {
                return;
            };
            if srv.paused {
                return;
            }
            let (sock, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_resource_exhaustion(&e) => {
                    log::warn!(
                        "accept on {}: {e}; pausing accepts for {ACCEPT_BACKOFF:?}",
                        srv.local
                    );
                    srv.paused = true;
                    let generation = srv.generation;
                    self.core.timers.insert(
                        Kind::After(ACCEPT_BACKOFF),
                        TimerFn::Engine(Box::new(move |e: &mut Self| {
                            e.resume_accept(key, generation);
                        })),
                        Instant::now(),
                    );
                    return;
                }
                Err(e) => {
                    log::debug!("accept on {}: {e}", srv.local);
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let peer = canonical(peer);
            let initial = srv.initial;
            let made = catch_unwind(AssertUnwindSafe(|| (srv.make)(peer)));
            let Ok(Some(app)) = made else {
                if made.is_err() {
                    log::error!("the accept hook panicked; connection from {peer} dropped");
                }
                continue;
            };
            match self
                .core
                .insert_stream(Transport::Tcp(sock), peer, key as u32, initial, false)
            {
                Ok(conn) => {
                    self.core.born.push((conn, app));
                    self.settle();
                    self.call(conn, Event::Connect);
                    self.settle();
                }
                Err(e) => log::warn!("cannot register a connection from {peer}: {e}"),
            }
        }
        self.core
            .resume
            .push((key, self.core.server(key).map_or(0, |s| s.generation)));
    }

    fn resume_accept(&mut self, key: usize, generation: u32) {
        if let Some(Slot::Server(srv)) = self.core.slots.get_mut(key)
            && srv.generation == generation
        {
            srv.paused = false;
            self.accept(key);
            self.settle();
        }
    }

    /// Calls into the channel at `key`; a panic closes that channel.
    fn call(&mut self, key: usize, event: Event<'_>) {
        let Some(app) = self.users.get_mut(key).and_then(Option::as_mut) else {
            return;
        };
        let core = &mut self.core;
        let closing = matches!(event, Event::Close);
        if catch_unwind(AssertUnwindSafe(|| app.__pants_event(core, key, event))).is_err() {
            log::error!("a handler of stream #{key} panicked; closing the stream");
            if !closing {
                self.core.close_now(key);
            }
        }
    }

    /// Applies what handlers asked for: new channels, flushes, closes.
    fn settle(&mut self) {
        loop {
            for (key, app) in std::mem::take(&mut self.core.born) {
                if self.users.len() <= key {
                    self.users.resize_with(key + 1, || None);
                }
                self.users[key] = Some(app);
            }
            if let Some(key) = self.core.dirty.pop_front() {
                let live = self
                    .core
                    .stream(key)
                    .is_some_and(|io| io.flags & flag::DIRTY != 0);
                if live {
                    self.flush_stream(key);
                }
                continue;
            }
            if let Some(key) = self.core.closing.pop_front() {
                self.finish_close(key);
                continue;
            }
            break;
        }
    }

    /// Closes a stream whose queue is empty (or discarded): `on_close`, then
    /// the socket goes. A stream still sending waits for its writable edge.
    fn finish_close(&mut self, key: usize) {
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        if io.flags & flag::CLOSING == 0 || io.flags & flag::CLOSED != 0 {
            return;
        }
        io.flags &= !flag::IN_CLOSING;
        if io.woff < io.wbuf.len() && io.flags & flag::CONNECTED != 0 {
            match self.core.flush(key) {
                Ok(false) => return,
                Ok(true) => {}
                Err(e) => log::debug!("stream #{key}: write failed while closing: {e}"),
            }
        }
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        io.flags |= flag::CLOSED;
        let (server, pos) = (io.server, io.server_pos);
        // Leave the live list (broadcasts from on_close skip this stream) but
        // keep the server link, so on_close can still reach the others.
        io.server_pos = u32::MAX;
        self.core.unlink(server, pos);
        self.call(key, Event::Close);
        self.core.remove_stream(key);
        if let Some(slot) = self.users.get_mut(key) {
            *slot = None;
        }
    }
}

impl<A: App> Handle<A> {
    /// Stops the engine after its current turn (wakes it if it is waiting).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        let _ = self.shared.waker.wake();
    }

    /// Runs `f` on the engine's thread, on its next turn.
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

impl<A> Core<A> {
    /// Drops `(server, pos)` from a server's live list.
    pub(crate) fn unlink(&mut self, server: u32, pos: u32) {
        if server == NO_SERVER {
            return;
        }
        let pos = pos as usize;
        let moved = match self.slots.get_mut(server as usize) {
            Some(Slot::Server(srv)) if pos < srv.conns.len() => {
                srv.conns.swap_remove(pos);
                srv.conns.get(pos).copied()
            }
            _ => None,
        };
        if let Some(moved) = moved.and_then(|k| self.stream_mut(k as usize)) {
            moved.server_pos = pos as u32;
        }
    }
}

fn io_target<A>(core: &Core<A>, key: usize) -> String {
    core.stream(key)
        .and_then(|io| io.connect.as_ref().map(|p| p.target.clone()))
        .unwrap_or_else(|| "peer".to_owned())
}

/// IPv4 peers of a dual-stack listener arrive as `::ffff:a.b.c.d`; show them as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
