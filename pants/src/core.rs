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

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Poll, Token};
use slab::Slab;

use crate::engine::Engine;
use crate::error::Error;
use crate::timer::TimerQueue;

/// Bytes a stream may have queued for writing before it stops reading.
pub(crate) const WRITE_HIGH_WATER: usize = 256 * 1024;
/// Write buffers above this capacity are released once drained: one full
/// read's worth (an echo of a 64 KiB read) is kept, so a busy stream does not
/// free and reallocate its queue on every event.
const KEEP_CAPACITY: usize = 64 * 1024;

/// An engine-wide timer callback.
pub(crate) type EngineFn<A> = Box<dyn FnMut(&mut Engine<A>)>;
/// A stream-bound timer callback: the engine passes the channel value, the core and the key.
pub(crate) type ChannelFn<A> = Box<dyn FnMut(&mut A, &mut Core<A>, usize)>;
/// What makes a server's channel value for an accepted peer.
pub(crate) type AcceptFn<A> = Box<dyn FnMut(SocketAddr) -> Option<A>>;

/// A channel-bound or engine-wide timer callback.
pub(crate) enum TimerFn<A> {
    Engine(EngineFn<A>),
    Channel {
        key: usize,
        generation: u32,
        f: ChannelFn<A>,
    },
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
    /// Channel values created by handlers (`connect` from a handler), to move
    /// into the engine's table when the handler returns.
    pub(crate) born: Vec<(usize, A)>,
    /// Connect failures to report on the next turn: `(key, generation, error)`.
    pub(crate) failed: Vec<(usize, u32, Error)>,
    pub(crate) generation: u32,
    pub(crate) stopping: bool,
    pub(crate) now: Instant,
}

pub(crate) enum Slot<A> {
    Stream(StreamIo),
    Server(ServerIo<A>),
}

/// Stream flags.
pub(crate) mod flag {
    pub(crate) const CONNECTING: u16 = 1;
    pub(crate) const CONNECTED: u16 = 1 << 1;
    /// The peer shut its write side (read returned 0).
    pub(crate) const PEER_EOF: u16 = 1 << 2;
    /// `close()`: finish when the write queue is empty.
    pub(crate) const CLOSING: u16 = 1 << 3;
    /// On-close has run; the slot is about to go.
    pub(crate) const CLOSED: u16 = 1 << 4;
    /// Queued in `Core::dirty`.
    pub(crate) const DIRTY: u16 = 1 << 5;
    /// Not reading until the write queue drains.
    pub(crate) const PAUSED: u16 = 1 << 6;
    /// Shut the write side once the queue drains.
    pub(crate) const SHUT_WRITE: u16 = 1 << 7;
    /// The write side is shut.
    pub(crate) const WRITE_SHUT: u16 = 1 << 8;
    /// After an overflow the handler kept the stream: skip to the next delimiter.
    pub(crate) const DISCARDING: u16 = 1 << 9;
    /// Queued in `Core::closing`.
    pub(crate) const IN_CLOSING: u16 = 1 << 10;
    /// A `bytes = expr` state has its length for this entry in `want`.
    pub(crate) const SIZED: u16 = 1 << 11;
    /// A `bytes = expr` state of length 0 handed out its one empty frame.
    pub(crate) const SPENT: u16 = 1 << 12;
    /// After a too-large frame the handler kept the stream: skip `want` bytes.
    pub(crate) const SKIPPING: u16 = 1 << 13;
}

/// The socket of a stream (room for TLS and Unix sockets).
pub(crate) enum Transport {
    Tcp(TcpStream),
    /// Not connected yet, or connecting failed before a socket existed.
    None,
}

pub(crate) struct StreamIo {
    pub(crate) sock: Transport,
    pub(crate) generation: u32,
    pub(crate) state: u16,
    pub(crate) flags: u16,
    /// Delimiter-search resume offset into `rbuf`.
    pub(crate) scan: u32,
    /// A `bytes = expr` state's length (with `SIZED`), or bytes left to
    /// skip (with `SKIPPING`).
    pub(crate) want: u32,
    /// Where the owner server keeps this stream in its list.
    pub(crate) server_pos: u32,
    /// The owning server's key, or `NO_SERVER`.
    pub(crate) server: u32,
    /// Received bytes not yet framed (lazily allocated).
    pub(crate) rbuf: Vec<u8>,
    /// Bytes waiting to be written, from `woff` on (lazily allocated).
    pub(crate) wbuf: Vec<u8>,
    pub(crate) woff: usize,
    pub(crate) remote: SocketAddr,
    /// Connect: the addresses left to try and the text the user gave.
    pub(crate) connect: Option<Box<ConnectPlan>>,
}

