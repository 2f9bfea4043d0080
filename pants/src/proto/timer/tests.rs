use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Checks the queue's internal bookkeeping against its slots.
fn check_invariants<T>(q: &TimerQueue<T>) {
    let queued = q.slots.iter().filter(|s| s.live && s.queued).count();
    assert_eq!(q.live_timed, queued, "live_timed out of step");
    for &slot in &q.free {
        let s = &q.slots[slot as usize];
        assert!(!s.live && s.payload.is_none(), "free slot {slot} in use");
    }
    let mut free = q.free.clone();
    free.sort_unstable();
    free.dedup();
    assert_eq!(free.len(), q.free.len(), "a slot is free twice");
}

/// Runs one due timer the way the engine does: check out, then hand back.
fn run<T>(q: &mut TimerQueue<T>, id: TimerId, now: Instant) -> Option<T>
where
    T: Clone,
{
    let payload = q.start(id)?;
    q.finish(id, payload.clone(), now);
    Some(payload)
}

/// Pops and runs everything due at `now`, returning the payloads in order.
fn run_due<T: Clone>(q: &mut TimerQueue<T>, now: Instant) -> Vec<T> {
    let mut ran = Vec::new();
    while let Some(id) = q.pop_expired(now) {
        ran.extend(run(q, id, now));
    }
    ran
}

// ---------------------------------------------------------------- ordering

#[test]
fn fifo_for_equal_deadlines() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let ids: Vec<TimerId> = (0..20)
        .map(|i| q.insert(Kind::After(ms(5)), i, now))
        .collect();
    for &id in &ids {
        assert_eq!(q.pop_expired(now + ms(5)), Some(id));
    }
    assert_eq!(q.pop_expired(now + ms(5)), None);
    // Mixed kinds landing on the same instant also run in insert order.
    let a = q.insert(Kind::After(ms(10)), 100, now);
    let b = q.insert(Kind::Every(ms(10)), 101, now);
    let c = q.insert(Kind::After(ms(10)), 102, now);
    assert_eq!(q.pop_expired(now + ms(10)), Some(a));
    assert_eq!(q.pop_expired(now + ms(10)), Some(b));
    assert_eq!(q.pop_expired(now + ms(10)), Some(c));
}

#[test]
fn earliest_deadline_first_and_due_at_the_deadline() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    q.insert(Kind::After(ms(30)), 'c', now);
    q.insert(Kind::After(ms(10)), 'a', now);
    q.insert(Kind::After(ms(20)), 'b', now);
    assert_eq!(q.next_deadline(), Some(now + ms(10)));
    assert!(run_due(&mut q, now + ms(9)).is_empty());
    // A deadline equal to now is due.
    assert_eq!(run_due(&mut q, now + ms(10)), vec!['a']);
    assert_eq!(run_due(&mut q, now + ms(100)), vec!['b', 'c']);
    assert_eq!(q.next_deadline(), None);
    assert!(q.is_empty());
    check_invariants(&q);
}

#[test]
fn turn_timers_are_not_timed() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::NextTurn, 'a', now);
    let b = q.insert(Kind::EveryTurn, 'b', now);
    assert_eq!(q.next_deadline(), None);
    assert_eq!(q.pop_expired(now + ms(1000)), None);
    assert!(q.has_turn_work());
    assert_eq!(q.take_turn(), vec![a, b]);
    assert!(!q.has_turn_work());
}

// ---------------------------------------------------------------- cancel

#[test]
fn cancel_removes_exactly_that_timer() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::After(Duration::from_secs(1)), 'a', now);
    let b = q.insert(Kind::After(Duration::from_secs(1)), 'b', now);
    assert!(q.cancel(b));
    let due = q.pop_expired(now + Duration::from_secs(2)).unwrap();
    assert_eq!(due, a);
    assert_eq!(q.pop_expired(now + Duration::from_secs(2)), None);
}

#[test]
fn cancel_among_equal_deadlines_keeps_the_others() {
    // The Python original removed the first timer with an equal deadline,
    // not the one asked for. Cancel each position in turn.
    let now = Instant::now();
    for victim in 0..4 {
        let mut q = TimerQueue::new();
        let ids: Vec<TimerId> = (0..4)
            .map(|i| q.insert(Kind::After(ms(7)), i, now))
            .collect();
        assert!(q.cancel(ids[victim]));
        assert!(!q.is_scheduled(ids[victim]));
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(q.is_scheduled(id), i != victim);
        }
        let ran = run_due(&mut q, now + ms(7));
        let expected: Vec<usize> = (0..4).filter(|&i| i != victim).collect();
        assert_eq!(ran, expected);
        check_invariants(&q);
    }
}

