//! Name resolution off the event loop: host names are resolved on helper
//! threads (the system resolver blocks), at most [`MAX_THREADS`] at once with
//! the rest queued, and each result comes back through the engine's waker.
//! Workers exit when the queue is empty, so an engine that resolves nothing
//! has no thread.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use mio::Waker;

/// Lookups run at once per engine; more wait their turn (a burst of
/// connects to host names makes no burst of threads).
pub(crate) const MAX_THREADS: usize = 4;

/// A resolver function: host and port to addresses (the system resolver by
/// default; tests and programs may install their own).
pub(crate) type ResolveFn = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// A finished resolution for the stream `(key, generation)`.
pub(crate) struct Resolved {
    pub(crate) key: usize,
    pub(crate) generation: u32,
    pub(crate) result: io::Result<Vec<SocketAddr>>,
}

/// A lookup waiting for a worker.
struct Job {
    key: usize,
    generation: u32,
    host: String,
    port: u16,
    hook: ResolveFn,
}

/// What the engine and its workers share.
#[derive(Default)]
struct Shared {
    /// Lookups not started yet, and how many workers run.
    work: Mutex<(VecDeque<Job>, usize)>,
    /// Finished lookups, for [`Resolver::take`].
    done: Mutex<Vec<Resolved>>,
    /// Whether `done` may hold something (checked without the lock).
    pending: AtomicBool,
    waker: Mutex<Option<Arc<Waker>>>,
}

impl Shared {
    fn finish(&self, resolved: Resolved) {
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(resolved);
        self.pending.store(true, Ordering::Release);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(waker) = waker {
            let _ = waker.wake();
        }
    }

    /// A worker: runs queued lookups until none is left.
    fn work(&self) {
        loop {
            let job = {
                let mut work = self.work.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(job) = work.0.pop_front() else {
                    work.1 -= 1;
                    return;
                };
                job
            };
            let result = (job.hook)(&job.host, job.port).map(interleave);
            self.finish(Resolved {
                key: job.key,
                generation: job.generation,
                result,
            });
        }
    }
}

pub(crate) struct Resolver {
    pub(crate) hook: ResolveFn,
    shared: Arc<Shared>,
}

impl Resolver {
    pub(crate) fn new() -> Self {
        Self {
            hook: Arc::new(crate::addr::resolve_name),
            shared: Arc::default(),
        }
    }

    /// Where finished lookups wake the engine.
    pub(crate) fn set_waker(&self, waker: Arc<Waker>) {
        *self
            .shared
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(waker);
    }

    /// Queues `host` for a helper thread, starting one if fewer than
    /// [`MAX_THREADS`] run; the result waits in [`take`](Self::take).
    pub(crate) fn start(&self, key: usize, generation: u32, host: String, port: u16) {
        let job = Job {
            key,
            generation,
            host,
            port,
            hook: Arc::clone(&self.hook),
        };
        let mut work = self
            .shared
            .work
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        work.0.push_back(job);
        if work.1 >= MAX_THREADS {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("pants-resolver".into())
            .spawn(move || shared.work());
        match spawned {
            Ok(_) => work.1 += 1,
            Err(e) if work.1 == 0 => {
                // No worker at all: fail what waits, rather than hang it.
                let jobs: Vec<Job> = work.0.drain(..).collect();
                drop(work);
                let reason = e.to_string();
                for job in jobs {
                    self.shared.finish(Resolved {
                        key: job.key,
                        generation: job.generation,
                        result: Err(io::Error::other(format!(
                            "no thread to resolve on: {reason}"
                        ))),
                    });
                }
            }
            // A running worker will take the job.
            Err(_) => {}
        }
    }

    /// The resolutions finished since the last call (cheap when none).
    pub(crate) fn take(&self) -> Vec<Resolved> {
        if !self.shared.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(
            &mut *self
                .shared
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// IPv6 and IPv4 addresses alternated, in the resolver's order within each
/// family, starting with the family the resolver put first (RFC 8305's
/// interleaving): a host whose first family is unreachable is tried on the
/// other at the second attempt, not after every address of the first.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut a, mut b): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.into_iter().partition(|x| x.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(a.len() + b.len());
    a.reverse();
    b.reverse();
    loop {
        match (a.pop(), b.pop()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_lookups_runs_on_a_bounded_number_of_threads() {
        use std::sync::Condvar;
        use std::sync::atomic::AtomicUsize;
        use std::time::{Duration, Instant};
        const LOOKUPS: usize = 40;
        // Lookups block until the gate opens.
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut resolver = Resolver::new();
        resolver.hook = {
            let (gate, running, most) =
                (Arc::clone(&gate), Arc::clone(&running), Arc::clone(&most));
            Arc::new(move |host: &str, port: u16| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let (open, cv) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                drop(open);
                running.fetch_sub(1, Ordering::SeqCst);
                let n: u8 = host.parse().map_err(io::Error::other)?;
                Ok(vec![SocketAddr::from(([10, 0, 0, n], port))])
            })
        };
        for n in 0..LOOKUPS {
            resolver.start(n, 7, n.to_string(), 80);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while running.load(Ordering::SeqCst) < MAX_THREADS {
            assert!(Instant::now() < deadline, "lookups did not start");
            std::thread::yield_now();
        }
        assert_eq!(
            resolver.shared.work.lock().unwrap().1,
            MAX_THREADS,
            "workers"
        );
        assert_eq!(most.load(Ordering::SeqCst), MAX_THREADS, "lookups at once");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let mut got = Vec::new();
        while got.len() < LOOKUPS {
            assert!(
                Instant::now() < deadline,
                "{} of {LOOKUPS} lookups",
                got.len()
            );
            got.extend(resolver.take());
            std::thread::yield_now();
        }
        assert_eq!(most.load(Ordering::SeqCst), MAX_THREADS, "lookups at once");
        got.sort_by_key(|r| r.key);
        for (n, r) in got.iter().enumerate() {
            assert_eq!((r.key, r.generation), (n, 7));
            let addrs = r.result.as_ref().expect("resolved");
            assert_eq!(addrs[0].to_string(), format!("10.0.0.{n}:80"));
        }
        // Every worker exits once the queue is empty.
        while resolver.shared.work.lock().unwrap().1 > 0 {
            assert!(Instant::now() < deadline, "workers still running");
            std::thread::yield_now();
        }
    }

    #[test]
    fn interleaves_families_keeping_order() {
        let v: Vec<SocketAddr> = ["[::1]:1", "[::2]:1", "[::3]:1", "1.1.1.1:1", "2.2.2.2:1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let got: Vec<String> = interleave(v).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            ["[::1]:1", "1.1.1.1:1", "[::2]:1", "2.2.2.2:1", "[::3]:1"]
        );
    }
}
