use super::*;

// ---------------------------------------------------------------- helpers

/// A tiny xorshift64 generator: deterministic, dependency free.
struct XorShift(u64);

impl XorShift {
    fn step(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).expect("usize fits in u64");
        usize::try_from(self.step() % n).expect("below a usize")
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.step().to_le_bytes()[0]).collect()
    }
}

fn queue_of(parts: &[&[u8]]) -> WriteQueue {
    let mut queue = WriteQueue::new();
    queue.extend(parts);
    queue
}

/// A sink that takes everything it is given, into `written`.
fn take_all(written: &mut Vec<u8>) -> impl FnMut(&[u8]) -> io::Result<usize> + '_ {
    |data| {
        written.extend_from_slice(data);
        Ok(data.len())
    }
}

// ---------------------------------------------------------------- queueing

#[test]
fn a_new_queue_is_empty_and_unallocated() {
    let queue = WriteQueue::new();
    assert!(queue.is_empty());
    assert_eq!(queue.len(), 0);
    assert!(queue.pending().is_empty());
    assert_eq!(queue.buf.capacity(), 0);
    assert_eq!(WriteQueue::default().len(), 0);
}

#[test]
fn extend_queues_parts_back_to_back() {
    let mut queue = WriteQueue::new();
    queue.extend(&[b"ab", b"", b"cd"]);
    assert_eq!(queue.pending(), b"abcd");
    assert_eq!(queue.len(), 4);
    assert!(!queue.is_empty());
    queue.extend(&[]);
    queue.extend(&[b""]);
    assert_eq!(queue.pending(), b"abcd");
    queue.extend(&[b"e"]);
    assert_eq!(queue.pending(), b"abcde");
    assert_eq!(queue.len(), 5);
}

#[test]
fn append_with_fills_in_place() {
    let mut queue = queue_of(&[b"head:"]);
    queue.append_with(3, |buf| {
        assert_eq!(buf, [0, 0, 0], "the space comes zeroed");
        buf.copy_from_slice(b"xyz");
    });
    assert_eq!(queue.pending(), b"head:xyz");
    queue.append_with(0, |buf| assert!(buf.is_empty()));
    assert_eq!(queue.len(), 8);
    // After a partial write, the fill still lands at the end.
    queue.consume(5);
    queue.append_with(2, |buf| buf.copy_from_slice(b"!!"));
    assert_eq!(queue.pending(), b"xyz!!");
    assert_eq!(queue.len(), 5);
}

#[test]
fn consume_moves_the_write_offset() {
    let mut queue = queue_of(&[b"abcdef"]);
    queue.consume(0);
    assert_eq!(queue.pending(), b"abcdef");
    queue.consume(2);
    assert_eq!(queue.pending(), b"cdef");
    assert_eq!(queue.len(), 4);
    queue.extend(&[b"gh"]);
    assert_eq!(queue.pending(), b"cdefgh");
    assert_eq!(queue.len(), 6);
    queue.consume(5);
    assert_eq!(queue.pending(), b"h");
    assert_eq!(queue.len(), 1);
}

#[test]
fn consuming_everything_resets_the_queue() {
    let mut queue = queue_of(&[b"abc", b"def"]);
    let capacity = queue.buf.capacity();
    queue.consume(2);
    queue.consume(4);
    assert!(queue.is_empty());
    assert_eq!(queue.len(), 0);
    assert!(queue.pending().is_empty());
    assert_eq!((queue.off, queue.buf.len()), (0, 0), "reset to the start");
    assert_eq!(queue.buf.capacity(), capacity, "a small buffer is kept");
    // Consuming more than is queued stops at the end.
    queue.extend(&[b"xy"]);
    queue.consume(100);
    assert!(queue.is_empty());
    assert_eq!((queue.off, queue.buf.len()), (0, 0));
    queue.consume(1);
    assert!(queue.is_empty());
    // And the queue is as good as new.
    queue.extend(&[b"again"]);
    assert_eq!(queue.pending(), b"again");
}

