use super::*;

// ---------------------------------------------------------------- helpers

use crate::proto::testing::XorShift;

fn plain(framing: Framing<'static>, max: usize) -> Rule {
    Rule {
        framing,
        max,
        sized: false,
    }
}

/// A `bytes = expr` state, as the `#[on_read]` macro writes it.
fn sized(max: usize) -> Rule {
    Rule {
        framing: Framing::Bytes(0),
        max,
        sized: true,
    }
}

/// `payload` with a big-endian length of `width` bytes in front.
fn prefixed(width: usize, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().to_be_bytes();
    let mut out = len[len.len() - width..].to_vec();
    out.extend_from_slice(payload);
    out
}

fn frame(state: u16, bytes: &[u8]) -> Seen {
    Seen::Frame(state, bytes.to_vec())
}

/// A machine for the harness: one rule per state, the length of each sized
/// state, and a switch table. The state after a frame is a function of the
/// frame alone (its length and first byte), so it cannot depend on the cuts.
struct Machine {
    rules: Vec<Rule>,
    lens: Vec<usize>,
    table: Vec<u16>,
}

impl Machine {
    /// One state that never switches.
    fn single(rule: Rule, len: usize) -> Self {
        Self {
            rules: vec![rule],
            lens: vec![len],
            table: vec![0],
        }
    }

    fn next_state(&self, frame: &[u8]) -> u16 {
        let key = frame.len() + frame.first().map_or(0, |&b| usize::from(b));
        self.table[key % self.table.len()]
    }

    /// `fuzz_split_read` over this machine; panics instead of spinning when
    /// the run hands out far more frames than the input can make.
    fn run(&self, input: &[u8], cuts: &[usize]) -> Vec<Seen> {
        let budget = 4 * input.len() + 64;
        let mut frames = 0;
        fuzz_split_read(
            &self.rules,
            input,
            cuts,
            |f| {
                frames += 1;
                assert!(
                    frames <= budget,
                    "no progress: {frames} frames of {input:?}"
                );
                self.next_state(f)
            },
            |state| self.lens[usize::from(state)],
        )
    }
}

/// Every offset of `input` as a cut: the input arrives one byte at a time.
fn every_offset(input: &[u8]) -> Vec<usize> {
    (0..=input.len()).collect()
}

/// Asserts that `input` gives the same result with no cuts, cut at every
/// offset, cut once at each offset (short inputs) and cut at random;
/// returns that result. `ctx` names the case in the messages.
fn assert_split_independent(
    machine: &Machine,
    input: &[u8],
    rng: &mut XorShift,
    ctx: &str,
) -> Vec<Seen> {
    let expected = machine.run(input, &[]);
    assert_eq!(
        machine.run(input, &every_offset(input)),
        expected,
        "{ctx}: cuts at every offset of {input:?}"
    );
    if input.len() <= 64 {
        for cut in 0..=input.len() {
            assert_eq!(
                machine.run(input, &[cut]),
                expected,
                "{ctx}: cut {cut} of {input:?}"
            );
        }
    }
    for _ in 0..4 {
        let cuts = rng.cuts(input.len());
        assert_eq!(
            machine.run(input, &cuts),
            expected,
            "{ctx}: cuts {cuts:?} of {input:?}"
        );
    }
    expected
}

/// A random input made of pieces every rule can frame: runs of bytes from
/// an alphabet holding the delimiter bytes, delimiters, and small
/// length-prefixed payloads of each width.
fn random_input(rng: &mut XorShift, pieces: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ab\r\n\0\x01\x02";
    let mut input = Vec::new();
    for _ in 0..pieces {
        match rng.below(6) {
            0 | 1 => {
                let len = rng.below(8);
                input.extend(rng.bytes(ALPHABET, len));
            }
            2 => input.extend_from_slice(rng.pick(&[&b"\r\n"[..], b"\n", b"aab"])),
            _ => {
                let width = rng.pick(&[1, 2, 4]);
                let len = rng.below(6);
                let payload = rng.bytes(ALPHABET, len);
                input.extend(prefixed(width, &payload));
            }
        }
    }
    input
}

// The reference frames of a delimiter rule with a cap (shared with the
// fuzz target).
use crate::fuzz::delimited_model;

/// The delimiters of the tests. The general tests below keep multi-byte
/// delimiters under a cap no input reaches; the regression tests at the end
/// of the file cover overflows with them at full strength.
const DELIMITERS: [&[u8]; 3] = [b"\r\n", b"\n", b"aab"];

// ---------------------------------------------------------------- split independence

