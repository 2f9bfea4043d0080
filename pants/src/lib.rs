//! Pants: simple, fast, declarative network programming over mio.
//!
//! An [`Engine`] (event loop) drives channels (TCP streams and servers) and
//! timers. A protocol is an impl block marked [`#[channel]`](channel) whose
//! methods are callbacks; `#[on_read(...)]` says how input is framed (whatever
//! arrived, `bytes = 8`, `delimiter = "\r\n"`, a regex), so each call gets
//! exactly one frame as a `&[u8]` borrowed from the stream's buffer. The macro
//! writes the dispatch table and read state machine at compile time: no trait
//! objects on the path from a readiness event to your handler.
//!
//! ```no_run
//! use pants::prelude::*;
//!
//! #[derive(Default)]
//! struct Chat;
//!
//! #[channel]
//! impl Chat {
//!     #[on_connect]
//!     fn hello(&mut self, s: &mut Stream<Self>) {
//!         let msg = format!("Connected: {}\r\n", s.remote_addr().ip());
//!         s.broadcast(msg.as_bytes());
//!     }
//!
//!     #[on_read(delimiter = "\r\n")]
//!     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
//!         let who = format!("{}: ", s.remote_addr().ip());
//!         s.server().map(|mut server| {
//!             for part in [who.as_bytes(), line, b"\r\n"] {
//!                 server.broadcast(part);
//!             }
//!         });
//!     }
//! }
//!
//! fn main() -> pants::Result<()> {
//!     let mut engine = Engine::new()?;
//!     engine.listen::<Chat>("127.0.0.1:4040")?;
//!     engine.start()
//! }
//! ```
//!
//! See the [`guide`] for the tutorial and `DESIGN.md` for the architecture.
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

// `#[channel]` names `::pants`: this lets unit tests (multi.rs) use it.
#[cfg(test)]
extern crate self as pants;
#[doc(hidden)]
pub mod __private;
mod addr;
mod channel;
mod core;
mod engine;
mod error;
pub mod framing;
pub mod guide;
mod multi;
mod net;
pub mod packed;
mod stream;
pub mod timer;

