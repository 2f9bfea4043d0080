//! Client streams: a connecting slot, and moving on to the next address.

use std::net::SocketAddr;

use crate::addr::{Addr, IntoAddr, UnixAddr};
use crate::core::{ConnectPlan, Core, NO_SERVER, token};
use crate::error::{Error, Result};
use crate::proto::deadlines::Timeouts;
use crate::sys::net::{start_connect, start_connect_unix};
use crate::sys::transport::Transport;

/// How long a connect attempt has before the next address starts beside
/// it (RFC 8305's recommended Connection Attempt Delay).
pub(crate) const RACE_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

impl<A> Core<A> {
    /// Creates a connecting stream slot; failures after parsing are queued
    /// for `on_connect_error` on the next turn. Returns `(key, generation)`.
    pub(crate) fn connect(
        &mut self,
        addr: &impl IntoAddr,
        initial: (u16, Timeouts),
    ) -> Result<(usize, u32)> {
        let target = addr.describe();
        if let Some(name) = addr.unix() {
            return self.connect_unix(target, &name?, initial);
        }
        if let Some((host, port)) = addr.name() {
            // Resolved on a helper thread; the connect starts when the
            // result comes back (`Engine::finish_resolutions`).
            let unspecified = Addr::Ip(SocketAddr::from(([0, 0, 0, 0], 0)));
            let key = self.insert_stream(Transport::None, unspecified, NO_SERVER, initial, true)?;
            let io = self.stream_mut(key).expect("inserted above");
            io.extra().connect = Some(ConnectPlan {
                target,
                rest: Vec::new(),
                racers: Vec::new(),
            });
            let generation = io.generation;
            self.resolver.start(key, generation, host, port);
            return Ok((key, generation));
        }
        let (mut rest, mut failure) = match addr.resolve(false) {
            Ok(found) => (found, None),
            Err(Error::Connect { addr, source }) => {
                (Vec::new(), Some(Error::Connect { addr, source }))
            }
            Err(e) => return Err(e),
        };
        let unspecified = Addr::Ip(SocketAddr::from(([0, 0, 0, 0], 0)));
        let (sock, remote) = if failure.is_some() {
            (Transport::None, unspecified)
        } else {
            match start_connect(&mut rest) {
                Ok(started) => started,
                Err(source) => {
                    failure = Some(Error::Connect {
                        addr: target.clone(),
                        source,
                    });
                    (Transport::None, unspecified)
                }
            }
        };
        let key = self.insert_stream(sock, remote, NO_SERVER, initial, true)?;
        let io = self.stream_mut(key).expect("inserted above");
        io.extra().connect = Some(ConnectPlan {
            target,
            rest,
            racers: Vec::new(),
        });
        let generation = io.generation;
        if let Some(error) = failure {
            self.failed.push((key, generation, error));
        } else {
            self.schedule_race(key);
        }
        Ok((key, generation))
    }

    fn connect_unix(
        &mut self,
        target: String,
        name: &UnixAddr,
        initial: (u16, Timeouts),
    ) -> Result<(usize, u32)> {
        let (sock, remote, failure) = match start_connect_unix(name) {
            Ok((sock, remote)) => (sock, remote, None),
            Err(source) => (
                Transport::None,
                Addr::unix(name.clone()),
                Some(Error::Connect {
                    addr: target.clone(),
                    source,
                }),
            ),
        };
        let key = self.insert_stream(sock, remote, NO_SERVER, initial, true)?;
        let io = self.stream_mut(key).expect("inserted above");
        io.extra().connect = Some(ConnectPlan {
            target,
            rest: Vec::new(),
            racers: Vec::new(),
        });
        let generation = io.generation;
        if let Some(error) = failure {
            self.failed.push((key, generation, error));
        }
        Ok((key, generation))
    }

    /// Moves a connect on to the next address; the last error when none
    /// is left.
    pub(crate) fn retry_connect(&mut self, key: usize) -> std::io::Result<()> {
        let registry = self.poll.registry();
        let gone = || std::io::Error::from(std::io::ErrorKind::NotConnected);
        let Some(crate::core::Slot::Stream(io)) = self.slots.get_mut(key) else {
            return Err(gone());
        };
        let generation = io.generation;
        let Some(plan) = io.extra.as_mut().and_then(|e| e.connect.as_mut()) else {
            return Err(gone());
        };
        let (sock, remote) = start_connect(&mut plan.rest)?;
        io.sock.deregister(registry);
        io.sock = sock;
        io.remote = remote;
        io.sock.register(registry, token(key, generation))?;
        self.schedule_race(key);
        Ok(())
    }