/// A delimiter rule: "\n" under `max`, or a longer delimiter under a cap
/// no input of these tests reaches.
fn delimiter_rule(rng: &mut XorShift, max: usize) -> Rule {
    match rng.pick(&DELIMITERS) {
        b"\n" => plain(Framing::Delimiter(b"\n"), max),
        delim => plain(Framing::Delimiter(delim), 4096),
    }
}

/// `random_input`, ending with "\n" when a delimiter state of `machine`
/// could overflow on it.
fn terminated_input(rng: &mut XorShift, machine: &Machine, pieces: usize) -> Vec<u8> {
    let mut input = random_input(rng, pieces);
    let capped = machine
        .rules
        .iter()
        .any(|r| matches!(r.framing, Framing::Delimiter(_)) && r.max < input.len());
    if capped {
        input.push(b'\n');
    }
    input
}

#[test]
fn split_independence_one_state() {
    let mut rng = XorShift(0x5eed_0001);
    for case in 0..600 {
        let max = rng.pick(&[0, 1, 3, 4, 6, 10, 64]);
        let (rule, len) = match rng.below(5) {
            0 => (delimiter_rule(&mut rng, max), 0),
            1 => (plain(Framing::Bytes(1 + rng.below(8)), max), 0),
            2 => (plain(Framing::Prefix(rng.pick(&[1, 2, 4])), max), 0),
            // A typed frame: a fixed size within its cap.
            3 => {
                let size = rng.pick(&[1, 2, 4, 8]);
                (plain(Framing::Bytes(size), size.max(max)), 0)
            }
            // Never 0: a lone state is re-entered after every frame.
            _ => (
                sized(max),
                rng.pick(&[1, 2, 5, max.max(1), max + 1, max + 3]),
            ),
        };
        let machine = Machine::single(rule, len);
        let pieces = rng.below(10);
        let input = terminated_input(&mut rng, &machine, pieces);
        let ctx = format!("case {case}: {rule:?} len {len}");
        assert_split_independent(&machine, &input, &mut rng, &ctx);
    }
}

/// A random machine of two to four states with random switches.
fn random_machine(rng: &mut XorShift) -> Machine {
    let states = 2 + rng.below(3);
    let mut rules = Vec::new();
    let mut lens = Vec::new();
    for _ in 0..states {
        let max = rng.pick(&[0, 2, 4, 7, 64, 64, 64]);
        let (rule, len) = match rng.below(5) {
            0 => (delimiter_rule(rng, max), 0),
            1 => (plain(Framing::Bytes(rng.pick(&[1, 2, 4, 8])), max), 0),
            2 => (plain(Framing::Prefix(rng.pick(&[1, 2, 4])), max), 0),
            3 => (plain(Framing::Delimiter(b"\n"), 4096), 0),
            _ => (sized(max), rng.pick(&[0, 1, 3, max, max + 1, max + 2])),
        };
        rules.push(rule);
        lens.push(len);
    }
    let mut table: Vec<u16> = (0..2 + rng.below(5))
        .map(|_| u16::try_from(rng.below(states)).expect("few states"))
        .collect();
    // An empty frame (key 0) must lead to a state that does not make one
    // out of nothing again, or the machine would (rightly) spin.
    if let Some(state) = (0..states).find(|&i| !(rules[i].sized && lens[i] == 0)) {
        table[0] = u16::try_from(state).expect("few states");
    } else {
        rules[0] = plain(Framing::Delimiter(b"\n"), 8);
        table[0] = 0;
    }
    Machine { rules, lens, table }
}

#[test]
fn split_independence_with_state_switches() {
    let mut rng = XorShift(0x5eed_0002);
    for case in 0..600 {
        let machine = random_machine(&mut rng);
        let pieces = 2 + rng.below(14);
        let input = terminated_input(&mut rng, &machine, pieces);
        let ctx = format!(
            "case {case}: rules {:?} lens {:?} table {:?}",
            machine.rules, machine.lens, machine.table
        );
        assert_split_independent(&machine, &input, &mut rng, &ctx);
    }
}

#[test]
fn split_independence_of_long_inputs() {
    let mut rng = XorShift(0x5eed_0003);
    for case in 0..40 {
        let machine = Machine {
            rules: vec![
                plain(Framing::Delimiter(b"\n"), 12),
                plain(Framing::Prefix(2), 6),
                plain(Framing::Bytes(4), 4),
                sized(8),
                plain(Framing::Delimiter(b"\r\n"), 4096),
            ],
            lens: vec![0, 0, 0, rng.below(12), 0],
            table: vec![0, 1, 2, 3, 4, 0, 0, 1],
        };
        let pieces = 20 + rng.below(40);
        let input = terminated_input(&mut rng, &machine, pieces);
        assert_split_independent(&machine, &input, &mut rng, &format!("case {case}"));
    }
}

