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
//!         let msg = format!("Connected: {}\r\n", s.remote_addr().host());
//!         s.broadcast(msg.as_bytes());
//!     }
//!
//!     #[on_read(delimiter = "\r\n")]
//!     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
//!         let who = format!("{}: ", s.remote_addr().host());
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
mod api;
mod core;
mod engine;
mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod guide;
pub mod handlers;
mod multi;
pub mod packed;
#[doc(hidden)]
pub mod proto;
mod sys;
pub mod tls;

pub use crate::addr::{Addr, Credentials, IntoAddr, UnixAddr};
pub use crate::api::channel::{App, Channel, Match, Member, ReadState};
pub use crate::api::datagram::{Datagram, DatagramId};
pub use crate::api::server::{ServerId, ServerRef, StreamId};
pub use crate::api::stream::Stream;
pub use crate::core::{DATAGRAM_QUEUE_BYTES, DATAGRAM_QUEUE_LEN};
pub use crate::engine::{DEFAULT_SHUTDOWN_GRACE, Engine, Handle};
pub use crate::error::{Error, Result};
pub use crate::handlers::{
    on_close, on_connect, on_connect_error, on_datagram_error, on_handshake, on_handshake_error,
    on_overflow_error, on_pause_writing, on_read, on_resume_writing, on_shutdown, on_timeout,
    on_write,
};
pub use crate::multi::{SharedPort, run_threads};
pub use crate::packed::{Endian, Packed, PrefixLen};
pub use crate::proto::close::CloseReason;
pub use crate::proto::deadlines::{Timeout, Timeouts};
pub use crate::proto::timer::TimerId;
pub use crate::proto::write_queue::{PastMax, WriteLimits};
#[doc(hidden)]
pub use crate::proto::{framing, timer};
pub use crate::sys::clock::Clock;
pub use crate::sys::datagram::{MAX_UDP_V4, MAX_UDP_V6};
pub use crate::sys::net::ListenOptions;
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
/// | `#[on_overflow_error]` | `fn(&mut self, s: &mut Stream<Self>, error: &pants::Error)` | more than `max` bytes buffered without a frame ([`Error::Overflow`]), or an announced length over `max` ([`Error::FrameTooLarge`]); default: close |
///
/// `#[on_read]` keys (one framing kind per method):
///
/// | key | frame | handler's frame argument |
/// |---|---|---|
/// | (none) | whatever arrived | `&[u8]` |
/// | (none), typed argument | [`Packed::SIZE`] bytes, decoded in network order: `(u16, u16)`, `u32`, `[u8; 4]`, a [`derive@Packed`] struct | the type |
/// | `bytes = 8` | exactly 8 bytes (`> 0`) | `&[u8]` |
/// | `bytes = self.length` | as many bytes as the expression (an unsigned integer) says, evaluated on entering the state; 0 gives one empty frame | `&[u8]` |
/// | `delimiter = "\r\n"` | the bytes before the delimiter (stripped; not empty; `b"..."` works too) | `&[u8]` |
/// | `regex = r"\s\s+"` | the bytes before the first match (the match is stripped) | `&[u8]` |
/// | `regex = r"(\w+)\r\n", mode = "match"` | a match anchored at the first byte | [`Match<'_>`](crate::Match) |
/// | `prefix = u16` | the payload after a big-endian `u8`, `u16` or `u32` length | `&[u8]` |
/// | `max = N` | with any of the above: cap on buffered bytes, or on the announced length (default 64 KiB) | |
/// | `mode = "search"` | with `regex`: the default | |
/// | `initial` | with any of the above: the first read state, required when there are several | |
///
/// Several `#[on_read]` methods are the states of a read machine: `#[channel]`
/// defines a constant per state, named after the method in upper case, and a
/// handler switches with [`Stream::switch`]. A switch applies to the next
/// frame, bytes already buffered included. `#[channel(app = Enum)]` puts the
/// type in a multi-protocol engine (see [`derive@App`]).
///
/// Mistakes are compile errors at the offending token: an empty delimiter,
/// `bytes = 0`, an invalid regex (with the regex parser's message), `max`
/// below one frame, an unknown or repeated key, two framing kinds on one
/// method, a typed argument with a framing key, a signature that does not
/// fit its attribute, two handlers for one event, two initial states or none,
/// a switch to a state that does not exist.
///
/// An HTTP-style head, then a body of the announced length:
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
///         self.length = content_length(head);
///         s.switch(Self::BODY);
///     }
///
///     #[on_read(bytes = self.length, max = 1_048_576)]
///     fn body(&mut self, s: &mut Stream<Self>, body: &[u8]) {
///         s.write(format!("got {} bytes\r\n", body.len()).as_bytes());
///         s.switch(Self::HEAD);
///     }
///
///     #[on_overflow_error]
///     fn too_big(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
///         s.write(format!("431 {error}\r\n").as_bytes());
///         s.close();
///     }
/// }
///
/// fn content_length(head: &[u8]) -> usize {
///     let head = String::from_utf8_lossy(head);
///     head.lines()
///         .filter_map(|l| l.split_once(':'))
///         .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
///         .and_then(|(_, v)| v.trim().parse().ok())
///         .unwrap_or(0)
/// }
/// # fn main() {}
/// ```
///
/// Typed frames and length prefixes, the `struct.Struct` and netstring
/// styles of binary protocol:
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Binary {
///     sum: u32,
/// }
///
/// #[channel]
/// impl Binary {
///     // Four bytes: two big-endian u16s (Python's `Struct("!2H")`).
///     #[on_read(initial)]
///     fn pair(&mut self, s: &mut Stream<Self>, (a, b): (u16, u16)) {
///         self.sum = u32::from(a) + u32::from(b);
///         s.write_packed(&self.sum);
///         s.switch(Self::NAME);
///     }
///
///     // A u8 length, then that many bytes.
///     #[on_read(prefix = u8)]
///     fn name(&mut self, s: &mut Stream<Self>, name: &[u8]) {
///         let _ = s.write_prefixed::<u8>(name);
///         s.switch(Self::PAIR);
///     }
/// }
/// # fn main() {}
/// ```
///
/// Regex match mode with captures:
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Kv;
///
/// #[channel]
/// impl Kv {
///     #[on_read(regex = r"(?P<key>[a-z]+)=(?P<value>[0-9]+);", mode = "match", max = 256)]
///     fn pair(&mut self, s: &mut Stream<Self>, m: Match<'_>) {
///         let key = m.name("key").unwrap_or_default();
///         let value = m.name("value").unwrap_or_default();
///         s.write_all(&[key, b" is ", value, b"\n"]);
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::channel;

/// Everything a protocol module needs: `use pants::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Addr, App, CloseReason, Datagram, Engine, Match, Packed, ReadState, Stream, StreamId,
        Timeout, channel, on_close, on_connect, on_connect_error, on_datagram_error, on_handshake,
        on_handshake_error, on_overflow_error, on_pause_writing, on_read, on_resume_writing,
        on_shutdown, on_timeout, on_write,
    };
}
