use super::*;

// ---------------------------------------------------------------- helpers

/// The frames of `input` fed in one piece.
fn whole(rule: Framing<'_>, input: &[u8]) -> Vec<Vec<u8>> {
    fuzz_split(rule, input, &[])
}

/// The frames of `input` fed one byte at a time.
fn byte_by_byte(rule: Framing<'_>, input: &[u8]) -> Vec<Vec<u8>> {
    let cuts: Vec<usize> = (0..=input.len()).collect();
    fuzz_split(rule, input, &cuts)
}

/// Asserts that cutting `input` anywhere (once, twice for short inputs, and
/// at every byte) gives the frames of the uncut input; returns those frames.
fn assert_cut_invariant(rule: Framing<'_>, input: &[u8]) -> Vec<Vec<u8>> {
    let expected = whole(rule, input);
    assert_eq!(byte_by_byte(rule, input), expected, "byte by byte");
    for cut in 0..=input.len() {
        assert_eq!(fuzz_split(rule, input, &[cut]), expected, "cut {cut}");
    }
    if input.len() <= 48 {
        for a in 0..=input.len() {
            for b in a..=input.len() {
                assert_eq!(
                    fuzz_split(rule, input, &[a, b]),
                    expected,
                    "cuts {a} and {b}"
                );
                // Order of the cut list must not matter.
                assert_eq!(
                    fuzz_split(rule, input, &[b, a]),
                    expected,
                    "cuts {b} and {a}"
                );
            }
        }
    }
    expected
}

fn v(frames: &[&[u8]]) -> Vec<Vec<u8>> {
    frames.iter().map(|f| f.to_vec()).collect()
}

/// The reference: the first `delim` in `input`, found the obvious way.
fn naive_find(input: &[u8], delim: &[u8]) -> Option<usize> {
    if delim.is_empty() {
        return None;
    }
    input.windows(delim.len()).position(|w| w == delim)
}

/// The reference frames of a delimiter rule.
fn naive_delimited(input: &[u8], delim: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut rest = input;
    while let Some(at) = naive_find(rest, delim) {
        frames.push(rest[..at].to_vec());
        rest = &rest[at + delim.len()..];
    }
    frames
}

use crate::proto::testing::XorShift;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// Anchored the way the `#[on_read]` macro anchors `match = "..."`.
fn anchored(pattern: &str) -> Regex {
    regex(&format!(r"\A(?:{pattern})"))
}

// ---------------------------------------------------------------- Any

#[test]
fn any_takes_everything_buffered() {
    let mut scan = 0;
    let frame = Framing::Any.next_frame(b"hello", &mut scan, None).unwrap();
    assert_eq!(
        frame,
        Frame {
            data: 0..5,
            consumed: 5
        }
    );
    assert_eq!(whole(Framing::Any, b"hello"), v(&[b"hello"]));
}

#[test]
fn any_frames_concatenate_to_the_input_however_cut() {
    let input = b"any bytes \r\n at all";
    assert_eq!(byte_by_byte(Framing::Any, input).concat(), input.to_vec());
    assert_eq!(byte_by_byte(Framing::Any, input).len(), input.len());
    for cut in 0..=input.len() {
        let frames = fuzz_split(Framing::Any, input, &[cut]);
        assert_eq!(frames.concat(), input.to_vec(), "cut {cut}");
        assert!(frames.iter().all(|f| !f.is_empty()), "cut {cut}");
        let expected = if cut == 0 || cut == input.len() { 1 } else { 2 };
        assert_eq!(frames.len(), expected, "cut {cut}");
    }
}

// ---------------------------------------------------------------- Bytes