// ---------------------------------------------------------------- max is a frame limit

#[test]
fn max_rejects_a_long_line_whole_or_split() {
    let machine = Machine::single(plain(Framing::Delimiter(b"\n"), 16), 0);
    let line = |len: usize| {
        let mut input = vec![b'x'; len];
        input.push(b'\n');
        input
    };
    for (len, expected) in [
        (22, vec![Seen::Rejected(0)]),
        (17, vec![Seen::Rejected(0)]),
        (16, vec![frame(0, &[b'x'; 16])]),
        (15, vec![frame(0, &[b'x'; 15])]),
    ] {
        let input = line(len);
        assert_eq!(machine.run(&input, &[]), expected, "{len}-byte line whole");
        assert_eq!(
            machine.run(&input, &every_offset(&input)),
            expected,
            "{len}-byte line byte by byte"
        );
        for cut in 0..=input.len() {
            assert_eq!(
                machine.run(&input, &[cut]),
                expected,
                "{len}-byte line cut at {cut}"
            );
        }
    }
}

#[test]
fn max_holds_for_longer_delimiters() {
    for delim in [&b"\r\n"[..], b"aab"] {
        let machine = Machine::single(plain(Framing::Delimiter(delim), 16), 0);
        for len in [0, 1, 15, 16, 17, 22] {
            let mut input = vec![b'x'; len];
            input.extend_from_slice(delim);
            input.extend_from_slice(b"ok");
            input.extend_from_slice(delim);
            let first = if len > 16 {
                Seen::Rejected(0)
            } else {
                frame(0, &input[..len])
            };
            let expected = vec![first, frame(0, b"ok")];
            let ctx = format!("delimiter {delim:?}, {len}-byte line");
            assert_eq!(machine.run(&input, &[]), expected, "{ctx}: whole");
            // A line within the cap may wait with all but the last byte of
            // its delimiter, however it is cut (a line over it: whole only,
            // see `DELIMITERS`).
            if len <= 16 {
                assert_eq!(
                    machine.run(&input, &every_offset(&input)),
                    expected,
                    "{ctx}: byte by byte"
                );
                for cut in 0..=input.len() {
                    assert_eq!(machine.run(&input, &[cut]), expected, "{ctx}: cut {cut}");
                }
            }
        }
    }
}

#[test]
fn max_rejects_a_5000_byte_line_in_one_or_two_reads() {
    let machine = Machine::single(plain(Framing::Delimiter(b"\n"), 4096), 0);
    let mut input = vec![b'y'; 5000];
    input.extend_from_slice(b"\nok\n");
    let expected = vec![Seen::Rejected(0), frame(0, b"ok")];
    assert_eq!(machine.run(&input, &[]), expected, "whole");
    for cut in [1, 2500, 4095, 4096, 4097, 4999, 5000, 5001, 5002] {
        assert_eq!(machine.run(&input, &[cut]), expected, "cut at {cut}");
    }
}

#[test]
fn after_a_reject_the_next_line_is_delivered() {
    for delim in DELIMITERS {
        let machine = Machine::single(plain(Framing::Delimiter(delim), 16), 0);
        let mut input = b"short".to_vec();
        input.extend_from_slice(delim);
        input.extend_from_slice(&[b'x'; 40]);
        input.extend_from_slice(delim);
        input.extend_from_slice(b"next");
        input.extend_from_slice(delim);
        let expected = vec![frame(0, b"short"), Seen::Rejected(0), frame(0, b"next")];
        let ctx = format!("delimiter {delim:?}");
        assert_eq!(machine.run(&input, &[]), expected, "{ctx}: whole");
        assert_eq!(
            machine.run(&input, &every_offset(&input)),
            expected,
            "{ctx}: byte by byte"
        );
        // Cut anywhere (a longer delimiter: see `DELIMITERS`).
        if delim == b"\n" {
            for cut in 0..=input.len() {
                assert_eq!(machine.run(&input, &[cut]), expected, "{ctx}: cut {cut}");
            }
        }
    }
}

