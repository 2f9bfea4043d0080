//! The engine's state that handlers may touch: sockets, buffers, timers.
//!
//! [`Core`] is everything in an engine except the user's channel values, so a
//! handler can hold `&mut` to its own channel value and, through its
//! [`Stream`](crate::Stream) handle, `&mut Core` at the same time. Channels
//! live in a slab; a mio token is `generation << 32 | key`, so an event for a
//! channel closed earlier in the same batch (whose key may already be reused)
//! never reaches another channel.
//!
//! Operations here never call user code. They record what must happen next
//! (`dirty` streams to flush, `closing` streams to finish, `resume` streams to
//! read again) and the engine settles those lists after each handler returns.

mod connect;
mod datagram_io;
mod server_io;
mod stream_io;

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use mio::{Poll, Token};
use slab::Slab;

use crate::addr::Addr;
use crate::error::Error;
use crate::proto::timer::TimerQueue;
use crate::proto::write_queue::WriteLimits;
use crate::sys::clock::Clock;

pub(crate) use datagram_io::DatagramIo;
pub use datagram_io::{DATAGRAM_QUEUE_BYTES, DATAGRAM_QUEUE_LEN};
pub(crate) use server_io::{NO_SERVER, ServerIo};
pub(crate) use stream_io::{ConnectPlan, StreamIo};

/// A stream-bound timer callback: the engine passes the channel value, the core and the key.
pub(crate) type ChannelFn<A> = Box<dyn FnMut(&mut A, &mut Core<A>, usize)>;
/// What makes a server's channel value for an accepted peer.
pub(crate) type AcceptFn<A> = Box<dyn FnMut(&Addr) -> Option<A>>;

/// What a timer runs.
pub(crate) enum TimerFn<A> {
    /// An engine-wide callback, type-erased so that this layer never names
    /// the engine; the engine downcasts it.
    Engine(Box<dyn Any>),
    /// A callback bound to a stream (cancelled when the stream goes).
    Channel {
        key: usize,
        generation: u32,
        f: ChannelFn<A>,
    },
    /// A stream's earliest timeout deadline.
    Deadline { key: usize, generation: u32 },
    /// A connecting stream starts its next address beside the pending one.
    Race { key: usize, generation: u32 },
}

/// The part of an engine that handlers can reach.
#[doc(hidden)]
pub struct Core<A> {
    pub(crate) poll: Poll,
    pub(crate) slots: Slab<Slot<A>>,
    pub(crate) timers: TimerQueue<TimerFn<A>>,
    /// Streams with bytes queued since their last flush.
    pub(crate) dirty: VecDeque<usize>,
    /// Streams to finish closing (after their queue drains).
    pub(crate) closing: VecDeque<usize>,
    /// Streams to read again without a new readiness edge: `(key, generation)`.
    pub(crate) resume: Vec<(usize, u32)>,
    /// Streams that asked for STARTTLS in a handler still running.
    pub(crate) upgrades: Vec<(usize, u32)>,
    /// Datagram sockets a handler closed.
    pub(crate) datagram_closing: Vec<usize>,
    /// Open streams (accepted and connecting or connected).
    pub(crate) streams: usize,
    /// The engine's limit on open streams.
    pub(crate) max_streams: Option<usize>,
    /// Servers that stopped accepting at a limit.
    pub(crate) limited: usize,
    /// Channel values created by handlers (`connect` from a handler), to move
    /// into the engine's table when the handler returns.
    pub(crate) born: Vec<(usize, A)>,
    /// Connect failures to report on the next turn: `(key, generation, error)`.
    pub(crate) failed: Vec<(usize, u32, Error)>,
    pub(crate) generation: u32,
    pub(crate) stopping: bool,
    /// Graceful shutdown in progress, until this deadline.
    pub(crate) shutdown: Option<Instant>,
    /// The time this loop turn started.
    pub(crate) now: Instant,
    pub(crate) clock: Clock,
    /// Write limits of streams that set none of their own.
    pub(crate) limits: WriteLimits,
    pub(crate) resolver: crate::sys::resolver::Resolver,
}