#[test]
fn bytes_hands_over_exactly_n() {
    let rule = Framing::Bytes(3);
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"ab", &mut scan, None), None);
    assert_eq!(
        rule.next_frame(b"abcd", &mut scan, None),
        Some(Frame {
            data: 0..3,
            consumed: 3
        })
    );
    assert_eq!(
        assert_cut_invariant(rule, b"abcdefgh"),
        v(&[b"abc", b"def"])
    );
    assert_eq!(
        assert_cut_invariant(Framing::Bytes(1), b"xyz"),
        v(&[b"x", b"y", b"z"])
    );
    assert_eq!(
        assert_cut_invariant(Framing::Bytes(4), b"abcdefgh"),
        v(&[b"abcd", b"efgh"])
    );
    assert!(assert_cut_invariant(Framing::Bytes(9), b"abcdefgh").is_empty());
}

#[test]
fn bytes_zero_yields_nothing() {
    let rule = Framing::Bytes(0);
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"", &mut scan, None), None);
    assert_eq!(rule.next_frame(b"abc", &mut scan, None), None);
    // And the harness terminates: no endless run of empty frames.
    assert!(whole(rule, b"abc").is_empty());
    assert!(byte_by_byte(rule, b"abc").is_empty());
}

// ---------------------------------------------------------------- Delimiter

#[test]
fn delimiter_split_across_reads() {
    let d = Framing::Delimiter(b"\r\n");
    let input = b"line1\r\nline2\r\npart";
    for cut in 0..=input.len() {
        assert_eq!(
            fuzz_split(d, input, &[cut]),
            vec![b"line1".to_vec(), b"line2".to_vec()],
            "cut {cut}"
        );
    }
}

#[test]
fn delimiter_frame_strips_the_delimiter() {
    let rule = Framing::Delimiter(b"\r\n");
    let mut scan = 0;
    assert_eq!(
        rule.next_frame(b"ab\r\ncd", &mut scan, None),
        Some(Frame {
            data: 0..2,
            consumed: 4
        })
    );
    // An empty frame (delimiter first) is a frame.
    assert_eq!(
        rule.next_frame(b"\r\nx", &mut scan, None),
        Some(Frame {
            data: 0..0,
            consumed: 2
        })
    );
}

#[test]
fn delimiter_one_byte() {
    let rule = Framing::Delimiter(b"\n");
    assert_eq!(
        assert_cut_invariant(rule, b"a\nbb\n\nccc\ntail"),
        v(&[b"a", b"bb", b"", b"ccc"])
    );
    assert_eq!(assert_cut_invariant(rule, b"\n\n"), v(&[b"", b""]));
    assert!(assert_cut_invariant(rule, b"no newline").is_empty());
}