#[test]
fn delimiter_matches_a_reference_model() {
    let mut rng = XorShift(0x5eed_0004);
    for case in 0..800 {
        let delim = rng.pick(&DELIMITERS);
        let max = rng.pick(&[0, 1, 2, 3, 5, 8, 13]);
        let len = rng.below(48);
        let mut input = rng.bytes(b"ab\r\nx", len);
        let machine = Machine::single(plain(Framing::Delimiter(delim), max), 0);
        let ctx = format!("case {case}: delimiter {delim:?} max {max} input {input:?}");
        let expected = delimited_model(&input, delim, max);
        assert_eq!(machine.run(&input, &[]), expected, "{ctx}: whole");

        // Cut: with "\n", a tail over the cap is terminated; a longer
        // delimiter is cut only when no line is over the cap (see
        // `DELIMITERS`).
        if delim == b"\n" {
            let tail = input.len()
                - input
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |at| at + 1);
            if tail > max {
                input.push(b'\n');
            }
        } else if expected.contains(&Seen::Rejected(0)) {
            continue;
        }
        let expected = delimited_model(&input, delim, max);
        let cuts = rng.cuts(input.len());
        assert_eq!(machine.run(&input, &cuts), expected, "{ctx}: cuts {cuts:?}");
        assert_eq!(
            machine.run(&input, &every_offset(&input)),
            expected,
            "{ctx}: byte by byte"
        );
    }
}

// ---------------------------------------------------------------- Prefix over max

/// Feeds `input` to `machine` under `rule` until it waits; returns the steps.
fn steps(machine: &mut ReadMachine, rule: &Rule, input: &[u8], eof: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pos = 0;
    loop {
        let step = machine.next(rule, || 0, &input[pos..], eof, None);
        match step {
            Step::Frame { consumed, .. } | Step::Reject { consumed, .. } => pos += consumed,
            Step::Skip(n) => pos += n,
            Step::Last | Step::Drop => pos = input.len(),
            Step::Wait => return steps,
        }
        steps.push(step);
        assert!(
            steps.len() <= 4 * input.len() + 16,
            "no progress: {steps:?}"
        );
    }
}

#[test]
fn prefix_over_max_is_rejected_before_its_payload_is_buffered() {
    for (width, max, announced) in [(1, 10, 11), (1, 4, 255), (2, 100, 300), (4, 1000, 65_536)] {
        let ctx = format!("width {width} max {max} announced {announced}");
        let rule = plain(Framing::Prefix(width), max);
        let mut input = prefixed(width, &vec![b'p'; announced]);
        input.extend(prefixed(width, b"next"));

        // Only the header is buffered: rejected at once, nothing consumed.
        let mut machine = ReadMachine::new(0);
        let step = machine.next(&rule, || 0, &input[..width], false, None);
        assert!(
            matches!(
                step,
                Step::Reject {
                    error: Error::FrameTooLarge { size, limit },
                    consumed: 0,
                } if size == announced && limit == max
            ),
            "{ctx}: {step:?}"
        );
        assert!(machine.is_skipping(), "{ctx}");

        // Then exactly the header and the payload are skipped.
        let rest = steps(&mut machine, &rule, &input, false);
        let skipped: usize = rest
            .iter()
            .map_while(|s| match s {
                Step::Skip(n) => Some(*n),
                _ => None,
            })
            .sum();
        assert_eq!(skipped, width + announced, "{ctx}: {rest:?}");
        assert!(
            matches!(rest.last(), Some(Step::Frame { data, consumed })
                if data.len() == 4 && *consumed == width + 4),
            "{ctx}: {rest:?}"
        );

        // The next frame is intact however the input is cut.
        let machine = Machine::single(rule, 0);
        let expected = vec![Seen::Rejected(0), frame(0, b"next")];
        assert_eq!(machine.run(&input, &[]), expected, "{ctx}: whole");
        let cuts: Vec<usize> = (0..=input.len()).step_by(7).collect();
        assert_eq!(machine.run(&input, &cuts), expected, "{ctx}: every 7th");
        for cut in (0..=input.len()).filter(|c| *c < 16 || input.len() - c < 16) {
            assert_eq!(machine.run(&input, &[cut]), expected, "{ctx}: cut {cut}");
        }
    }
}

#[test]
fn prefix_u32_max_then_eof_is_rejected_once() {
    let machine = Machine::single(plain(Framing::Prefix(4), 4096), 0);
    let input = [0xff; 4];
    for cuts in [vec![], vec![1], vec![2], vec![3], every_offset(&input)] {
        assert_eq!(
            machine.run(&input, &cuts),
            vec![Seen::Rejected(0)],
            "cuts {cuts:?}"
        );
    }
    // Some of the payload, then end of input: still one reject, no drop.
    let input = [0xff, 0xff, 0xff, 0xff, b'a', b'b', b'c'];
    for cuts in [vec![], vec![4], every_offset(&input)] {
        assert_eq!(
            machine.run(&input, &cuts),
            vec![Seen::Rejected(0)],
            "cuts {cuts:?}"
        );
    }
}