pub(crate) enum Slot<A> {
    Stream(StreamIo),
    Server(ServerIo<A>),
    /// A datagram socket (boxed: there are few, and streams set the size).
    Datagram(Box<DatagramIo>),
}

impl<A> Core<A> {
    pub(crate) fn new(clock: Clock) -> io::Result<Self> {
        Ok(Self {
            poll: Poll::new()?,
            slots: Slab::new(),
            timers: TimerQueue::new(),
            dirty: VecDeque::new(),
            closing: VecDeque::new(),
            resume: Vec::new(),
            upgrades: Vec::new(),
            datagram_closing: Vec::new(),
            streams: 0,
            max_streams: None,
            limited: 0,
            born: Vec::new(),
            failed: Vec::new(),
            generation: 0,
            stopping: false,
            shutdown: None,
            now: clock.now(),
            clock,
            limits: WriteLimits::DEFAULT,
            resolver: crate::sys::resolver::Resolver::new(),
        })
    }

    pub(crate) fn next_generation(&mut self) -> u32 {
        self.generation = (self.generation + 1) & 0x7fff_ffff;
        self.generation
    }

    pub(crate) fn stream(&self, key: usize) -> Option<&StreamIo> {
        match self.slots.get(key) {
            Some(Slot::Stream(io)) => Some(io),
            _ => None,
        }
    }

    pub(crate) fn stream_mut(&mut self, key: usize) -> Option<&mut StreamIo> {
        match self.slots.get_mut(key) {
            Some(Slot::Stream(io)) => Some(io),
            _ => None,
        }
    }

    pub(crate) fn server(&self, key: usize) -> Option<&ServerIo<A>> {
        match self.slots.get(key) {
            Some(Slot::Server(srv)) => Some(srv),
            _ => None,
        }
    }

    pub(crate) fn server_mut(&mut self, key: usize) -> Option<&mut ServerIo<A>> {
        match self.slots.get_mut(key) {
            Some(Slot::Server(srv)) => Some(srv),
            _ => None,
        }
    }

    /// Whether `key` still names the channel of that generation.
    pub(crate) fn is_live(&self, key: usize, generation: u32) -> bool {
        match self.slots.get(key) {
            Some(Slot::Stream(io)) => {
                io.generation == generation
                    && !io.life.has(crate::proto::lifecycle::Lifecycle::CLOSED)
            }
            Some(Slot::Server(srv)) => srv.generation == generation && srv.listener.is_some(),
            Some(Slot::Datagram(io)) => io.generation == generation,
            None => false,
        }
    }

    /// Schedules a timer counting from the clock's current time.
    pub(crate) fn schedule(
        &mut self,
        kind: crate::proto::timer::Kind,
        f: TimerFn<A>,
    ) -> crate::proto::timer::TimerId {
        let now = self.clock.now();
        self.timers.insert(kind, f, now)
    }
}

/// The mio token of a channel.
pub(crate) fn token(key: usize, generation: u32) -> Token {
    Token((generation as usize) << 32 | key)
}

/// Splits a token into key and generation.
pub(crate) fn untoken(token: Token) -> (usize, u32) {
    (token.0 & 0xffff_ffff, (token.0 >> 32) as u32)
}

impl<A> std::fmt::Debug for Core<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("channels", &self.slots.len())
            .field("timers", &self.timers)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    /// Idle connections are most of a busy server's memory: keep the
    /// per-stream state from creeping up (rare data belongs in `Extra`).
    #[test]
    fn stream_state_stays_small() {
        // mio adds a selector id to each socket in debug builds. Release:
        // 144 until the transport enum got its boxed TLS variant (8 to 16
        // bytes); the write queue's file-part pointer could move to `Extra`
        // to win those 8 bytes back.
        let limit = if cfg!(debug_assertions) { 160 } else { 152 };
        let size = size_of::<super::Slot<()>>();
        let stream = size_of::<super::StreamIo>();
        assert!(
            size <= limit,
            "a slot is {size} bytes (a stream's state {stream})"
        );
    }
}