#[test]
fn delimiter_crlf() {
    let rule = Framing::Delimiter(b"\r\n");
    assert_eq!(
        assert_cut_invariant(rule, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"),
        v(&[b"GET / HTTP/1.1", b"Host: x", b""])
    );
    // Lone \r and \n are data.
    assert_eq!(
        assert_cut_invariant(rule, b"a\rb\nc\r\r\nd\n\r\n"),
        v(&[b"a\rb\nc\r", b"d\n"])
    );
}

#[test]
fn delimiter_long() {
    let rule = Framing::Delimiter(b"\r\n\r\n");
    assert_eq!(
        assert_cut_invariant(rule, b"head: 1\r\nmore: 2\r\n\r\nbody\r\n\r\n\r\n\r\nx"),
        v(&[b"head: 1\r\nmore: 2", b"body", b""])
    );
    assert_eq!(
        assert_cut_invariant(rule, b"\r\n\r\r\n\r\n\r\n"),
        v(&[b"\r\n\r"])
    );
}

#[test]
fn delimiter_self_overlapping() {
    // "aab": after a failed "aa?", the second 'a' may start the delimiter.
    let rule = Framing::Delimiter(b"aab");
    assert_eq!(assert_cut_invariant(rule, b"aaab"), v(&[b"a"]));
    assert_eq!(
        assert_cut_invariant(rule, b"xaaaabyaabaab"),
        v(&[b"xaa", b"y", b""])
    );
    // "aaa": matches are taken left to right and do not overlap.
    let rule = Framing::Delimiter(b"aaa");
    assert_eq!(assert_cut_invariant(rule, b"aaaa"), v(&[b""]));
    assert_eq!(
        assert_cut_invariant(rule, b"aaaaaaaxaaa"),
        v(&[b"", b"", b"ax"])
    );
    let rule = Framing::Delimiter(b"abab");
    assert_eq!(assert_cut_invariant(rule, b"abababx"), v(&[b""]));
    assert_eq!(assert_cut_invariant(rule, b"xabaababab"), v(&[b"xaba"]));
    for (delim, input) in [
        (&b"aab"[..], &b"aaaabaabaaab"[..]),
        (b"aaa", b"aaaaaaaaaa"),
        (b"abab", b"abababababab"),
        (b"aba", b"abababa"),
    ] {
        assert_eq!(
            assert_cut_invariant(Framing::Delimiter(delim), input),
            naive_delimited(input, delim)
        );
    }
}

#[test]
fn delimiter_scan_moves_forward_on_a_miss() {
    let rule = Framing::Delimiter(b"\r\n");
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"abcdef", &mut scan, None), None);
    // Only the last byte could still start "\r\n".
    assert_eq!(scan, 5);
    assert_eq!(rule.next_frame(b"abcde\r", &mut scan, None), None);
    assert_eq!(scan, 5);

    let rule = Framing::Delimiter(b"\r\n\r\n");
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"abc\r\n\r", &mut scan, None), None);
    assert_eq!(scan, 3);
    // The rest of the delimiter arrives: found where it started.
    assert_eq!(
        rule.next_frame(b"abc\r\n\r\nz", &mut scan, None),
        Some(Frame {
            data: 0..3,
            consumed: 7
        })
    );

    // Shorter than the delimiter: nothing can be ruled out yet.
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"ab", &mut scan, None), None);
    assert_eq!(scan, 0);

    // One-byte delimiter: everything scanned is ruled out.
    let rule = Framing::Delimiter(b"\n");
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"abc", &mut scan, None), None);
    assert_eq!(scan, 3);
}

#[test]
fn delimiter_scan_resumes_across_reads() {
    // Grow a buffer one byte at a time, carrying `scan`, as the engine does:
    // the delimiter is found at the first read that completes it, wherever
    // it is split.
    for delim in [&b"\n"[..], b"\r\n", b"\r\n\r\n", b"aab", b"aaa"] {
        for prefix in [&b""[..], b"x", b"aa", b"a\r\n\ra", b"some longer text"] {
            if naive_find(prefix, delim).is_some() {
                continue;
            }
            let mut input = prefix.to_vec();
            input.extend_from_slice(delim);
            input.extend_from_slice(b"tail");
            let expected = naive_find(&input, delim).unwrap();
            let mut scan = 0;
            let mut found = None;
            for len in 0..=input.len() {
                if let Some(frame) =
                    Framing::Delimiter(delim).next_frame(&input[..len], &mut scan, None)
                {
                    found = Some((len, frame));
                    break;
                }
                assert!(scan <= len, "scan past the input");
            }
            let (len, frame) = found.expect("delimiter never found");
            assert_eq!(
                len,
                expected + delim.len(),
                "found late: {delim:?} {prefix:?}"
            );
            assert_eq!(frame.data, 0..expected);
            assert_eq!(frame.consumed, expected + delim.len());
        }
    }
}

#[test]
fn delimiter_stale_scan_beyond_input_is_clamped() {
    let rule = Framing::Delimiter(b"\r\n");
    let mut scan = 100;
    assert_eq!(rule.next_frame(b"ab", &mut scan, None), None);
    assert_eq!(scan, 1);
}