/// Runs `machine` over an endless input until it stops skipping; returns
/// the bytes skipped. The same chunk is fed over and over, so gigabytes are
/// counted without being allocated.
fn skipped_until_done(machine: &mut ReadMachine, rule: &Rule) -> usize {
    let chunk = vec![0u8; 1 << 20];
    let mut skipped = 0usize;
    while machine.is_skipping() {
        match machine.next(rule, || 0, &chunk, false, None) {
            Step::Skip(n) => skipped += n,
            step => panic!("after {skipped} skipped: {step:?}"),
        }
    }
    skipped
}

#[test]
fn huge_announced_lengths_are_skipped_exactly() {
    // A u32 prefix whose header and payload are u32::MAX bytes together.
    let rule = plain(Framing::Prefix(4), 4096);
    let mut machine = ReadMachine::new(0);
    let step = machine.next(&rule, || 0, &[0xff, 0xff, 0xff, 0xfb], false, None);
    assert!(
        matches!(
            step,
            Step::Reject {
                error: Error::FrameTooLarge {
                    size: 0xffff_fffb,
                    limit: 4096
                },
                consumed: 0
            }
        ),
        "{step:?}"
    );
    assert_eq!(skipped_until_done(&mut machine, &rule), 0xffff_ffff);

    // A sized state told to read u32::MAX bytes under a 4 KiB cap.
    let rule = sized(4096);
    let mut machine = ReadMachine::new(0);
    let step = machine.next(&rule, || 0xffff_ffff, b"", false, None);
    assert!(
        matches!(
            step,
            Step::Reject {
                error: Error::FrameTooLarge {
                    size: 0xffff_ffff,
                    limit: 4096
                },
                consumed: 0
            }
        ),
        "{step:?}"
    );
    assert_eq!(skipped_until_done(&mut machine, &rule), 0xffff_ffff);
}

// ---------------------------------------------------------------- sized states

#[test]
fn sized_zero_hands_out_one_empty_frame_per_entry() {
    let rule = sized(16);
    let mut machine = ReadMachine::new(0);
    let calls = std::cell::Cell::new(0);
    let len = || {
        calls.set(calls.get() + 1);
        0
    };
    let step = machine.next(&rule, len, b"abc", false, None);
    assert!(
        matches!(&step, Step::Frame { data, consumed: 0 } if data.is_empty()),
        "{step:?}"
    );
    // No switch: the state is spent.
    for eof in [false, true] {
        let step = machine.next(&rule, len, b"abc", eof, None);
        assert!(matches!(step, Step::Wait), "eof {eof}: {step:?}");
    }
    assert_eq!(calls.get(), 1, "the length is evaluated once per entry");
    // Re-entering the state makes one more.
    assert!(machine.switch(0));
    let step = machine.next(&rule, len, b"abc", false, None);
    assert!(
        matches!(&step, Step::Frame { data, consumed: 0 } if data.is_empty()),
        "{step:?}"
    );
    let step = machine.next(&rule, len, b"abc", false, None);
    assert!(matches!(step, Step::Wait), "{step:?}");
    assert_eq!(calls.get(), 2);
}

#[test]
fn sized_zero_between_lines_yields_one_empty_frame_each_time() {
    // State 0: lines; the line "z" goes to state 1 (0 bytes), whose empty
    // frame goes back to lines.
    let rules = [plain(Framing::Delimiter(b"\n"), 16), sized(16)];
    let input = b"a\nz\nb\nz\nz\n";
    let run =
        |cuts: &[usize]| fuzz_split_read(&rules, input, cuts, |f| u16::from(f == b"z"), |_| 0);
    let expected = vec![
        frame(0, b"a"),
        frame(0, b"z"),
        frame(1, b""),
        frame(0, b"b"),
        frame(0, b"z"),
        frame(1, b""),
        frame(0, b"z"),
        frame(1, b""),
    ];
    assert_eq!(run(&[]), expected, "whole");
    assert_eq!(run(&every_offset(input)), expected, "byte by byte");
}

#[test]
fn sized_states_frame_their_length() {
    let mut rng = XorShift(0x5eed_0005);
    for case in 0..300 {
        let max = rng.pick(&[1, 4, 8]);
        let n = 1 + rng.below(max);
        let len = rng.below(30);
        let input = rng.bytes(b"ab\n", len);
        let machine = Machine::single(sized(max), n);
        let mut expected: Vec<Seen> = input.chunks_exact(n).map(|c| frame(0, c)).collect();
        if !input.len().is_multiple_of(n) {
            expected.push(Seen::Dropped);
        }
        let ctx = format!("case {case}: max {max} n {n} input {input:?}");
        assert_eq!(machine.run(&input, &[]), expected, "{ctx}: whole");
        let cuts = rng.cuts(input.len());
        assert_eq!(machine.run(&input, &cuts), expected, "{ctx}: {cuts:?}");
    }
}

