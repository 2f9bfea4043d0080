//! Accepting connections, with a budget per event and a back-off when the
//! process runs out of file descriptors.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::api::channel::{App, Event};
use crate::core::TimerFn;
use crate::engine::Engine;
use crate::proto::timer::Kind;
use crate::sys::listener::is_resource_exhaustion;

/// Accepts per readiness event before other channels get a turn (Netty
/// takes 16 messages per read, nginx one accept per event by default):
/// beside a storm of connections, 256 kept a ping waiting 15 ms at the
/// median in a debug build, 32 about 1-4 ms.
const ACCEPT_BUDGET: usize = 32;
/// How long a listener rests after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

type EngineFn<A> = Box<dyn FnMut(&mut Engine<A>)>;

impl<A: App> Engine<A> {
    /// Accepts until the backlog is empty or the budget runs out.
    pub(super) fn accept(&mut self, key: usize) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(srv) = self.core.server_mut(key) else {
                return;
            };
            if srv.listener.is_none() || srv.paused {
                return;
            }
            let full = srv.conns.len() >= srv.max_connections as usize
                || self
                    .core
                    .max_streams
                    .is_some_and(|max| self.core.streams >= max);
            if full {
                // New connections wait in the kernel's backlog until a
                // close makes room (`Core::resume_limited`).
                let srv = self.core.server_mut(key).expect("checked above");
                if !srv.at_limit {
                    srv.at_limit = true;
                    log::info!(
                        "{}: at the connection limit; accepting again when one closes",
                        srv.local
                    );
                    self.core.limited += 1;
                }
                return;
            }
            let Some(srv) = self.core.server_mut(key) else {
                return;
            };
            let Some(listener) = &srv.listener else {
                return;
            };
            let (sock, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_resource_exhaustion(&e) => {
                    if !srv.exhausted {
                        log::warn!(
                            "accept on {}: {e}; pausing accepts (retrying every {ACCEPT_BACKOFF:?})",
                            srv.local
                        );
                    }
                    srv.exhausted = true;
                    srv.paused = true;
                    let generation = srv.generation;
                    let retry: EngineFn<A> = Box::new(move |e: &mut Self| {
                        e.resume_accept(key, generation);
                    });
                    self.core.schedule(
                        Kind::After(ACCEPT_BACKOFF),
                        TimerFn::Engine(Box::new(retry)),
                    );
                    return;
                }
                Err(e) => {
                    log::debug!("accept on {}: {e}", srv.local);
                    continue;
                }
            };
            if srv.exhausted {
                srv.exhausted = false;
                log::warn!("accept on {}: accepting connections again", srv.local);
            }
            let initial = (srv.initial, (srv.timeouts)());
            let tls = srv.tls.as_deref().cloned();
            let made = catch_unwind(AssertUnwindSafe(|| (srv.make)(&peer)));
            let Ok(Some(app)) = made else {
                if made.is_err() {
                    log::error!("the accept hook panicked; connection from {peer} dropped");
                }
                continue;
            };
            match self
                .core
                .insert_stream(sock, peer.clone(), key as u32, initial, false)
            {
                Ok(conn) => {
                    self.core.born.push((conn, app));
                    self.settle();
                    match tls {
                        Some(tls) => self.accepted_tls(conn, tls),
                        None => self.call(conn, Event::Connect),
                    }
                    self.settle();
                }
                Err(e) => log::warn!("cannot register a connection from {peer}: {e}"),
            }
        }
        let generation = self.core.server(key).map_or(0, |s| s.generation);
        self.core.resume.push((key, generation));
    }

    fn resume_accept(&mut self, key: usize, generation: u32) {
        if let Some(srv) = self.core.server_mut(key)
            && srv.generation == generation
        {
            srv.paused = false;
            self.accept(key);
            self.settle();
        }
    }
}
