//! A stream's state in the core, and the operations handlers reach through
//! their `Stream` handle: queue writes, close, half-close, pause reading.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::addr::Addr;
use crate::core::{Core, NO_SERVER, Slot, token};
use crate::proto::close::CloseReason;
use crate::proto::deadlines::{Deadlines, Timeout, Timeouts};
use crate::proto::lifecycle::Lifecycle;
use crate::proto::read::ReadMachine;
use crate::proto::timer::TimerId;
use crate::proto::write_queue::{PastMax, WriteLimits, WriteQueue};
use crate::sys::transport::Transport;

/// A stream's socket, buffers and state (kept small: idle connections are
/// most of a busy server's memory; rare data lives in [`Extra`]).
pub(crate) struct StreamIo {
    pub(crate) sock: Transport,
    pub(crate) generation: u32,
    pub(crate) life: Lifecycle,
    pub(crate) read: ReadMachine,
    /// Where the owner server keeps this stream in its list.
    pub(crate) server_pos: u32,
    /// The owning server's key, or `NO_SERVER`.
    pub(crate) server: u32,
    /// Received bytes not yet framed (lazily allocated).
    pub(crate) rbuf: Vec<u8>,
    pub(crate) wq: WriteQueue,
    pub(crate) remote: Addr,
    pub(crate) extra: Option<Box<Extra>>,
}

/// What most streams never need, boxed.
#[derive(Default)]
pub(crate) struct Extra {
    /// Connect: the addresses left to try and the text the user gave.
    pub(crate) connect: Option<ConnectPlan>,
    /// Write limits set on this stream (else the engine's).
    pub(crate) limits: Option<WriteLimits>,
    pub(crate) deadlines: Option<Deadlines>,
    /// The deadline timer and when it is due.
    pub(crate) armed: Option<(TimerId, Instant)>,
    pub(crate) reason: Option<CloseReason>,
    /// TLS to start: on connect (`connect_tls`) or when the handler that
    /// asked for STARTTLS returns.
    pub(crate) tls: Option<Box<crate::sys::tls::TlsStart>>,
    /// The stream's own timers (`defer`, `cycle`, ...), cancelled when it
    /// goes, so a closed stream's closures do not wait for their deadline
    /// (an hour's `defer` per connection, under connection churn). Ids of
    /// timers that have run are pruned when the list would grow.
    pub(crate) timers: Vec<TimerId>,
}

pub(crate) struct ConnectPlan {
    pub(crate) target: String,
    pub(crate) rest: Vec<SocketAddr>,
    /// Attempts racing the stream's own socket (Happy Eyeballs).
    pub(crate) racers: Vec<(Transport, Addr)>,
}

impl StreamIo {
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Records why the stream closes; the first reason wins.
    pub(crate) fn set_reason(&mut self, reason: CloseReason) {
        let extra = self.extra();
        if extra.reason.is_none() {
            extra.reason = Some(reason);
        }
    }

    /// Records why the stream closes, where a graceful close that cannot
    /// deliver its queue (a reset, a write timeout, a file cut short)
    /// reports that failure rather than the close.
    pub(crate) fn set_failure(&mut self, reason: CloseReason) {
        let lost = !self.wq.is_empty()
            && !reason.is_orderly()
            && self.reason().is_some_and(CloseReason::is_orderly);
        if lost {
            self.extra().reason = Some(reason);
        } else {
            self.set_reason(reason);
        }
    }

    pub(crate) fn reason(&self) -> Option<&CloseReason> {
        self.extra.as_ref()?.reason.as_ref()
    }

    pub(crate) fn deadlines(&mut self) -> Option<&mut Deadlines> {
        self.extra.as_mut()?.deadlines.as_mut()
    }
}

impl<A> Core<A> {
    /// The write limits in force on a stream.
    pub(crate) fn limits_of(&self, io: &StreamIo) -> WriteLimits {
        io.extra
            .as_ref()
            .and_then(|e| e.limits)
            .unwrap_or(self.limits)
    }

    /// Queues `parts` back to back: one lookup, one reservation.
    pub(crate) fn write_parts(&mut self, key: usize, parts: &[&[u8]]) -> bool {
        let len = parts.iter().map(|p| p.len()).sum();
        self.enqueue(key, len, |queue| queue.extend(parts))
    }

