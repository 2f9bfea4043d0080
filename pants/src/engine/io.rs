//! Stream events: connect completion, reading and delivering, flushing and
//! flow control.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::api::channel::{App, Event};
use crate::core::Core;
use crate::engine::Engine;
use crate::error::Error;
use crate::proto::close::CloseReason;
use crate::proto::lifecycle::Lifecycle;

/// Reads per readiness event before other channels get a turn.
const READ_BUDGET: usize = 16;

impl<A: App> Engine<A> {
    /// A connecting stream got an event: connected, failed, or not yet.
    pub(super) fn finish_connect(&mut self, key: usize, errored: bool) -> bool {
        let now = self.core.now;
        let result = self.core.poll_connect(key, errored);
        let Some(io) = self.core.stream_mut(key) else {
            return false;
        };
        match result {
            Ok(None) => false,
            Ok(Some(peer)) => {
                io.life.connected();
                io.remote = peer;
                if let Some(extra) = io.extra.as_mut() {
                    extra.connect = None;
                    if let Some(d) = extra.deadlines.as_mut() {
                        d.connected(now);
                    }
                }
                let queued = !io.wq.is_empty() || io.life.has(Lifecycle::SHUT_PENDING);
                if self.connected_tls(key) {
                    return true;
                }
                self.call(key, Event::Connect);
                if queued {
                    self.flush_stream(key);
                }
                true
            }
            Err(source) => {
                if self.core.retry_connect(key).is_ok() {
                    return false;
                }
                let addr = self.core.connect_target(key);
                self.fail_connect(key, &Error::Connect { addr, source });
                false
            }
        }
    }

    /// Host names resolved on helper threads: start connecting to the
    /// addresses (each in turn), or report that the name did not resolve.
    pub(super) fn finish_resolutions(&mut self) {
        for done in self.core.resolver.take() {
            let key = done.key;
            let connecting = self.core.is_live(key, done.generation)
                && self
                    .core
                    .stream(key)
                    .is_some_and(|io| io.life.has(Lifecycle::CONNECTING));
            if !connecting {
                continue;
            }
            let started = done.result.and_then(|addrs| {
                self.core.set_connect_addrs(key, addrs);
                self.core.retry_connect(key)
            });
            if let Err(source) = started {
                let addr = self.core.connect_target(key);
                self.fail_connect(key, &Error::Connect { addr, source });
            }
            self.settle();
        }
    }

    /// `on_connect_error`, then the stream closes (`on_close`).
    pub(super) fn fail_connect(&mut self, key: usize, error: &Error) {
        self.call(key, Event::ConnectError(error));
        self.core.close_now(key, CloseReason::ConnectFailed);
        self.settle();
    }