#[test]
fn cancel_of_a_finished_or_cancelled_timer_is_false_and_harmless() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::After(ms(1)), 'a', now);
    assert_eq!(run_due(&mut q, now + ms(1)), vec!['a']);
    assert!(!q.cancel(a));

    // The slot is reused; the stale handle must not reach the new timer.
    let b = q.insert(Kind::After(ms(1)), 'b', now);
    assert_eq!(b.slot, a.slot, "slot reused");
    assert!(!q.cancel(a));
    assert!(!q.is_scheduled(a));
    assert!(q.is_scheduled(b));
    assert_eq!(q.len(), 1);

    // Cancelling twice: only the first counts.
    assert!(q.cancel(b));
    assert!(!q.cancel(b));
    let c = q.insert(Kind::NextTurn, 'c', now);
    assert!(!q.cancel(b));
    assert!(q.is_scheduled(c));
    assert_eq!(q.take_turn(), vec![c]);
    assert_eq!(run(&mut q, c, now), Some('c'));
    assert!(!q.cancel(c));
    assert!(q.is_empty());
    check_invariants(&q);
}

#[test]
fn cancelled_turn_timer_in_a_reused_slot_is_skipped() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::NextTurn, 'a', now);
    assert!(q.cancel(a));
    let b = q.insert(Kind::NextTurn, 'b', now);
    assert_eq!(a.slot, b.slot);
    let turn = q.take_turn();
    assert_eq!(turn, vec![a, b]);
    // The stale id runs nothing; the new one runs once.
    assert_eq!(q.start(a), None);
    assert_eq!(run(&mut q, b, now), Some('b'));
    assert!(q.is_empty());
    check_invariants(&q);
}

#[test]
fn cancel_after_pop_before_start() {
    // The engine pops a timer, then runs another that cancels it.
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::After(ms(1)), 'a', now);
    let b = q.insert(Kind::Every(ms(1)), 'b', now);
    assert_eq!(q.pop_expired(now + ms(1)), Some(a));
    assert_eq!(q.pop_expired(now + ms(1)), Some(b));
    assert!(q.cancel(b));
    assert_eq!(run(&mut q, a, now + ms(1)), Some('a'));
    assert_eq!(q.start(b), None);
    assert!(q.is_empty());
    assert_eq!(q.next_deadline(), None);
    check_invariants(&q);
}

#[test]
fn next_deadline_skips_cancelled_entries() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::After(ms(1)), 'a', now);
    let b = q.insert(Kind::After(ms(2)), 'b', now);
    let c = q.insert(Kind::Every(ms(3)), 'c', now);
    assert_eq!(q.next_deadline(), Some(now + ms(1)));
    assert!(q.cancel(a));
    assert_eq!(q.next_deadline(), Some(now + ms(2)));
    assert!(q.cancel(b));
    assert_eq!(q.next_deadline(), Some(now + ms(3)));
    assert!(q.cancel(c));
    assert_eq!(q.next_deadline(), None);
    assert_eq!(q.pop_expired(now + ms(100)), None);
    check_invariants(&q);
}

// ---------------------------------------------------------------- running

#[test]
fn every_turn_cancelled_while_running_is_not_requeued() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let id = q.insert(Kind::EveryTurn, 'x', now);
    // Runs turn after turn while not cancelled.
    for _ in 0..3 {
        assert_eq!(q.take_turn(), vec![id]);
        assert_eq!(run(&mut q, id, now), Some('x'));
        assert!(q.is_scheduled(id));
    }
    assert_eq!(q.take_turn(), vec![id]);
    let payload = q.start(id).unwrap();
    assert!(q.is_scheduled(id), "running counts as scheduled");
    assert!(q.cancel(id), "cancel from inside its own callback");
    assert!(!q.cancel(id));
    q.finish(id, payload, now);
    assert!(!q.has_turn_work());
    assert!(q.take_turn().is_empty());
    assert!(!q.is_scheduled(id));
    assert!(q.is_empty());
    // The slot is free again and the old handle is dead.
    let next = q.insert(Kind::EveryTurn, 'y', now);
    assert_eq!(next.slot, id.slot);
    assert!(!q.cancel(id));
    assert!(q.is_scheduled(next));
    check_invariants(&q);
}

