//! The traits `#[channel]` implements, and the small types handlers see.
//!
//! Users do not implement these traits by hand: `#[channel]` on an impl block
//! writes them, and `#[derive(App)]` writes [`App`] for an enum of channel
//! types. Their methods are the static dispatch table: every call from the
//! engine into user code is a direct (inlinable) call chosen by a `match` on a
//! state index, never a trait object.

use std::fmt;
use std::marker::PhantomData;

use regex::bytes::{CaptureLocations, Regex};

use crate::addr::Addr;
use crate::api::datagram::Datagram;
use crate::api::stream::Stream;
use crate::core::Core;
use crate::error::Error;
use crate::proto::close::CloseReason;
use crate::proto::deadlines::{Timeout, Timeouts};
use crate::proto::read::Rule;

/// A protocol: the handler type that `#[channel]` annotates.
///
/// Each `#[on_read]` method is a read state; [`Channel::__pants_rule`] tells
/// the engine how to frame input in a state and [`Channel::__pants_frame`]
/// calls the state's method with one frame.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a channel: it has no #[channel] impl",
    label = "not a channel",
    note = "a channel type has one impl block marked #[channel] that holds its handlers: `#[channel] impl {Self} {{ ... }}`"
)]
pub trait Channel: Sized + 'static {
    /// The engine's channel type: `Self` for an engine that runs one
    /// protocol, or an enum made with `#[derive(App)]`.
    type App: App + Member<Self>;

    #[doc(hidden)]
    const __PANTS_INITIAL: u16 = 0;

    /// Whether an `#[on_write]` handler exists: if not, the engine skips
    /// the call after every drained write.
    #[doc(hidden)]
    const __PANTS_ON_WRITE: bool = false;

    /// The timeouts declared with `#[channel(idle_timeout = "30s", ...)]`.
    #[doc(hidden)]
    const __PANTS_TIMEOUTS: Timeouts = Timeouts::NONE;

    #[doc(hidden)]
    fn __pants_rule(&self, state: u16) -> Rule;

    /// The length of a `bytes = expr` state, evaluated on entering it.
    #[doc(hidden)]
    fn __pants_len(&self, _state: u16) -> usize {
        0
    }

    #[doc(hidden)]
    fn __pants_frame(&mut self, s: &mut Stream<'_, Self>, state: u16, frame: Payload<'_>);

    #[doc(hidden)]
    fn __pants_connect(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_write(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_close(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_connect_error(&mut self, s: &mut Stream<'_, Self>, error: &Error) {
        log::warn!("stream {}: {error}", s.id());
    }

    #[doc(hidden)]
    fn __pants_overflow(&mut self, s: &mut Stream<'_, Self>, error: &Error) {
        log::warn!(
            "stream {} ({}): {error}; closing it",
            s.id(),
            s.remote_addr()
        );
        s.close_because(CloseReason::Overflow);
    }

    #[doc(hidden)]
    fn __pants_pause_writing(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_resume_writing(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_timeout(&mut self, s: &mut Stream<'_, Self>, timeout: Timeout) {
        log::info!(
            "stream {} ({}): {timeout}; closing it",
            s.id(),
            s.remote_addr()
        );
        if timeout == Timeout::Write {
            // The queue is stuck: sending it is what timed out.
            s.close_now_because(CloseReason::Timeout(timeout));
        } else {
            s.close_because(CloseReason::Timeout(timeout));
        }
    }

    #[doc(hidden)]
    fn __pants_shutdown(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_handshake(&mut self, _s: &mut Stream<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_datagram(&mut self, d: &mut Datagram<'_, Self>, from: &Addr, data: &[u8]) {
        log::warn!(
            "{}: a datagram of {} bytes from {from}, and no datagram handler",
            d.id(),
            data.len()
        );
    }

    #[doc(hidden)]
    fn __pants_datagram_error(&mut self, d: &mut Datagram<'_, Self>, from: &Addr, error: &Error) {
        log::info!("{}: datagram from {from}: {error}", d.id());
    }

    #[doc(hidden)]
    fn __pants_datagram_close(&mut self, _d: &mut Datagram<'_, Self>) {}

    #[doc(hidden)]
    fn __pants_handshake_error(&mut self, s: &mut Stream<'_, Self>, error: &Error) {
        log::info!("stream {}: {error}", s.id());
    }
}

/// What the engine asks a channel to handle.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// The stream is connected (accepted, or the connect completed).
    Connect,
    /// Input arrived: frame what can be framed, return how many bytes were used.
    Read {
        /// Buffered bytes followed by the newly read ones.
        input: &'a [u8],
        /// The peer shut its write side after these bytes.
        eof: bool,
    },
    /// The write queue drained.
    Write,
    /// The stream closed (called exactly once).
    Close,
    /// Connecting failed.
    ConnectError(&'a Error),
    /// The write queue rose above its high watermark.
    PauseWriting,
    /// The write queue fell to its low watermark.
    ResumeWriting,
    /// A timeout expired.
    Timeout(Timeout),
    /// The engine is shutting down.
    Shutdown,
    /// The TLS handshake finished.
    Handshake,
    /// The TLS handshake failed (the stream closes next).
    HandshakeError(&'a Error),
    /// A datagram arrived.
    Datagram {
        /// Its sender.
        from: &'a Addr,
        /// The whole datagram.
        data: &'a [u8],
    },
    /// The datagram socket closed (called exactly once).
    DatagramClose,
}

/// The engine's channel type: one channel type, or an enum of several.
///
/// `#[channel]` implements it for the annotated type (an engine of one
/// protocol); `#[derive(App)]` implements it for an enum whose variants each
/// hold one channel type (a proxy's front and back), dispatching with a
/// `match`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an app an engine can run",
    label = "not an app",
    note = "an engine runs one #[channel] type, or an enum of them with #[derive(pants::App)] whose channel types are each marked `#[channel(app = ThatEnum)]`"
)]
pub trait App: Sized + 'static {
    #[doc(hidden)]
    fn __pants_event(&mut self, core: &mut Core<Self>, key: usize, event: Event<'_>) -> usize;

    /// Whether this value's channel type handles `on_write`.
    #[doc(hidden)]
    fn __pants_on_write(&self) -> bool {
        true
    }
}

/// `A` can hold a `C` (an [`App`] enum variant, or `C` itself).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no place for the channel type `{C}`",
    label = "`{C}` is not part of `{Self}`",
    note = "if `{Self}` is an enum with #[derive(App)], add a variant holding `{C}`, e.g. `{C}({C})`",
    note = "an engine of one #[channel] type runs that type only; to run several, make an enum of them with #[derive(App)] and mark each `#[channel(app = ThatEnum)]`"
)]
pub trait Member<C>: From<C> {
    /// The `C` inside, if this value holds one.
    fn member_mut(&mut self) -> Option<&mut C>;

    /// The `C` inside, by value, or the value back if it holds another type.
    fn into_member(self) -> Result<C, Self>;
}

impl<C> Member<C> for C {
    fn member_mut(&mut self) -> Option<&mut C> {
        Some(self)
    }

    fn into_member(self) -> Result<C, Self> {
        Ok(self)
    }
}

/// A read state of channel `C`: one of its `#[on_read]` methods.
///
/// `#[channel]` defines one constant per `#[on_read]` method, named after the
/// method in upper case (`fn body` gives `Self::BODY`), and
/// [`Stream::switch`] takes it. Naming a state that does not exist is a
/// compile error.
pub struct ReadState<C> {
    index: u16,
    _channel: PhantomData<fn() -> C>,
}

impl<C> ReadState<C> {
    #[doc(hidden)]
    pub const fn __new(index: u16) -> Self {
        Self {
            index,
            _channel: PhantomData,
        }
    }

    /// The state's index in declaration order of the `#[on_read]` methods.
    pub const fn index(self) -> u16 {
        self.index
    }
}

impl<C> Clone for ReadState<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for ReadState<C> {}

impl<C> PartialEq for ReadState<C> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl<C> Eq for ReadState<C> {}

impl<C> fmt::Debug for ReadState<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadState({})", self.index)
    }
}

/// One frame on its way to a handler: bytes, plus captures in regex match mode.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Payload<'a> {
    pub bytes: &'a [u8],
    pub captures: Option<(&'a Regex, &'a CaptureLocations)>,
}

impl<'a> Payload<'a> {
    /// The frame as a regex match (match mode).
    pub fn to_match(self) -> Match<'a> {
        match self.captures {
            Some((regex, locations)) => Match {
                bytes: self.bytes,
                regex: Some(regex),
                locations: Some(locations),
            },
            None => Match {
                bytes: self.bytes,
                regex: None,
                locations: None,
            },
        }
    }
}