#[test]
fn sized_over_max_is_rejected_and_its_bytes_skipped() {
    let rule = sized(4);
    let mut machine = ReadMachine::new(0);
    let step = machine.next(&rule, || 6, b"", false, None);
    assert!(
        matches!(
            step,
            Step::Reject {
                error: Error::FrameTooLarge { size: 6, limit: 4 },
                consumed: 0
            }
        ),
        "{step:?}"
    );
    assert!(machine.is_skipping());
    assert!(matches!(
        machine.next(&rule, || 6, b"abcd", false, None),
        Step::Skip(4)
    ));
    assert!(matches!(
        machine.next(&rule, || 6, b"efgh", false, None),
        Step::Skip(2)
    ));
    assert!(!machine.is_skipping());

    // Through the harness: the line "big" enters a state of 6 bytes capped
    // at 4. That state makes no frame, so it is never left: each entry is
    // rejected and skips 6 more bytes (the last skip is cut short by the
    // end of the input).
    let rules = [plain(Framing::Delimiter(b"\n"), 16), sized(4)];
    let input = b"big\n123456abcdefgh";
    let run = |cuts: &[usize]| {
        fuzz_split_read(
            &rules,
            input,
            cuts,
            |f| u16::from(f == b"big"),
            |s| if s == 1 { 6 } else { 0 },
        )
    };
    let expected = vec![
        frame(0, b"big"),
        Seen::Rejected(1),
        Seen::Rejected(1),
        Seen::Rejected(1),
    ];
    assert_eq!(run(&[]), expected, "whole");
    assert_eq!(run(&every_offset(input)), expected, "byte by byte");
    for cut in 0..=input.len() {
        assert_eq!(run(&[cut]), expected, "cut {cut}");
    }
}

// ---------------------------------------------------------------- Any

#[test]
fn any_hands_out_pieces_of_at_most_max() {
    let machine = Machine::single(plain(Framing::Any, 4), 0);
    assert_eq!(
        machine.run(b"abcdefghij", &[]),
        vec![frame(0, b"abcd"), frame(0, b"efgh"), frame(0, b"ij")]
    );
    let mut rng = XorShift(0x5eed_0006);
    for case in 0..500 {
        let len = rng.below(40);
        let input = rng.bytes(b"ab\r\n", len);
        let cuts = rng.cuts(input.len());
        let seen = machine.run(&input, &cuts);
        let mut joined = Vec::new();
        for s in &seen {
            match s {
                Seen::Frame(0, bytes) if (1..=4).contains(&bytes.len()) => {
                    joined.extend_from_slice(bytes);
                }
                other => panic!("case {case}: {other:?} in {seen:?} (cuts {cuts:?})"),
            }
        }
        assert_eq!(joined, input, "case {case}: cuts {cuts:?}");
    }
}

// ---------------------------------------------------------------- end of input

#[test]
fn eof_fragment_in_a_bytes_state_is_dropped() {
    let rule = plain(Framing::Bytes(4), 64);
    let mut machine = ReadMachine::new(0);
    assert!(matches!(
        machine.next(&rule, || 0, b"ab", false, None),
        Step::Wait
    ));
    assert!(matches!(
        machine.next(&rule, || 0, b"ab", true, None),
        Step::Drop
    ));
    assert!(matches!(
        machine.next(&rule, || 0, b"", true, None),
        Step::Wait
    ));

    let machine = Machine::single(rule, 0);
    let input = b"abcdef";
    let expected = vec![frame(0, b"abcd"), Seen::Dropped];
    assert_eq!(machine.run(input, &[]), expected);
    assert_eq!(machine.run(input, &every_offset(input)), expected);
    assert_eq!(machine.run(b"abcd", &[]), vec![frame(0, b"abcd")]);

    // A length prefix without all of its payload is dropped too.
    let machine = Machine::single(plain(Framing::Prefix(2), 64), 0);
    assert_eq!(machine.run(&[0, 5, b'a'], &[]), vec![Seen::Dropped]);
    assert_eq!(machine.run(&[0], &[]), vec![Seen::Dropped]);
}

