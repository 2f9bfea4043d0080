//! An engine per core: several threads, each running its own [`Engine`],
//! sharing one listening port through `SO_REUSEPORT`.
//!
//! An engine is single-threaded (its channels, timers and closures never
//! cross threads), so a server scales over cores by running one engine per
//! thread and letting the kernel spread incoming connections among their
//! listeners. [`run_threads`] starts the threads and stops them together;
//! [`SharedPort`] gives every engine a listener on the same address.
//!
//! The kernel spreads new connections by hashing their addresses and ports,
//! not evenly: a handful of connections may land on one engine, and a
//! connection stays on the engine that accepted it.

use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use crate::api::channel::{App, Channel, Member};
use crate::api::server::ServerId;
use crate::engine::{Engine, Handle};
use crate::error::{Error, Result};
use crate::sys::net::ListenOptions;

/// Runs `threads` engines (at least one), one per thread, until SIGINT or
/// SIGTERM, or until one of them fails.
///
/// Each thread makes an [`Engine`], has it stop on SIGINT/SIGTERM
/// ([`Engine::stop_on_signals`]) and calls `setup(index, &mut engine)`
/// (`index` is `0..threads`) to listen, connect or schedule timers, then runs
/// it. The setups run one at a time, in index order, before any engine
/// starts, so the first can bind a port that the others then share (see
/// [`SharedPort`]).
///
/// Returns `Ok(())` once every engine has stopped (a signal, or each one
/// stopped by its own code), or the first error: from a setup (the engines
/// are then not started) or from an engine's loop (the others are stopped).
/// A panic in `setup` stops the other engines and is resumed on the calling
/// thread. The engines' channels and timers are dropped with their threads.
///
/// ```no_run
/// use pants::prelude::*;
/// use pants::SharedPort;
///
/// #[derive(Default)]
/// struct Echo;
///
/// #[channel]
/// impl Echo {
///     #[on_read]
///     fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
///         s.write(data);
///     }
/// }
///
/// fn main() -> pants::Result<()> {
///     let port = SharedPort::new("127.0.0.1:4040");
///     // Two engines on two threads; Ctrl-C stops both.
///     pants::run_threads(2, |_index, engine: &mut Engine<Echo>| {
///         port.listen::<Echo, _>(engine)?;
///         Ok(())
///     })
/// }
/// ```
pub fn run_threads<A, F>(threads: usize, setup: F) -> Result<()>
where
    A: App,
    F: Fn(usize, &mut Engine<A>) -> Result<()> + Sync,
{
    let threads = threads.max(1);
    let group = Group::<A>::new(threads);
    let setup = &setup;
    let group = &group;
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                thread::Builder::new()
                    .name(format!("pants-engine-{index}"))
                    .spawn_scoped(scope, move || group.run(index, setup))
            })
            .collect();
        let mut first = Ok(());
        let mut panicked = None;
        for worker in workers {
            match worker
                .map_err(Error::from)
                .map(thread::ScopedJoinHandle::join)
            {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) | Err(e) => {
                    group.fail();
                    if first.is_ok() {
                        first = Err(e);
                    }
                }
                Ok(Err(payload)) => {
                    group.fail();
                    panicked.get_or_insert(payload);
                }
            }
        }
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
        first
    })
}

/// One listening address shared by the engines of [`run_threads`]: every
/// engine gets its own listener with `SO_REUSEPORT` set, on the same port.
///
/// The first [`listen`](Self::listen) binds the address given to
/// [`new`](Self::new) (port 0 picks a free port); later ones bind the
/// address that the first one got, which [`local_addr`](Self::local_addr)
/// tells.
///
/// The kernel picks a listener for each new connection by hashing its
/// addresses and ports: the spread is even only on average, and a connection
/// stays on the engine that accepted it.
#[derive(Debug)]
pub struct SharedPort {
    addr: String,
    bound: Mutex<Option<SocketAddr>>,
}

impl SharedPort {
    /// A port to share, in any form [`Engine::listen`] takes as a string
    /// (`"HOST:PORT"`, `"[V6]:PORT"`, a bare port).
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            bound: Mutex::new(None),
        }
    }

    /// Listens on the shared port in `engine`; each connection gets
    /// `C::default()`.
    pub fn listen<C, A>(&self, engine: &mut Engine<A>) -> Result<ServerId>
    where
        A: App + Member<C>,
        C: Channel<App = A> + Default,
    {
        let options = ListenOptions {
            reuse_port: true,
            ..ListenOptions::default()
        };
        let accept = |_: &crate::addr::Addr| Some(C::default());
        // Held across the bind, so concurrent callers agree on one port.
        let mut bound = lock(&self.bound);
        let id = match *bound {
            Some(addr) => engine.listen_with_options(addr, options, accept)?,
            None => engine.listen_with_options(self.addr.as_str(), options, accept)?,
        };
        if bound.is_none() {
            *bound = engine
                .server(id)
                .and_then(|s| s.local_addr())
                .and_then(|a| a.as_ip());
        }
        Ok(id)
    }

    /// The address the first listener got, once one listens.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *lock(&self.bound)
    }
}

/// What the threads of one [`run_threads`] call share.
struct Group<A> {
    /// The running engines' handles; `None` once the group failed (no
    /// engine may start after that).
    handles: Mutex<Option<Vec<Handle<A>>>>,
    /// The index whose setup may run now (`threads` once all are done).
    turn: Mutex<usize>,
    turn_changed: Condvar,
    threads: usize,
}

impl<A: App> Group<A> {
    fn new(threads: usize) -> Self {
        Self {
            handles: Mutex::new(Some(Vec::new())),
            turn: Mutex::new(0),
            turn_changed: Condvar::new(),
            threads,
        }
    }

