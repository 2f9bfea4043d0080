//! A stream's write queue and its flow-control limits. Pure: the queue
//! never touches a socket; [`WriteQueue::drain_into`] writes through any sink.
//!
//! Flow control (asyncio's `pause_writing`/`resume_writing`, Netty's write
//! buffer watermarks) is decided from [`WriteLimits`]:
//!
//! | queued bytes | the stream |
//! |---|---|
//! | rises above `high` | becomes *unwritable*: `#[on_pause_writing]` runs; if the stream's own `on_read` handlers queued the bytes, its reading pauses |
//! | falls to `low` or below | becomes writable again: `#[on_resume_writing]` runs; paused reading resumes |
//! | a write would pass `max` | the [`PastMax`] policy: close the slow consumer (default), or refuse the write |

use std::io;

/// Capacity kept when a queue drains: one full read's worth (an echo of a
/// 64 KiB read), so a busy stream does not free and reallocate per event.
const KEEP_CAPACITY: usize = 64 * 1024;

/// What happens to a write that would take a queue past [`WriteLimits::max`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PastMax {
    /// Close the stream at once (queued bytes are discarded) with
    /// [`CloseReason::SlowConsumer`](crate::CloseReason::SlowConsumer):
    /// a peer that does not read cannot make the process grow.
    #[default]
    Close,
    /// Refuse the write: it returns `false` and queues nothing; the stream
    /// stays open.
    Refuse,
}

/// A stream's write-queue limits, in bytes.
///
/// The defaults are asyncio's watermarks (64 KiB high, 16 KiB low) and a
/// hard cap of 4 MiB: a stream replying to its own input pauses long before
/// the cap, so only a stream written to from elsewhere (a broadcast, a
/// timer, another stream) whose peer does not read ever reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteLimits {
    /// Above this the stream is unwritable.
    pub high: usize,
    /// At or below this an unwritable stream is writable again.
    pub low: usize,
    /// The most a queue may hold.
    pub max: usize,
    /// What a write past `max` does.
    pub past_max: PastMax,
}

impl WriteLimits {
    /// 64 KiB high, 16 KiB low, 4 MiB max, close past max.
    pub const DEFAULT: Self = Self {
        high: 64 * 1024,
        low: 16 * 1024,
        max: 4 * 1024 * 1024,
        past_max: PastMax::Close,
    };

    /// The limits made consistent: `low <= high <= max`.
    #[must_use]
    pub fn normalized(self) -> Self {
        let max = self.max.max(1);
        let high = self.high.min(max);
        Self {
            high,
            low: self.low.min(high),
            max,
            past_max: self.past_max,
        }
    }
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Bytes waiting to be written, from a write offset on; allocated lazily.
#[derive(Debug, Default)]
pub struct WriteQueue {
    buf: Vec<u8>,
    off: usize,
}

impl WriteQueue {
    /// An empty queue (no allocation).
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            off: 0,
        }
    }

    /// Bytes queued and not yet written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.off
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.off == self.buf.len()
    }

    /// The bytes to write next.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.off..]
    }

    /// Queues `parts` back to back (one reservation).
    pub fn extend(&mut self, parts: &[&[u8]]) {
        let len = parts.iter().map(|p| p.len()).sum();
        self.buf.reserve(len);
        for part in parts {
            self.buf.extend_from_slice(part);
        }
    }

    /// Queues `len` bytes that `fill` writes in place.
    pub fn append_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) {
        let start = self.buf.len();
        self.buf.resize(start + len, 0);
        fill(&mut self.buf[start..]);
    }

    /// Marks `n` bytes written; a drained queue resets (keeping a full
    /// read's worth of capacity).
    pub fn consume(&mut self, n: usize) {
        self.off = (self.off + n).min(self.buf.len());
        if self.off == self.buf.len() {
            self.off = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        } else if self.off >= KEEP_CAPACITY && self.off * 2 >= self.buf.len() {
            // A queue that never drains fully (a peer reading slowly while
            // more is queued) must not grow by what was already written:
            // move the rest to the front (amortised: at least as many bytes
            // were written as are moved).
            self.buf.drain(..self.off);
            self.off = 0;
        }
    }

    /// Bytes allocated for the queue (written ones not yet compacted included).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Discards everything queued and frees the buffer.
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.off = 0;
    }

    /// Writes the queue through `sink` until it is empty (`Ok(true)`) or the
    /// sink would block (`Ok(false)`); `Interrupted` is retried, a sink that
    /// takes nothing is `WriteZero`, other errors are returned.
    pub fn drain_into(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<bool> {
        while !self.is_empty() {
            match sink(self.pending()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