    /// Reads until the socket is drained, the budget runs out, or the stream
    /// stops reading.
    ///
    /// A short read normally proves the socket drained, saving the read that
    /// would return `WouldBlock`; not when the event says the peer closed,
    /// since the FIN that came with the data brings no further edge.
    pub(super) fn read_stream(&mut self, key: usize, closed: bool) {
        for _ in 0..READ_BUDGET {
            let now = self.core.now;
            let Some(io) = self.core.stream_mut(key) else {
                return;
            };
            if io.life.has(Lifecycle::LINGER) {
                self.linger(key);
                return;
            }
            if !io.life.reads() {
                return;
            }
            let before = io.wq.len();
            let read = io.sock.read(&mut self.scratch);
            let drains = io.sock.short_read_drains();
            let tls = io.sock.tls().is_some();
            if tls {
                // TLS: answer the handshake; `on_handshake` and `on_connect`
                // run before the plaintext that came with its end.
                let handshaking = io.life.has(Lifecycle::HANDSHAKING);
                match read {
                    Err(e) if handshaking && e.kind() != io::ErrorKind::WouldBlock => {
                        return self.handshake_failed(key, e, None);
                    }
                    Ok(0) if handshaking => {
                        let e = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed during the handshake",
                        );
                        return self.handshake_failed(key, e, None);
                    }
                    _ => self.tls_progress(key),
                }
            }
            let Some(io) = self.core.stream_mut(key) else {
                return;
            };
            match read {
                Ok(0) => {
                    io.life.set(Lifecycle::PEER_EOF);
                    self.deliver(key, 0, true);
                    self.core.close(key, CloseReason::PeerClosed);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && tls => {
                    // TLS without close_notify: what came before is
                    // delivered, and the close says it may be cut short.
                    io.life.set(Lifecycle::PEER_EOF);
                    self.deliver(key, 0, true);
                    self.core.close(key, CloseReason::Truncated);
                    return;
                }
                Ok(n) => {
                    if let Some(d) = io.deadlines() {
                        d.activity(now);
                    }
                    self.deliver(key, n, false);
                    if self.reply_backpressure(key, before) {
                        return;
                    }
                    // A short read drained the socket: the next edge brings more.
                    if n < self.scratch.len() && !closed && drains {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::debug!("stream #{key}: read failed: {e}; closing");
                    self.core.close_now(key, CloseReason::from_io(e));
                    return;
                }
            }
        }
        self.core.resume(key);
    }

    /// After a read: send the replies its frames queued (so a pipelining
    /// peer gets them before the next read), and pause reading while they
    /// stay above the high watermark. Returns whether reading paused.
    ///
    /// Only a stream's own replies pause its reading: bytes queued from
    /// elsewhere (a broadcast, a timer, another thread) do not, so two
    /// programs that each write from outside their read handlers cannot
    /// wait on each other; they meet the hard cap instead.
    fn reply_backpressure(&mut self, key: usize, before: usize) -> bool {
        let Some(io) = self.core.stream(key) else {
            return true;
        };
        if !io.life.has(Lifecycle::DIRTY) {
            return false;
        }
        let replied = io.wq.len() > before;
        self.flush_stream(key);
        let Some(io) = self.core.stream(key) else {
            return true;
        };
        if replied && io.wq.len() > self.core.limits_of(io).high {
            if let Some(io) = self.core.stream_mut(key) {
                io.life.set(Lifecycle::REPLY_PAUSED);
            }
            return true;
        }
        false
    }

    /// Graceful shutdown: read and discard until the peer's end of input,
    /// so closing sends a FIN, never a reset for unread bytes.
    fn linger(&mut self, key: usize) {
        for _ in 0..READ_BUDGET {
            let Some(io) = self.core.stream_mut(key) else {
                return;
            };
            if io.life.has(Lifecycle::CLOSING | Lifecycle::CLOSED) {
                return;
            }
            match io.sock.read(&mut self.scratch) {
                Ok(0) => {
                    io.life.set(Lifecycle::PEER_EOF);
                    self.core.close(key, CloseReason::Shutdown);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    io.life.set(Lifecycle::PEER_EOF);
                    self.core.close(key, CloseReason::Shutdown);
                    return;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.core.close_now(key, CloseReason::from_io(e));
                    return;
                }
            }
        }
        self.core.resume(key);
    }

    /// Hands buffered + new bytes to the channel; keeps what it did not use.
    pub(super) fn deliver(&mut self, key: usize, n: usize, eof: bool) {
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
            // Replies queued by earlier frames still go out.
            log::error!("a read handler of stream #{key} panicked; closing the stream");
            self.core.close(key, CloseReason::Panic);
            return;
        }
        if let Some(io) = self.core.stream_mut(key)
            && (io.life.delivers() || io.life.has(Lifecycle::UPGRADING))
            && !rbuf.is_empty()
        {
            io.rbuf = rbuf;
        }
    }

    /// Writes a stream's queue, then applies what the new queue length
    /// means: writability changes, paused reading, `on_write`, a pending close.
    pub(super) fn flush_stream(&mut self, key: usize) {
        let had_queue = self.core.queued(key) > 0
            || self.core.stream(key).is_some_and(|io| io.sock.holds_data());
        match self.core.flush(key) {
            Ok(drained) => self.after_flush(key, had_queue, drained),
            Err(e) => {
                log::debug!("stream #{key}: write failed: {e}; closing");
                self.core.close_now(key, CloseReason::from_io(e));
            }
        }
    }

    fn after_flush(&mut self, key: usize, had_queue: bool, drained: bool) {
        let Some(io) = self.core.stream(key) else {
            return;
        };
        let limits = self.core.limits_of(io);
        let (pending, life) = (io.wq.len(), io.life);
        if pending > limits.high && !life.has(Lifecycle::UNWRITABLE) {
            self.set_life(key, Lifecycle::UNWRITABLE, true);
            if life.is_open() {
                self.call(key, Event::PauseWriting);
            }
        } else if pending <= limits.low {
            if life.has(Lifecycle::REPLY_PAUSED) {
                self.set_life(key, Lifecycle::REPLY_PAUSED, false);
                self.core.resume(key);
            }
            if life.has(Lifecycle::UNWRITABLE) {
                self.set_life(key, Lifecycle::UNWRITABLE, false);
                if life.is_open() {
                    self.call(key, Event::ResumeWriting);
                }
            }
        }
        if !drained {
            return;
        }
        let Some(io) = self.core.stream(key) else {
            return;
        };
        if io.life.has(Lifecycle::CLOSING) {
            self.core.schedule_close(key);
        } else if had_queue
            && io.life.has(Lifecycle::CONNECTED)
            && self
                .users
                .get(key)
                .and_then(Option::as_ref)
                .is_some_and(App::__pants_on_write)
        {
            self.call(key, Event::Write);
        }
    }

    fn set_life(&mut self, key: usize, flag: u16, on: bool) {
        if let Some(io) = self.core.stream_mut(key) {
            if on {
                io.life.set(flag);
            } else {
                io.life.clear(flag);
            }
        }
    }
}
