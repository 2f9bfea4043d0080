//! The read machine: which read state a stream is in, and how its buffered
//! input turns into frames, skips and overflows. Pure: no sockets, no clock,
//! no user code.
//!
//! The driver (`__private::read`) owns the bytes and calls
//! [`ReadMachine::next`] in a loop with the unconsumed input, the current
//! state's [`Rule`] and a way to evaluate a `bytes = expr` length; each call
//! returns one [`Step`]:
//!
//! | step | the driver |
//! |---|---|
//! | [`Step::Frame`] | hands `input[data]` to the state's handler, then drops `consumed` bytes |
//! | [`Step::Skip`]`(n)` | drops `n` bytes (the rest of a rejected frame) |
//! | [`Step::Reject`] | drops `consumed` bytes and reports the error (`on_overflow_error`) |
//! | [`Step::Last`] | at end of input: hands the whole input over as a last frame |
//! | [`Step::Drop`] | at end of input: drops a fragment no frame can be made of |
//! | [`Step::Wait`] | keeps the input and waits for more |
//!
//! `max` is a limit on the length of one frame, checked on every frame: a
//! frame longer than `max` is rejected whether it arrived in one read or in
//! many, and an unfinished frame is rejected as soon as it can no longer fit,
//! so the outcome does not depend on how the input was split (the
//! `fuzz_split_read` harness checks it). Regex rules are the exception: a
//! match still growing at the end of the input is not known to be one yet.
//!
//! Flags of the machine:
//!
//! | flag | set when | cleared when |
//! |---|---|---|
//! | `SIZED` | a `bytes = expr` state evaluated its length on entry | a switch (re-entry) |
//! | `SPENT` | a zero-length sized state handed out its one empty frame | a switch |
//! | `SKIPPING` | an announced length was over `max`: `want` bytes are dropped | `want` reaches 0 |
//! | `DISCARDING` | an unfinished delimited frame passed `max`: drop to the next delimiter | a delimiter is found |

use std::ops::Range;

use regex::bytes::CaptureLocations;

use crate::error::Error;
use crate::proto::framing::Framing;

/// How one read state frames its input, and how long a frame may be.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub framing: Framing<'static>,
    /// The longest frame (payload) the state accepts, in bytes.
    pub max: usize,
    /// `bytes = expr`: the length is evaluated on entering the state
    /// (`framing` is then a placeholder).
    pub sized: bool,
}

impl Rule {
    /// The longest frame accepted: `max`, never below what one frame of a
    /// fixed-size rule needs (`bytes = 100_000` works under the default).
    pub fn limit(&self) -> usize {
        match self.framing {
            Framing::Bytes(n) => self.max.max(n),
            _ => self.max,
        }
    }

    /// The most bytes that may wait without a frame before the frame being
    /// built is known to be over the limit.
    fn unfinished_limit(&self) -> usize {
        match self.framing {
            // The buffer may end with all but the last byte of the delimiter.
            Framing::Delimiter(d) => self.max.saturating_add(d.len() - 1),
            Framing::Prefix(width) => self.max.saturating_add(width),
            _ => self.limit(),
        }
    }
}

/// What the driver does next (see the module table).
#[derive(Debug)]
pub enum Step {
    /// A frame: `data` is handed to the handler, then `consumed` bytes go.
    Frame {
        /// The frame's bytes, as a range of the input.
        data: Range<usize>,
        /// Input bytes used up (the data plus its delimiter or header).
        consumed: usize,
    },
    /// Drop this many bytes and go on.
    Skip(usize),
    /// A frame over the limit: drop `consumed` bytes, report `error`, go on.
    Reject {
        /// [`Error::FrameTooLarge`] or [`Error::Overflow`].
        error: Error,
        /// Input bytes dropped with it (0 when the rest is skipped later).
        consumed: usize,
    },
    /// End of input: the whole input is a last (unterminated) frame.
    Last,
    /// End of input: the input is a fragment that makes no frame; drop it.
    Drop,
    /// No frame yet: keep the input and wait for more.
    Wait,
}

mod flag {
    pub(super) const SIZED: u8 = 1;
    pub(super) const SPENT: u8 = 1 << 1;
    pub(super) const SKIPPING: u8 = 1 << 2;
    pub(super) const DISCARDING: u8 = 1 << 3;
}

/// A stream's read state and framing progress (12 bytes: every stream
/// has one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadMachine {
    state: u16,
    flags: u8,
    /// Bits 32..40 of `want` (in what would be padding).
    want_hi: u8,
    /// Delimiter-search resume offset into the unconsumed input.
    scan: u32,
    /// A sized state's length (with `SIZED`), or bytes left to skip (with
    /// `SKIPPING`): the low 32 of 40 bits.
    want: u32,
}

/// The most `want` holds (1 TiB): a skip of an announced 4 GiB frame plus
/// its header is exact; longer skips saturate.
const WANT_MAX: u64 = (1 << 40) - 1;