#[test]
fn delimiter_scan_never_skips_a_delimiter() {
    // Property: feeding growing prefixes while carrying `scan` finds the same
    // first delimiter as a fresh search of the final buffer.
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let delims: [&[u8]; 7] = [b"\n", b"\r\n", b"\r\n\r\n", b"aab", b"aaa", b"abab", b"ba"];
    for _ in 0..3000 {
        let delim = delims[rng.below(delims.len())];
        let len = rng.below(40);
        let input = rng.bytes(b"ab\r\n", len);
        let mut scan = 0;
        let mut at = 0;
        let mut result = None;
        while at < input.len() && result.is_none() {
            at = (at + 1 + rng.below(6)).min(input.len());
            result = Framing::Delimiter(delim).next_frame(&input[..at], &mut scan, None);
            if result.is_none() {
                // Nothing before `scan` starts a delimiter.
                assert!(naive_find(&input[..at], delim).is_none());
                assert!(scan <= at);
            }
        }
        let expected = naive_find(&input[..at], delim);
        assert_eq!(result.map(|f| f.data.end), expected, "{input:?} {delim:?}");
    }
}

#[test]
fn empty_delimiter_yields_nothing() {
    let rule = Framing::Delimiter(b"");
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"abc", &mut scan, None), None);
    assert!(whole(rule, b"abc").is_empty());
}

// ---------------------------------------------------------------- Search

#[test]
fn search_strips_the_match() {
    let re = regex(r"\s\s+");
    let rule = Framing::Search(&re);
    let mut scan = 0;
    assert_eq!(
        rule.next_frame(b"This is  a test.  ", &mut scan, None),
        Some(Frame {
            data: 0..7,
            consumed: 9
        })
    );
    assert_eq!(
        assert_cut_invariant(rule, b"This is  a test.  "),
        v(&[b"This is", b"a test."])
    );
    // A lone space is no separator.
    assert!(assert_cut_invariant(rule, b"no doubled spaces").is_empty());
}

#[test]
fn search_crlf_or_lf() {
    let re = regex(r"\r?\n");
    let rule = Framing::Search(&re);
    assert_eq!(
        assert_cut_invariant(rule, b"a\r\nb\nc\r\r\n\nd"),
        v(&[b"a", b"b", b"c\r", b""])
    );
}

#[test]
fn search_that_can_match_empty_never_makes_an_empty_consumed_frame() {
    let re = regex(r"\s*");
    let rule = Framing::Search(&re);
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"abc", &mut scan, None), None);
    assert_eq!(rule.next_frame(b"", &mut scan, None), None);
    assert_eq!(
        rule.next_frame(b"ab  cd", &mut scan, None),
        Some(Frame {
            data: 0..2,
            consumed: 4
        })
    );
    assert_eq!(whole(rule, b"ab  cd"), v(&[b"ab"]));
    assert_eq!(byte_by_byte(rule, b"ab cd ef"), v(&[b"ab", b"cd"]));

    // A regex that only ever matches empty never makes a frame (and the
    // harness does not loop).
    for pattern in ["", "x*", "(?:)", r"\b"] {
        let re = regex(pattern);
        let rule = Framing::Search(&re);
        for input in [&b""[..], b"abc", b"x y"] {
            let mut scan = 0;
            if let Some(frame) = rule.next_frame(input, &mut scan, None) {
                assert!(frame.consumed > 0, "{pattern:?} on {input:?}");
            }
        }
        assert!(byte_by_byte(rule, b"abc").is_empty(), "{pattern:?}");
    }
    let re = regex("x*");
    assert_eq!(whole(Framing::Search(&re), b"abxxcx"), v(&[b"ab", b"c"]));
}

// ---------------------------------------------------------------- Match

