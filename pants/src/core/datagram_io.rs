//! A datagram socket's state in the core: the socket, and the datagrams
//! waiting for the socket to take them.

use std::collections::VecDeque;
use std::io;

use crate::addr::Addr;
use crate::core::{Core, Slot, token};
use crate::error::{Error, Result};
use crate::sys::datagram::DatagramSock;

/// Datagrams a socket may hold back (its send buffer full) before it drops
/// new ones.
pub const DATAGRAM_QUEUE_LEN: usize = 1024;
/// Bytes a socket may hold back before it drops new datagrams.
pub const DATAGRAM_QUEUE_BYTES: usize = 4 * 1024 * 1024;

pub(crate) struct DatagramIo {
    pub(crate) sock: DatagramSock,
    pub(crate) generation: u32,
    pub(crate) local: Addr,
    /// Datagrams the socket did not take yet, in order; `None`: the
    /// connected peer.
    queue: VecDeque<(Option<Addr>, Box<[u8]>)>,
    queued_bytes: usize,
    /// Datagrams dropped because the queue was full.
    pub(crate) dropped: u64,
    /// `close` was asked; the slot goes once the handler returns.
    pub(crate) closing: bool,
    /// A batch of received datagrams is being handled: sends queue, to go
    /// out together (`sendmmsg`) when the batch is done.
    pub(crate) defer: bool,
}

impl DatagramIo {
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }
}

impl<A> Core<A> {
    pub(crate) fn datagram(&self, key: usize) -> Option<&DatagramIo> {
        match self.slots.get(key) {
            Some(Slot::Datagram(io)) => Some(io),
            _ => None,
        }
    }

    pub(crate) fn datagram_mut(&mut self, key: usize) -> Option<&mut DatagramIo> {
        match self.slots.get_mut(key) {
            Some(Slot::Datagram(io)) => Some(io),
            _ => None,
        }
    }

    /// Registers a bound datagram socket; its `(key, generation)`.
    pub(crate) fn insert_datagram(
        &mut self,
        mut sock: DatagramSock,
        local: Addr,
    ) -> io::Result<(usize, u32)> {
        let generation = self.next_generation();
        let entry = self.slots.vacant_entry();
        let key = entry.key();
        sock.register(self.poll.registry(), token(key, generation))?;
        entry.insert(Slot::Datagram(Box::new(DatagramIo {
            sock,
            generation,
            local,
            queue: VecDeque::new(),
            queued_bytes: 0,
            dropped: 0,
            closing: false,
            defer: false,
        })));
        Ok((key, generation))
    }

    /// Sends a datagram now, or queues it if the socket's buffer is full.
    /// `Ok(false)`: the queue was full and the datagram was dropped.
    pub(crate) fn send_datagram(
        &mut self,
        key: usize,
        to: Option<&Addr>,
        data: &[u8],
    ) -> Result<bool> {
        let io = self.datagram_mut(key).ok_or(Error::Closed)?;
        if io.closing {
            return Err(Error::Closed);
        }
        let limit = io.sock.max_datagram();
        if data.len() > limit {
            return Err(Error::FrameTooLarge {
                size: data.len(),
                limit,
            });
        }
        if io.queue.is_empty() && !io.defer {
            match io.sock.send_to(data, to) {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        if io.queue.len() >= DATAGRAM_QUEUE_LEN
            || io.queued_bytes + data.len() > DATAGRAM_QUEUE_BYTES
        {
            io.dropped += 1;
            if io.dropped.is_power_of_two() {
                log::warn!(
                    "datagram socket {}: send queue full ({} datagrams, {} bytes); {} dropped so far",
                    io.local,
                    io.queue.len(),
                    io.queued_bytes,
                    io.dropped
                );
            }
            return Ok(false);
        }
        io.queued_bytes += data.len();
        io.queue.push_back((to.cloned(), data.into()));
        Ok(true)
    }

    /// Sends queued datagrams until the socket is full again. A datagram
    /// the socket refuses for another reason is dropped (and logged).
    pub(crate) fn flush_datagrams(&mut self, key: usize) {
        let Some(io) = self.datagram_mut(key) else {
            return;
        };
        while io.queue.len() > 1 && io.sock.batches() {
            let batch: Vec<(&Option<Addr>, &[u8])> = io
                .queue
                .iter()
                .take(crate::sys::datagram::BATCH)
                .map(|(to, data)| (to, &**data))
                .collect();
            let sent = match io.sock.send_batch(&batch) {
                Ok(sent) => sent,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // One datagram refused (no route, say): the one-by-one
                // path below drops it and goes on.
                Err(_) => break,
            };
            for _ in 0..sent {
                if let Some((_, data)) = io.queue.pop_front() {
                    io.queued_bytes -= data.len();
                }
            }
            if sent == 0 {
                break;
            }
        }
        while let Some((to, data)) = io.queue.front() {
            match io.sock.send_to(data, to.as_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => log::debug!("datagram socket {}: send failed: {e}; dropped", io.local),
                Ok(_) => {}
            }
            if let Some((_, data)) = io.queue.pop_front() {
                io.queued_bytes -= data.len();
            }
        }
    }

    /// Takes a datagram socket out of the table (its file, if any, is
    /// removed with it).
    pub(crate) fn remove_datagram(&mut self, key: usize) {
        if let Some(Slot::Datagram(mut io)) = self.slots.try_remove(key) {
            io.sock.deregister(self.poll.registry());
        }
    }
}
