//! Integration tests for `pants`: real sockets on loopback, ephemeral ports,
//! every wait bounded. One test binary; the modules group the cases.
//!
//! - `attack`: hostile and broken peers against the examples (slow readers,
//!   floods, slowloris, resets, noise, descriptor exhaustion, SIGTERM), each
//!   asserting a figure.
//! - `echo`: an echo server under one, sequential and concurrent clients.
//! - `framing`: delimiters, byte counts, regexes, caps, state switches.
//! - `lifecycle`: callback order, half-close, closing servers, stopping,
//!   addresses.
//! - `timers`: engine and stream timers.
//! - `examples`: the example programs, run as processes.
//! - `regressions`: bugs seen in Pants and event loops like it.
//! - `conformance`: the original Pants suite, ported (Python 3 clients).
//! - `typed`: typed frames, length prefixes and `bytes = expr` lengths.
//! - `flow`: write watermarks, pausing reads, slow consumers, two pants
//!   programs streaming at each other, `max` as a frame-length limit.
//! - `shutdown`: graceful shutdown, close reasons, panics, `run_until_closed`.
//! - `timeouts`: idle, read, write and connect timeouts on a manual clock.
//! - `unix`: Unix stream sockets and name resolution (the framing cases over TCP and Unix,
//!   abstract names, socket files, credentials, `unix_echo`).
//! - `tls`: TLS with Python `ssl` and `openssl` peers and pants on both ends
//!   (round trips, bad certificates, SNI, ALPN, mutual TLS, STARTTLS,
//!   handshake timeouts, `close_notify` and truncation, `tls_echo`).

mod attack;
mod conformance;
mod datagram;
mod echo;
mod examples;
mod flow;
mod framing;
mod lifecycle;
mod regressions;
mod shutdown;
mod timeouts;
mod timers;
mod tls;
mod typed;
mod unix;
mod util;