#[test]
fn match_takes_the_anchored_match_with_captures() {
    let re = anchored(r"(\w+)=(\d+);");
    let rule = Framing::Match(&re);
    let mut locs = re.capture_locations();
    let mut scan = 0;
    assert_eq!(
        rule.next_frame(b"key=42;rest", &mut scan, Some(&mut locs)),
        Some(Frame {
            data: 0..7,
            consumed: 7
        })
    );
    assert_eq!(locs.get(0), Some((0, 7)));
    assert_eq!(locs.get(1), Some((0, 3)));
    assert_eq!(locs.get(2), Some((4, 6)));
    // The same frame without capture locations.
    assert_eq!(
        rule.next_frame(b"key=42;rest", &mut scan, None),
        Some(Frame {
            data: 0..7,
            consumed: 7
        })
    );
    // Incomplete: no frame yet.
    assert_eq!(rule.next_frame(b"key=42", &mut scan, Some(&mut locs)), None);
    assert_eq!(
        assert_cut_invariant(rule, b"a=1;bb=22;ccc=333;dd"),
        v(&[b"a=1;", b"bb=22;", b"ccc=333;"])
    );
}

#[test]
fn match_optional_group_captures() {
    let re = anchored(r"(GET|PUT)(?: (\S+))?\n");
    let rule = Framing::Match(&re);
    let mut locs = re.capture_locations();
    let mut scan = 0;
    let input = b"GET\nPUT /x\n";
    assert_eq!(
        rule.next_frame(input, &mut scan, Some(&mut locs)),
        Some(Frame {
            data: 0..4,
            consumed: 4
        })
    );
    assert_eq!(locs.get(1), Some((0, 3)));
    assert_eq!(locs.get(2), None);
    assert_eq!(
        rule.next_frame(&input[4..], &mut scan, Some(&mut locs)),
        Some(Frame {
            data: 0..7,
            consumed: 7
        })
    );
    assert_eq!(locs.get(2), Some((4, 6)));
}

#[test]
fn match_must_start_at_the_first_byte() {
    // Anchored: garbage in front means no frame, ever.
    let re = anchored(r"\d+;");
    let rule = Framing::Match(&re);
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"x12;", &mut scan, None), None);
    // Even a regex that was not anchored only makes a frame at offset 0.
    let re = regex(r"(\d+);");
    let rule = Framing::Match(&re);
    let mut locs = re.capture_locations();
    assert_eq!(rule.next_frame(b"ab12;", &mut scan, Some(&mut locs)), None);
    assert_eq!(rule.next_frame(b"ab12;", &mut scan, None), None);
    assert_eq!(
        rule.next_frame(b"12;", &mut scan, None),
        Some(Frame {
            data: 0..3,
            consumed: 3
        })
    );
}

#[test]
fn match_that_can_match_empty_never_makes_an_empty_frame() {
    let re = anchored("a*");
    let rule = Framing::Match(&re);
    let mut locs = re.capture_locations();
    let mut scan = 0;
    assert_eq!(rule.next_frame(b"bbb", &mut scan, Some(&mut locs)), None);
    assert_eq!(rule.next_frame(b"bbb", &mut scan, None), None);
    assert_eq!(rule.next_frame(b"", &mut scan, None), None);
    assert_eq!(
        rule.next_frame(b"aab", &mut scan, None),
        Some(Frame {
            data: 0..2,
            consumed: 2
        })
    );
    // The harness stops at the 'b' instead of looping on empty matches.
    assert_eq!(whole(rule, b"aabaa"), v(&[b"aa"]));
    assert!(byte_by_byte(Framing::Match(&anchored("")), b"abc").is_empty());
}

// ---------------------------------------------------------------- all kinds

#[test]
fn empty_input_makes_no_frame() {
    let search = regex(r"\n");
    let matcher = anchored(r"\n");
    let rules = [
        Framing::Any,
        Framing::Bytes(1),
        Framing::Bytes(0),
        Framing::Delimiter(b"\n"),
        Framing::Delimiter(b"\r\n\r\n"),
        Framing::Search(&search),
        Framing::Match(&matcher),
    ];
    for rule in rules {
        let mut scan = 0;
        assert_eq!(rule.next_frame(b"", &mut scan, None), None, "{rule:?}");
        assert_eq!(scan, 0, "{rule:?}");
        assert!(whole(rule, b"").is_empty(), "{rule:?}");
        assert!(fuzz_split(rule, b"", &[0, 0, 5]).is_empty(), "{rule:?}");
    }
}

