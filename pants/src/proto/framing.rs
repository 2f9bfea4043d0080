//! Sans-IO framing: how buffered input is cut into the frames handed to `on_read`.
//!
//! This module never touches a socket or a clock. The stream owns the bytes; a
//! [`Framing`] value (the read state's rule, resolved) looks at them and says
//! where the next frame is. The engine calls [`Framing::next_frame`] in a loop,
//! re-reading the read state before every frame, so a state switch made by a
//! handler applies at once to the bytes that are already buffered.
//!
//! | rule | a frame is | consumed |
//! |---|---|---|
//! | [`Framing::Any`] | everything buffered | all of it |
//! | [`Framing::Bytes`]`(n)` | exactly `n` bytes | `n` |
//! | [`Framing::Delimiter`]`(d)` | the bytes before the first `d` | the frame and `d` |
//! | [`Framing::Search`]`(re)` | the bytes before the first non-empty match | the frame and the match |
//! | [`Framing::Match`]`(re)` | a non-empty match anchored at the first byte | the match |
//! | [`Framing::Prefix`]`(w)` | the payload after a `w`-byte big-endian length | the length and the payload |
//!
//! Delimiter search resumes where the previous search stopped (less
//! `d.len() - 1` bytes, so a delimiter split across two reads is found), so
//! a long partial frame is scanned once, not once per read. Regex rules rescan
//! the buffered bytes; the buffer cap bounds that work.

use std::ops::Range;

use regex::bytes::{CaptureLocations, Regex};

/// Default cap on the bytes one stream buffers while waiting for a frame: 64 KiB.
pub const DEFAULT_MAX: usize = 64 * 1024;

/// The rule of one read state, resolved to values.
#[derive(Clone, Copy, Debug)]
pub enum Framing<'a> {
    /// Whatever arrived: every read hands the handler all buffered bytes.
    Any,
    /// Exactly `n` bytes (`n > 0`).
    Bytes(usize),
    /// The bytes before a non-empty delimiter; the delimiter is stripped.
    Delimiter(&'a [u8]),
    /// The bytes before the first non-empty match of the regex; the match is stripped.
    Search(&'a Regex),
    /// A non-empty match of the regex starting at the first buffered byte.
    ///
    /// The regex must be anchored (`\A(?:...)`); the `#[on_read]` macro
    /// compiles it that way.
    Match(&'a Regex),
    /// A big-endian length of `w` bytes (1, 2 or 4), then that many bytes of
    /// payload; the frame is the payload (possibly empty).
    Prefix(usize),
}

/// Where the next frame sits in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The bytes handed to the handler, as a range of the input.
    pub data: Range<usize>,
    /// How many input bytes the frame uses up (the data plus its delimiter).
    pub consumed: usize,
}

impl Framing<'_> {
    /// Finds the next frame at the start of `input`.
    ///
    /// `scan` is the caller's resume point for delimiter search: bytes before
    /// it are known not to start a delimiter. Pass 0 after a frame was taken
    /// or the rule changed; the function updates it when no frame is found.
    /// In [`Framing::Match`] mode the capture positions (relative to the
    /// input) are written to `locs` when one is given.
    pub fn next_frame(
        &self,
        input: &[u8],
        scan: &mut usize,
        locs: Option<&mut CaptureLocations>,
    ) -> Option<Frame> {
        match *self {
            // Everything buffered is one frame; nothing buffered is none.
            Framing::Any => (!input.is_empty()).then_some(Frame {
                data: 0..input.len(),
                consumed: input.len(),
            }),
            // Wait for n bytes, hand over exactly n.
            Framing::Bytes(n) => (n > 0 && input.len() >= n).then_some(Frame {
                data: 0..n,
                consumed: n,
            }),
            Framing::Delimiter(delim) => find_delimiter(input, delim, scan).map(|at| Frame {
                data: 0..at,
                consumed: at + delim.len(),
            }),
            // First non-empty match anywhere: the bytes before it are the frame.
            Framing::Search(re) => re.find_iter(input).find(|m| !m.is_empty()).map(|m| Frame {
                data: 0..m.start(),
                consumed: m.end(),
            }),
            // A non-empty match at offset 0: the match itself is the frame.
            Framing::Match(re) => {
                let end = match locs {
                    Some(locs) => re.captures_read(locs, input).map(|m| (m.start(), m.end())),
                    None => re.find(input).map(|m| (m.start(), m.end())),
                };
                match end {
                    Some((0, end)) if end > 0 => Some(Frame {
                        data: 0..end,
                        consumed: end,
                    }),
                    _ => None,
                }
            }
            Framing::Prefix(width) => {
                let len = self.announced(input)?;
                (input.len() - width >= len).then_some(Frame {
                    data: width..width + len,
                    consumed: width + len,
                })
            }
        }
    }

    /// The payload length a length-prefixed rule's header announces, once
    /// the header is buffered; `None` for other rules.
    ///
    /// The engine checks it against the state's cap before waiting for the
    /// payload, so a peer cannot make a stream buffer more than the cap.
    pub fn announced(&self, input: &[u8]) -> Option<usize> {
        let Framing::Prefix(width) = *self else {
            return None;
        };
        let header = input.get(..width)?;
        Some(
            header
                .iter()
                .fold(0usize, |len, &b| (len << 8) | usize::from(b)),
        )
    }

    /// The fewest bytes the rule may need to buffer to make one frame.
    ///
    /// The stream's cap is raised to at least this, so `bytes = 100_000` works
    /// with the default 64 KiB cap.
    pub fn min_buffer(&self) -> usize {
        match *self {
            Framing::Bytes(n) => n,
            Framing::Delimiter(d) => d.len(),
            Framing::Prefix(width) => width,
            Framing::Any | Framing::Search(_) | Framing::Match(_) => 0,
        }
    }

    /// Whether bytes left over at end of input are handed over as a last frame.
    ///
    /// Delimited rules (a string or a regex search) deliver an unterminated
    /// trailing frame at EOF, as `BufRead::lines` does; fixed-size and anchored
    /// rules cannot make a frame of a fragment, so the fragment is reported
    /// and dropped.
    pub fn delivers_partial_at_eof(&self) -> bool {
        matches!(self, Framing::Delimiter(_) | Framing::Search(_))
    }
}

