//! The read machine over every framing kind, cut anywhere.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::Input;
use crate::proto::framing::Framing;
use crate::proto::read::{Rule, Seen, fuzz_split_read};

/// Delimiters, self-overlapping ones among them ("aab", "abab", "aaa").
const DELIMITERS: [&[u8]; 8] = [
    b"\n",
    b"\r\n",
    b"aab",
    b"abab",
    b"aaa",
    b"\0",
    b"\r\n\r\n",
    b"a",
];

/// Lengths of typed (`Packed`) frames: `u8` to `u128`, `[u32; 3]`.
const TYPED: [usize; 6] = [1, 2, 4, 8, 16, 12];

/// Frame limits: small ones the input reaches, and the extremes.
const MAXES: [usize; 16] = [
    0,
    1,
    2,
    3,
    4,
    5,
    7,
    8,
    13,
    16,
    64,
    255,
    4096,
    64 * 1024,
    u32::MAX as usize,
    usize::MAX,
];

/// Search regexes, then anchored match regexes (as `#[on_read]` compiles them).
fn regexes() -> &'static [Regex] {
    static REGEXES: OnceLock<Vec<Regex>> = OnceLock::new();
    REGEXES.get_or_init(|| {
        [
            r"\r?\n",
            r"[,;]+",
            r"a+b",
            r"\d{2,}",
            r"\A(?:[a-z]+)",
            r"\A(?:\d+\n)",
            r"\A(?:a|ab)",
            r"\A(?:x*y)",
        ]
        .iter()
        .map(|re| Regex::new(re).expect("a valid regex"))
        .collect()
    })
}

/// A machine decoded from fuzz bytes: one rule per state, the length of
/// each sized state, and a table picking the state after a frame from the
/// frame alone (so it cannot depend on the cuts).
#[derive(Debug)]
pub(super) struct Machine {
    pub(super) rules: Vec<Rule>,
    lens: Vec<usize>,
    table: Vec<u16>,
}

impl Machine {
    pub(super) fn decode(input: &mut Input<'_>) -> Self {
        let states = 1 + input.below(4);
        let mut rules = Vec::with_capacity(states);
        let mut lens = Vec::with_capacity(states);
        for _ in 0..states {
            let kind = input.u8();
            let param = input.u8();
            let max = input.pick(&MAXES);
            let plain = |framing| Rule {
                framing,
                max,
                sized: false,
            };
            let (rule, len) = match kind % 9 {
                // `max = 0` is a compile error of `#[on_read]`; `Any`
                // would hand out empty frames under it forever.
                0 => (
                    Rule {
                        framing: Framing::Any,
                        max: max.max(1),
                        sized: false,
                    },
                    0,
                ),
                1 => (plain(Framing::Bytes(1 + usize::from(param % 16))), 0),
                2 => (
                    plain(Framing::Delimiter(DELIMITERS[usize::from(param) % 8])),
                    0,
                ),
                3 => (plain(Framing::Prefix([1, 2, 4][usize::from(param) % 3])), 0),
                // `bytes = expr`: any length, within the cap or not.
                4 | 5 => {
                    let len = match param {
                        250 => max,
                        251 => max.saturating_add(1),
                        252 => u32::MAX as usize,
                        253 => 1 << 33,
                        _ => usize::from(param % 40),
                    };
                    (
                        Rule {
                            framing: Framing::Bytes(0),
                            max,
                            sized: true,
                        },
                        len,
                    )
                }
                6 => (
                    plain(Framing::Search(&regexes()[usize::from(param) % 4])),
                    0,
                ),
                7 => (
                    plain(Framing::Match(&regexes()[4 + usize::from(param) % 4])),
                    0,
                ),
                // A typed frame: `Bytes(SIZE)`, its cap at least the size
                // (as the macro makes it).
                _ => {
                    let size = TYPED[usize::from(param) % TYPED.len()];
                    (
                        Rule {
                            framing: Framing::Bytes(size),
                            max: max.max(size),
                            sized: false,
                        },
                        0,
                    )
                }
            };
            rules.push(rule);
            lens.push(len);
        }
        let table = (0..=input.below(8))
            .map(|_| input.below(states) as u16)
            .collect();
        Self { rules, lens, table }
    }

    fn next_state(&self, frame: &[u8]) -> u16 {
        let key = frame.len() + frame.first().map_or(0, |&b| usize::from(b));
        self.table[key % self.table.len()]
    }

    /// Whether the frames may depend on the cuts: a regex match still
    /// growing at the end of a read is not known to be one yet (see
    /// `proto/read.rs`), and `Any` hands over whatever arrived.
    fn split_dependent(&self) -> bool {
        self.rules.iter().any(|r| {
            !r.sized
                && matches!(
                    r.framing,
                    Framing::Search(_) | Framing::Match(_) | Framing::Any
                )
        })
    }

