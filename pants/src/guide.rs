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
//!         let msg = format!("Connected: {}\r\n", s.remote_addr().ip());
//!         s.broadcast(msg.as_bytes());
//!     }
//!
//!     #[on_read(delimiter = "\r\n")]
//!     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
//!         let mut msg = format!("{}: ", s.remote_addr().ip()).into_bytes();
//!         msg.extend_from_slice(line);
//!         msg.extend_from_slice(b"\r\n");
//!         s.broadcast(&msg);
//!     }
//!
//!     #[on_close]
//!     fn left(&mut self, s: &mut Stream<Self>) {
//!         let msg = format!("Disconnected: {}\r\n", s.remote_addr().ip());
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