#[test]
fn eof_fragment_in_a_delimiter_state_is_a_last_frame() {
    let rule = plain(Framing::Delimiter(b"\r\n"), 64);
    let mut machine = ReadMachine::new(0);
    assert!(matches!(
        machine.next(&rule, || 0, b"tail\r", false, None),
        Step::Wait
    ));
    assert!(matches!(
        machine.next(&rule, || 0, b"tail\r", true, None),
        Step::Last
    ));
    assert!(matches!(
        machine.next(&rule, || 0, b"", true, None),
        Step::Wait
    ));

    let machine = Machine::single(rule, 0);
    let input = b"one\r\ntail\r";
    let expected = vec![frame(0, b"one"), frame(0, b"tail\r")];
    assert_eq!(machine.run(input, &[]), expected);
    assert_eq!(machine.run(input, &every_offset(input)), expected);
    // A tail over the cap is rejected, not handed out.
    let machine = Machine::single(plain(Framing::Delimiter(b"\n"), 3), 0);
    assert_eq!(
        machine.run(b"ab\nabcd", &[]),
        vec![frame(0, b"ab"), Seen::Rejected(0)]
    );
    assert_eq!(
        machine.run(b"ab\nabc", &[]),
        vec![frame(0, b"ab"), frame(0, b"abc")]
    );
}

// ---------------------------------------------------------------- switch, limits

#[test]
fn switch_says_when_to_frame_again() {
    let mut machine = ReadMachine::new(3);
    assert_eq!(machine.state(), 3);
    assert!(!machine.switch(3), "same plain state");
    assert!(machine.switch(1), "another state");
    assert_eq!(machine.state(), 1);

    // A sized state whose length was evaluated: re-entry re-evaluates.
    let rule = sized(16);
    let step = machine.next(&rule, || 2, b"", false, None);
    assert!(matches!(step, Step::Wait), "{step:?}");
    assert!(machine.switch(1), "re-entering a sized state");
    assert!(!machine.switch(1), "the length is not evaluated yet");
    let step = machine.next(&rule, || 2, b"xy", false, None);
    assert!(matches!(step, Step::Frame { consumed: 2, .. }), "{step:?}");
    assert!(machine.switch(1), "re-entering after a frame");
    let _ = machine.next(&rule, || 0, b"", false, None);
    assert!(machine.switch(2), "leaving a sized state");
    assert!(!machine.switch(2));
}

#[test]
fn rule_limit_is_max_raised_to_a_fixed_frame() {
    assert_eq!(plain(Framing::Bytes(100_000), 64).limit(), 100_000);
    assert_eq!(plain(Framing::Bytes(4), 64).limit(), 64);
    assert_eq!(plain(Framing::Delimiter(b"\n"), 64).limit(), 64);
    assert_eq!(plain(Framing::Prefix(4), 64).limit(), 64);
    assert_eq!(plain(Framing::Any, 64).limit(), 64);
    // A fixed frame larger than max is handed out whole.
    let machine = Machine::single(plain(Framing::Bytes(8), 2), 0);
    let input = b"abcdefgh";
    assert_eq!(
        machine.run(input, &every_offset(input)),
        vec![frame(0, input)]
    );
}
// ---------------------------------------------------------------- regressions
// Each of these failed against the first read machine; the fix is named.

// ---- 1: an overflowed line cut off by the end of input gives an extra `Dropped`

#[test]
fn regression_overflow_then_eof_reports_no_drop() {
    let machine = Machine::single(plain(Framing::Delimiter(b"\n"), 4), 0);
    let input = b"abcdefg";
    assert_eq!(machine.run(input, &[]), vec![Seen::Rejected(0)], "whole");
    // Cut after 5 bytes: 5 > 4 overflows, then "fg" at end of input.
    assert_eq!(machine.run(input, &[5]), vec![Seen::Rejected(0)], "cut 5");
}

// ---- 2: the overflow drops a partial delimiter, so the next line is lost

#[test]
fn regression_overflow_keeps_a_partial_delimiter() {
    let machine = Machine::single(plain(Framing::Delimiter(b"\r\n"), 4), 0);
    let input = b"abcdef\r\nok\r\n";
    let expected = vec![Seen::Rejected(0), frame(0, b"ok")];
    assert_eq!(machine.run(input, &[]), expected, "whole");
    // Cut after "abcdef\r": 7 > 4 + 1 overflows and drops the '\r' too.
    assert_eq!(machine.run(input, &[7]), expected, "cut 7");
}

#[test]
fn regression_after_a_reject_the_next_line_is_delivered_however_cut() {
    for delim in DELIMITERS {
        let machine = Machine::single(plain(Framing::Delimiter(delim), 16), 0);
        let mut input = b"short".to_vec();
        input.extend_from_slice(delim);
        input.extend_from_slice(&[b'x'; 40]);
        input.extend_from_slice(delim);
        input.extend_from_slice(b"next");
        input.extend_from_slice(delim);
        let expected = vec![frame(0, b"short"), Seen::Rejected(0), frame(0, b"next")];
        for cut in 0..=input.len() {
            assert_eq!(
                machine.run(&input, &[cut]),
                expected,
                "delimiter {delim:?}: cut {cut}"
            );
        }
    }
}