pub(crate) struct ConnectPlan {
    pub(crate) target: String,
    pub(crate) rest: Vec<SocketAddr>,
}

pub(crate) const NO_SERVER: u32 = u32::MAX;

pub(crate) struct ServerIo<A> {
    pub(crate) listener: Option<TcpListener>,
    pub(crate) generation: u32,
    pub(crate) local: SocketAddr,
    /// Live connections (keys); each stream knows its index here.
    pub(crate) conns: Vec<u32>,
    pub(crate) make: AcceptFn<A>,
    /// The accepted channel type's first read state.
    pub(crate) initial: u16,
    /// Accepting is paused (EMFILE backoff).
    pub(crate) paused: bool,
}

impl<A> Core<A> {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            poll: Poll::new()?,
            slots: Slab::new(),
            timers: TimerQueue::new(),
            dirty: VecDeque::new(),
            closing: VecDeque::new(),
            resume: Vec::new(),
            born: Vec::new(),
            failed: Vec::new(),
            generation: 0,
            stopping: false,
            now: Instant::now(),
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

    /// Whether `key` still names the channel of that generation.
    pub(crate) fn is_live(&self, key: usize, generation: u32) -> bool {
        match self.slots.get(key) {
            Some(Slot::Stream(io)) => io.generation == generation && io.flags & flag::CLOSED == 0,
            Some(Slot::Server(srv)) => srv.generation == generation && srv.listener.is_some(),
            None => false,
        }
    }

    /// Queues bytes on a stream; false if it no longer accepts writes.
    pub(crate) fn write(&mut self, key: usize, data: &[u8]) -> bool {
        self.write_parts(key, &[data])
    }

    /// Queues `parts` back to back: one lookup, one reservation.
    pub(crate) fn write_parts(&mut self, key: usize, parts: &[&[u8]]) -> bool {
        let len = parts.iter().map(|p| p.len()).sum();
        self.enqueue(key, len, |queue| {
            queue.reserve(len);
            for part in parts {
                queue.extend_from_slice(part);
            }
        })
    }

    /// Queues `len` bytes that `fill` writes in place (no temporary buffer).
    pub(crate) fn write_with(
        &mut self,
        key: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> bool {
        self.enqueue(key, len, |queue| {
            let start = queue.len();
            queue.resize(start + len, 0);
            fill(&mut queue[start..]);
        })
    }

    /// Appends `len` bytes to a stream's write queue with `append`, unless
    /// the stream no longer takes writes; marks the stream dirty.
    fn enqueue(&mut self, key: usize, len: usize, append: impl FnOnce(&mut Vec<u8>)) -> bool {
        let Some(io) = self.stream_mut(key) else {
            return false;
        };
        if io.flags & (flag::CLOSING | flag::CLOSED | flag::SHUT_WRITE | flag::WRITE_SHUT) != 0 {
            return false;
        }
        if len == 0 {
            return true;
        }
        append(&mut io.wbuf);
        if io.flags & flag::DIRTY == 0 {
            io.flags |= flag::DIRTY;
            self.dirty.push_back(key);
        }
        true
    }

    /// Starts a graceful close: queued bytes go out first.
    pub(crate) fn close(&mut self, key: usize) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if io.flags & (flag::CLOSING | flag::CLOSED) != 0 {
            return;
        }
        io.flags |= flag::CLOSING;
        self.schedule_close(key);
    }

