//! Name resolution off the event loop: each host name is resolved on a
//! helper thread (the system resolver blocks), and the result comes back
//! through the engine's waker.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use mio::Waker;

/// A resolver function: host and port to addresses (the system resolver by
/// default; tests and programs may install their own).
pub(crate) type ResolveFn = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// A finished resolution for the stream `(key, generation)`.
pub(crate) struct Resolved {
    pub(crate) key: usize,
    pub(crate) generation: u32,
    pub(crate) result: io::Result<Vec<SocketAddr>>,
}

pub(crate) struct Resolver {
    pub(crate) hook: ResolveFn,
    pub(crate) waker: Option<Arc<Waker>>,
    done: Arc<Mutex<Vec<Resolved>>>,
    pending: Arc<AtomicBool>,
}

impl Resolver {
    pub(crate) fn new() -> Self {
        Self {
            hook: Arc::new(crate::addr::resolve_name),
            waker: None,
            done: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// Resolves `host` on a helper thread; the result waits in [`take`](Self::take).
    pub(crate) fn start(&self, key: usize, generation: u32, host: String, port: u16) {
        let (hook, done, pending, waker) = (
            Arc::clone(&self.hook),
            Arc::clone(&self.done),
            Arc::clone(&self.pending),
            self.waker.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("pants-resolver".into())
            .spawn(move || {
                let result = hook(&host, port).map(interleave);
                done.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Resolved {
                        key,
                        generation,
                        result,
                    });
                pending.store(true, Ordering::Release);
                if let Some(waker) = waker {
                    let _ = waker.wake();
                }
            });
        if let Err(e) = spawned {
            self.done
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Resolved {
                    key,
                    generation,
                    result: Err(e),
                });
            self.pending.store(true, Ordering::Release);
        }
    }

    /// The resolutions finished since the last call (cheap when none).
    pub(crate) fn take(&self) -> Vec<Resolved> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
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
    use super::interleave;

    #[test]
    fn interleaves_families_keeping_order() {
        let v: Vec<std::net::SocketAddr> =
            ["[::1]:1", "[::2]:1", "[::3]:1", "1.1.1.1:1", "2.2.2.2:1"]
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
