//! The engine's clock: the system's monotonic clock, or a manual one that
//! tests move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where an engine reads the time.
///
/// The loop reads it once per turn (handlers see that time through
/// `now()`), and once more when a timer is scheduled, so a timer counts
/// from the moment it was asked for. A manual clock stands still until
/// [`Clock::advance`] moves it: timer and timeout tests then need no sleeps.
///
/// ```
/// use std::time::Duration;
/// use pants::Clock;
///
/// let clock = Clock::manual();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now() - t0, Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
}

#[derive(Debug)]
struct Manual {
    base: Instant,
    nanos: AtomicU64,
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that starts now and moves only by [`advance`](Self::advance).
    /// Clones share the time: keep one to move the engine's.
    pub fn manual() -> Self {
        Self {
            manual: Some(Arc::new(Manual {
                base: Instant::now(),
                nanos: AtomicU64::new(0),
            })),
        }
    }

    /// The current time.
    #[inline]
    pub fn now(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(m) => m.base + Duration::from_nanos(m.nanos.load(Ordering::Acquire)),
        }
    }

    /// Moves a manual clock forward (a system clock ignores it).
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.manual {
            let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            m.nanos.fetch_add(nanos, Ordering::AcqRel);
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}