    /// Closes at once, discarding queued bytes.
    pub(crate) fn close_now(&mut self, key: usize) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if io.flags & flag::CLOSED != 0 {
            return;
        }
        io.flags |= flag::CLOSING;
        io.wbuf = Vec::new();
        io.woff = 0;
        self.schedule_close(key);
    }

    fn schedule_close(&mut self, key: usize) {
        if let Some(io) = self.stream_mut(key)
            && io.flags & flag::IN_CLOSING == 0
        {
            io.flags |= flag::IN_CLOSING;
            self.closing.push_back(key);
        }
    }

    /// Half-close: shut our write side once the queue drains; keep reading.
    pub(crate) fn shutdown_write(&mut self, key: usize) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if io.flags & (flag::CLOSED | flag::WRITE_SHUT | flag::SHUT_WRITE) != 0 {
            return;
        }
        io.flags |= flag::SHUT_WRITE;
        if io.flags & flag::DIRTY == 0 {
            io.flags |= flag::DIRTY;
            self.dirty.push_back(key);
        }
    }

    /// Asks the engine to read this stream again without waiting for an edge.
    pub(crate) fn resume(&mut self, key: usize) {
        if let Some(io) = self.stream(key) {
            let generation = io.generation;
            self.resume.push((key, generation));
        }
    }

    /// Writes the queue out; `Ok(true)` once it is empty.
    ///
    /// Errors (reset, broken pipe) are returned for the engine to close the stream.
    pub(crate) fn flush(&mut self, key: usize) -> io::Result<bool> {
        let Some(io) = self.stream_mut(key) else {
            return Ok(true);
        };
        io.flags &= !flag::DIRTY;
        if io.flags & flag::CONNECTED == 0 {
            return Ok(io.woff >= io.wbuf.len());
        }
        let Transport::Tcp(sock) = &mut io.sock else {
            return Ok(true);
        };
        while io.woff < io.wbuf.len() {
            match sock.write(&io.wbuf[io.woff..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => io.woff += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        io.woff = 0;
        if io.wbuf.capacity() > KEEP_CAPACITY {
            io.wbuf = Vec::new();
        } else {
            io.wbuf.clear();
        }
        if io.flags & flag::SHUT_WRITE != 0 && io.flags & flag::WRITE_SHUT == 0 {
            io.flags |= flag::WRITE_SHUT;
            // The peer may already be gone; that shows up on the next read.
            let _ = sock.shutdown(Shutdown::Write);
        }
        Ok(true)
    }

    /// Bytes queued for writing.
    pub(crate) fn queued(&self, key: usize) -> usize {
        self.stream(key).map_or(0, |io| io.wbuf.len() - io.woff)
    }

    /// Registers a new stream slot and returns its key.
    pub(crate) fn insert_stream(
        &mut self,
        sock: Transport,
        remote: SocketAddr,
        server: u32,
        initial: u16,
        connecting: bool,
    ) -> io::Result<usize> {
        let generation = self.next_generation();
        let entry = self.slots.vacant_entry();
        let key = entry.key();
        let mut io = StreamIo {
            sock,
            generation,
            state: initial,
            flags: if connecting {
                flag::CONNECTING
            } else {
                flag::CONNECTED
            },
            scan: 0,
            want: 0,
            server_pos: 0,
            server,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            woff: 0,
            remote,
            connect: None,
        };
        if let Transport::Tcp(sock) = &mut io.sock {
            self.poll.registry().register(
                sock,
                token(key, generation),
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
        entry.insert(Slot::Stream(io));
        if let Some(Slot::Server(srv)) = self.slots.get_mut(server as usize) {
            let pos = srv.conns.len() as u32;
            srv.conns.push(key as u32);
            if let Some(io) = self.stream_mut(key) {
                io.server_pos = pos;
            }
        }
        Ok(key)
    }

    /// Takes a finished stream out of the table (its value is dropped by the engine).
    pub(crate) fn remove_stream(&mut self, key: usize) {
        let Some(Slot::Stream(mut io)) = self.slots.try_remove(key) else {
            return;
        };
        if let Transport::Tcp(sock) = &mut io.sock {
            let _ = self.poll.registry().deregister(sock);
        }
        self.unlink(io.server, io.server_pos);
    }

    /// Reads once into `buf`.
    pub(crate) fn read(&mut self, key: usize, buf: &mut [u8]) -> io::Result<usize> {
        match self.stream_mut(key).map(|io| &mut io.sock) {
            Some(Transport::Tcp(sock)) => loop {
                match sock.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => return other,
                }
            },
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
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