#[test]
fn clear_discards_and_frees() {
    let mut queue = queue_of(&[b"abcdef"]);
    queue.consume(2);
    queue.clear();
    assert!(queue.is_empty());
    assert_eq!(queue.len(), 0);
    assert_eq!(queue.buf.capacity(), 0);
    queue.extend(&[b"z"]);
    assert_eq!(queue.pending(), b"z");
}

// ---------------------------------------------------------------- capacity

#[test]
fn a_drained_large_queue_frees_its_buffer() {
    let big = vec![7u8; 1 << 20];
    let mut queue = queue_of(&[&big]);
    let mut written = Vec::new();
    assert!(queue.drain_into(take_all(&mut written)).unwrap());
    assert_eq!(written, big);
    assert!(queue.is_empty());
    assert_eq!(queue.buf.capacity(), 0);

    // The same through consume, in pieces.
    let mut queue = queue_of(&[&big]);
    while !queue.is_empty() {
        queue.consume(100_000);
    }
    assert_eq!(queue.buf.capacity(), 0);
}

#[test]
fn a_drained_small_queue_keeps_its_capacity() {
    for len in [1, 100, 4096, KEEP_CAPACITY - 1] {
        let mut queue = queue_of(&[&vec![1u8; len]]);
        let capacity = queue.buf.capacity();
        assert!(capacity <= KEEP_CAPACITY, "{len}: capacity {capacity}");
        let mut written = Vec::new();
        assert!(queue.drain_into(take_all(&mut written)).unwrap(), "{len}");
        assert_eq!(written.len(), len);
        assert_eq!(queue.buf.capacity(), capacity, "{len}: capacity kept");
    }
}

#[test]
fn capacity_after_a_drain_is_at_most_64_kib() {
    let mut rng = XorShift(0x5eed_0101);
    let mut queue = WriteQueue::new();
    for round in 0..200 {
        let parts: Vec<Vec<u8>> = (0..rng.below(4))
            .map(|_| {
                let len = rng.below(40_000);
                rng.bytes(len)
            })
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        queue.extend(&refs);
        let mut written = Vec::new();
        assert!(queue.drain_into(take_all(&mut written)).unwrap());
        assert_eq!(written, parts.concat(), "round {round}");
        let capacity = queue.buf.capacity();
        assert!(
            capacity <= KEEP_CAPACITY,
            "round {round}: capacity {capacity}"
        );
    }
}

// ---------------------------------------------------------------- drain_into

#[test]
fn draining_an_empty_queue_writes_nothing() {
    let mut queue = WriteQueue::new();
    let mut calls = 0;
    let done = queue.drain_into(|_| {
        calls += 1;
        Ok(1)
    });
    assert!(done.unwrap());
    assert_eq!(calls, 0);
}

