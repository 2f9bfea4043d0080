//! Why a stream closed.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::proto::deadlines::Timeout;

/// Why a stream closed: [`Stream::close_reason`](crate::Stream::close_reason)
/// in `#[on_close]`.
///
/// The first reason wins, with one exception: a graceful close
/// ([`Local`](Self::Local), [`PeerClosed`](Self::PeerClosed),
/// [`Shutdown`](Self::Shutdown)) whose final flush fails with bytes still
/// queued (the peer resets, the write timeout expires, a `write_file` range
/// runs past its file) reports that failure: queued data was lost.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the connection (end of input) and the stream
    /// finished its replies.
    PeerClosed,
    /// The peer reset the connection (or the pipe broke) mid-stream.
    Reset,
    /// The application closed it (`close`, `close_now`, a server's `close`).
    Local,
    /// A socket error other than a reset.
    Error(Arc<io::Error>),
    /// A timeout expired and no `#[on_timeout]` handler kept the stream.
    Timeout(Timeout),
    /// Input over a read state's `max`, and the default overflow handling.
    Overflow,
    /// The engine shut down ([`Engine::shutdown`](crate::Engine::shutdown)).
    Shutdown,
    /// The peer did not read: a write would have taken the queue past its
    /// hard cap ([`WriteLimits::max`](crate::WriteLimits)).
    SlowConsumer,
    /// Connecting failed (`#[on_connect_error]` had the details).
    ConnectFailed,
    /// A handler panicked.
    Panic,
    /// The TLS handshake failed (`#[on_handshake_error]` had the details):
    /// a refused certificate, a peer not speaking TLS, an alert.
    Handshake(Arc<io::Error>),
    /// The TLS peer closed the connection without `close_notify`: the
    /// input may have been cut short (frames before it were delivered).
    Truncated,
}

impl CloseReason {
    /// The reason for an I/O error that closes a stream: a reset or a
    /// broken pipe is [`CloseReason::Reset`], the rest is kept.
    pub fn from_io(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Self::Reset,
            _ => Self::Error(Arc::new(e)),
        }
    }

    /// Whether the connection itself is gone (a reset or a broken pipe, a
    /// failed connect or handshake): nothing more is written to it, not
    /// what is queued, not a TLS `close_notify` (each write would fail with
    /// `EPIPE` and raise `SIGPIPE`). Other socket errors
    /// ([`Error`](Self::Error), which a handler may also give
    /// `close_because` for a protocol error) still flush what is queued.
    pub(crate) fn is_broken(&self) -> bool {
        matches!(self, Self::Reset | Self::ConnectFailed | Self::Handshake(_))
    }

    /// Whether the stream ended the way a protocol expects (the peer or the
    /// application closed it, or the engine shut down).
    pub fn is_orderly(&self) -> bool {
        matches!(self, Self::PeerClosed | Self::Local | Self::Shutdown)
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerClosed => f.write_str("closed by the peer"),
            Self::Reset => f.write_str("connection reset by the peer"),
            Self::Local => f.write_str("closed locally"),
            Self::Error(e) => write!(f, "socket error: {e}"),
            Self::Timeout(t) => write!(f, "{t}"),
            Self::Overflow => f.write_str("input over the read limit"),
            Self::Shutdown => f.write_str("engine shut down"),
            Self::SlowConsumer => f.write_str("slow consumer: write queue over its limit"),
            Self::ConnectFailed => f.write_str("connect failed"),
            Self::Panic => f.write_str("a handler panicked"),
            Self::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            Self::Truncated => {
                f.write_str("closed by the peer without TLS close_notify (truncated)")
            }
        }
    }
}