/// Finds the first `delim` in `input`, starting the search at `*scan`.
///
/// On a miss, `*scan` moves to the last position where a delimiter could
/// still start once more bytes arrive.
fn find_delimiter(input: &[u8], delim: &[u8], scan: &mut usize) -> Option<usize> {
    let (&last, head) = delim.split_last()?;
    let mut from = (*scan).min(input.len()) + head.len();
    // Look for the delimiter's last byte, then check the bytes before it:
    // memchr runs at memory speed and "\r\n" needs one compare per hit.
    while from < input.len() {
        let Some(offset) = memchr::memchr(last, &input[from..]) else {
            break;
        };
        let hit = from + offset;
        let start = hit - head.len();
        if &input[start..hit] == head {
            return Some(start);
        }
        from = hit + 1;
    }
    *scan = input.len().saturating_sub(head.len());
    None
}

/// Feeds `input` through `rule` as a stream split at every offset in `cuts`
/// and returns the frames; a harness for unit tests and fuzzing.
///
/// The result must not depend on where the input was cut.
pub fn fuzz_split(rule: Framing<'_>, input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut scan = 0;
    let mut fed = 0;
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    points.sort_unstable();
    points.push(input.len());
    for point in points {
        if point < fed {
            continue;
        }
        buf.extend_from_slice(&input[fed..point]);
        fed = point;
        let mut pos = 0;
        while let Some(frame) = rule.next_frame(&buf[pos..], &mut scan, None) {
            frames.push(buf[pos..][frame.data].to_vec());
            pos += frame.consumed;
            scan = 0;
        }
        buf.drain(..pos);
    }
    frames
}

#[cfg(test)]
mod tests;