pub use crate::addr::IntoAddr;
pub use crate::channel::{App, Channel, Match, Member, ReadState};
pub use crate::engine::{Engine, Handle};
pub use crate::error::{Error, Result};
pub use crate::multi::{SharedPort, run_threads};
pub use crate::net::ListenOptions;
pub use crate::packed::{Endian, Packed, PrefixLen};
pub use crate::stream::{ServerId, ServerRef, Stream, StreamId};
pub use crate::timer::TimerId;
/// Derives [`App`] for an enum whose variants each hold one channel type, so
/// one engine runs several protocols (a proxy's front and back) with static
/// dispatch. Each channel type names the enum: `#[channel(app = Proxy)]`.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(App)]
/// enum Proxy {
///     Front(Front),
///     Back(Back),
/// }
///
/// #[derive(Default)]
/// struct Front;
///
/// #[channel(app = Proxy)]
/// impl Front {
///     #[on_connect]
///     fn open(&mut self, s: &mut Stream<Self>) {
///         let _ = s.connect("127.0.0.1:9", Back);
///     }
/// }
///
/// struct Back;
///
/// #[channel(app = Proxy)]
/// impl Back {}
///
/// # fn main() -> pants::Result<()> {
/// let mut engine = Engine::<Proxy>::new()?;
/// engine.listen::<Front>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub use pants_derive::App;
/// Makes an inherent impl block a protocol: its annotated methods become the
/// callbacks of a stream, dispatched by generated code.
///
/// | attribute | method signature | called when |
/// |---|---|---|
/// | `#[on_connect]` | `fn(&mut self, s: &mut Stream<Self>)` | the stream is connected (accepted, or a connect completed) |
/// | `#[on_read(...)]` | `fn(&mut self, s: &mut Stream<Self>, frame: &[u8])` | a frame is ready (see below) |
/// | `#[on_write]` | `fn(&mut self, s: &mut Stream<Self>)` | the write queue drained |
/// | `#[on_close]` | `fn(&mut self, s: &mut Stream<Self>)` | the stream closed; exactly once |
/// | `#[on_connect_error]` | `fn(&mut self, s: &mut Stream<Self>, error: &pants::Error)` | connecting failed (refused, unreachable, name not resolved); `on_close` follows |
/// | `#[on_overflow_error]` | `fn(&mut self, s: &mut Stream<Self>, error: &pants::Error)` | more than `max` bytes buffered without a frame; default: close |
///
/// `#[on_read]` keys (one framing kind per method):
///
/// | key | frame |
/// |---|---|
/// | (none) | whatever arrived |
/// | `bytes = N` | exactly `N` bytes (`N > 0`) |
/// | `delimiter = "\r\n"` | the bytes before the delimiter (stripped; not empty) |
/// | `regex = r"\s\s+"` | the bytes before the first match (the match is stripped) |
/// | `regex = r"(\w+)\r\n", mode = "match"` | a match anchored at the first byte; the handler takes [`Match<'_>`](crate::Match) |
/// | `max = N` | with any of the above: cap on buffered bytes (default 64 KiB) |
/// | `initial` | with any of the above: the first read state, required when there are several |
///
/// Several `#[on_read]` methods are the states of a read machine: `#[channel]`
/// defines a constant per state, named after the method in upper case, and a
/// handler switches with [`Stream::switch`]. `#[channel(app = Enum)]` puts the
/// type in a multi-protocol engine (see [`derive@App`]).
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Http {
///     length: usize,
/// }
///
/// #[channel]
/// impl Http {
///     #[on_read(delimiter = "\r\n\r\n", initial, max = 8192)]
///     fn head(&mut self, s: &mut Stream<Self>, head: &[u8]) {
///         self.length = head.len() % 16 + 1; // parse Content-Length here
///         s.switch(Self::BODY_BYTE);
///     }
///
///     #[on_read(bytes = 1)]
///     fn body_byte(&mut self, s: &mut Stream<Self>, byte: &[u8]) {
///         s.write(byte);
///         self.length -= 1;
///         if self.length == 0 {
///             s.switch(Self::HEAD);
///         }
///     }
///
///     #[on_overflow_error]
///     fn too_big(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
///         s.write(format!("431 {error}\r\n").as_bytes());
///         s.close();
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::channel;
/// Derives [`Packed`](trait@Packed) for a struct whose fields are packed
/// (integers, floats, arrays, tuples, other packed structs): the fields in
/// declaration order, with no padding, in network order unless the struct
/// says `#[packed(endian = "little")]`.
///
/// The struct is then a typed frame: an `#[on_read]` handler taking it reads
/// [`Packed::SIZE`] bytes, and [`Stream::write_packed`] writes it.
///
/// ```
/// use pants::prelude::*;
///
/// /// A little-endian header: kind, flags, payload length.
/// #[derive(Packed, Clone, Copy, Debug, Default)]
/// #[packed(endian = "little")]
/// struct Header {
///     kind: u8,
///     flags: [u8; 3],
///     length: u32,
/// }
///
/// #[derive(Default)]
/// struct Tlv {
///     header: Header,
/// }
///
/// #[channel]
/// impl Tlv {
///     #[on_read(initial)]
///     fn header(&mut self, s: &mut Stream<Self>, header: Header) {
///         self.header = header;
///         s.switch(Self::BODY);
///     }
///
///     #[on_read(bytes = self.header.length, max = 65_536)]
///     fn body(&mut self, s: &mut Stream<Self>, body: &[u8]) {
///         s.write_packed(&self.header);
///         s.write(body);
///         s.switch(Self::HEADER);
///     }
/// }
///
/// fn main() {
///     assert_eq!(<Header as pants::Packed>::SIZE, 8);
/// }
/// ```
pub use pants_derive::Packed;
#[doc(hidden)]
pub use pants_derive::{
    on_close, on_connect, on_connect_error, on_overflow_error, on_read, on_write,
};

/// Everything a protocol module needs: `use pants::prelude::*;`.
pub mod prelude {
    pub use crate::{
        App, Engine, Match, Packed, ReadState, Stream, StreamId, channel, on_close, on_connect,
        on_connect_error, on_overflow_error, on_read, on_write,
    };
}
