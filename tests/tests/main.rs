//! Integration tests for `pants`: real sockets on loopback, ephemeral ports,
//! every wait bounded. One test binary; the modules group the cases.
//!
//! - `echo`: an echo server under one, sequential and concurrent clients.
//! - `framing`: delimiters, byte counts, regexes, caps, state switches.
//! - `lifecycle`: callback order, half-close, closing servers, stopping,
//!   addresses.
//! - `timers`: engine and stream timers.
//! - `examples`: the example programs, run as processes.
//! - `regressions`: bugs seen in Pants and event loops like it.
//! - `conformance`: the original Pants suite, ported (Python 3 clients).
//! - `typed`: typed frames, length prefixes and `bytes = expr` lengths.

mod conformance;
mod echo;
mod examples;
mod framing;
mod lifecycle;
mod regressions;
mod timers;
mod typed;
mod util;
