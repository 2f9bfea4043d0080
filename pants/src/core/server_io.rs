//! A listening server's state in the core: its listener and live list.

use crate::addr::Addr;
use crate::core::{AcceptFn, Core, Slot};
use crate::proto::close::CloseReason;
use crate::proto::deadlines::Timeouts;
use crate::sys::listener::Listener;

/// `StreamIo::server` of a stream no server owns (a client stream).
pub(crate) const NO_SERVER: u32 = u32::MAX;

pub(crate) struct ServerIo<A> {
    pub(crate) listener: Option<Listener>,
    pub(crate) generation: u32,
    pub(crate) local: Addr,
    /// Live connections (keys); each stream knows its index here.
    pub(crate) conns: Vec<u32>,
    pub(crate) make: AcceptFn<A>,
    /// The accepted channel type's first read state.
    pub(crate) initial: u16,
    /// The accepted channel type's declared timeouts (a function, not the
    /// value: it keeps this slot, and so every stream slot, small).
    pub(crate) timeouts: fn() -> Timeouts,
    /// Accepting is paused (EMFILE backoff).
    pub(crate) paused: bool,
    /// In an episode of descriptor exhaustion (logged once, and once when it ends).
    pub(crate) exhausted: bool,
    /// A TLS server: every accepted connection starts a handshake.
    pub(crate) tls: Option<Box<crate::tls::ServerTls>>,
    /// The most connections kept open at once (`u32::MAX`: no limit; a
    /// `u32` fits the slot's padding, an `Option<usize>` grew every slot).
    pub(crate) max_connections: u32,
    /// Accepting stopped at a connection limit (this server's or the
    /// engine's); a close resumes it.
    pub(crate) at_limit: bool,
}

impl<A> Core<A> {
    /// Stops a listener and closes its connections (gracefully).
    pub(crate) fn close_server(&mut self, key: usize, reason: &CloseReason) {
        for conn in self.stop_listening(key) {
            self.close(conn as usize, reason.clone());
        }
    }

    /// Stops a listener, leaving its connections open (graceful shutdown
    /// winds them down itself); returns them, no longer linked to it.
    pub(crate) fn stop_listening(&mut self, key: usize) -> Vec<u32> {
        let Some(srv) = self.server_mut(key) else {
            return Vec::new();
        };
        let Some(mut listener) = srv.listener.take() else {
            return Vec::new();
        };
        let conns = std::mem::take(&mut srv.conns);
        if srv.at_limit {
            srv.at_limit = false;
            self.limited -= 1;
        }
        listener.deregister(self.poll.registry());
        for &conn in &conns {
            if let Some(io) = self.stream_mut(conn as usize) {
                io.server = NO_SERVER;
            }
        }
        self.slots.remove(key);
        conns
    }

    /// Drops `(server, pos)` from a server's live list.
    pub(crate) fn unlink(&mut self, server: u32, pos: u32) {
        if server == NO_SERVER {
            return;
        }
        let pos = pos as usize;
        let moved = match self.slots.get_mut(server as usize) {
            Some(Slot::Server(srv)) if pos < srv.conns.len() => {
                srv.conns.swap_remove(pos);
                srv.conns.get(pos).copied()
            }
            _ => None,
        };
        if let Some(moved) = moved.and_then(|k| self.stream_mut(k as usize)) {
            moved.server_pos = pos as u32;
        }
        self.resume_limited(server as usize);
    }

    /// A connection of `server` went (or any, for the engine's limit):
    /// servers that stopped at a limit accept again.
    pub(crate) fn resume_limited(&mut self, server: usize) {
        if self.limited == 0 {
            return;
        }
        let keys: Vec<usize> = if self.max_streams.is_some() || server == usize::MAX {
            self.slots
                .iter()
                .filter(|(_, s)| matches!(s, Slot::Server(srv) if srv.at_limit))
                .map(|(k, _)| k)
                .collect()
        } else {
            vec![server]
        };
        for key in keys {
            if let Some(srv) = self.server_mut(key)
                && srv.at_limit
            {
                srv.at_limit = false;
                let generation = srv.generation;
                self.limited -= 1;
                self.resume.push((key, generation));
            }
        }
    }
}