    /// One thread's life: make the engine, set it up in turn, run it.
    fn run<F>(&self, index: usize, setup: &F) -> Result<()>
    where
        F: Fn(usize, &mut Engine<A>) -> Result<()>,
    {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut engine = {
                let _turn = self.wait_turn(index);
                if self.failed() {
                    return Ok(());
                }
                // Fail the group before the turn passes on, so no later
                // engine can see every setup done and start.
                let made = Engine::new().and_then(|mut engine| {
                    engine.stop_on_signals()?;
                    setup(index, &mut engine)?;
                    Ok(engine)
                });
                match made {
                    Ok(engine) => engine,
                    Err(e) => {
                        self.fail();
                        return Err(e);
                    }
                }
            };
            // No engine starts before every setup succeeded.
            self.wait_setups_done();
            match lock(&self.handles).as_mut() {
                Some(handles) => handles.push(engine.handle()),
                None => return Ok(()),
            }
            engine.start()
        }));
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.fail();
                Err(e)
            }
            Err(payload) => {
                self.fail();
                panic::resume_unwind(payload)
            }
        }
    }

    /// Stops every running engine; engines not yet started never start.
    fn fail(&self) {
        if let Some(handles) = lock(&self.handles).take() {
            for handle in handles {
                handle.stop();
            }
        }
    }

    fn failed(&self) -> bool {
        lock(&self.handles).is_none()
    }

    /// Blocks until it is `index`'s turn to set up; the turn passes on when
    /// the returned guard drops (also when the setup fails or panics).
    fn wait_turn(&self, index: usize) -> TurnGuard<'_, A> {
        self.wait_for(|turn| turn == index);
        TurnGuard { group: self }
    }

    /// Blocks until every thread's setup has run (or failed).
    fn wait_setups_done(&self) {
        self.wait_for(|turn| turn >= self.threads);
    }

    fn wait_for(&self, ready: impl Fn(usize) -> bool) {
        let mut turn = lock(&self.turn);
        while !ready(*turn) {
            turn = self
                .turn_changed
                .wait(turn)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

struct TurnGuard<'a, A: App> {
    group: &'a Group<A>,
}

impl<A: App> Drop for TurnGuard<'_, A> {
    fn drop(&mut self) {
        if thread::panicking() {
            // A setup panicked: fail the group before the turn passes on.
            self.group.fail();
        }
        let mut turn = lock(&self.group.turn);
        *turn += 1;
        self.group.turn_changed.notify_all();
    }
}

/// Locks, ignoring poisoning: every critical section here leaves the data
/// consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::prelude::*;

    #[derive(Default)]
    struct Echo;

    /// The engine threads that accepted a connection (only the port-sharing
    /// test connects).
    static SERVED_BY: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[channel]
    impl Echo {
        #[on_connect]
        fn accepted(&mut self, _s: &mut Stream<Self>) {
            let name = thread::current().name().unwrap_or("?").to_owned();
            lock(&SERVED_BY).push(name);
        }

        #[on_read]
        fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
            s.write(data);
        }
    }

    const WAIT: Duration = Duration::from_secs(10);

    fn echo_once(addr: SocketAddr, message: &[u8]) {
        let mut client = TcpStream::connect(addr).expect("connect");
        client.set_read_timeout(Some(WAIT)).expect("timeout");
        client.write_all(message).expect("write");
        let mut back = vec![0; message.len()];
        client.read_exact(&mut back).expect("echo");
        assert_eq!(back, message);
    }

    #[test]
    fn engines_share_a_port_and_stop_together() {
        let port = SharedPort::new("127.0.0.1:0");
        let (ready, listening) = mpsc::channel();
        let (stopped, done) = mpsc::channel();
        thread::scope(|scope| {
            let port = &port;
            scope.spawn(move || {
                let result = run_threads(2, |index, engine: &mut Engine<Echo>| {
                    port.listen::<Echo, _>(engine)?;
                    let handle = engine.handle();
                    ready.send((index, handle)).expect("test alive");
                    Ok(())
                });
                stopped.send(result).expect("test alive");
            });
            let handles: Vec<_> = (0..2)
                .map(|_| listening.recv_timeout(WAIT).expect("both engines set up"))
                .collect();
            assert_eq!(
                handles.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
                [0, 1],
                "setups run in index order"
            );
            let addr = port.local_addr().expect("bound");
            assert_ne!(addr.port(), 0);
            // Enough connections that, spread by the kernel, both engines serve some.
            for n in 0..32u8 {
                echo_once(addr, &[n; 100]);
            }
            let mut served = lock(&SERVED_BY).clone();
            served.sort();
            served.dedup();
            assert_eq!(
                served,
                ["pants-engine-0", "pants-engine-1"],
                "both engines accept"
            );
            for (_, handle) in &handles {
                handle.stop();
            }
            let result = done.recv_timeout(WAIT).expect("run_threads returned");
            assert!(result.is_ok(), "{result:?}");
        });
    }

    #[test]
    fn a_failed_setup_is_returned_and_no_engine_starts() {
        let (started, starts) = mpsc::channel();
        let result = run_threads(3, |index, engine: &mut Engine<Echo>| {
            if index == 1 {
                return Err(Error::InvalidDelay);
            }
            let started = started.clone();
            engine.callback(move |_| started.send(index).expect("test alive"));
            Ok(())
        });
        assert!(matches!(result, Err(Error::InvalidDelay)), "{result:?}");
        drop(started);
        assert_eq!(starts.try_iter().collect::<Vec<_>>(), Vec::<usize>::new());
    }
}
