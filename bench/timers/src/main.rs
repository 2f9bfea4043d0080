//! timers [N] — the timer benchmark: `pants::timer::TimerQueue` (the sans-IO
//! queue under `Engine::defer` / `Engine::cancel`) with a plain payload and
//! with the boxed closure the engine stores. Each figure is the best of 5 runs; one
//! `RESULT` line per figure: `name=… n=… secs=… ns_per_op=…`.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use pants::timer::{Kind, TimerQueue};

/// Spread of delays: 1 µs .. ~1 s, scattered so the heap is not fed in order.
fn delay(i: usize) -> Duration {
    Duration::from_micros(1 + (i.wrapping_mul(2_654_435_761) % 1_000_000) as u64)
}

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

fn report(name: &str, n: usize, d: Duration) {
    let secs = d.as_secs_f64();
    println!(
        "RESULT name={name} n={n} secs={secs:.4} ns_per_op={:.1}",
        secs * 1e9 / n as f64
    );
}

/// Insert n timers, then cancel them all (the heap holds n entries).
fn queue_bulk(n: usize) -> Duration {
    let mut q: TimerQueue<u64> = TimerQueue::new();
    let now = Instant::now();
    let t = Instant::now();
    let ids: Vec<_> = (0..n).map(|i| q.insert(Kind::After(delay(i)), i as u64, now)).collect();
    for id in ids {
        black_box(q.cancel(id));
    }
    t.elapsed()
}

/// n times: insert one timer and cancel it (a timeout that never fires).
fn queue_each(n: usize) -> Duration {
    let mut q: TimerQueue<u64> = TimerQueue::new();
    let now = Instant::now();
    let t = Instant::now();
    for i in 0..n {
        let id = q.insert(Kind::After(delay(i)), i as u64, now);
        black_box(q.cancel(id));
    }
    t.elapsed()
}

/// Firing: n timers due, popped, checked out and released in deadline order.
fn queue_fire(n: usize) -> Duration {
    let mut q: TimerQueue<u64> = TimerQueue::new();
    let now = Instant::now();
    for i in 0..n {
        q.insert(Kind::After(delay(i)), i as u64, now);
    }
    let later = now + Duration::from_secs(2);
    let t = Instant::now();
    let mut fired = 0;
    while let Some(id) = q.pop_expired(later) {
        if let Some(p) = q.start(id) {
            fired += 1;
            q.finish(id, black_box(p), later);
        }
    }
    assert_eq!(fired, n);
    t.elapsed()
}

/// The engine's payload is a boxed closure: the same with `Box<dyn FnMut()>`
/// (one allocation per insert, as `Engine::defer` makes).
fn boxed_bulk(n: usize) -> Duration {
    let mut q: TimerQueue<Box<dyn FnMut()>> = TimerQueue::new();
    let now = Instant::now();
    let t = Instant::now();
    let ids: Vec<_> = (0..n)
        .map(|i| {
            let f: Box<dyn FnMut()> = Box::new(move || {
                black_box(i);
            });
            q.insert(Kind::After(delay(i)), f, now)
        })
        .collect();
    for id in ids {
        black_box(q.cancel(id));
    }
    t.elapsed()
}

/// Firing boxed closures: pop, check out, call, release.
fn boxed_fire(n: usize) -> Duration {
    let count = Rc::new(Cell::new(0usize));
    let mut q: TimerQueue<Box<dyn FnMut()>> = TimerQueue::new();
    let now = Instant::now();
    for i in 0..n {
        let c = Rc::clone(&count);
        q.insert(Kind::After(delay(i)), Box::new(move || c.set(c.get() + 1)), now);
    }
    let later = now + Duration::from_secs(2);
    let t = Instant::now();
    while let Some(id) = q.pop_expired(later) {
        if let Some(mut f) = q.start(id) {
            f();
            q.finish(id, f, later);
        }
    }
    assert_eq!(count.get(), n);
    t.elapsed()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    report("queue_insert_cancel_bulk", n, best_of(5, || queue_bulk(n)));
    report("queue_insert_cancel_each", n, best_of(5, || queue_each(n)));
    report("queue_fire", n, best_of(5, || queue_fire(n)));
    report("boxed_insert_cancel_bulk", n, best_of(5, || boxed_bulk(n)));
    report("boxed_fire", n, best_of(5, || boxed_fire(n)));
}
