//! Calling into user code, and settling what it asked for.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::api::channel::{App, Event};
use crate::engine::Engine;
use crate::proto::close::CloseReason;
use crate::proto::lifecycle::Lifecycle;

impl<A: App> Engine<A> {
    /// Calls into the channel at `key`; a panic closes that channel (its
    /// queued replies are still sent).
    pub(super) fn call(&mut self, key: usize, event: Event<'_>) {
        let Some(app) = self.users.get_mut(key).and_then(Option::as_mut) else {
            return;
        };
        let core = &mut self.core;
        let closing = matches!(event, Event::Close);
        if catch_unwind(AssertUnwindSafe(|| app.__pants_event(core, key, event))).is_err() {
            log::error!("a handler of stream #{key} panicked; closing the stream");
            if !closing {
                self.core.close(key, CloseReason::Panic);
            }
        }
    }

    /// Applies what handlers asked for: new channels, flushes, closes.
    pub(super) fn settle(&mut self) {
        loop {
            for (key, app) in std::mem::take(&mut self.core.born) {
                if self.users.len() <= key {
                    self.users.resize_with(key + 1, || None);
                }
                self.users[key] = Some(app);
            }
            if !self.core.upgrades.is_empty() {
                self.apply_upgrades();
                continue;
            }
            if !self.core.datagram_closing.is_empty() {
                self.close_datagrams();
                continue;
            }
            if let Some(key) = self.core.dirty.pop_front() {
                let dirty = self
                    .core
                    .stream(key)
                    .is_some_and(|io| io.life.has(Lifecycle::DIRTY));
                if dirty {
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
        if !io.life.has(Lifecycle::CLOSING) || io.life.has(Lifecycle::CLOSED) {
            return;
        }
        io.life.clear(Lifecycle::IN_CLOSING);
        // No `close_notify` to a broken connection (`Core::flush` writes it
        // nothing at all), nor to a peer that left without one (it closed
        // the socket, not the session: the alert would mostly meet its
        // reset, an EPIPE and a SIGPIPE, as the soak saw).
        let notify_ok = !io
            .reason()
            .is_some_and(|r| r.is_broken() || matches!(r, CloseReason::Truncated));
        if io.life.has(Lifecycle::CONNECTED) {
            // The queue first, then (TLS) close_notify after it.
            let mut pending = !io.wq.is_empty() || io.sock.wants_write();
            if !pending
                && notify_ok
                && !io.life.has(Lifecycle::HANDSHAKING)
                && io.sock.close_notify()
            {
                pending = true;
            }
            if pending {
                match self.core.flush(key) {
                    Ok(false) => return,
                    Ok(true) => {}
                    Err(e) => {
                        log::debug!("stream #{key}: write failed while closing: {e}");
                        if let Some(io) = self.core.stream_mut(key) {
                            io.set_failure(CloseReason::from_io(e));
                            io.wq.clear();
                        }
                    }
                }
                // Drained: close_notify may still be due.
                let notify = notify_ok
                    && self
                        .core
                        .stream_mut(key)
                        .is_some_and(|io| io.sock.close_notify());
                if notify {
                    match self.core.flush(key) {
                        Ok(false) => return,
                        Ok(true) => {}
                        Err(e) => log::debug!("stream #{key}: close_notify failed: {e}"),
                    }
                }
            }
        }
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        io.life.set(Lifecycle::CLOSED);
        if io.reason().is_none() {
            io.set_reason(CloseReason::Local);
        }
        let (server, pos, keep) = (io.server, io.server_pos, io.life.has(Lifecycle::KEEP));
        let generation = io.generation;
        // Leave the live list (broadcasts from on_close skip this stream) but
        // keep the server link, so on_close can still reach the others.
        io.server_pos = u32::MAX;
        self.core.unlink(server, pos);
        self.call(key, Event::Close);
        self.core.remove_stream(key);
        if let Some(app) = self.users.get_mut(key).and_then(Option::take) {
            if keep {
                self.kept.push((key, generation, app));
            } else if catch_unwind(AssertUnwindSafe(|| drop(app))).is_err() {
                log::error!("dropping the channel value of stream #{key} panicked");
            }
        }
    }
}
