//! Datagram sockets in the engine: binding, receiving (each datagram to its
//! handler, straight from the scratch buffer), sending from outside, closing.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::addr::IntoAddr;
use crate::api::channel::{App, Channel, Event, Member};
use crate::api::datagram::{DatagramId, target};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::sys::datagram::{BATCH, DatagramSock, RecvBatch};

/// Datagrams received per readiness event before other channels get a turn.
const DATAGRAM_BUDGET: usize = 64;

impl<A: App> Engine<A> {
    /// Binds a datagram socket on `addr`, run by `C::default()`: UDP on an
    /// IP address (`"0.0.0.0:9000"`, `"[::]:9000"` for dual-stack, port 0
    /// for a free one), or a Unix datagram socket on a path or `"@name"`
    /// (same stale-file rules as [`listen`](Self::listen)).
    pub fn bind<C>(&mut self, addr: impl IntoAddr) -> Result<DatagramId>
    where
        C: Channel<App = A> + Default,
        A: Member<C>,
    {
        self.bind_with(addr, C::default())
    }

    /// [`bind`](Self::bind) with a given channel value.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn bind_with<C>(&mut self, addr: impl IntoAddr, channel: C) -> Result<DatagramId>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let (sock, local) = DatagramSock::bind(&addr)?;
        let (key, generation) = self.core.insert_datagram(sock, local)?;
        self.core.born.push((key, <A as From<C>>::from(channel)));
        self.settle();
        Ok(DatagramId {
            key: key as u32,
            generation,
        })
    }

    /// Runs `f` with a datagram socket's channel value and handle (to join
    /// a multicast group, send, read its counters), if it is still open.
    pub fn with_datagram<C, R>(
        &mut self,
        id: DatagramId,
        f: impl FnOnce(&mut C, &mut crate::Datagram<'_, C>) -> R,
    ) -> Option<R>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let key = id.key as usize;
        let live = self
            .core
            .datagram(key)
            .is_some_and(|io| io.generation == id.generation);
        if !live {
            return None;
        }
        let channel = Member::<C>::member_mut(self.users.get_mut(key)?.as_mut()?)?;
        let result = f(
            channel,
            &mut crate::Datagram::new(&mut self.core, key, None),
        );
        self.settle();
        Some(result)
    }

    /// Whether UDP sockets receive and send in batches (`recvmmsg` and
    /// `sendmmsg`, up to 32 datagrams per system call; on by default).
    /// Off, each datagram is one `recvfrom` and each reply one `sendto`.
    pub fn set_datagram_batching(&mut self, on: bool) {
        self.batch_datagrams = on;
    }

    /// The address a datagram socket is bound to.
    pub fn datagram_addr(&self, id: DatagramId) -> Option<crate::Addr> {
        self.core
            .datagram(id.key as usize)
            .filter(|io| io.generation == id.generation)
            .map(|io| io.local.clone())
    }

    /// Sends a datagram from a datagram socket (from outside its handlers:
    /// a timer, a stream's handler, a [`Handle`](crate::Handle) call).
    /// `Ok(false)`: dropped, the send queue being full.
    ///
    /// # Errors
    /// As [`Datagram::send_to`](crate::Datagram::send_to).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn send_to(&mut self, id: DatagramId, to: impl IntoAddr, data: &[u8]) -> Result<bool> {
        let live = self
            .core
            .datagram(id.key as usize)
            .is_some_and(|io| io.generation == id.generation);
        if !live {
            return Err(Error::Closed);
        }
        let to = target(&to)?;
        self.core.send_datagram(id.key as usize, Some(&to), data)
    }

    /// Closes a datagram socket (`on_close` runs).
    pub fn close_datagram(&mut self, id: DatagramId) {
        let live = self
            .core
            .datagram(id.key as usize)
            .is_some_and(|io| io.generation == id.generation);
        if live {
            self.finish_datagram(id.key as usize);
        }
    }

    /// Receives until the socket is empty or the budget runs out; each
    /// datagram goes to the handler as it is, from the scratch buffer.
    pub(super) fn read_datagrams(&mut self, key: usize) {
        let batches =
            self.batch_datagrams && self.core.datagram(key).is_some_and(|io| io.sock.batches());
        if batches {
            return self.read_datagram_batches(key);
        }
        for _ in 0..DATAGRAM_BUDGET {
            let Some(io) = self.core.datagram(key) else {
                return;
            };
            if io.closing {
                return;
            }
            let (n, from) = match io.sock.recv_from(&mut self.scratch) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // An ICMP error for an earlier send (connection
                    // refused, say): it concerns that send, not the socket.
                    log::debug!("datagram socket #{key}: {e}");
                    continue;
                }
            };
            let Some(app) = self.users.get_mut(key).and_then(Option::as_mut) else {
                return;
            };
            let core = &mut self.core;
            let data = &self.scratch[..n];
            let event = Event::Datagram { from: &from, data };
            if catch_unwind(AssertUnwindSafe(|| app.__pants_event(core, key, event))).is_err() {
                log::error!("a datagram handler of #{key} panicked; the socket stays open");
            }
            self.settle();
        }
        if let Some(io) = self.core.datagram(key) {
            let generation = io.generation;
            self.core.resume.push((key, generation));
        }
    }

    /// [`read_datagrams`](Self::read_datagrams) with `recvmmsg`: up to
    /// [`BATCH`] datagrams per system call, each handed to the handler from
    /// its own buffer; the replies they make queue and go out together
    /// (`sendmmsg`) when the batch is done.
    fn read_datagram_batches(&mut self, key: usize) {
        let mut batch = self
            .datagram_batch
            .take()
            .unwrap_or_else(|| Box::new(RecvBatch::new()));
        let mut meta: Vec<(usize, crate::Addr)> = Vec::with_capacity(BATCH);
        let mut drained = false;
        for _ in 0..DATAGRAM_BUDGET.div_ceil(BATCH) {
            let Some(io) = self.core.datagram(key) else {
                break;
            };
            if io.closing {
                drained = true;
                break;
            }
            match io.sock.recv_batch(&mut batch, &mut meta) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("datagram socket #{key}: {e}");
                    continue;
                }
            }
            if let Some(io) = self.core.datagram_mut(key) {
                io.defer = true;
            }
            for (i, (n, from)) in meta.iter().enumerate() {
                let Some(app) = self.users.get_mut(key).and_then(Option::as_mut) else {
                    break;
                };
                if self.core.datagram(key).is_none_or(|io| io.closing) {
                    break;
                }
                let core = &mut self.core;
                let event = Event::Datagram {
                    from,
                    data: &batch.bufs[i][..*n],
                };
                if catch_unwind(AssertUnwindSafe(|| app.__pants_event(core, key, event))).is_err() {
                    log::error!("a datagram handler of #{key} panicked; the socket stays open");
                }
            }
            if let Some(io) = self.core.datagram_mut(key) {
                io.defer = false;
            }
            self.core.flush_datagrams(key);
            self.settle();
            if meta.len() < BATCH {
                // A short batch emptied the socket.
                drained = true;
                break;
            }
        }
        self.datagram_batch = Some(batch);
        if !drained && let Some(io) = self.core.datagram(key) {
            let generation = io.generation;
            self.core.resume.push((key, generation));
        }
    }

    /// Closes a datagram socket: what is queued goes if the socket takes it
    /// now, `on_close` runs, the slot (and its socket file) goes.
    pub(super) fn finish_datagram(&mut self, key: usize) {
        self.core.flush_datagrams(key);
        self.call(key, Event::DatagramClose);
        self.core.remove_datagram(key);
        if let Some(app) = self.users.get_mut(key).and_then(Option::take)
            && catch_unwind(AssertUnwindSafe(|| drop(app))).is_err()
        {
            log::error!("dropping the channel value of datagram socket #{key} panicked");
        }
    }

    /// Datagram sockets whose handlers asked to close them.
    pub(super) fn close_datagrams(&mut self) {
        for key in std::mem::take(&mut self.core.datagram_closing) {
            if self.core.datagram(key).is_some() {
                self.finish_datagram(key);
            }
        }
    }
}
