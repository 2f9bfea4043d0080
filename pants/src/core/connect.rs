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

    /// Moves a failed connect on to the next address; false when none is left.
    pub(crate) fn retry_connect(&mut self, key: usize) -> bool {
        let registry = self.poll.registry();
        let Some(crate::core::Slot::Stream(io)) = self.slots.get_mut(key) else {
            return false;
        };
        let generation = io.generation;
        let Some(plan) = io.extra.as_mut().and_then(|e| e.connect.as_mut()) else {
            return false;
        };
        let Ok((sock, remote)) = start_connect(&mut plan.rest) else {
            return false;
        };
        io.sock.deregister(registry);
        io.sock = sock;
        io.remote = remote;
        io.sock.register(registry, token(key, generation)).is_ok()
    }

    /// The address a connecting stream was asked to reach, for errors.
    pub(crate) fn connect_target(&self, key: usize) -> String {
        self.stream(key)
            .and_then(|io| io.extra.as_ref()?.connect.as_ref())
            .map_or_else(|| "peer".to_owned(), |p| p.target.clone())
    }
}
