//! Sans-IO timer queue: Pants' four kinds of timer, with cancel handles.
//!
//! | kind | runs | repeats |
//! |---|---|---|
//! | [`Kind::NextTurn`] | on the next turn of the loop | no |
//! | [`Kind::EveryTurn`] | on every turn | until cancelled |
//! | [`Kind::After`]`(d)` | on the first turn at or after `now + d` | no |
//! | [`Kind::Every`]`(d)` | every `d` from `now`, on a fixed grid | until cancelled |
//!
//! The queue never reads the clock: `now` is an argument. Timed entries live in
//! a binary heap keyed by `(deadline, sequence)`, so ties run in the order they
//! were scheduled; cancelling marks the slot dead in O(1) and the heap drops
//! the stale entry when it surfaces (or when stale entries outnumber live
//! ones, in one O(n) sweep). Insert is O(log n), cancel O(1).
//!
//! A timer being run is *checked out* ([`TimerQueue::start`]) and handed back
//! ([`TimerQueue::finish`]); a cancel in between (a repeating timer cancelling
//! itself from its own callback) is honoured: the timer is not re-queued.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::{Duration, Instant};

/// A handle to a scheduled timer, used to cancel it.
///
/// Handles are cheap to copy. A handle outlives its timer harmlessly:
/// cancelling a timer that already ran, or was cancelled, does nothing, and
/// never touches another timer (each handle carries a generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

/// When a timer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Once, on the next turn of the loop.
    NextTurn,
    /// On every turn of the loop.
    EveryTurn,
    /// Once, after the delay.
    After(Duration),
    /// Every interval, first after one interval.
    Every(Duration),
}

/// The queue. `T` is what the engine runs when a timer is due.
pub struct TimerQueue<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<(Instant, u64, u32, u32)>>,
    turn: Vec<TimerId>,
    sequence: u64,
    live_timed: usize,
}

struct Slot<T> {
    generation: u32,
    kind: Kind,
    /// `None` while free or checked out.
    payload: Option<T>,
    live: bool,
    /// The current (or, while running, the last) deadline of a timed kind.
    deadline: Option<Instant>,
    /// Whether a heap entry for `deadline` is pending.
    queued: bool,
}