#[test]
fn min_buffer_per_rule() {
    let re = regex("x");
    assert_eq!(Framing::Any.min_buffer(), 0);
    assert_eq!(Framing::Bytes(0).min_buffer(), 0);
    assert_eq!(Framing::Bytes(100_000).min_buffer(), 100_000);
    assert_eq!(Framing::Delimiter(b"\n").min_buffer(), 1);
    assert_eq!(Framing::Delimiter(b"\r\n").min_buffer(), 2);
    assert_eq!(Framing::Delimiter(b"\r\n\r\n").min_buffer(), 4);
    assert_eq!(Framing::Search(&re).min_buffer(), 0);
    assert_eq!(Framing::Match(&re).min_buffer(), 0);
}

#[test]
fn partial_at_eof_only_for_delimited_rules() {
    let re = regex("x");
    assert!(!Framing::Any.delivers_partial_at_eof());
    assert!(!Framing::Bytes(4).delivers_partial_at_eof());
    assert!(Framing::Delimiter(b"\n").delivers_partial_at_eof());
    assert!(Framing::Search(&re).delivers_partial_at_eof());
    assert!(!Framing::Match(&re).delivers_partial_at_eof());
}

#[test]
fn fuzz_split_ignores_out_of_range_and_repeated_cuts() {
    let rule = Framing::Delimiter(b"\r\n");
    let input = b"a\r\nb\r\nc";
    let expected = whole(rule, input);
    assert_eq!(fuzz_split(rule, input, &[100, 3, 3, 0, 7, 8]), expected);
}

// ---------------------------------------------------------------- fuzz

#[test]
fn fuzz_delimiter_against_naive() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let fixed: [&[u8]; 8] = [
        b"\n",
        b"\r\n",
        b"\r\n\r\n",
        b"aab",
        b"aaa",
        b"abab",
        b"a",
        b"ba",
    ];
    for round in 0..4000 {
        let random;
        let delim: &[u8] = if round % 3 == 0 {
            let len = 1 + rng.below(4);
            random = rng.bytes(b"ab\r\n", len);
            &random
        } else {
            fixed[rng.below(fixed.len())]
        };
        let len = rng.below(64);
        let input = rng.bytes(b"ab\r\n", len);
        let rule = Framing::Delimiter(delim);
        let expected = naive_delimited(&input, delim);
        assert_eq!(whole(rule, &input), expected, "{input:?} {delim:?}");
        let cuts = rng.cuts(input.len());
        assert_eq!(
            fuzz_split(rule, &input, &cuts),
            expected,
            "{input:?} {delim:?} cuts {cuts:?}"
        );
        assert_eq!(byte_by_byte(rule, &input), expected, "{input:?} {delim:?}");
    }
}

#[test]
fn fuzz_bytes_against_chunks() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    for _ in 0..2000 {
        let n = 1 + rng.below(8);
        let len = rng.below(50);
        let input = rng.bytes(b"abc\n", len);
        let expected: Vec<Vec<u8>> = input.chunks_exact(n).map(<[u8]>::to_vec).collect();
        let rule = Framing::Bytes(n);
        assert_eq!(whole(rule, &input), expected);
        let cuts = rng.cuts(input.len());
        assert_eq!(fuzz_split(rule, &input, &cuts), expected, "cuts {cuts:?}");
        assert_eq!(byte_by_byte(rule, &input), expected);
    }
}