#[test]
fn regression_max_holds_for_longer_delimiters_however_cut() {
    for delim in [&b"\r\n"[..], b"aab"] {
        let machine = Machine::single(plain(Framing::Delimiter(delim), 16), 0);
        for len in [17, 22] {
            let mut input = vec![b'x'; len];
            input.extend_from_slice(delim);
            input.extend_from_slice(b"ok");
            input.extend_from_slice(delim);
            let expected = vec![Seen::Rejected(0), frame(0, b"ok")];
            let ctx = format!("delimiter {delim:?}, {len}-byte line");
            assert_eq!(
                machine.run(&input, &every_offset(&input)),
                expected,
                "{ctx}: byte by byte"
            );
            for cut in 0..=input.len() {
                assert_eq!(machine.run(&input, &[cut]), expected, "{ctx}: cut {cut}");
            }
        }
    }
}

// ---- bugs 1 and 2 together: the full-strength random tests

#[test]
fn regression_delimiter_matches_a_reference_model_however_cut() {
    let mut rng = XorShift(0x5eed_0104);
    for case in 0..800 {
        let delim = rng.pick(&DELIMITERS);
        let max = rng.pick(&[0, 1, 2, 3, 5, 8, 13]);
        let len = rng.below(48);
        let input = rng.bytes(b"ab\r\nx", len);
        let machine = Machine::single(plain(Framing::Delimiter(delim), max), 0);
        let ctx = format!("case {case}: delimiter {delim:?} max {max} input {input:?}");
        let expected = delimited_model(&input, delim, max);
        let cuts = rng.cuts(input.len());
        assert_eq!(machine.run(&input, &cuts), expected, "{ctx}: cuts {cuts:?}");
        assert_eq!(
            machine.run(&input, &every_offset(&input)),
            expected,
            "{ctx}: byte by byte"
        );
    }
}

#[test]
fn regression_split_independence_with_any_delimiter_and_cap() {
    let mut rng = XorShift(0x5eed_0102);
    for case in 0..600 {
        let mut machine = random_machine(&mut rng);
        // Any delimiter under any cap, and no "\n" added at the end.
        for rule in &mut machine.rules {
            if let Framing::Delimiter(_) = rule.framing {
                rule.framing = Framing::Delimiter(rng.pick(&DELIMITERS));
                rule.max = rng.pick(&[0, 2, 4, 7, 64]);
            }
        }
        let pieces = rng.below(12);
        let input = random_input(&mut rng, pieces);
        let ctx = format!(
            "case {case}: rules {:?} lens {:?} table {:?}",
            machine.rules, machine.lens, machine.table
        );
        assert_split_independent(&machine, &input, &mut rng, &ctx);
    }
}

// ---- 3: a skip of more than u32::MAX bytes is cut short

#[test]
fn regression_u32_prefix_announcing_u32_max_skips_header_and_payload() {
    let rule = plain(Framing::Prefix(4), 4096);
    let mut machine = ReadMachine::new(0);
    let step = machine.next(&rule, || 0, &[0xff; 4], false, None);
    assert!(
        matches!(
            step,
            Step::Reject {
                error: Error::FrameTooLarge {
                    size: 0xffff_ffff,
                    limit: 4096
                },
                consumed: 0
            }
        ),
        "{step:?}"
    );
    assert_eq!(skipped_until_done(&mut machine, &rule), 4 + 0xffff_ffff);
}

#[test]
fn regression_sized_length_over_u32_max_is_skipped_whole() {
    let rule = sized(4096);
    let mut machine = ReadMachine::new(0);
    let len = 0x1_0000_0004;
    let step = machine.next(&rule, || len, b"", false, None);
    assert!(matches!(step, Step::Reject { consumed: 0, .. }), "{step:?}");
    assert_eq!(skipped_until_done(&mut machine, &rule), len);
}

// ---- 4: a 0-length sized state that stays in its state spins the harness

#[test]
fn regression_sized_zero_that_stays_in_its_state_terminates() {
    let machine = Machine::single(sized(16), 0);
    for input in [&b""[..], b"abc"] {
        // Machine::run panics after a frame budget instead of spinning.
        assert_eq!(machine.run(input, &[]), vec![frame(0, b"")], "{input:?}");
    }
}