impl<T> TimerQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            turn: Vec::new(),
            sequence: 0,
            live_timed: 0,
        }
    }

    /// Schedules `payload`; timed kinds count from `now`.
    ///
    /// The caller rejects zero delays before calling (see [`Kind`]).
    ///
    /// # Panics
    ///
    /// If 2^32 timers are live at once.
    pub fn insert(&mut self, kind: Kind, payload: T, now: Instant) -> TimerId {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                kind,
                payload: None,
                live: false,
                deadline: None,
                queued: false,
            });
            u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 timers")
        });
        let entry = &mut self.slots[slot as usize];
        entry.kind = kind;
        entry.payload = Some(payload);
        entry.live = true;
        let id = TimerId {
            slot,
            generation: entry.generation,
        };
        self.enqueue(id, kind, now);
        id
    }

    /// Cancels a timer; returns whether it was still scheduled (or running).
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let Some(entry) = self.live_entry(id) else {
            return false;
        };
        entry.live = false;
        if entry.payload.take().is_some() {
            // Not checked out: the slot can be reused now; stale heap and turn
            // entries are recognised by the generation bump.
            if entry.queued {
                self.live_timed -= 1;
            }
            self.release(id.slot);
        } else if entry.queued {
            entry.queued = false;
            self.live_timed -= 1;
        }
        true
    }

    /// Whether the timer is still scheduled.
    pub fn is_scheduled(&self, id: TimerId) -> bool {
        self.slots
            .get(id.slot as usize)
            .is_some_and(|s| s.generation == id.generation && s.live)
    }

    /// Takes the turn timers due this turn (snapshot: timers added while they
    /// run wait for the next turn).
    pub fn take_turn(&mut self) -> Vec<TimerId> {
        std::mem::take(&mut self.turn)
    }

    /// Gives back the (emptied) vector from [`TimerQueue::take_turn`] so its
    /// allocation is reused.
    pub fn recycle_turn(&mut self, mut ids: Vec<TimerId>) {
        if self.turn.is_empty() {
            ids.clear();
            self.turn = ids;
        }
    }

    /// Pops the next timed timer due at `now`, if any.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerId> {
        while let Some(&Reverse((deadline, _, slot, generation))) = self.heap.peek() {
            let id = TimerId { slot, generation };
            if self.timed_entry(id, deadline).is_none() {
                self.heap.pop();
                continue;
            }
            if deadline > now {
                return None;
            }
            self.heap.pop();
            self.slots[slot as usize].queued = false;
            self.live_timed -= 1;
            return Some(id);
        }
        None
    }

    /// Checks a due timer out to run it; `None` if it was cancelled meanwhile.
    pub fn start(&mut self, id: TimerId) -> Option<T> {
        self.live_entry(id)?.payload.take()
    }

    /// Hands a timer back after it ran: repeating kinds are re-queued unless
    /// cancelled while running; one-shot kinds are released.
    pub fn finish(&mut self, id: TimerId, payload: T, now: Instant) {
        let Some(entry) = self.slots.get_mut(id.slot as usize) else {
            return;
        };
        if entry.generation != id.generation || !entry.live {
            drop(payload);
            if entry.generation == id.generation {
                self.release(id.slot);
            }
            return;
        }
        match entry.kind {
            Kind::NextTurn | Kind::After(_) => {
                entry.live = false;
                self.release(id.slot);
            }
            kind @ (Kind::EveryTurn | Kind::Every(_)) => {
                entry.payload = Some(payload);
                self.enqueue(id, kind, now);
            }
        }
    }

    /// The earliest deadline among live timed timers.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, _, slot, generation))) = self.heap.peek() {
            if self
                .timed_entry(TimerId { slot, generation }, deadline)
                .is_some()
            {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Whether turn timers are waiting (the loop must not block).
    pub fn has_turn_work(&self) -> bool {
        !self.turn.is_empty()
    }

    /// Live timers (turn and timed).
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.live).count()
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn enqueue(&mut self, id: TimerId, kind: Kind, now: Instant) {
        let entry = &mut self.slots[id.slot as usize];
        let deadline = match kind {
            Kind::NextTurn | Kind::EveryTurn => {
                self.turn.push(id);
                return;
            }
            Kind::After(delay) => now + delay,
            // Fixed grid: the next point after `now`, skipping missed ones
            // (no burst of catch-up runs, no drift).
            Kind::Every(interval) => match entry.deadline {
                Some(prev) if prev + interval > now => prev + interval,
                Some(prev) => prev + interval * missed(now - prev, interval),
                None => now + interval,
            },
        };
        entry.deadline = Some(deadline);
        entry.queued = true;
        self.live_timed += 1;
        self.sequence += 1;
        self.heap
            .push(Reverse((deadline, self.sequence, id.slot, id.generation)));
        if self.heap.len() > 64 && self.heap.len() > 2 * self.live_timed {
            self.compact();
        }
    }

    /// Drops stale heap entries in one sweep.
    fn compact(&mut self) {
        let slots = &self.slots;
        self.heap
            .retain(|&Reverse((deadline, _, slot, generation))| {
                let s = &slots[slot as usize];
                s.generation == generation && s.live && s.queued && s.deadline == Some(deadline)
            });
    }

    fn live_entry(&mut self, id: TimerId) -> Option<&mut Slot<T>> {
        self.slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation && s.live)
    }

    fn timed_entry(&self, id: TimerId, deadline: Instant) -> Option<&Slot<T>> {
        self.slots.get(id.slot as usize).filter(|s| {
            s.generation == id.generation && s.live && s.queued && s.deadline == Some(deadline)
        })
    }

    fn release(&mut self, slot: u32) {
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.payload = None;
        entry.deadline = None;
        entry.queued = false;
        entry.live = false;
        self.free.push(slot);
    }
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TimerQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerQueue")
            .field("timed", &self.live_timed)
            .field("turn", &self.turn.len())
            .finish_non_exhaustive()
    }
}

/// How many whole intervals fit in `late`, plus one: the grid step count
/// that lands strictly after now.
fn missed(late: Duration, interval: Duration) -> u32 {
    let steps = late.as_nanos() / interval.as_nanos().max(1) + 1;
    u32::try_from(steps).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