#[test]
fn every_cancelled_while_running_is_not_requeued() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let id = q.insert(Kind::Every(ms(10)), 'x', now);
    assert_eq!(run_due(&mut q, now + ms(10)), vec!['x']);
    assert_eq!(q.next_deadline(), Some(now + ms(20)));
    assert_eq!(q.pop_expired(now + ms(20)), Some(id));
    let payload = q.start(id).unwrap();
    assert!(q.cancel(id));
    q.finish(id, payload, now + ms(21));
    assert_eq!(q.next_deadline(), None);
    assert_eq!(q.pop_expired(now + ms(1000)), None);
    assert!(!q.is_scheduled(id));
    assert!(q.is_empty());
    assert_eq!(q.free, vec![id.slot]);
    check_invariants(&q);
}

#[test]
fn one_shot_timers_are_released_after_finish() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::After(ms(1)), 'a', now);
    let b = q.insert(Kind::NextTurn, 'b', now);
    assert_eq!(q.len(), 2);
    assert_eq!(q.take_turn(), vec![b]);
    let payload = q.start(b).unwrap();
    assert_eq!(q.start(b), None, "checked out once");
    assert_eq!(q.len(), 2, "a running timer is still live");
    q.finish(b, payload, now);
    assert!(!q.is_scheduled(b));
    assert!(!q.has_turn_work(), "a one-shot is not re-queued");
    assert_eq!(run_due(&mut q, now + ms(1)), vec!['a']);
    assert!(!q.is_scheduled(a));
    assert!(q.is_empty());
    assert_eq!(q.next_deadline(), None);
    // Both slots are free and reused rather than grown.
    assert_eq!(q.free.len(), 2);
    q.insert(Kind::After(ms(1)), 'c', now);
    q.insert(Kind::NextTurn, 'd', now);
    assert_eq!(q.slots.len(), 2);
    check_invariants(&q);
}

#[test]
fn one_shot_cancelled_while_running_is_released_once() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let id = q.insert(Kind::After(ms(1)), 'a', now);
    assert_eq!(q.pop_expired(now + ms(1)), Some(id));
    let payload = q.start(id).unwrap();
    assert!(q.cancel(id));
    q.finish(id, payload, now + ms(1));
    assert!(q.is_empty());
    assert_eq!(q.free, vec![id.slot]);
    // A late second finish with the stale id must not free the slot again.
    let other = q.insert(Kind::After(ms(1)), 'b', now);
    q.finish(id, 'z', now);
    assert!(q.is_scheduled(other));
    assert!(q.free.is_empty());
    check_invariants(&q);
}

#[test]
fn take_turn_is_a_snapshot() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::NextTurn, 'a', now);
    let every = q.insert(Kind::EveryTurn, 'e', now);
    let turn = q.take_turn();
    assert_eq!(turn, vec![a, every]);
    let mut inserted = None;
    for &id in &turn {
        let payload = q.start(id).unwrap();
        if id == a {
            // Scheduled from inside a callback: waits for the next turn.
            inserted = Some(q.insert(Kind::NextTurn, 'b', now));
        }
        q.finish(id, payload, now);
    }
    let b = inserted.unwrap();
    assert!(q.has_turn_work());
    q.recycle_turn(turn);
    // The recycled vector must not clobber the new turn's work.
    assert_eq!(q.take_turn(), vec![b, every]);
}

#[test]
fn recycle_turn_reuses_the_allocation_when_idle() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let mut turn = Vec::with_capacity(32);
    turn.push(TimerId {
        slot: 7,
        generation: 7,
    });
    q.recycle_turn(turn);
    // The queue was idle: the vector is cleared and kept.
    assert!(!q.has_turn_work());
    let a = q.insert(Kind::NextTurn, 'a', now);
    let turn = q.take_turn();
    assert_eq!(turn, vec![a]);
    assert!(turn.capacity() >= 32);
}

// ---------------------------------------------------------------- Every grid