    /// Happy Eyeballs (RFC 8305): if addresses are left, the next one
    /// starts [`RACE_DELAY`] from now unless the connect has finished.
    fn schedule_race(&mut self, key: usize) {
        let Some(io) = self.stream(key) else {
            return;
        };
        let generation = io.generation;
        let more = io
            .extra
            .as_ref()
            .and_then(|e| e.connect.as_ref())
            .is_some_and(|p| !p.rest.is_empty());
        if more {
            self.schedule(
                crate::proto::timer::Kind::After(RACE_DELAY),
                crate::core::TimerFn::Race { key, generation },
            );
        }
    }

    /// The race timer: a stream still connecting starts its next address
    /// beside the attempts already pending.
    pub(crate) fn race(&mut self, key: usize, generation: u32) {
        if !self.is_live(key, generation) {
            return;
        }
        let registry = self.poll.registry();
        let Some(crate::core::Slot::Stream(io)) = self.slots.get_mut(key) else {
            return;
        };
        if !io.life.has(crate::proto::lifecycle::Lifecycle::CONNECTING) {
            return;
        }
        let Some(plan) = io.extra.as_mut().and_then(|e| e.connect.as_mut()) else {
            return;
        };
        if let Ok((mut sock, remote)) = start_connect(&mut plan.rest)
            && sock.register(registry, token(key, generation)).is_ok()
        {
            log::debug!("stream #{key}: racing a connect to {remote}");
            plan.racers.push((sock, remote));
        }
        self.schedule_race(key);
    }

    /// A connecting stream's outcome over all its attempts: `Ok(Some(peer))`
    /// once one connected (it becomes the stream's socket, the others are
    /// dropped), `Ok(None)` while some are pending, `Err` (the last error)
    /// when the stream's own attempt failed and no racer is left.
    pub(crate) fn poll_connect(
        &mut self,
        key: usize,
        errored: bool,
    ) -> std::io::Result<Option<Addr>> {
        let registry = self.poll.registry();
        let Some(crate::core::Slot::Stream(io)) = self.slots.get_mut(key) else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        let Some(plan) = io.extra.as_mut().and_then(|e| e.connect.as_mut()) else {
            return io.sock.connect_result(errored);
        };
        // With racers on the same token, an error event may be theirs:
        // each socket's own `SO_ERROR` decides.
        let errored = errored && plan.racers.is_empty();
        let mut outcome = io.sock.connect_result(errored);
        loop {
            match outcome {
                Ok(Some(peer)) => {
                    for (mut racer, _) in plan.racers.drain(..) {
                        racer.deregister(registry);
                    }
                    return Ok(Some(peer));
                }
                Ok(None) => break,
                Err(e) if plan.racers.is_empty() => return Err(e),
                Err(e) => {
                    // The stream's attempt failed: the oldest racer takes
                    // its place.
                    log::debug!("stream #{key}: connect to {} failed: {e}", io.remote);
                    let (sock, remote) = plan.racers.remove(0);
                    io.sock.deregister(registry);
                    io.sock = sock;
                    io.remote = remote;
                    outcome = io.sock.connect_result(false);
                }
            }
        }
        let mut i = 0;
        while i < plan.racers.len() {
            match plan.racers[i].0.connect_result(false) {
                Ok(None) => i += 1,
                Ok(Some(peer)) => {
                    let (sock, remote) = plan.racers.swap_remove(i);
                    io.sock.deregister(registry);
                    io.sock = sock;
                    io.remote = remote;
                    for (mut racer, _) in plan.racers.drain(..) {
                        racer.deregister(registry);
                    }
                    return Ok(Some(peer));
                }
                Err(e) => {
                    log::debug!(
                        "stream #{key}: racing connect to {} failed: {e}",
                        plan.racers[i].1
                    );
                    let (mut racer, _) = plan.racers.swap_remove(i);
                    racer.deregister(registry);
                }
            }
        }
        Ok(None)
    }

    /// Gives a connecting stream the addresses its host name resolved to.
    pub(crate) fn set_connect_addrs(&mut self, key: usize, addrs: Vec<SocketAddr>) {
        if let Some(plan) = self
            .stream_mut(key)
            .and_then(|io| io.extra.as_mut())
            .and_then(|e| e.connect.as_mut())
        {
            plan.rest = addrs;
        }
    }

    /// The address a connecting stream was asked to reach, for errors.
    pub(crate) fn connect_target(&self, key: usize) -> String {
        self.stream(key)
            .and_then(|io| io.extra.as_ref()?.connect.as_ref())
            .map_or_else(|| "peer".to_owned(), |p| p.target.clone())
    }
}