impl ReadMachine {
    fn want(&self) -> u64 {
        u64::from(self.want_hi) << 32 | u64::from(self.want)
    }

    fn set_want(&mut self, n: u64) {
        let n = n.min(WANT_MAX);
        self.want_hi = (n >> 32) as u8;
        self.want = n as u32;
    }

    /// A machine in read state `initial`.
    pub fn new(initial: u16) -> Self {
        Self {
            state: initial,
            ..Self::default()
        }
    }

    /// The current read state's index.
    pub fn state(&self) -> u16 {
        self.state
    }

    /// Enters `state` (again, if it is the current one: a sized state
    /// evaluates its length anew). Returns whether buffered input should be
    /// framed again.
    pub fn switch(&mut self, state: u16) -> bool {
        let changed = self.state != state || self.flags & flag::SIZED != 0;
        self.flags &= !(flag::SIZED | flag::SPENT);
        if self.state != state {
            self.state = state;
            self.scan = 0;
        }
        changed
    }

    /// Whether the machine is dropping the rest of a rejected frame.
    pub fn is_skipping(&self) -> bool {
        self.flags & (flag::SKIPPING | flag::DISCARDING) != 0
    }

    /// The next step over `input` (the unconsumed bytes) under `rule`, the
    /// current state's rule. `len` evaluates a sized state's length; it is
    /// called once per entry into the state. `eof`: no more input will come.
    /// In regex match mode the capture positions go to `locs` when given.
    pub fn next(
        &mut self,
        rule: &Rule,
        len: impl FnOnce() -> usize,
        input: &[u8],
        eof: bool,
        locs: Option<&mut CaptureLocations>,
    ) -> Step {
        if self.flags & flag::SKIPPING != 0 {
            return self.skip(input, eof);
        }
        if self.flags & flag::DISCARDING != 0 {
            return self.discard(rule, input, eof);
        }
        let framing = if rule.sized {
            match self.enter_sized(rule, len) {
                Ok(framing) => framing,
                Err(step) => return step,
            }
        } else {
            rule.framing
        };
        if rule.sized && self.want() == 0 {
            // One empty frame per entry, so a state that never switches cannot spin.
            if self.flags & flag::SPENT != 0 {
                return Step::Wait;
            }
            self.flags |= flag::SPENT;
            return Step::Frame {
                data: 0..0,
                consumed: 0,
            };
        }
        if let Some(announced) = framing.announced(input)
            && announced > rule.max
        {
            self.reject(framing.min_buffer().saturating_add(announced));
            return too_large(announced, rule.max, 0);
        }
        let mut scan = self.scan as usize;
        if let Some(frame) = framing.next_frame(input, &mut scan, locs) {
            self.scan = 0;
            self.frame(rule, framing, frame.data, frame.consumed)
        } else {
            self.scan = u32::try_from(scan).unwrap_or(0);
            self.no_frame(rule, framing, input, eof)
        }
    }

    /// A frame was found: check its length against the limit.
    fn frame(
        &mut self,
        rule: &Rule,
        framing: Framing<'_>,
        data: Range<usize>,
        consumed: usize,
    ) -> Step {
        let limit = rule.limit();
        match framing {
            // Whatever arrived, in pieces of at most `max`.
            Framing::Any if data.len() > limit => Step::Frame {
                data: 0..limit,
                consumed: limit,
            },
            Framing::Delimiter(_) | Framing::Search(_) | Framing::Match(_)
                if data.len() > limit =>
            {
                too_large(data.len(), limit, consumed)
            }
            _ => Step::Frame { data, consumed },
        }
    }

    /// No frame in `input`: wait, overflow, or finish at end of input.
    fn no_frame(&mut self, rule: &Rule, framing: Framing<'_>, input: &[u8], eof: bool) -> Step {
        if input.is_empty() {
            return Step::Wait;
        }
        if eof {
            self.scan = 0;
            if !framing.delivers_partial_at_eof() {
                return Step::Drop;
            }
            if input.len() > rule.limit() {
                return too_large(input.len(), rule.limit(), input.len());
            }
            return Step::Last;
        }
        if input.len() <= rule.unfinished_limit() {
            return Step::Wait;
        }
        self.scan = 0;
        if matches!(framing, Framing::Delimiter(_) | Framing::Search(_)) {
            self.flags |= flag::DISCARDING;
        }
        // Keep what may be the start of the delimiter that ends the frame.
        let keep = match framing {
            Framing::Delimiter(d) => d.len() - 1,
            _ => 0,
        };
        Step::Reject {
            error: Error::Overflow {
                limit: rule.limit(),
                buffered: input.len(),
            },
            consumed: input.len() - keep,
        }
    }

