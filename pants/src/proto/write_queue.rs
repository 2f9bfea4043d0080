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
/// File ranges (`write_file`) wait in order among them, as markers at a
/// byte position, so they cost no memory for their contents.
#[derive(Debug, Default)]
pub struct WriteQueue {
    buf: Vec<u8>,
    off: usize,
    /// File ranges in order, each to be sent when the bytes queued before
    /// it have gone; `None` while there are none (the common case).
    files: Option<Box<Files>>,
}

#[derive(Debug, Default)]
struct Files {
    parts: std::collections::VecDeque<FilePart>,
    /// Bytes of the buffer ever written: a part's `at` counts in these.
    written: u64,
    /// Bytes of file left in `parts`.
    left: u64,
}

/// A range of a file waiting in a write queue.
#[derive(Debug)]
pub struct FilePart {
    /// The file (its own descriptor: the caller's may close).
    pub file: std::fs::File,
    /// Where the range continues.
    pub offset: u64,
    /// Bytes of the range still to send.
    pub left: u64,
    /// Sent by reading and writing: `sendfile` refused this file (or the
    /// transport cannot take it, like TLS).
    pub copy: bool,
    /// Queue position (bytes appended before it).
    at: u64,
}

impl WriteQueue {
    /// An empty queue (no allocation).
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            off: 0,
            files: None,
        }
    }

    /// Bytes queued and not yet written, file ranges included.
    pub fn len(&self) -> usize {
        let file = self.files.as_ref().map_or(0, |f| f.left);
        (self.buf.len() - self.off).saturating_add(usize::try_from(file).unwrap_or(usize::MAX))
    }

    /// Bytes queued in memory (what the hard cap counts).
    pub fn memory_len(&self) -> usize {
        self.buf.len() - self.off
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.off == self.buf.len() && self.files.as_ref().is_none_or(|f| f.parts.is_empty())
    }

    /// Queues `left` bytes of `file` from `offset`, after what is queued.
    pub fn push_file(&mut self, file: std::fs::File, offset: u64, left: u64) {
        if left == 0 {
            return;
        }
        let pending = (self.buf.len() - self.off) as u64;
        let files = self.files.get_or_insert_with(Box::default);
        let at = files.written + pending;
        files.left += left;
        files.parts.push_back(FilePart {
            file,
            offset,
            left,
            copy: false,
            at,
        });
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
        self.files = None;
    }

    /// Writes the queue through `sink` until it is empty (`Ok(true)`) or the
    /// sink would block (`Ok(false)`); `Interrupted` is retried, a sink that
    /// takes nothing is `WriteZero`, other errors are returned.
    pub fn drain_into(&mut self, sink: impl FnMut(&[u8]) -> io::Result<usize>) -> io::Result<bool> {
        self.drain(sink, |_, _| {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this sink cannot send files",
            ))
        })
    }

    /// [`drain_into`](Self::drain_into) with file ranges: `send_file(part,
    /// max)` sends up to `max` bytes of the part from its offset and
    /// returns how many (`sendfile`, or a read-and-write fallback). A file
    /// that ends before its range is `UnexpectedEof`.
    pub fn drain(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> io::Result<usize>,
        mut send_file: impl FnMut(&mut FilePart, usize) -> io::Result<usize>,
    ) -> io::Result<bool> {
        loop {
            // Bytes up to the next file part (all of them when none waits).
            let limit = match self
                .files
                .as_ref()
                .and_then(|f| f.parts.front().map(|p| (p.at, f.written)))
            {
                Some((at, written)) => usize::try_from(at - written).unwrap_or(usize::MAX),
                None => usize::MAX,
            };
            let bytes = &self.buf[self.off..];
            let bytes = &bytes[..bytes.len().min(limit)];
            if !bytes.is_empty() {
                match sink(bytes) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        if let Some(files) = self.files.as_mut() {
                            files.written += n as u64;
                        }
                        self.consume(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            let Some(files) = self.files.as_mut() else {
                return Ok(true);
            };
            let Some(part) = files.parts.front_mut() else {
                self.files = None;
                return Ok(self.off == self.buf.len());
            };
            let chunk = usize::try_from(part.left.min(1 << 30)).unwrap_or(1 << 30);
            match send_file(part, chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file ended before the range given to write_file",
                    ));
                }
                Ok(n) => {
                    let n = n as u64;
                    part.left -= n;
                    files.left -= n;
                    if part.left == 0 {
                        files.parts.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests;
