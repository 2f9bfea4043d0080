//! Per-stream timeouts as activity stamps. Pure: `now` is an argument.
//!
//! | timeout | expires when | stamp reset by |
//! |---|---|---|
//! | [`Timeout::Idle`] | nothing was read or written for T | a read or a write of any bytes |
//! | [`Timeout::Read`] | no complete frame arrived for T | a frame handed to a handler |
//! | [`Timeout::Write`] | the write queue has not drained for T | the queue draining |
//! | [`Timeout::Connect`] | the connect has not finished T after it started | — (cleared on connect) |
//! | [`Timeout::Handshake`] | the TLS handshake has not finished T after it started | — (cleared when it finishes) |
//!
//! Activity only stores an `Instant`; the engine keeps one timer per stream
//! armed at [`Deadlines::next_due`] and, when it fires, asks
//! [`Deadlines::expired`]: activity since the timer was armed just moves the
//! deadline, and the timer is re-armed there (one heap operation per
//! timeout period, none per message).

use std::fmt;
use std::time::{Duration, Instant};

/// Which timeout expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Nothing was read or written for the idle timeout.
    Idle,
    /// No complete frame arrived for the read timeout.
    Read,
    /// The write queue did not drain for the write timeout.
    Write,
    /// The connect did not finish in time.
    Connect,
    /// The TLS handshake did not finish in time.
    Handshake,
}

impl Timeout {
    const ALL: [Self; 5] = [
        Self::Connect,
        Self::Handshake,
        Self::Write,
        Self::Read,
        Self::Idle,
    ];

    fn index(self) -> usize {
        match self {
            Self::Idle => 0,
            Self::Read => 1,
            Self::Write => 2,
            Self::Connect => 3,
            Self::Handshake => 4,
        }
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idle => "idle timeout",
            Self::Read => "read timeout",
            Self::Write => "write timeout",
            Self::Connect => "connect timeout",
            Self::Handshake => "TLS handshake timeout",
        })
    }
}

/// The timeouts of a stream; `None` is no timeout (the default for all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// No bytes read or written for this long.
    pub idle: Option<Duration>,
    /// No complete frame for this long.
    pub read: Option<Duration>,
    /// The write queue not drained for this long.
    pub write: Option<Duration>,
    /// The connect not finished this long after it started.
    pub connect: Option<Duration>,
    /// The TLS handshake not finished this long after it started (a TLS
    /// stream without one gets [`crate::tls::DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub handshake: Option<Duration>,
}

impl Timeouts {
    /// No timeouts.
    pub const NONE: Self = Self {
        idle: None,
        read: None,
        write: None,
        connect: None,
        handshake: None,
    };

    /// Whether any timeout is set.
    pub const fn any(&self) -> bool {
        self.idle.is_some()
            || self.read.is_some()
            || self.write.is_some()
            || self.connect.is_some()
            || self.handshake.is_some()
    }

    /// The duration of one kind.
    pub fn get(&self, kind: Timeout) -> Option<Duration> {
        match kind {
            Timeout::Idle => self.idle,
            Timeout::Read => self.read,
            Timeout::Write => self.write,
            Timeout::Connect => self.connect,
            Timeout::Handshake => self.handshake,
        }
    }

    /// Sets one kind.
    pub fn set(&mut self, kind: Timeout, value: Option<Duration>) {
        let slot = match kind {
            Timeout::Idle => &mut self.idle,
            Timeout::Read => &mut self.read,
            Timeout::Write => &mut self.write,
            Timeout::Connect => &mut self.connect,
            Timeout::Handshake => &mut self.handshake,
        };
        *slot = value;
    }
}

/// A stream's timeouts and the stamps they count from.
#[derive(Clone, Debug)]
pub struct Deadlines {
    timeouts: Timeouts,
    /// When each kind's period started (`None`: not running), by `Timeout::index`.
    since: [Option<Instant>; 5],
}

