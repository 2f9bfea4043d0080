//! Timers on the engine (`callback`, `every_turn`, `defer`, `cycle`) and on
//! streams. Engine timers run on the test thread: each `poll` is one turn.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use pants::TimerId;
use pants::prelude::*;

use crate::util::{self, Shared, connect, expect_bytes, send};

/// Ignores input; the engine type of the engine-timer tests.
#[derive(Default)]
struct Idle;

#[channel]
impl Idle {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn engine() -> Engine<Idle> {
    Engine::new().expect("Engine::new")
}

fn turn(engine: &mut Engine<Idle>) {
    engine.poll(Some(Duration::ZERO)).expect("poll");
}

/// A counter a timer closure can bump.
fn counter() -> (Rc<Cell<u32>>, Rc<Cell<u32>>) {
    let c = Rc::new(Cell::new(0));
    (c.clone(), c)
}

#[test]
fn callback_runs_once_on_the_next_turn() {
    let mut e = engine();
    let (runs, r) = counter();
    e.callback(move |_| r.set(r.get() + 1));
    assert_eq!(runs.get(), 0, "not inside the call that schedules it");
    turn(&mut e);
    assert_eq!(runs.get(), 1);
    for _ in 0..3 {
        turn(&mut e);
    }
    assert_eq!(runs.get(), 1, "a callback runs once");
}

#[test]
fn callback_scheduled_by_a_callback_waits_for_the_following_turn() {
    let mut e = engine();
    let (inner, i) = counter();
    e.callback(move |e| {
        e.callback(move |_| i.set(i.get() + 1));
    });
    turn(&mut e);
    assert_eq!(inner.get(), 0, "not in the turn that scheduled it");
    turn(&mut e);
    assert_eq!(inner.get(), 1);
}

#[test]
fn every_turn_runs_until_cancelled() {
    let mut e = engine();
    let (runs, r) = counter();
    let id = e.every_turn(move |_| r.set(r.get() + 1));
    for _ in 0..5 {
        turn(&mut e);
    }
    assert_eq!(runs.get(), 5);
    assert!(e.cancel(id));
    for _ in 0..3 {
        turn(&mut e);
    }
    assert_eq!(runs.get(), 5, "cancelled");
    assert!(!e.cancel(id), "cancelling twice");
}

#[test]
fn every_turn_can_cancel_itself() {
    let mut e = engine();
    let (runs, r) = counter();
    let me: Rc<Cell<Option<TimerId>>> = Rc::default();
    let cancelled = Rc::new(Cell::new(false));
    let id = e.every_turn({
        let (me, cancelled) = (me.clone(), cancelled.clone());
        move |e| {
            r.set(r.get() + 1);
            if r.get() == 3 {
                cancelled.set(e.cancel(me.get().expect("id stored")));
            }
        }
    });
    me.set(Some(id));
    for _ in 0..10 {
        turn(&mut e);
    }
    assert!(cancelled.get(), "cancel from inside returned true");
    assert_eq!(runs.get(), 3);
    assert!(!e.cancel(id));
}

/// An engine on a manual clock: time moves only when the test says.
fn manual() -> (Engine<Idle>, pants::Clock) {
    let clock = pants::Clock::manual();
    let e = Engine::with_clock(clock.clone()).expect("Engine::with_clock");
    (e, clock)
}

#[test]
fn defer_fires_at_its_delay_not_a_tick_before() {
    let (mut e, clock) = manual();
    let delay = Duration::from_millis(50);
    let (fired, f) = counter();
    e.defer(delay, move |_| f.set(f.get() + 1)).unwrap();
    for _ in 0..49 {
        clock.advance(Duration::from_millis(1));
        turn(&mut e);
        assert_eq!(fired.get(), 0, "fired before its delay");
    }
    clock.advance(Duration::from_micros(999));
    turn(&mut e);
    assert_eq!(fired.get(), 0, "fired 1 µs early");
    clock.advance(Duration::from_micros(1));
    turn(&mut e);
    assert_eq!(fired.get(), 1, "due at exactly the delay");
    clock.advance(Duration::from_secs(10));
    turn(&mut e);
    assert_eq!(fired.get(), 1, "a defer runs once");
}

#[test]
fn defer_counts_from_scheduling_not_from_the_start_of_the_turn() {
    let (mut e, clock) = manual();
    let delay = Duration::from_millis(40);
    let (fired, f) = counter();
    e.callback({
        let clock = clock.clone();
        move |e| {
            // A slow turn: 30 ms pass in the callback before it schedules.
            clock.advance(Duration::from_millis(30));
            e.defer(delay, move |_| f.set(1)).expect("defer");
        }
    });
    turn(&mut e);
    // 40 ms after the turn started is only 10 ms after scheduling.
    clock.advance(Duration::from_millis(10));
    turn(&mut e);
    assert_eq!(fired.get(), 0, "counted from the start of the turn");
    clock.advance(Duration::from_millis(29));
    turn(&mut e);
    assert_eq!(fired.get(), 0);
    clock.advance(Duration::from_millis(1));
    turn(&mut e);
    assert_eq!(fired.get(), 1, "40 ms after scheduling");
}

#[test]
fn cycle_runs_on_a_fixed_grid_and_can_cancel_itself() {
    let (mut e, clock) = manual();
    let interval = Duration::from_millis(15);
    let runs: Shared<Vec<Instant>> = Shared::default();
    let me: Rc<Cell<Option<TimerId>>> = Rc::default();
    let cancelled = Rc::new(Cell::new(false));
    let start = clock.now();
    let id = e
        .cycle(interval, {
            let (runs, me, cancelled) = (runs.clone(), me.clone(), cancelled.clone());
            move |e| {
                runs.borrow_mut().push(e.now());
                if runs.borrow().len() == 4 {
                    cancelled.set(e.cancel(me.get().expect("id stored")));
                }
            }
        })
        .unwrap();
    me.set(Some(id));
    // Runs at 15 and 30 ms; then the loop is late (47 ms): one run, not
    // a burst for the missed tick, and the grid stays (next at 60, not 62).
    for (advance, want) in [(15, 1), (15, 2), (17, 3), (12, 3), (1, 4)] {
        clock.advance(Duration::from_millis(advance));
        turn(&mut e);
        assert_eq!(runs.borrow().len(), want, "after +{advance} ms");
    }
    assert!(cancelled.get(), "cancel from inside returned true");
    assert!(!e.cancel(id), "no longer scheduled");
    let offsets: Vec<Duration> = runs.borrow().iter().map(|t| *t - start).collect();
    assert_eq!(
        offsets,
        [15, 30, 47, 60].map(Duration::from_millis),
        "runs on the grid"
    );
    clock.advance(interval * 5);
    turn(&mut e);
    assert_eq!(runs.borrow().len(), 4, "stays cancelled");
}

#[test]
fn cancelled_defer_and_cycle_never_run() {
    let mut e = engine();
    let (runs, r1) = counter();
    let r2 = runs.clone();
    let d = e
        .defer(Duration::from_millis(5), move |_| r1.set(r1.get() + 1))
        .unwrap();
    let c = e
        .cycle(Duration::from_millis(5), move |_| r2.set(r2.get() + 1))
        .unwrap();
    assert!(e.cancel(d));
    assert!(e.cancel(c));
    let (sentinel, s) = counter();
    e.defer(Duration::from_millis(30), move |_| s.set(1))
        .unwrap();
    util::pump(&mut e, "the sentinel", || sentinel.get() == 1);
    assert_eq!(runs.get(), 0);
}

#[test]
fn zero_delay_is_invalid_on_the_engine() {
    let mut e = engine();
    assert!(matches!(
        e.defer(Duration::ZERO, |_| {}),
        Err(pants::Error::InvalidDelay)
    ));
    assert!(matches!(
        e.cycle(Duration::ZERO, |_| {}),
        Err(pants::Error::InvalidDelay)
    ));
    assert_eq!(
        pants::Error::InvalidDelay.to_string(),
        "timer delay must be greater than zero"
    );
}

/// Tries zero delays from a handler and reports what came back.
struct ZeroDelay {
    results: Shared<Vec<String>>,
}

#[channel]
impl ZeroDelay {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        let defer = s.defer(Duration::ZERO, |_, _| {});
        let cycle = s.cycle(Duration::ZERO, |_, _| {});
        let mut results = self.results.borrow_mut();
        results.push(format!("defer: {:?}", defer.map(|_| ())));
        results.push(format!("cycle: {:?}", cycle.map(|_| ())));
    }

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[test]
fn zero_delay_is_invalid_on_a_stream() {
    let results = Shared::default();
    let mut e = Engine::<ZeroDelay>::new().unwrap();
    let id = e
        .listen_with("127.0.0.1:0", {
            let results = results.clone();
            move |_| {
                Some(ZeroDelay {
                    results: results.clone(),
                })
            }
        })
        .unwrap();
    let _c = connect(util::server_addr(&mut e, id));
    util::pump(&mut e, "the connection", || !results.borrow().is_empty());
    assert_eq!(
        *results.borrow(),
        ["defer: Err(InvalidDelay)", "cycle: Err(InvalidDelay)"]
    );
}

/// On `arm`, schedules one timer of each kind, all logging when they run;
/// `arm and close` also closes the stream in the same handler.
struct Armed {
    log: Shared<Vec<String>>,
}

impl Armed {
    fn note(&self, what: &str) {
        self.log.borrow_mut().push(what.to_owned());
    }
}

#[channel]
impl Armed {
    #[on_connect]
    fn connected(&mut self, _s: &mut Stream<Self>) {
        self.note("connect");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        if !line.starts_with(b"arm") {
            return;
        }
        s.callback(|me, _| me.note("fired callback"));
        s.every_turn(|me, _| me.note("fired every_turn"));
        s.defer(Duration::from_millis(30), |me, _| me.note("fired defer"))
            .unwrap();
        s.cycle(Duration::from_millis(10), |me, _| me.note("fired cycle"))
            .unwrap();
        self.note("armed");
        if line == b"arm and close" {
            s.close();
        }
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.note("close");
    }
}

/// Runs `Armed` on the test thread; the client sends `command` and then,
/// unless the server closes, disconnects. Returns the log.
fn armed(command: &[u8]) -> Vec<String> {
    let log: Shared<Vec<String>> = Shared::default();
    let mut e = Engine::<Armed>::new().unwrap();
    let id = e
        .listen_with("127.0.0.1:0", {
            let log = log.clone();
            move |_| Some(Armed { log: log.clone() })
        })
        .unwrap();
    let addr = util::server_addr(&mut e, id);
    let closes = |log: &Shared<Vec<String>>| log.borrow().iter().filter(|l| *l == "close").count();
    let mut c = connect(addr);
    send(&mut c, command);
    util::pump(&mut e, "the timers to be armed", || {
        log.borrow().iter().any(|l| l == "armed")
    });
    drop(c);
    util::pump(&mut e, "the stream to close", || closes(&log) == 1);
    // A new stream may take the closed one's slot: the old timers must not
    // run for it either.
    let _next = connect(addr);
    util::pump(&mut e, "the next connection", || {
        log.borrow().iter().filter(|l| *l == "connect").count() == 2
    });
    // Past every deadline (30 ms) a few times over.
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    e.defer(Duration::from_millis(100), move |_| d.set(true))
        .unwrap();
    util::pump(&mut e, "the sentinel", || done.get());
    log.take()
}

#[test]
fn stream_timers_do_not_run_after_the_handler_closed_the_stream() {
    let log = armed(b"arm and close\r\n");
    assert_eq!(log, ["connect", "armed", "close", "connect"]);
}

#[test]
fn stream_timers_do_not_run_after_the_peer_closed_the_stream() {
    let log = armed(b"arm\r\n");
    let close = log.iter().position(|l| l == "close").unwrap();
    assert_eq!(
        &log[close..],
        ["close", "connect"],
        "timers ran after their stream closed"
    );
}

/// Stream timers that write to their stream.
#[derive(Default)]
struct Ticker {
    ticks: u32,
    cycle: Option<TimerId>,
}

#[channel]
impl Ticker {
    #[on_connect]
    fn start(&mut self, s: &mut Stream<Self>) {
        s.callback(|_, s| {
            s.write(b"callback\r\n");
        });
        s.defer(Duration::from_millis(20), |_, s| {
            s.write(b"deferred\r\n");
        })
        .expect("defer");
        let id = s
            .cycle(Duration::from_millis(10), |me, s| {
                me.ticks += 1;
                s.write(format!("tick {}\r\n", me.ticks).as_bytes());
                if me.ticks == 3 {
                    let cancelled = me.cycle.is_some_and(|id| s.cancel(id));
                    s.write(format!("cancelled: {cancelled}\r\n").as_bytes());
                }
            })
            .expect("cycle");
        self.cycle = Some(id);
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, _data: &[u8]) {
        s.write(format!("ticks {}\r\n", self.ticks).as_bytes());
    }
}

#[test]
fn stream_timers_run_with_their_channel_and_stream() {
    let server = util::serve::<Ticker>();
    let mut c = connect(server.addr());
    expect_bytes(
        &mut c,
        b"callback\r\ntick 1\r\ndeferred\r\ntick 2\r\ntick 3\r\ncancelled: true\r\n",
    );
    // No fourth tick: ask for the count after waiting past another interval.
    let (tx, rx) = std::sync::mpsc::channel();
    server.handle.call(move |e| {
        e.defer(Duration::from_millis(40), move |_| {
            let _ = tx.send(());
        })
        .expect("defer");
    });
    rx.recv_timeout(util::TIMEOUT)
        .expect("the engine timer ran");
    send(&mut c, b"?");
    expect_bytes(&mut c, b"ticks 3\r\n");
}

#[test]
fn a_panicking_timer_does_not_stop_the_engine() {
    let mut e = engine();
    let (runs, r) = counter();
    e.callback(|_| panic!("a timer panics (the test expects this)"));
    e.callback(move |_| r.set(r.get() + 1));
    turn(&mut e);
    assert_eq!(runs.get(), 1, "the next timer of the turn ran");
    let (later, l) = counter();
    e.defer(Duration::from_millis(1), move |_| l.set(1))
        .unwrap();
    util::pump(&mut e, "a later timer", || later.get() == 1);
}