#[test]
fn fuzz_regex_rules_split_vs_unsplit() {
    // Regexes whose matches cannot grow with more input, so the frames must
    // not depend on where the input was cut.
    let search = regex(r"\r?\n");
    let matcher = anchored(r"[ab]*\n");
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    for _ in 0..2000 {
        let len = rng.below(48);
        let input = rng.bytes(b"ab\r\n", len);

        // Search `\r?\n`: split at each '\n', dropping one '\r' before it.
        let lines: Vec<Vec<u8>> = naive_delimited(&input, b"\n")
            .into_iter()
            .map(|mut line| {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                line
            })
            .collect();
        let rule = Framing::Search(&search);
        assert_eq!(whole(rule, &input), lines, "{input:?}");
        let cuts = rng.cuts(input.len());
        assert_eq!(fuzz_split(rule, &input, &cuts), lines, "{input:?} {cuts:?}");
        assert_eq!(byte_by_byte(rule, &input), lines, "{input:?}");

        // Match `[ab]*\n`: whole lines of a/b, stopping at the first other line.
        let mut expected = Vec::new();
        let mut rest = &input[..];
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            if !rest[..at].iter().all(|&b| b == b'a' || b == b'b') {
                break;
            }
            expected.push(rest[..=at].to_vec());
            rest = &rest[at + 1..];
        }
        let rule = Framing::Match(&matcher);
        assert_eq!(whole(rule, &input), expected, "{input:?}");
        assert_eq!(
            fuzz_split(rule, &input, &cuts),
            expected,
            "{input:?} {cuts:?}"
        );
        assert_eq!(byte_by_byte(rule, &input), expected, "{input:?}");
    }
}

// ---------------------------------------------------------------- length prefix

/// `payload` with a big-endian length of `width` bytes in front.
fn prefixed(width: usize, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().to_be_bytes();
    let mut out = len[len.len() - width..].to_vec();
    out.extend_from_slice(payload);
    out
}

#[test]
fn prefix_hands_over_the_payload() {
    for width in [1, 2, 4] {
        let mut input = prefixed(width, b"hello");
        input.extend(prefixed(width, b""));
        input.extend(prefixed(width, b"\r\n\0x"));
        let frames = assert_cut_invariant(Framing::Prefix(width), &input);
        assert_eq!(frames, v(&[b"hello", b"", b"\r\n\0x"]), "width {width}");
    }
}

#[test]
fn prefix_waits_for_header_and_payload() {
    let rule = Framing::Prefix(2);
    let mut scan = 0;
    assert_eq!(rule.next_frame(&[], &mut scan, None), None);
    assert_eq!(rule.next_frame(&[0], &mut scan, None), None);
    assert_eq!(rule.announced(&[0]), None);
    assert_eq!(rule.announced(&[1, 2]), Some(258));
    assert_eq!(rule.next_frame(&[0, 3, b'a', b'b'], &mut scan, None), None);
    assert_eq!(
        rule.next_frame(&[0, 3, b'a', b'b', b'c', b'd'], &mut scan, None),
        Some(Frame {
            data: 2..5,
            consumed: 5
        })
    );
    assert_eq!(rule.min_buffer(), 2);
    assert!(!rule.delivers_partial_at_eof());
}

#[test]
fn prefix_reads_the_full_width_big_endian() {
    let rule = Framing::Prefix(4);
    assert_eq!(rule.announced(&[0, 1, 0, 0]), Some(65_536));
    assert_eq!(rule.announced(&[0xff, 0xff, 0xff, 0xff]), Some(0xffff_ffff));
    assert_eq!(Framing::Prefix(1).announced(&[200, 1]), Some(200));
    assert_eq!(Framing::Delimiter(b"\n").announced(b"abc"), None);
}

#[test]
fn prefix_random_streams_match_a_model() {
    let mut rng = XorShift(0x5eed_0003);
    for _ in 0..500 {
        let width = [1, 2, 4][rng.below(3)];
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..rng.below(6) {
            let len = rng.below(20);
            let payload = rng.bytes(b"ab\r\n\0", len);
            input.extend(prefixed(width, &payload));
            expected.push(payload);
        }
        let rule = Framing::Prefix(width);
        let cuts = rng.cuts(input.len());
        assert_eq!(fuzz_split(rule, &input, &cuts), expected);
        assert_eq!(byte_by_byte(rule, &input), expected);
    }
}