impl Deadlines {
    /// Timeouts starting at `now`; `connecting` runs the connect timeout.
    pub fn new(timeouts: Timeouts, now: Instant, connecting: bool) -> Self {
        let mut since = [Some(now), Some(now), None, None, None];
        if connecting {
            since[Timeout::Connect.index()] = Some(now);
        }
        Self { timeouts, since }
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Changes one timeout; its period starts over at `now`.
    pub fn set(&mut self, kind: Timeout, value: Option<Duration>, now: Instant) {
        self.timeouts.set(kind, value);
        let running = self.since[kind.index()].is_some();
        if matches!(kind, Timeout::Idle | Timeout::Read) || running {
            self.since[kind.index()] = Some(now);
        }
    }

    /// Bytes were read or written.
    #[inline]
    pub fn activity(&mut self, now: Instant) {
        self.since[Timeout::Idle.index()] = Some(now);
    }

    /// A frame was handed to a handler.
    #[inline]
    pub fn frame(&mut self, now: Instant) {
        self.since[Timeout::Read.index()] = Some(now);
    }

    /// The write queue is waiting after a flush (starts the write timeout
    /// unless it is already running). Returns whether a write timeout
    /// period started now (the caller arms its timer).
    pub fn write_pending(&mut self, now: Instant) -> bool {
        let slot = &mut self.since[Timeout::Write.index()];
        let started = slot.is_none();
        slot.get_or_insert(now);
        started && self.timeouts.write.is_some()
    }

    /// The write queue drained.
    pub fn write_drained(&mut self) {
        self.since[Timeout::Write.index()] = None;
    }

    /// The connect finished.
    pub fn connected(&mut self, now: Instant) {
        self.since[Timeout::Connect.index()] = None;
        self.since[Timeout::Idle.index()] = Some(now);
        self.since[Timeout::Read.index()] = Some(now);
    }

    /// A TLS handshake started: its timeout runs from `now`.
    pub fn handshake_started(&mut self, now: Instant) {
        self.since[Timeout::Handshake.index()] = Some(now);
    }

    /// The TLS handshake finished.
    pub fn handshake_done(&mut self) {
        self.since[Timeout::Handshake.index()] = None;
    }

    /// Restarts one kind's period at `now` (after its handler ran and kept
    /// the stream).
    pub fn restart(&mut self, kind: Timeout, now: Instant) {
        if self.since[kind.index()].is_some() {
            self.since[kind.index()] = Some(now);
        }
    }

    /// The earliest deadline among the running timeouts, and its kind.
    pub fn next_due(&self) -> Option<(Instant, Timeout)> {
        Timeout::ALL
            .iter()
            .filter_map(|&kind| {
                let start = self.since[kind.index()]?;
                let limit = self.timeouts.get(kind)?;
                Some((start + limit, kind))
            })
            .min_by_key(|(at, _)| *at)
    }

    /// The first timeout that has expired at `now`, if any (connect first,
    /// then write, read, idle).
    pub fn expired(&self, now: Instant) -> Option<Timeout> {
        Timeout::ALL.iter().copied().find(|&kind| {
            match (self.since[kind.index()], self.timeouts.get(kind)) {
                (Some(start), Some(limit)) => now >= start + limit,
                _ => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Deadlines, Timeout, Timeouts};

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn idle_moves_with_activity() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(
            Timeouts {
                idle: Some(10 * S),
                ..Timeouts::NONE
            },
            t0,
            false,
        );
        assert_eq!(d.next_due(), Some((t0 + 10 * S, Timeout::Idle)));
        d.activity(t0 + 5 * S);
        assert_eq!(d.expired(t0 + 10 * S), None, "activity moved the deadline");
        assert_eq!(d.next_due(), Some((t0 + 15 * S, Timeout::Idle)));
        assert_eq!(d.expired(t0 + 15 * S), Some(Timeout::Idle));
    }

    #[test]
    fn read_timeout_ignores_bytes_without_frames() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(
            Timeouts {
                idle: Some(10 * S),
                read: Some(3 * S),
                ..Timeouts::NONE
            },
            t0,
            false,
        );
        for i in 1..=3 {
            d.activity(t0 + i * S);
        }
        assert_eq!(d.expired(t0 + 3 * S), Some(Timeout::Read));
        d.frame(t0 + 3 * S);
        assert_eq!(d.expired(t0 + 5 * S), None);
    }

    #[test]
    fn write_and_connect_run_only_while_pending() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(
            Timeouts {
                write: Some(2 * S),
                connect: Some(S),
                ..Timeouts::NONE
            },
            t0,
            true,
        );
        assert_eq!(d.next_due(), Some((t0 + S, Timeout::Connect)));
        d.connected(t0 + S / 2);
        assert_eq!(d.next_due(), None, "no write pending");
        d.write_pending(t0 + S);
        d.write_pending(t0 + 2 * S);
        assert_eq!(d.next_due(), Some((t0 + 3 * S, Timeout::Write)));
        d.write_drained();
        assert_eq!(d.expired(t0 + 10 * S), None);
    }

    #[test]
    fn setting_a_timeout_restarts_its_period() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(Timeouts::NONE, t0, false);
        assert_eq!(d.next_due(), None);
        d.set(Timeout::Idle, Some(S), t0 + 5 * S);
        assert_eq!(d.next_due(), Some((t0 + 6 * S, Timeout::Idle)));
        d.set(Timeout::Idle, None, t0 + 5 * S);
        assert_eq!(d.next_due(), None);
    }
}
