//! A stream's lifecycle: the flags that say what it may still do. Pure.
//!
//! ```text
//!  connect()            accept
//!     │                   │
//!  CONNECTING ──ok──▶ CONNECTED ──close()/EOF/error/timeout──▶ CLOSING ──queue sent──▶ CLOSED
//!     │ all addresses failed          │                          (close_now: at once)
//!     └──────────────────────────────────────────────────────────▶ CLOSING
//! ```
//!
//! Orthogonal flags on a connected stream:
//!
//! | flag | meaning | set by | cleared by |
//! |---|---|---|---|
//! | `PEER_EOF` | the peer shut its write side | a read of 0 bytes | — |
//! | `SHUT_PENDING` | shut our write side once the queue drains | `shutdown_write`, shutdown | the shut |
//! | `WRITE_SHUT` | our write side is shut | the drained queue | — |
//! | `UNWRITABLE` | the queue is above its high watermark | a flush leaving > high | a flush reaching ≤ low |
//! | `REPLY_PAUSED` | reading paused: its own replies are above high | the read path | ≤ low |
//! | `USER_PAUSED` | reading paused by `pause_reading` | the application | `resume_reading` |
//! | `LINGER` | shutting down: input is read and discarded until EOF | graceful shutdown | — |
//! | `DIRTY` | queued in the core's flush list | a write | the flush |
//! | `IN_CLOSING` | queued in the core's close list | a close | the close step |
//! | `KEEP` | the channel value is kept after close | `run_until_closed` | — |
//! | `HANDSHAKING` | a TLS handshake is under way | a TLS stream's start, STARTTLS | the handshake's end |
//! | `UPGRADING` | STARTTLS asked: no more plaintext frames | `start_tls_*` | the upgrade, when the handler returns |
//!
//! A stream reads while it is connected, not closing, its peer has not
//! closed, and neither pause flag is set; it takes writes while it is not
//! closing and its write side is not shut (or about to be).

/// Lifecycle flags of one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle(u16);

impl Lifecycle {
    /// Connect started, not finished.
    pub const CONNECTING: u16 = 1;
    /// Established (accepted, or the connect finished).
    pub const CONNECTED: u16 = 1 << 1;
    /// The peer shut its write side (read returned 0).
    pub const PEER_EOF: u16 = 1 << 2;
    /// Closing: no more frames; finish once the queue drains.
    pub const CLOSING: u16 = 1 << 3;
    /// `on_close` ran or is running; the slot is about to go.
    pub const CLOSED: u16 = 1 << 4;
    /// Queued in the core's flush list.
    pub const DIRTY: u16 = 1 << 5;
    /// Reading paused because the stream's own replies are above high.
    pub const REPLY_PAUSED: u16 = 1 << 6;
    /// Shut the write side once the queue drains.
    pub const SHUT_PENDING: u16 = 1 << 7;
    /// The write side is shut.
    pub const WRITE_SHUT: u16 = 1 << 8;
    /// Reading paused by the application.
    pub const USER_PAUSED: u16 = 1 << 9;
    /// Queued in the core's close list.
    pub const IN_CLOSING: u16 = 1 << 10;
    /// Above the high watermark (`on_pause_writing` was called).
    pub const UNWRITABLE: u16 = 1 << 11;
    /// Graceful shutdown: read and discard until the peer's EOF.
    pub const LINGER: u16 = 1 << 12;
    /// Keep the channel value when the stream closes.
    pub const KEEP: u16 = 1 << 13;
    /// A TLS handshake is under way.
    pub const HANDSHAKING: u16 = 1 << 14;
    /// STARTTLS was asked: frames stop until the transport is swapped.
    pub const UPGRADING: u16 = 1 << 15;

    /// A new stream: connecting, or already connected.
    pub fn new(connecting: bool) -> Self {
        Self(if connecting {
            Self::CONNECTING
        } else {
            Self::CONNECTED
        })
    }

    /// Whether any of `flags` is set.
    #[inline]
    pub fn has(self, flags: u16) -> bool {
        self.0 & flags != 0
    }

    /// Sets `flags`.
    #[inline]
    pub fn set(&mut self, flags: u16) {
        self.0 |= flags;
    }

    /// Clears `flags`.
    #[inline]
    pub fn clear(&mut self, flags: u16) {
        self.0 &= !flags;
    }

    /// Connected, and not closing or closed.
    pub fn is_open(self) -> bool {
        !self.has(Self::CLOSING | Self::CLOSED)
    }

    /// Whether frames may still be handed out.
    pub fn delivers(self) -> bool {
        !self.has(Self::CLOSING | Self::CLOSED | Self::LINGER | Self::UPGRADING)
    }

    /// Whether the socket should be read now.
    pub fn reads(self) -> bool {
        self.has(Self::CONNECTED)
            && !self.has(
                Self::CLOSING
                    | Self::CLOSED
                    | Self::PEER_EOF
                    | Self::REPLY_PAUSED
                    | Self::USER_PAUSED
                    | Self::UPGRADING,
            )
    }

    /// Whether writes are accepted.
    pub fn takes_writes(self) -> bool {
        !self.has(Self::CLOSING | Self::CLOSED | Self::SHUT_PENDING | Self::WRITE_SHUT)
    }

    /// Starts closing; false if it already was.
    pub fn start_close(&mut self) -> bool {
        if self.has(Self::CLOSING | Self::CLOSED) {
            return false;
        }
        self.set(Self::CLOSING);
        true
    }

    /// The connect finished.
    pub fn connected(&mut self) {
        self.0 = (self.0 & !Self::CONNECTING) | Self::CONNECTED;
    }
}

#[cfg(test)]
mod tests {
    use super::Lifecycle;

    #[test]
    fn reads_only_when_connected_and_unpaused() {
        let mut l = Lifecycle::new(true);
        assert!(!l.reads(), "connecting");
        l.connected();
        assert!(l.reads());
        for pause in [
            Lifecycle::REPLY_PAUSED,
            Lifecycle::USER_PAUSED,
            Lifecycle::PEER_EOF,
        ] {
            let mut p = l;
            p.set(pause);
            assert!(!p.reads());
            assert!(p.takes_writes(), "pausing reads keeps writes");
        }
        assert!(l.start_close());
        assert!(!l.start_close(), "closing twice is one close");
        assert!(!l.reads() && !l.takes_writes() && !l.delivers());
    }

    #[test]
    fn half_close_stops_writes_not_reads() {
        let mut l = Lifecycle::new(false);
        l.set(Lifecycle::SHUT_PENDING);
        assert!(!l.takes_writes());
        assert!(l.reads());
        l.set(Lifecycle::LINGER);
        assert!(
            !l.delivers(),
            "a lingering stream reads but delivers nothing"
        );
        assert!(l.is_open());
    }
}
