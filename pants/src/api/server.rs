//! Ids, and [`ServerRef`]: a listening server as seen from a handler or the engine.

use std::fmt;

use crate::addr::Addr;
use crate::core::Core;
use crate::proto::close::CloseReason;

/// Names a stream for as long as it lives; stale ids never reach a newer stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

/// Names a listening server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.key, self.generation)
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server #{}.{}", self.key, self.generation)
    }
}

/// A listening server, reached from one of its streams (or the engine).
pub struct ServerRef<'a, A> {
    pub(crate) core: &'a mut Core<A>,
    pub(crate) key: usize,
}

impl<A> ServerRef<'_, A> {
    /// The server's id.
    pub fn id(&self) -> ServerId {
        let generation = self.core.server(self.key).map_or(0, |s| s.generation);
        ServerId {
            key: self.key as u32,
            generation,
        }
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> Option<Addr> {
        self.core.server(self.key).map(|s| s.local.clone())
    }

    /// Number of live connections: those [`connections`](Self::connections)
    /// yields (a stream that is closing no longer counts).
    pub fn len(&self) -> usize {
        self.connections().count()
    }

    /// Whether the server has no live connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live connections (a closed one never shows up).
    pub fn connections(&self) -> impl Iterator<Item = StreamId> + '_ {
        let conns = self.core.server(self.key).map_or(&[][..], |s| &s.conns[..]);
        conns.iter().filter_map(|&key| {
            let io = self.core.stream(key as usize)?;
            io.life.is_open().then_some(StreamId {
                key,
                generation: io.generation,
            })
        })
    }

    /// Writes `data` to every live connection; returns how many took it.
    pub fn broadcast(&mut self, data: &[u8]) -> usize {
        let mut sent = 0;
        let mut i = 0;
        while let Some(&key) = self.core.server(self.key).and_then(|s| s.conns.get(i)) {
            sent += usize::from(self.core.write_parts(key as usize, &[data]));
            i += 1;
        }
        sent
    }

    /// Stops listening and closes every connection (queued bytes are sent first).
    pub fn close(&mut self) {
        self.core.close_server(self.key, &CloseReason::Local);
    }
}

impl<A> fmt::Debug for ServerRef<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerRef")
            .field("id", &self.id())
            .field("connections", &self.len())
            .finish()
    }
}
