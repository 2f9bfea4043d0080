//! Timers on the engine, and running due timers and timeouts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::api::channel::{App, Event};
use crate::core::TimerFn;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::proto::deadlines::Timeout;
use crate::proto::lifecycle::Lifecycle;
use crate::proto::timer::{Kind, TimerId};

/// An engine-wide timer callback (stored type-erased in the core).
type EngineFn<A> = Box<dyn FnMut(&mut Engine<A>)>;

impl<A: App> Engine<A> {
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

    pub(super) fn timer(&mut self, kind: Kind, f: impl FnMut(&mut Self) + 'static) -> TimerId {
        let f: EngineFn<A> = Box::new(f);
        self.core.schedule(kind, TimerFn::Engine(Box::new(f)))
    }

    pub(super) fn run_timers(&mut self) {
        let turn = self.core.timers.take_turn();
        for &id in &turn {
            self.run_timer(id);
        }
        self.core.timers.recycle_turn(turn);
        let now = self.core.now;
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
                if let Some(f) = f.downcast_mut::<EngineFn<A>>()
                    && catch_unwind(AssertUnwindSafe(|| f(self))).is_err()
                {
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
                            self.core
                                .close(key, crate::proto::close::CloseReason::Panic);
                        }
                    }
                    // The stream is gone: its timers die with it (finish frees the slot).
                    _ => {
                        self.core.timers.cancel(id);
                    }
                }
            }
            TimerFn::Deadline { key, generation } => {
                let (key, generation) = (*key, *generation);
                self.core.timers.cancel(id);
                self.deadline(key, generation);
            }
            TimerFn::Race { key, generation } => {
                let (key, generation) = (*key, *generation);
                self.core.timers.cancel(id);
                self.core.race(key, generation);
            }
        }
        let now = self.core.clock.now();
        self.core.timers.finish(id, payload, now);
        self.settle();
    }

    /// A stream's deadline timer fired: run the handler of the timeout that
    /// expired, if one did, then re-arm at the next deadline.
    fn deadline(&mut self, key: usize, generation: u32) {
        let now = self.core.now;
        if !self.core.is_live(key, generation) {
            return;
        }
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        let open = io.life.is_open();
        let Some(extra) = io.extra.as_mut() else {
            return;
        };
        extra.armed = None;
        let expired = extra.deadlines.as_ref().and_then(|d| d.expired(now));
        if let Some(kind) = expired {
            if let Some(d) = extra.deadlines.as_mut() {
                d.restart(kind, now);
            }
            if open {
                self.expire(key, kind);
            } else {
                // Closing, and its queue made no progress for a whole
                // timeout: the peer is not reading; stop waiting for it.
                self.core
                    .close_now(key, crate::proto::close::CloseReason::Timeout(kind));
            }
        }
        self.core.arm_deadline(key);
    }

    fn expire(&mut self, key: usize, kind: Timeout) {
        let connecting = self
            .core
            .stream(key)
            .is_some_and(|io| io.life.has(Lifecycle::CONNECTING));
        if kind == Timeout::Connect && connecting {
            let addr = self.core.connect_target(key);
            let source = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
            if let Some(io) = self.core.stream_mut(key) {
                io.set_reason(crate::proto::close::CloseReason::Timeout(kind));
            }
            self.fail_connect(key, &Error::Connect { addr, source });
        } else if kind == Timeout::Handshake {
            let handshaking = self
                .core
                .stream(key)
                .is_some_and(|io| io.life.has(Lifecycle::HANDSHAKING));
            if handshaking {
                let source =
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out");
                let reason = crate::proto::close::CloseReason::Timeout(kind);
                self.handshake_failed(key, source, Some(reason));
            }
        } else {
            self.call(key, Event::Timeout(kind));
        }
    }
}