    /// `fuzz_split_read` over this machine; panics when the run hands out
    /// more frames than the input can make (no progress).
    pub(super) fn run(&self, input: &[u8], cuts: &[usize]) -> Vec<Seen> {
        let budget = 4 * input.len() + 64;
        let mut frames = 0;
        let seen = fuzz_split_read(
            &self.rules,
            input,
            cuts,
            |f| {
                frames += 1;
                assert!(frames <= budget, "no progress: {frames} frames");
                self.next_state(f)
            },
            |state| self.lens[usize::from(state)],
        );
        self.check_frames(&seen);
        seen
    }

    /// Every frame within its state's limit, and of the length a fixed
    /// or sized rule says.
    fn check_frames(&self, seen: &[Seen]) {
        for s in seen {
            let Seen::Frame(state, frame) = s else {
                continue;
            };
            let state = usize::from(*state);
            let rule = &self.rules[state];
            assert!(
                frame.len() <= rule.limit(),
                "state {state}: a {}-byte frame over the limit {} ({rule:?})",
                frame.len(),
                rule.limit()
            );
            match rule.framing {
                _ if rule.sized => assert_eq!(frame.len(), self.lens[state], "sized {state}"),
                Framing::Bytes(n) => assert_eq!(frame.len(), n, "bytes {state}"),
                Framing::Any | Framing::Match(_) => assert!(!frame.is_empty(), "empty {state}"),
                _ => {}
            }
        }
    }

    /// Runs `input` whole and cut at `cuts`: the same result, unless the
    /// machine is split dependent; then each result on its own must meet
    /// the frame checks and the reference models.
    pub(super) fn check_split(&self, input: &[u8], cuts: &[usize]) {
        let whole = self.run(input, &[]);
        let split = self.run(input, cuts);
        self.check_model(input, &whole);
        self.check_model(input, &split);
        if !self.split_dependent() {
            assert_eq!(split, whole, "cuts {cuts:?} of {input:?} under {self:?}");
            let every: Vec<usize> = (0..=input.len()).collect();
            assert_eq!(self.run(input, &every), whole, "byte by byte");
        }
    }

    /// Reference models of single-state machines.
    fn check_model(&self, input: &[u8], seen: &[Seen]) {
        if self.rules.len() != 1 {
            return;
        }
        let rule = self.rules[0];
        let expected: Vec<Seen> = match rule.framing {
            Framing::Any if !rule.sized => {
                // Pieces of at most the limit that join into the input.
                let joined: Vec<u8> = seen
                    .iter()
                    .flat_map(|s| match s {
                        Seen::Frame(0, f) => f.clone(),
                        other => panic!("Any: {other:?}"),
                    })
                    .collect();
                assert_eq!(joined, input, "Any joins into the input");
                return;
            }
            Framing::Bytes(n) if !rule.sized => {
                let mut expected: Vec<Seen> = input
                    .chunks_exact(n)
                    .map(|c| Seen::Frame(0, c.to_vec()))
                    .collect();
                if !input.len().is_multiple_of(n) {
                    expected.push(Seen::Dropped);
                }
                expected
            }
            Framing::Delimiter(d) => delimited_model(input, d, rule.max),
            _ => return,
        };
        assert_eq!(seen, expected, "model of {rule:?} over {input:?}");
    }
}

/// Complete lines are frames when at most `max` long, rejected otherwise;
/// the unterminated rest at end of input is a last frame (or rejected).
pub(crate) fn delimited_model(input: &[u8], delim: &[u8], max: usize) -> Vec<Seen> {
    let verdict = |line: &[u8]| {
        if line.len() > max {
            Seen::Rejected(0)
        } else {
            Seen::Frame(0, line.to_vec())
        }
    };
    let mut seen = Vec::new();
    let mut rest = input;
    while let Some(at) = rest.windows(delim.len()).position(|w| w == delim) {
        seen.push(verdict(&rest[..at]));
        rest = &rest[at + delim.len()..];
    }
    if !rest.is_empty() {
        seen.push(verdict(rest));
    }
    seen
}

/// Cut offsets: a count, then that many little-endian `u16`s.
pub(super) fn decode_cuts(input: &mut Input<'_>) -> Vec<usize> {
    (0..input.below(16))
        .map(|_| usize::from(input.u16()))
        .collect()
}

/// The fuzz target `read_machine`: rules (one to four states: any, bytes,
/// delimiter, prefix, sized, regex search and match, typed), a switch
/// table, sized lengths, cuts, then the input.
pub fn read_machine(data: &[u8]) {
    let mut input = Input(data);
    let machine = Machine::decode(&mut input);
    let cuts = decode_cuts(&mut input);
    let bytes = input.rest();
    machine.check_split(bytes, &cuts);
}
