//! One turn of the loop: timers, remote calls, pending work, the wait, the
//! events; and signals.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::Duration;

use mio::{Events, Interest, Token};

use crate::api::channel::App;
use crate::core::{Slot, untoken};
use crate::engine::{DEFAULT_SHUTDOWN_GRACE, Engine, SIGNALS, WAKER};
use crate::error::Result;
use crate::proto::lifecycle::Lifecycle;

impl<A: App> Engine<A> {
    /// Runs one turn of the loop, waiting at most `timeout` (`None`: until
    /// something happens) for readiness.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.core.now = self.core.clock.now();
        self.run_timers();
        self.run_remote_calls();
        self.finish_resolutions();
        self.report_failures();
        if !self.core.resume.is_empty() {
            // Timers and calls ran user code: connections accepted now (a
            // listener that spent its budget) start their timeouts from
            // the time they are accepted, not from the top of the turn.
            self.core.now = self.core.clock.now();
        }
        self.run_resumed();
        self.check_shutdown_done();
        if self.core.stopping {
            return Ok(());
        }
        let wait = self.wait_time(timeout);
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let polled = self.core.poll.poll(&mut events, wait);
        self.core.now = self.core.clock.now();
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
                WAKER => {
                    self.run_remote_calls();
                    self.finish_resolutions();
                }
                SIGNALS => self.take_signal(),
                token => self.dispatch(token, event),
            }
        }
        self.events = events;
        self.check_shutdown_done();
        Ok(())
    }

    /// Shuts down gracefully on SIGINT or SIGTERM (see
    /// [`shutdown`](Self::shutdown)), allowing [`DEFAULT_SHUTDOWN_GRACE`];
    /// a second signal stops at once.
    pub fn stop_on_signals(&mut self) -> Result<()> {
        self.shutdown_on_signals(DEFAULT_SHUTDOWN_GRACE)
    }

    /// [`stop_on_signals`](Self::stop_on_signals) with another grace period.
    pub fn shutdown_on_signals(&mut self, grace: Duration) -> Result<()> {
        self.signal_grace = grace;
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

    fn wait_time(&mut self, timeout: Option<Duration>) -> Option<Duration> {
        // A stream kept for `run_until_closed` closed in this turn's work:
        // return so the caller sees it, rather than wait for an event that
        // may never come.
        if self.core.timers.has_turn_work()
            || !self.core.resume.is_empty()
            || !self.core.failed.is_empty()
            || !self.kept.is_empty()
        {
            return Some(Duration::ZERO);
        }
        let now = self.core.clock.now();
        let until_timer = self
            .core
            .timers
            .next_deadline()
            .map(|d| d.saturating_duration_since(now));
        match (until_timer, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn run_remote_calls(&mut self) {
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
        if self.core.shutdown.is_some() {
            log::warn!("second signal; stopping now");
            self.core.stopping = true;
        } else {
            log::info!("signal received; shutting down");
            self.shutdown(self.signal_grace);
        }
    }

    fn report_failures(&mut self) {
        for (key, generation, error) in std::mem::take(&mut self.core.failed) {
            if self.core.is_live(key, generation) {
                self.fail_connect(key, &error);
            }
        }
    }

    /// Each channel on the resume list gets one more budget of reads (or
    /// accepts, or datagrams) per turn, however many times it was listed:
    /// a stream that used up its budget on a readiness edge while it was
    /// already listed is listed twice, and without this the copies would
    /// multiply turn after turn under a flood (each turn longer, so more
    /// to read, so more copies) until one turn drained every flooding
    /// socket whole and a ping beside them waited for it.
    fn run_resumed(&mut self) {
        let mut resumed = std::mem::take(&mut self.core.resume);
        if resumed.len() > 1 {
            resumed.sort_unstable();
            resumed.dedup();
        }
        for (key, generation) in resumed {
            if !self.core.is_live(key, generation) {
                continue;
            }
            match self.core.slots.get(key) {
                Some(Slot::Stream(io)) => {
                    if !io.rbuf.is_empty() && io.life.delivers() {
                        self.deliver(key, 0, false);
                    }
                    self.read_stream(key, true);
                }
                Some(Slot::Server(_)) => self.accept(key),
                Some(Slot::Datagram(_)) => self.read_datagrams(key),
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
        let owes = match self.core.slots.get(key) {
            Some(Slot::Server(_)) => {
                self.accept(key);
                return;
            }
            Some(Slot::Datagram(_)) => {
                if event.is_writable() {
                    self.core.flush_datagrams(key);
                }
                if event.is_readable() || event.is_error() {
                    self.read_datagrams(key);
                }
                self.settle();
                return;
            }
            // A writable edge matters to a stream that owes something: a
            // queue, TLS records, a pending close or half-close, or a
            // paused state that waits for the queue to drain. (Edges come
            // writable with every readable one; most owe nothing.)
            Some(Slot::Stream(io)) => {
                !io.wq.is_empty()
                    || io.sock.wants_write()
                    || io.life.has(
                        Lifecycle::CONNECTING
                            | Lifecycle::CLOSING
                            | Lifecycle::SHUT_PENDING
                            | Lifecycle::UNWRITABLE
                            | Lifecycle::REPLY_PAUSED,
                    )
            }
            None => return,
        };
        let connecting = self
            .core
            .stream(key)
            .is_some_and(|io| io.life.has(Lifecycle::CONNECTING));
        if connecting && !self.finish_connect(key, event.is_error()) {
            self.settle();
            return;
        }
        if (event.is_writable() && owes) || event.is_error() {
            self.flush_stream(key);
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read_stream(key, event.is_read_closed() || event.is_error());
        }
        self.settle();
    }
}
