//! Client streams: a connecting slot, and moving on to the next address.

use std::net::SocketAddr;

use crate::addr::{Addr, IntoAddr, UnixAddr};
use crate::core::{ConnectPlan, Core, NO_SERVER, token};
use crate::error::{Error, Result};
use crate::proto::deadlines::Timeouts;
use crate::sys::net::{start_connect, start_connect_unix};
use crate::sys::transport::Transport;

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
        io.extra().connect = Some(ConnectPlan { target, rest });
        let generation = io.generation;
        if let Some(error) = failure {
            self.failed.push((key, generation, error));
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
        io.sock.register(registry, token(key, generation))
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