#[test]
fn a_sink_taking_nothing_is_write_zero() {
    let mut queue = queue_of(&[b"abc"]);
    let err = queue.drain_into(|_| Ok(0)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    assert_eq!(queue.pending(), b"abc", "nothing was written");

    // After a partial write too.
    let mut first = true;
    let err = queue
        .drain_into(|_| {
            let n = usize::from(first);
            first = false;
            Ok(n)
        })
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    assert_eq!(queue.pending(), b"bc");
}

#[test]
fn would_block_stops_and_keeps_the_rest() {
    let mut queue = queue_of(&[b"abcdef"]);
    let mut calls = 0;
    let done = queue.drain_into(|_| {
        calls += 1;
        if calls == 1 {
            Ok(2)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    });
    assert!(!done.unwrap());
    assert_eq!(calls, 2);
    assert_eq!(queue.pending(), b"cdef");
}

#[test]
fn interrupted_is_retried() {
    let mut queue = queue_of(&[b"abcdef"]);
    let mut written = Vec::new();
    let mut interrupts = 0;
    let done = queue.drain_into(|data| {
        if interrupts < 3 {
            interrupts += 1;
            return Err(io::ErrorKind::Interrupted.into());
        }
        written.extend_from_slice(data);
        Ok(data.len())
    });
    assert!(done.unwrap());
    assert_eq!(interrupts, 3);
    assert_eq!(written, b"abcdef");
    assert!(queue.is_empty());
}

#[test]
fn other_errors_are_returned_and_keep_the_queue() {
    let mut queue = queue_of(&[b"abcdef"]);
    let mut calls = 0;
    let err = queue
        .drain_into(|_| {
            calls += 1;
            if calls == 1 {
                Ok(1)
            } else {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        })
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(queue.pending(), b"bcdef");
}

/// What the random sink did on one call.
enum Act {
    Take(usize),
    WouldBlock,
    Interrupted,
}

#[test]
fn drain_into_writes_everything_queued_in_order() {
    let mut rng = XorShift(0x5eed_0102);
    for case in 0..300 {
        let mut queue = WriteQueue::new();
        let mut queued: Vec<u8> = Vec::new();
        let mut written: Vec<u8> = Vec::new();
        for op in 0..40 {
            let ctx = format!("case {case} op {op}");
            match rng.below(4) {
                0 => {
                    let parts: Vec<Vec<u8>> = (0..rng.below(4))
                        .map(|_| {
                            let len = rng.below(300);
                            rng.bytes(len)
                        })
                        .collect();
                    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                    queue.extend(&refs);
                    queued.extend(parts.concat());
                }
                1 => {
                    let len = rng.below(300);
                    let fill = rng.bytes(len);
                    queue.append_with(len, |buf| buf.copy_from_slice(&fill));
                    queued.extend(fill);
                }
                _ => {
                    let mut blocked = false;
                    let done = queue.drain_into(|data| {
                        assert!(!data.is_empty(), "{ctx}: offered nothing");
                        let act = match rng.below(8) {
                            0 => Act::WouldBlock,
                            1 => Act::Interrupted,
                            _ => Act::Take(1 + rng.below(data.len().min(200))),
                        };
                        match act {
                            Act::Take(n) => {
                                written.extend_from_slice(&data[..n]);
                                Ok(n)
                            }
                            Act::WouldBlock => {
                                blocked = true;
                                Err(io::ErrorKind::WouldBlock.into())
                            }
                            Act::Interrupted => Err(io::ErrorKind::Interrupted.into()),
                        }
                    });
                    let done = done.unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    assert_eq!(done, !blocked, "{ctx}: done only when not blocked");
                    if done {
                        assert!(queue.is_empty(), "{ctx}");
                    }
                }
            }
            // The model: what was written, then what is pending, is
            // everything queued.
            assert_eq!(written, queued[..written.len()], "{ctx}: written");
            assert_eq!(queue.pending(), &queued[written.len()..], "{ctx}: pending");
            assert_eq!(queue.len(), queued.len() - written.len(), "{ctx}: len");
            assert_eq!(
                queue.is_empty(),
                queued.len() == written.len(),
                "{ctx}: is_empty"
            );
        }
        // Finally drain it all.
        assert!(queue.drain_into(take_all(&mut written)).unwrap());
        assert_eq!(written, queued, "case {case}: everything, in order");
    }
}

// ---------------------------------------------------------------- limits

#[test]
fn default_limits_are_64k_16k_4m_close() {
    let limits = WriteLimits::DEFAULT;
    assert_eq!(limits.high, 64 * 1024);
    assert_eq!(limits.low, 16 * 1024);
    assert_eq!(limits.max, 4 * 1024 * 1024);
    assert_eq!(limits.past_max, PastMax::Close);
    assert_eq!(WriteLimits::default(), WriteLimits::DEFAULT);
    assert_eq!(PastMax::default(), PastMax::Close);
    assert_eq!(limits.normalized(), limits, "the defaults are consistent");
}

#[test]
fn normalized_keeps_low_high_max_in_order() {
    let values = [0, 1, 2, 100, 16 * 1024, 64 * 1024, 4 << 20, usize::MAX];
    let mut rng = XorShift(0x5eed_0103);
    for case in 0..1000 {
        let mut pick = || {
            if rng.below(2) == 0 {
                values[rng.below(values.len())]
            } else {
                rng.below(1000)
            }
        };
        let limits = WriteLimits {
            high: pick(),
            low: pick(),
            max: pick(),
            past_max: if case % 2 == 0 {
                PastMax::Close
            } else {
                PastMax::Refuse
            },
        };
        let n = limits.normalized();
        let ctx = format!("case {case}: {limits:?} -> {n:?}");
        assert!(n.max >= 1, "{ctx}");
        assert!(n.low <= n.high && n.high <= n.max, "{ctx}");
        assert_eq!(n.past_max, limits.past_max, "{ctx}");
        assert_eq!(n.normalized(), n, "{ctx}: idempotent");
        // Only lowered (max only raised from 0 to 1), never moved further.
        assert_eq!(n.max, limits.max.max(1), "{ctx}");
        assert_eq!(n.high, limits.high.min(n.max), "{ctx}");
        assert_eq!(n.low, limits.low.min(n.high), "{ctx}");
        if limits.low <= limits.high && limits.high <= limits.max && limits.max >= 1 {
            assert_eq!(n, limits, "{ctx}: consistent limits are kept");
        }
    }
}

#[test]
fn normalized_edge_cases() {
    let zero = WriteLimits {
        high: 0,
        low: 0,
        max: 0,
        past_max: PastMax::Refuse,
    };
    assert_eq!(
        zero.normalized(),
        WriteLimits {
            high: 0,
            low: 0,
            max: 1,
            past_max: PastMax::Refuse,
        }
    );
    let inverted = WriteLimits {
        high: 10,
        low: 50,
        max: 5,
        past_max: PastMax::Close,
    };
    let n = inverted.normalized();
    assert_eq!((n.low, n.high, n.max), (5, 5, 5));
}

#[test]
fn a_queue_that_never_drains_stays_compact() {
    // A slow reader: 1 MiB stays queued while 100 KiB is written and 100 KiB
    // more queued, 200 times (20 MiB through the queue in all).
    let mut q = WriteQueue::new();
    q.extend(&[&vec![1u8; 1 << 20]]);
    for round in 0..200 {
        q.consume(100 * 1024);
        q.extend(&[&vec![2u8; 100 * 1024]]);
        assert_eq!(q.len(), 1 << 20, "round {round}");
        assert!(
            q.capacity() <= 4 << 20,
            "round {round}: {} bytes allocated for 1 MiB queued",
            q.capacity()
        );
    }
}

#[test]
fn file_parts_go_out_in_order_among_bytes() {
    let file = || std::fs::File::open("/proc/self/stat").expect("a file to name");
    let mut q = WriteQueue::new();
    q.extend(&[b"ab"]);
    q.push_file(file(), 0, 3);
    q.push_file(file(), 0, 0);
    q.extend(&[b"cd"]);
    q.push_file(file(), 0, 2);
    assert_eq!(q.len(), 9);
    assert_eq!(q.memory_len(), 4, "file ranges are not in memory");
    let out = std::cell::RefCell::new(Vec::new());
    let mut sent = Vec::new();
    // A sink taking one byte at a time, a "sendfile" writing F per byte.
    let done = q
        .drain(
            |b| {
                out.borrow_mut().push(b[0]);
                Ok(1)
            },
            |part, max| {
                let n = max.min(2);
                sent.push(n);
                part.offset += n as u64;
                out.borrow_mut().extend(std::iter::repeat_n(b'F', n));
                Ok(n)
            },
        )
        .expect("drain");
    assert!(done && q.is_empty());
    assert_eq!(out.into_inner(), b"abFFFcdFF");
    assert_eq!(sent, [2, 1, 2]);
}

#[test]
fn a_file_that_ends_early_is_an_error() {
    let mut q = WriteQueue::new();
    q.push_file(std::fs::File::open("/proc/self/stat").expect("file"), 0, 10);
    let err = q.drain(|b| Ok(b.len()), |_, _| Ok(0)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}