#[test]
fn every_stays_on_a_fixed_grid() {
    let t0 = Instant::now();
    let mut q = TimerQueue::new();
    let id = q.insert(Kind::Every(ms(10)), (), t0);
    assert_eq!(q.next_deadline(), Some(t0 + ms(10)));

    // Run a little late: the next run is still on the grid (no drift).
    assert_eq!(q.pop_expired(t0 + ms(13)), Some(id));
    q.start(id).unwrap();
    q.finish(id, (), t0 + ms(14));
    assert_eq!(q.next_deadline(), Some(t0 + ms(20)));

    // Finish late by 2.5 intervals past the deadline: skip the missed
    // points, land on the grid strictly after now, no burst.
    assert_eq!(q.pop_expired(t0 + ms(20)), Some(id));
    q.start(id).unwrap();
    let late = t0 + ms(45);
    q.finish(id, (), late);
    assert_eq!(q.next_deadline(), Some(t0 + ms(50)));
    assert_eq!(q.pop_expired(late), None, "no catch-up burst");

    // Finish exactly on a grid point: the next one is strictly after.
    assert_eq!(q.pop_expired(t0 + ms(50)), Some(id));
    q.start(id).unwrap();
    q.finish(id, (), t0 + ms(70));
    assert_eq!(q.next_deadline(), Some(t0 + ms(80)));
    assert_eq!(q.pop_expired(t0 + ms(70)), None);

    // Finish before the deadline (a fast run): the very next point.
    assert_eq!(q.pop_expired(t0 + ms(80)), Some(id));
    q.start(id).unwrap();
    q.finish(id, (), t0 + ms(80));
    assert_eq!(q.next_deadline(), Some(t0 + ms(90)));
    check_invariants(&q);
}

#[test]
fn every_grid_property() {
    let t0 = Instant::now();
    let interval = Duration::from_micros(7_300);
    let mut q = TimerQueue::new();
    let id = q.insert(Kind::Every(interval), (), t0);
    let mut rng = 0x1234_5678_9ABC_DEF1_u64;
    let mut deadline = t0 + interval;
    for _ in 0..500 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let lateness = Duration::from_micros(rng % 40_000);
        let now = deadline + lateness;
        assert_eq!(q.pop_expired(now), Some(id));
        q.start(id).unwrap();
        q.finish(id, (), now);
        let next = q.next_deadline().unwrap();
        assert!(next > now, "next run strictly after now");
        assert!(next <= now + interval, "no point skipped needlessly");
        let offset = next - t0;
        assert_eq!(offset.as_nanos() % interval.as_nanos(), 0, "off the grid");
        assert_eq!(q.pop_expired(now), None);
        deadline = next;
    }
}

// ---------------------------------------------------------------- bulk

#[test]
fn compaction_keeps_the_heap_small_and_correct() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let keep_late = q.insert(Kind::After(Duration::from_secs(100)), u32::MAX, now);
    let keep_early = q.insert(Kind::After(ms(1)), u32::MAX - 1, now);
    for i in 0..100_000_u32 {
        let id = q.insert(Kind::After(ms(u64::from(i % 50) + 2)), i, now);
        assert!(q.cancel(id));
        assert!(q.heap.len() <= 200, "heap grew to {}", q.heap.len());
    }
    assert_eq!(q.slots.len(), 3);
    assert_eq!(q.len(), 2);
    assert!(q.is_scheduled(keep_late) && q.is_scheduled(keep_early));
    assert_eq!(q.next_deadline(), Some(now + ms(1)));
    assert_eq!(
        q.pop_expired(now + Duration::from_secs(50)),
        Some(keep_early)
    );
    assert_eq!(q.pop_expired(now + Duration::from_secs(50)), None);
    assert_eq!(q.next_deadline(), Some(now + Duration::from_secs(100)));
    assert_eq!(
        q.pop_expired(now + Duration::from_secs(100)),
        Some(keep_late)
    );
    check_invariants(&q);
}

