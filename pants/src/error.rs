//! The one error type of the runtime.

use std::fmt;
use std::io;

use crate::addr::Addr;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in pants.
///
/// Messages are lower-case and name the input that was wrong (the address,
/// the limit), so `eprintln!("error: {e}")` is a complete report.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// An operating-system error without more context (creating the poller, say).
    Io(io::Error),
    /// An address that could not be parsed or resolved.
    Address {
        /// The address as the caller wrote it.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Binding or listening failed (address in use, permission denied, ...).
    Listen {
        /// The address the listener tried to bind (an IP address or a Unix socket path).
        addr: Addr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A connection attempt failed (refused, unreachable, timed out, name not resolved).
    Connect {
        /// The address as the caller wrote it.
        addr: String,
        /// The operating system's error (or the resolver's).
        source: io::Error,
    },
    /// A stream buffered more bytes than its read state allows without
    /// completing a frame.
    Overflow {
        /// The read state's cap, in bytes.
        limit: usize,
        /// How many bytes were waiting when the cap was passed.
        buffered: usize,
    },
    /// A frame's announced length (a length prefix, or `bytes = expr`) is
    /// over its read state's cap, or a frame to write is too long for its
    /// length prefix.
    FrameTooLarge {
        /// The frame's length, in bytes.
        size: usize,
        /// The most allowed, in bytes.
        limit: usize,
    },
    /// A datagram whose size is not the one its typed frame needs.
    FrameSize {
        /// The datagram's size, in bytes.
        size: usize,
        /// The size the frame type has.
        expected: usize,
    },
    /// A timer was given a zero delay or interval.
    InvalidDelay,
    /// The channel is closed (or was never there): nothing was done.
    Closed,
    /// The engine was stopped before what was waited for happened.
    Stopped,
    /// TLS settings that cannot be used: a certificate or key file that
    /// is missing or not PEM, a key that does not match its certificate, a
    /// name that is not a valid server name.
    Tls {
        /// What was being read or built (a file path, a name).
        context: String,
        /// Why it failed.
        reason: String,
    },
    /// A TLS handshake failed: the peer's certificate was refused, the
    /// peer is not speaking TLS, or it sent an alert.
    Handshake {
        /// The peer (or the name connected to).
        peer: String,
        /// rustls's error, or the I/O error that ended the handshake.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Address { input, reason } => write!(f, "invalid address `{input}`: {reason}"),
            Self::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::Connect { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            Self::Overflow { limit, buffered } => write!(
                f,
                "read buffer overflow: {buffered} bytes buffered without a complete frame (limit {limit})"
            ),
            Self::FrameTooLarge { size, limit } => {
                write!(f, "frame too large: {size} bytes (limit {limit})")
            }
            Self::FrameSize { size, expected } => {
                write!(
                    f,
                    "a datagram of {size} bytes where the frame is {expected}"
                )
            }
            Self::InvalidDelay => f.write_str("timer delay must be greater than zero"),
            Self::Closed => f.write_str("channel is closed"),
            Self::Stopped => f.write_str("the engine was stopped"),
            Self::Tls { context, reason } => write!(f, "TLS: {context}: {reason}"),
            Self::Handshake { peer, source } => {
                write!(f, "TLS handshake with {peer} failed: {source}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e)
            | Self::Listen { source: e, .. }
            | Self::Connect { source: e, .. }
            | Self::Handshake { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