    /// Queues `len` bytes that `fill` writes in place (no temporary buffer).
    pub(crate) fn write_with(
        &mut self,
        key: usize,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> bool {
        self.enqueue(key, len, |queue| queue.append_with(len, fill))
    }

    /// Appends `len` bytes with `append` unless the stream no longer takes
    /// writes or the write would pass the hard cap; marks the stream dirty.
    ///
    /// A single write to an empty queue is always taken (the application
    /// asked for it); the cap stops a queue that grows because its peer
    /// does not read.
    fn enqueue(&mut self, key: usize, len: usize, append: impl FnOnce(&mut WriteQueue)) -> bool {
        let limits = match self.stream(key) {
            Some(io) if io.life.takes_writes() => self.limits_of(io),
            _ => return false,
        };
        let io = self.stream_mut(key).expect("checked above");
        if len == 0 {
            return true;
        }
        // The cap is on memory: file ranges (`write_file`) are not in it.
        let queued = io.wq.memory_len();
        if queued > 0 && queued.saturating_add(len) > limits.max {
            if limits.past_max == PastMax::Close {
                log::warn!(
                    "stream #{key} ({}): slow consumer, {queued} bytes queued (limit {}); closing it",
                    io.remote,
                    limits.max
                );
                self.close_now(key, CloseReason::SlowConsumer);
            }
            return false;
        }
        append(&mut io.wq);
        if !io.life.has(Lifecycle::DIRTY) {
            io.life.set(Lifecycle::DIRTY);
            self.dirty.push_back(key);
        }
        true
    }

    /// Starts a graceful close: queued bytes go out first.
    pub(crate) fn close(&mut self, key: usize, reason: CloseReason) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if !io.life.start_close() {
            return;
        }
        io.set_reason(reason);
        self.schedule_close(key);
    }