/// A frame read in regex match mode: the matched bytes and their capture groups.
///
/// Borrowed from the stream's buffer: nothing is allocated per frame.
#[derive(Clone, Copy)]
pub struct Match<'a> {
    bytes: &'a [u8],
    regex: Option<&'a Regex>,
    locations: Option<&'a CaptureLocations>,
}

impl<'a> Match<'a> {
    /// The whole match.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Capture group `i` (0 is the whole match), if it took part in the match.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        match self.locations {
            Some(locs) => locs.get(i).map(|(start, end)| &self.bytes[start..end]),
            None => (i == 0).then_some(self.bytes),
        }
    }

    /// The capture group called `name`, if it took part in the match.
    pub fn name(&self, name: &str) -> Option<&'a [u8]> {
        let regex = self.regex?;
        let index = regex.capture_names().position(|n| n == Some(name))?;
        self.get(index)
    }

    /// Number of groups, the whole match included.
    pub fn len(&self) -> usize {
        self.locations.map_or(1, CaptureLocations::len)
    }

    /// Always false: a match has at least group 0.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Debug for Match<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<_> = (0..self.len())
            .map(|i| self.get(i).map(String::from_utf8_lossy))
            .collect();
        f.debug_struct("Match").field("groups", &groups).finish()
    }
}
