//! Micro-benchmarks of the sans-IO framer, `Framing::next_frame`:
//!
//! * `frames/*`: frames per second for each rule, cutting a buffer of 64-byte
//!   records (a 62-byte payload and a 2-byte terminator, or 64 bytes for
//!   `Bytes`) one frame at a time, as the engine does;
//! * `search/*`: bytes per second of delimiter search over a long input with
//!   no delimiter until its last bytes (one long partial frame), for a
//!   1-byte and a 2-byte delimiter, and for a regex search.
//!
//! `cargo bench -p pants --bench framing` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pants::framing::Framing;
use regex::bytes::Regex;

/// Records in one buffer: enough that the per-buffer setup is noise.
const RECORDS: usize = 1024;
const RECORD: usize = 64;

/// `RECORDS` records of `RECORD` bytes: printable payload, then `end`.
fn records(end: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(RECORDS * RECORD);
    for i in 0..RECORDS {
        for j in 0..RECORD - end.len() {
            input.push(b'a' + ((i * 7 + j) % 26) as u8);
        }
        input.extend_from_slice(end);
    }
    input
}

/// Cuts `input` into frames with `rule`; returns the frame count.
fn cut_all(rule: Framing<'_>, input: &[u8]) -> usize {
    let mut at = 0;
    let mut scan = 0;
    let mut frames = 0;
    while let Some(frame) = rule.next_frame(&input[at..], &mut scan, None) {
        black_box(&input[at..][frame.data]);
        at += frame.consumed;
        scan = 0;
        frames += 1;
    }
    frames
}

fn frames(c: &mut Criterion) {
    let crlf = records(b"\r\n");
    let lf = records(b"\n");
    let search = Regex::new(r"\r\n").expect("regex");
    let matcher = Regex::new(r"\A(?:[a-z]+\r\n)").expect("regex");
    let cases: [(&str, Framing<'_>, &[u8], usize); 6] = [
        ("any", Framing::Any, &crlf, 1),
        ("bytes_64", Framing::Bytes(RECORD), &crlf, RECORDS),
        ("delimiter_lf", Framing::Delimiter(b"\n"), &lf, RECORDS),
        (
            "delimiter_crlf",
            Framing::Delimiter(b"\r\n"),
            &crlf,
            RECORDS,
        ),
        (
            "regex_search_crlf",
            Framing::Search(&search),
            &crlf,
            RECORDS,
        ),
        ("regex_match_line", Framing::Match(&matcher), &crlf, RECORDS),
    ];
    let mut group = c.benchmark_group("frames");
    for (name, rule, input, expected) in cases {
        assert_eq!(cut_all(rule, input), expected, "{name}");
        group.throughput(Throughput::Elements(expected as u64));
        group.bench_function(name, |b| b.iter(|| cut_all(rule, black_box(input))));
    }
    group.finish();
}

fn search(c: &mut Criterion) {
    let mut group = c.benchmark_group("search");
    let search = Regex::new(r"\r\n").expect("regex");
    for len in [4 * 1024, 64 * 1024] {
        let mut input = vec![b'x'; len - 2];
        // Carriage returns without a newline: the worst case for "\r\n".
        for i in (0..input.len()).step_by(97) {
            input[i] = b'\r';
        }
        input.extend_from_slice(b"\r\n");
        let lf_input = {
            let mut v = input.clone();
            v[len - 2] = b'x';
            v[len - 1] = b'\n';
            v
        };
        group.throughput(Throughput::Bytes(len as u64));
        let cases: [(&str, Framing<'_>, &[u8]); 3] = [
            ("delimiter_lf", Framing::Delimiter(b"\n"), &lf_input),
            ("delimiter_crlf", Framing::Delimiter(b"\r\n"), &input),
            ("regex_search_crlf", Framing::Search(&search), &input),
        ];
        for (name, rule, input) in cases {
            group.bench_function(format!("{name}/{len}"), |b| {
                b.iter_batched(
                    || 0,
                    |mut scan| rule.next_frame(black_box(input), &mut scan, None),
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

criterion_group!(benches, frames, search);
criterion_main!(benches);
