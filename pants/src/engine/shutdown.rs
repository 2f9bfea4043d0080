//! Graceful shutdown: stop accepting, tell the channels, stop reading,
//! send what is queued, shut the write side, drain the peer's input until
//! its FIN (nginx's lingering close), then close; at the deadline, close
//! whatever is left.

use std::time::Duration;

use crate::api::channel::{App, Event};
use crate::core::Slot;
use crate::engine::Engine;
use crate::proto::close::CloseReason;
use crate::proto::lifecycle::Lifecycle;
use crate::proto::timer::Kind;

impl<A: App> Engine<A> {
    /// Shuts down gracefully, taking at most `grace`:
    ///
    /// 1. every server stops listening (new connections are refused);
    /// 2. every stream's `#[on_shutdown]` runs (it may still write: a
    ///    goodbye line);
    /// 3. streams stop reading and delivering frames; what is queued is
    ///    sent, then the write side is shut (the peer reads a FIN after
    ///    every byte);
    /// 4. input still arriving is read and discarded until the peer closes
    ///    its side, so closing never resets a connection for unread bytes;
    /// 5. when no stream is left, or at the deadline (the rest are closed
    ///    at once), the loop stops: [`start`](Self::start) returns.
    ///
    /// Streams close with [`CloseReason::Shutdown`]. Timers stay. A second
    /// call while one runs changes nothing.
    pub fn shutdown(&mut self, grace: Duration) {
        if self.core.shutdown.is_some() {
            return;
        }
        let deadline = self.core.clock.now() + grace;
        self.core.shutdown = Some(deadline);
        let (servers, streams): (Vec<usize>, Vec<usize>) = {
            let mut servers = Vec::new();
            let mut streams = Vec::new();
            for (key, slot) in &self.core.slots {
                match slot {
                    // Datagram sockets close with the listeners: nothing
                    // is owed on them.
                    Slot::Server(_) | Slot::Datagram(_) => servers.push(key),
                    Slot::Stream(_) => streams.push(key),
                }
            }
            (servers, streams)
        };
        for key in servers {
            if self.core.datagram(key).is_some() {
                self.finish_datagram(key);
            } else {
                let _ = self.core.stop_listening(key);
            }
        }
        for key in streams {
            let open = self.core.stream(key).is_some_and(|io| io.life.is_open());
            if open {
                self.call(key, Event::Shutdown);
            }
            self.wind_down(key);
            self.settle();
        }
        let force: Box<dyn FnMut(&mut Self)> = Box::new(Self::force_shutdown);
        let delay = grace.max(Duration::from_nanos(1));
        self.core.schedule(
            Kind::After(delay),
            crate::core::TimerFn::Engine(Box::new(force)),
        );
        self.check_shutdown_done();
    }

    /// Whether a graceful shutdown is under way.
    pub fn is_shutting_down(&self) -> bool {
        self.core.shutdown.is_some()
    }

    /// One stream: stop reading, send the queue, then FIN and linger.
    fn wind_down(&mut self, key: usize) {
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        if io.life.has(Lifecycle::CLOSING | Lifecycle::CLOSED) {
            return;
        }
        if !io.life.has(Lifecycle::CONNECTED) {
            self.core.close_now(key, CloseReason::Shutdown);
            return;
        }
        io.rbuf = Vec::new();
        io.life
            .clear(Lifecycle::REPLY_PAUSED | Lifecycle::USER_PAUSED);
        io.set_reason(CloseReason::Shutdown);
        if io.life.has(Lifecycle::PEER_EOF) {
            self.core.close(key, CloseReason::Shutdown);
            return;
        }
        io.life.set(Lifecycle::LINGER | Lifecycle::SHUT_PENDING);
        self.core.mark_dirty(key);
        self.core.resume(key);
    }

    /// The deadline passed: close what is left, and stop.
    fn force_shutdown(&mut self) {
        if self.core.shutdown.is_none() {
            return;
        }
        let left: Vec<usize> = self
            .core
            .slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Stream(_)))
            .map(|(key, _)| key)
            .collect();
        if !left.is_empty() {
            log::warn!(
                "shutdown: {} stream(s) still open at the deadline; closing them",
                left.len()
            );
        }
        for key in left {
            self.core.close_now(key, CloseReason::Shutdown);
        }
        self.settle();
        self.check_shutdown_done();
    }

    /// Stops the loop once a shutdown has no stream left.
    pub(super) fn check_shutdown_done(&mut self) {
        if self.core.shutdown.is_some() && self.stream_count() == 0 {
            self.core.shutdown = None;
            self.core.stopping = true;
        }
    }
}
