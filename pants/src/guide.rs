//! The Pants tutorial, in Rust: an echo server, 8-byte blocks, a chat, a client.
//!
//! # A simple server
//!
//! ```no_run
//! use pants::prelude::*;
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! #[channel]
//! impl Echo {
//!     #[on_read]
//!     fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
//!         s.write(data);
//!     }
//! }
//!
//! fn main() -> pants::Result<()> {
//!     let mut engine = Engine::new()?;
//!     engine.listen::<Echo>("127.0.0.1:4040")?;
//!     engine.start()
//! }
//! ```
//!
//! The engine makes an `Echo` (with `Default`) for each accepted connection.
//! `#[on_read]` without arguments hands over whatever arrived; `s.write`
//! queues bytes that go out, in one system call, when the handler returns.
//! Try `nc 127.0.0.1 4040`.
//!
//! # Kicking it up a notch: framing
//!
//! ```
//! use pants::prelude::*;
//!
//! #[derive(Default)]
//! struct BlockEcho;
//!
//! #[channel]
//! impl BlockEcho {
//!     #[on_connect]
//!     fn hello(&mut self, s: &mut Stream<Self>) {
//!         println!("{} connected", s.remote_addr());
//!     }
//!
//!     #[on_read(bytes = 8)]
//!     fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
//!         s.write_all(&[block, b"\r\n"]);
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! The stream buffers input and calls `block` with exactly 8 bytes. Other
//! framings: `delimiter = "\r\n"`, `regex = r"\s\s+"`, and
//! `regex = "...", mode = "match"` (see [`channel`](crate::channel)).
//!
//! # Taking it to another level: a chat
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
//!     fn joined(&mut self, s: &mut Stream<Self>) {
//!         let msg = format!("Connected: {}\r\n", s.remote_addr().host());
//!         s.broadcast(msg.as_bytes());
//!     }
//!
//!     #[on_read(delimiter = "\r\n")]
//!     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
//!         let mut msg = format!("{}: ", s.remote_addr().host()).into_bytes();
//!         msg.extend_from_slice(line);
//!         msg.extend_from_slice(b"\r\n");
//!         s.broadcast(&msg);
//!     }
//!
//!     #[on_close]
//!     fn left(&mut self, s: &mut Stream<Self>) {
//!         let msg = format!("Disconnected: {}\r\n", s.remote_addr().host());
//!         s.broadcast(msg.as_bytes());
//!     }
//! }
//!
//! fn main() -> pants::Result<()> {
//!     let mut engine = Engine::new()?;
//!     engine.listen::<Chat>("127.0.0.1:4040")?;
//!     engine.stop_on_signals()?;
//!     engine.start()
//! }
//! ```
//!
//! # Writing a client
//!
//! ```no_run
//! use pants::prelude::*;
//!
//! struct Head;
//!
//! #[channel]
//! impl Head {
//!     #[on_connect]
//!     fn up(&mut self, s: &mut Stream<Self>) {
//!         s.write(b"HEAD / HTTP/1.0\r\n\r\n");
//!     }
//!
//!     #[on_read(delimiter = "\r\n\r\n")]
//!     fn head(&mut self, s: &mut Stream<Self>, head: &[u8]) {
//!         println!("{}", String::from_utf8_lossy(head));
//!         s.close();
//!     }
//!
//!     #[on_connect_error]
//!     fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
//!         eprintln!("{error}");
//!     }
//!
//!     #[on_close]
//!     fn done(&mut self, s: &mut Stream<Self>) {
//!         s.stop_engine();
//!     }
//! }
//!
//! fn main() -> pants::Result<()> {
//!     let mut engine = Engine::new()?;
//!     engine.connect("127.0.0.1:8080", Head)?;
//!     engine.start()
//! }
//! ```
//!
//! # Binary protocols: typed frames, prefixes, announced lengths
//!
//! Pants' `Struct("!2H")` delimiter is a typed argument here, checked at
//! compile time: `(a, b): (u16, u16)` reads four bytes in network order.
//! A length-prefixed message is `prefix = u16`, and a body whose length a
//! header announced is `bytes = self.length`, evaluated when the state is
//! entered and refused (`on_overflow_error`) if it is over `max`.
//!
//! ```no_run
//! use pants::prelude::*;
//!
//! /// `op: u8, key_len: u8, value_len: u16`, then the key and the value.
//! #[derive(Packed, Clone, Copy, Default)]
//! struct Header {
//!     op: u8,
//!     key_len: u8,
//!     value_len: u16,
//! }
//!
//! #[derive(Default)]
//! struct Store {
//!     header: Header,
//!     key: Vec<u8>,
//!     // Per connection, to keep the example short; share one store between
//!     // connections with an `Rc<RefCell<...>>` given to each channel value.
//!     map: std::collections::HashMap<Vec<u8>, Vec<u8>>,
//! }
//!
//! #[channel]
//! impl Store {
//!     #[on_read(initial)]
//!     fn header(&mut self, s: &mut Stream<Self>, header: Header) {
//!         self.header = header;
//!         s.switch(Self::KEY);
//!     }
//!
//!     #[on_read(bytes = self.header.key_len)]
//!     fn key(&mut self, s: &mut Stream<Self>, key: &[u8]) {
//!         self.key = key.to_vec();
//!         s.switch(Self::VALUE);
//!     }
//!
//!     #[on_read(bytes = self.header.value_len, max = 65_535)]
//!     fn value(&mut self, s: &mut Stream<Self>, value: &[u8]) {
//!         let key = std::mem::take(&mut self.key);
//!         if self.header.op == b'S' {
//!             self.map.insert(key, value.to_vec());
//!             s.write_packed(&(b'+', 0u16));
//!         } else {
//!             let found = self.map.get(&key).map_or(&[][..], Vec::as_slice);
//!             // A reply is a typed status, then a u16-prefixed value.
//!             s.write_packed(&b'=');
//!             let _ = s.write_prefixed::<u16>(found);
//!         }
//!         s.switch(Self::HEADER);
//!     }
//! }
//!
//! fn main() -> pants::Result<()> {
//!     let mut engine = Engine::new()?;
//!     engine.listen::<Store>("127.0.0.1:4040")?;
//!     engine.start()
//! }
//! ```
//!
//! # Compile errors
//!
//! The macros check what they can see when they expand, and a mistake is one
//! error, at the token that is wrong, saying what to write; after it they
//! still emit the impls the rest of the program relies on, so nothing else
//! reports it again. They check:
//!
//! * `#[on_read(...)]`: the keys and their values (a delimiter that is not
//!   empty, a regex that compiles and cannot match the empty string, one
//!   framing kind per state, `max` at least one frame, `initial` on one
//!   state);
//! * handlers: `&mut self`, `s: &mut Stream<Self>`, the event's value
//!   (`&[u8]`, a `Match` in match mode, a typed frame, `&pants::Error`,
//!   `pants::Timeout`), no return value, not `async`, not generic, one
//!   handler per event;
//! * `#[cfg]` alternatives: two handlers of one event, or two `initial`
//!   states, that are both compiled in;
//! * typed frames: fixed-size types (no `usize`), at least one byte and
//!   within `max`;
//! * apps: one variant per channel type in a `#[derive(App)]` enum, each
//!   channel marked `#[channel(app = ThatEnum)]`, and a channel type's
//!   parameters `'static`.
//!
//! ```compile_fail
//! use pants::prelude::*;
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! #[channel]
//! impl Echo {
//!     #[on_read]
//!     async fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
//!         s.write(data);
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! ```text
//! error: a #[on_read] handler cannot be `async`: the engine calls it on its event loop and awaits nothing; remove `async`, and for work that waits, keep the state in the channel (a read state, `s.switch`, a timer)
//!   --> src/main.rs:9:5
//!    |
//!  9 |     async fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
//!    |     ^^^^^
//! ```
//!
//! ```text
//! error: `head` is already the initial read state; mark only one #[on_read] method `initial` (these two are #[cfg] alternatives, and both are compiled in)
//!   --> src/main.rs:15:27
//!    |
//! 15 |     #[on_read(bytes = 16, initial)]
//!    |                           ^^^^^^^
//! ```
//!
//! ```text
//! error[E0277]: `Back` is not a channel type of `Proxy`
//!   --> src/main.rs:14:10
//!    |
//! 14 |     Back(Back),
//!    |          ^^^^ not a channel type marked `#[channel(app = Proxy)]`
//!    |
//!    = note: each variant of an enum with #[derive(App)] holds a channel type whose impl is marked `#[channel(app = Proxy)]`
//! ```
//!
//! Each mistake the macros know has a case in the repository's `ui-tests`,
//! with the error it gives next to it.