    /// Evaluates a sized state's length on entry; a length over the cap is
    /// rejected and its bytes skipped.
    fn enter_sized(
        &mut self,
        rule: &Rule,
        len: impl FnOnce() -> usize,
    ) -> Result<Framing<'static>, Step> {
        if self.flags & flag::SIZED == 0 {
            let n = len();
            let limit = rule.max.min(u32::MAX as usize);
            if n > limit {
                self.reject(n);
                return Err(too_large(n, limit, 0));
            }
            self.set_want(n as u64);
            self.flags = (self.flags | flag::SIZED) & !flag::SPENT;
        }
        Ok(Framing::Bytes(self.want() as usize))
    }

    /// Skips `total` bytes of a rejected frame, starting now.
    fn reject(&mut self, total: usize) {
        self.set_want(u64::try_from(total).unwrap_or(u64::MAX));
        self.flags = (self.flags | flag::SKIPPING) & !flag::SIZED;
        self.scan = 0;
    }

    fn skip(&mut self, input: &[u8], eof: bool) -> Step {
        let n = usize::try_from(self.want())
            .unwrap_or(usize::MAX)
            .min(input.len());
        self.set_want(self.want() - n as u64);
        if self.want() == 0 {
            self.flags &= !flag::SKIPPING;
        }
        match n {
            0 if eof && !input.is_empty() => Step::Drop,
            0 => Step::Wait,
            n => Step::Skip(n),
        }
    }

    /// After an overflow the handler survived: drop input up to and
    /// including the next delimiter, so framing resumes at a frame boundary.
    fn discard(&mut self, rule: &Rule, input: &[u8], eof: bool) -> Step {
        let mut scan = 0;
        let found = match rule.framing {
            Framing::Delimiter(_) | Framing::Search(_) => {
                rule.framing.next_frame(input, &mut scan, None)
            }
            _ => {
                self.flags &= !flag::DISCARDING;
                return Step::Skip(0);
            }
        };
        if let Some(frame) = found {
            self.flags &= !flag::DISCARDING;
            return Step::Skip(frame.consumed);
        }
        // Keep what could be the start of a delimiter split across reads.
        let keep = match rule.framing {
            Framing::Delimiter(d) => d.len() - 1,
            _ => 0,
        };
        match input.len().saturating_sub(keep) {
            // The rest of a rejected frame: dropped without another report.
            _ if eof && !input.is_empty() => Step::Skip(input.len()),
            0 => Step::Wait,
            n => Step::Skip(n),
        }
    }
}

fn too_large(size: usize, limit: usize, consumed: usize) -> Step {
    Step::Reject {
        error: Error::FrameTooLarge { size, limit },
        consumed,
    }
}

/// What a [`fuzz_split_read`] run saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A frame (or the last frame at end of input) and the state it was cut in.
    Frame(u16, Vec<u8>),
    /// A frame over the limit (complete or not).
    Rejected(u16),
    /// A fragment dropped at end of input.
    Dropped,
}

/// Runs `input`, cut at every offset in `cuts`, through a machine over
/// `rules` (one per state, starting in state 0), as the engine's driver
/// does; `next_state(frame)` picks the state after each frame and `len`
/// gives sized states their length. A harness for property tests and
/// fuzzing: the result must not depend on the cuts (regex rules aside).
pub fn fuzz_split_read(
    rules: &[Rule],
    input: &[u8],
    cuts: &[usize],
    mut next_state: impl FnMut(&[u8]) -> u16,
    len: impl Fn(u16) -> usize,
) -> Vec<Seen> {
    let mut machine = ReadMachine::new(0);
    let mut seen = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    points.sort_unstable();
    points.push(input.len());
    let mut fed = 0;
    for (i, &point) in points.iter().enumerate() {
        let eof = i + 1 == points.len();
        if point < fed {
            continue;
        }
        buf.extend_from_slice(&input[fed..point]);
        fed = point;
        let mut pos = 0;
        loop {
            let state = machine.state();
            let rule = &rules[state as usize % rules.len()];
            match machine.next(rule, || len(state), &buf[pos..], eof, None) {
                Step::Frame { data, consumed } => {
                    let frame = buf[pos..][data].to_vec();
                    // A handler that switches to the state it is in re-enters it.
                    let next = next_state(&frame) % rules.len() as u16;
                    if next != state {
                        machine.switch(next);
                    }
                    seen.push(Seen::Frame(state, frame));
                    pos += consumed;
                }
                Step::Skip(n) => pos += n,
                Step::Reject { consumed, .. } => {
                    seen.push(Seen::Rejected(state));
                    pos += consumed;
                }
                Step::Last => {
                    seen.push(Seen::Frame(state, buf[pos..].to_vec()));
                    pos = buf.len();
                    break;
                }
                Step::Drop => {
                    seen.push(Seen::Dropped);
                    pos = buf.len();
                    break;
                }
                Step::Wait => break,
            }
        }
        buf.drain(..pos);
    }
    seen
}

#[cfg(test)]
mod tests;