    /// Closes at once, discarding queued bytes.
    pub(crate) fn close_now(&mut self, key: usize, reason: CloseReason) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if io.life.has(Lifecycle::CLOSED) {
            return;
        }
        io.life.set(Lifecycle::CLOSING);
        io.set_failure(reason);
        io.wq.clear();
        self.schedule_close(key);
    }

    pub(crate) fn schedule_close(&mut self, key: usize) {
        if let Some(io) = self.stream_mut(key)
            && !io.life.has(Lifecycle::IN_CLOSING)
        {
            io.life.set(Lifecycle::IN_CLOSING);
            self.closing.push_back(key);
        }
    }

    /// Half-close: shut our write side once the queue drains; keep reading.
    pub(crate) fn shutdown_write(&mut self, key: usize) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if io
            .life
            .has(Lifecycle::CLOSED | Lifecycle::WRITE_SHUT | Lifecycle::SHUT_PENDING)
        {
            return;
        }
        io.life.set(Lifecycle::SHUT_PENDING);
        self.mark_dirty(key);
    }

    /// Queues a stream for a flush when the handler returns.
    pub(crate) fn mark_dirty(&mut self, key: usize) {
        if let Some(io) = self.stream_mut(key)
            && !io.life.has(Lifecycle::DIRTY)
        {
            io.life.set(Lifecycle::DIRTY);
            self.dirty.push_back(key);
        }
    }

    /// Pauses or resumes reading a stream (the application's own pause,
    /// independent of flow control's).
    pub(crate) fn set_reading(&mut self, key: usize, on: bool) {
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        if on {
            if io.life.has(Lifecycle::USER_PAUSED) {
                io.life.clear(Lifecycle::USER_PAUSED);
                self.resume(key);
            }
        } else {
            io.life.set(Lifecycle::USER_PAUSED);
        }
    }

    /// Asks the engine to read this stream again without waiting for an edge.
    pub(crate) fn resume(&mut self, key: usize) {
        if let Some(io) = self.stream(key) {
            let generation = io.generation;
            self.resume.push((key, generation));
        }
    }

    /// Writes the queue out; `Ok(true)` once it is empty (and the write side
    /// is shut if that was asked). Errors are returned for the engine to
    /// close the stream.
    pub(crate) fn flush(&mut self, key: usize) -> io::Result<bool> {
        let now = self.now;
        let Some(io) = self.stream_mut(key) else {
            return Ok(true);
        };
        io.life.clear(Lifecycle::DIRTY);
        if !io.life.has(Lifecycle::CONNECTED) {
            return Ok(io.wq.is_empty());
        }
        if io.reason().is_some_and(CloseReason::is_broken) {
            // Reset: a handler's last replies (or records rustls still
            // holds) have nowhere to go.
            io.wq.clear();
            return Ok(true);
        }
        let before = io.wq.len();
        let drained = io.sock.write_queue(&mut io.wq)?;
        let wrote = before != io.wq.len();
        let mut arm = false;
        if let Some(deadlines) = io.deadlines() {
            if wrote {
                deadlines.activity(now);
            }
            if drained {
                deadlines.write_drained();
            } else {
                // A write period that starts now needs its timer armed.
                arm = deadlines.write_pending(now);
            }
        }
        let mut drained = drained;
        // A half-close asked for during a TLS handshake waits for its end
        // (`tls_progress` flushes again): `close_notify` would end the
        // session before it began. A shutdown's (`LINGER`) abandons the
        // handshake: a FIN, no `close_notify`.
        let handshaking = io.life.has(Lifecycle::HANDSHAKING);
        let shut = io.life.has(Lifecycle::SHUT_PENDING)
            && !io.life.has(Lifecycle::WRITE_SHUT)
            && (!handshaking || io.life.has(Lifecycle::LINGER));
        if drained && shut && !handshaking && io.sock.close_notify() {
            // TLS: its half-close is close_notify, sent before the FIN.
            drained = io.sock.write_queue(&mut io.wq)?;
        }
        if drained && shut {
            io.life.set(Lifecycle::WRITE_SHUT);
            // The peer may already be gone; that shows up on the next read.
            let _ = io.sock.shutdown_write();
        }
        if arm {
            self.arm_deadline(key);
        }
        Ok(drained)
    }

    /// Bytes queued for writing.
    pub(crate) fn queued(&self, key: usize) -> usize {
        self.stream(key).map_or(0, |io| io.wq.len())
    }

    /// Registers a new stream slot and returns its key.
    pub(crate) fn insert_stream(
        &mut self,
        mut sock: Transport,
        remote: Addr,
        server: u32,
        (initial, timeouts): (u16, Timeouts),
        connecting: bool,
    ) -> io::Result<usize> {
        let generation = self.next_generation();
        let entry = self.slots.vacant_entry();
        let key = entry.key();
        sock.register(self.poll.registry(), token(key, generation))?;
        let extra = timeouts.any().then(|| {
            Box::new(Extra {
                deadlines: Some(Deadlines::new(timeouts, self.now, connecting)),
                ..Extra::default()
            })
        });
        self.streams += 1;
        entry.insert(Slot::Stream(StreamIo {
            sock,
            generation,
            life: Lifecycle::new(connecting),
            read: ReadMachine::new(initial),
            server_pos: 0,
            server,
            rbuf: Vec::new(),
            wq: WriteQueue::new(),
            remote,
            extra,
        }));
        if server != NO_SERVER
            && let Some(srv) = self.server_mut(server as usize)
        {
            let pos = srv.conns.len() as u32;
            srv.conns.push(key as u32);
            if let Some(io) = self.stream_mut(key) {
                io.server_pos = pos;
            }
        }
        if timeouts.any() {
            self.arm_deadline(key);
        }
        Ok(key)
    }

    /// Takes a finished stream out of the table (its value is dropped by the engine).
    pub(crate) fn remove_stream(&mut self, key: usize) {
        let Some(Slot::Stream(mut io)) = self.slots.try_remove(key) else {
            return;
        };
        self.streams -= 1;
        if self.max_streams.is_some() {
            self.resume_limited(io.server as usize);
        }
        io.sock.deregister(self.poll.registry());
        if let Some(extra) = io.extra.as_deref() {
            if let Some((timer, _)) = extra.armed {
                self.timers.cancel(timer);
            }
            for &timer in &extra.timers {
                self.timers.cancel(timer);
            }
        }
        self.unlink(io.server, io.server_pos);
    }

    /// Records a timer bound to stream `key`, to be cancelled when it goes.
    pub(crate) fn track_timer(&mut self, key: usize, id: TimerId) {
        let Some(Slot::Stream(io)) = self.slots.get_mut(key) else {
            return;
        };
        let ids = &mut io.extra().timers;
        if ids.len() == ids.capacity() && ids.len() >= 4 {
            // Amortised: the list is pruned only when it would reallocate.
            let timers = &self.timers;
            ids.retain(|&t| timers.is_scheduled(t));
        }
        ids.push(id);
    }

    /// Sets one of a stream's timeouts at run time.
    pub(crate) fn set_timeout(&mut self, key: usize, kind: Timeout, value: Option<Duration>) {
        let now = self.now;
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        let connecting = io.life.has(Lifecycle::CONNECTING);
        let waiting = !io.wq.is_empty();
        let extra = io.extra();
        let deadlines = extra
            .deadlines
            .get_or_insert_with(|| Deadlines::new(Timeouts::NONE, now, connecting));
        deadlines.set(kind, value, now);
        if kind == Timeout::Write && waiting {
            // A queue already waiting starts the new write timeout now.
            deadlines.write_pending(now);
        }
        self.arm_deadline(key);
    }

    /// (Re-)arms a stream's deadline timer at its earliest deadline, unless
    /// it is already armed at or before it.
    pub(crate) fn arm_deadline(&mut self, key: usize) {
        let now = self.clock.now();
        let Some(io) = self.stream_mut(key) else {
            return;
        };
        let generation = io.generation;
        let Some(extra) = io.extra.as_mut() else {
            return;
        };
        let due = extra.deadlines.as_ref().and_then(Deadlines::next_due);
        let armed = extra.armed;
        match (due, armed) {
            (Some((at, _)), Some((_, armed_at))) if armed_at <= at => {}
            (None, None) => {}
            (due, armed) => {
                if let Some((timer, _)) = armed {
                    self.timers.cancel(timer);
                }
                let armed = due.map(|(at, _)| {
                    let delay = at.saturating_duration_since(now);
                    let kind = if delay.is_zero() {
                        crate::proto::timer::Kind::NextTurn
                    } else {
                        crate::proto::timer::Kind::After(delay)
                    };
                    let f = crate::core::TimerFn::Deadline { key, generation };
                    (self.timers.insert(kind, f, now), at)
                });
                if let Some(extra) = self.stream_mut(key).and_then(|io| io.extra.as_mut()) {
                    extra.armed = armed;
                }
            }
        }
    }
}
