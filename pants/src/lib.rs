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

#[doc(hidden)]
pub mod __private;
mod addr;
mod channel;
mod core;
mod engine;
mod error;
pub mod framing;
pub mod guide;
mod net;
mod stream;
pub mod timer;

pub use crate::addr::IntoAddr;
pub use crate::channel::{App, Channel, Match, Member, ReadState};
pub use crate::engine::{Engine, Handle};
pub use crate::error::{Error, Result};
pub use crate::net::ListenOptions;
pub use crate::stream::{ServerId, ServerRef, Stream, StreamId};
pub use crate::timer::TimerId;
pub use pants_derive::{
    App, channel, on_close, on_connect, on_connect_error, on_overflow_error, on_read, on_write,
};

/// Everything a protocol module needs: `use pants::prelude::*;`.
pub mod prelude {
    pub use crate::{
        App, Engine, Match, ReadState, Stream, StreamId, channel, on_close, on_connect,
        on_connect_error, on_overflow_error, on_read, on_write,
    };
}