#[test]
fn compaction_with_many_live_timers_keeps_order() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let ids: Vec<TimerId> = (0..1000_u64)
        .map(|i| q.insert(Kind::After(ms(1000 - i)), i, now))
        .collect();
    // Cancel every other timer, then churn to force sweeps.
    for id in ids.iter().step_by(2) {
        assert!(q.cancel(*id));
    }
    for i in 0..5000 {
        let id = q.insert(Kind::After(ms(1)), 10_000 + i, now);
        assert!(q.cancel(id));
    }
    assert!(q.heap.len() <= 2 * q.live_timed + 2);
    assert_eq!(q.len(), 500);
    let ran = run_due(&mut q, now + ms(1000));
    let mut expected: Vec<u64> = (0..1000).filter(|i| i % 2 == 1).collect();
    expected.sort_unstable_by_key(|&i| 1000 - i);
    assert_eq!(ran, expected);
    assert!(q.is_empty());
    check_invariants(&q);
}

#[test]
fn is_scheduled_and_len_track_every_kind() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
    let kinds = [
        Kind::NextTurn,
        Kind::EveryTurn,
        Kind::After(ms(5)),
        Kind::Every(ms(5)),
    ];
    let ids: Vec<TimerId> = kinds
        .iter()
        .map(|&kind| q.insert(kind, kind, now))
        .collect();
    assert_eq!(q.len(), 4);
    assert!(!q.is_empty());
    assert!(ids.iter().all(|&id| q.is_scheduled(id)));
    // One turn and one timed round.
    for id in q.take_turn() {
        run(&mut q, id, now);
    }
    run_due(&mut q, now + ms(5));
    // The repeating ones remain.
    assert_eq!(q.len(), 2);
    assert!(!q.is_scheduled(ids[0]));
    assert!(q.is_scheduled(ids[1]));
    assert!(!q.is_scheduled(ids[2]));
    assert!(q.is_scheduled(ids[3]));
    assert!(q.cancel(ids[1]));
    assert!(q.cancel(ids[3]));
    assert!(q.is_empty());
    assert!(format!("{q:?}").starts_with("TimerQueue"));
    check_invariants(&q);
}

#[test]
fn fuzz_timed_against_a_model() {
    // Random inserts (one-shot and repeating), cancels and pops, checked
    // against a plain list ordered by (deadline, scheduling order).
    struct Entry {
        deadline: Instant,
        order: u64,
        payload: u64,
        id: TimerId,
        interval: Option<Duration>,
    }
    let t0 = Instant::now();
    let mut q = TimerQueue::new();
    let mut model: Vec<Entry> = Vec::new();
    let mut dead: Vec<TimerId> = Vec::new();
    let mut rng = 0x0F0F_1E1E_2D2D_3C3C_u64;
    let mut step = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut now = t0;
    let mut order = 0;
    let mut payload = 0;
    for _ in 0..20_000 {
        match step() % 10 {
            0..=4 => {
                let delay = ms(1 + step() % 20);
                let repeating = step() % 4 == 0;
                let kind = if repeating {
                    Kind::Every(delay)
                } else {
                    Kind::After(delay)
                };
                let id = q.insert(kind, payload, now);
                model.push(Entry {
                    deadline: now + delay,
                    order,
                    payload,
                    id,
                    interval: repeating.then_some(delay),
                });
                order += 1;
                payload += 1;
            }
            5..=6 if !model.is_empty() => {
                let i = (step() % model.len() as u64) as usize;
                let entry = model.remove(i);
                assert!(q.cancel(entry.id));
                dead.push(entry.id);
            }
            7 if !dead.is_empty() => {
                let id = dead[(step() % dead.len() as u64) as usize];
                assert!(!q.cancel(id));
                assert!(!q.is_scheduled(id));
            }
            _ => {
                now += ms(step() % 8);
                let mut expected = Vec::new();
                while let Some(i) = (0..model.len())
                    .filter(|&i| model[i].deadline <= now)
                    .min_by_key(|&i| (model[i].deadline, model[i].order))
                {
                    expected.push(model[i].payload);
                    if let Some(interval) = model[i].interval {
                        let entry = &mut model[i];
                        while entry.deadline <= now {
                            entry.deadline += interval;
                        }
                        entry.order = order;
                        order += 1;
                    } else {
                        let entry = model.remove(i);
                        dead.push(entry.id);
                    }
                }
                assert_eq!(run_due(&mut q, now), expected);
            }
        }
        assert_eq!(q.len(), model.len());
        assert_eq!(
            q.next_deadline(),
            model.iter().map(|e| e.deadline).min(),
            "next deadline"
        );
    }
    check_invariants(&q);
}
