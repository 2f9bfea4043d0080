//! The handler attributes: each marks a method of a [`#[channel]`](crate::channel)
//! impl as the callback for one event. All are re-exported at the crate
//! root and in the prelude.
//!
//! | attribute | called | arguments after `&mut self, s: &mut Stream<Self>` |
//! |---|---|---|
//! | [`on_connect`] | the stream is up (accepted, or the connect finished) | |
//! | [`on_read`] | one frame arrived | the frame |
//! | [`on_write`] | the write queue drained | |
//! | [`on_pause_writing`] | the write queue rose above its high watermark | |
//! | [`on_resume_writing`] | it fell back to its low watermark | |
//! | [`on_timeout`] | an idle, read, write or connect timeout expired | `timeout: pants::Timeout` |
//! | [`on_shutdown`] | the engine started a graceful shutdown | |
//! | [`on_close`] | the stream closed (exactly once; `s.close_reason()` says why) | |
//! | [`on_connect_error`] | connecting failed (then `on_close`) | `error: &pants::Error` |
//! | [`on_handshake`] | the TLS handshake finished (before `on_connect` on a TLS stream) | |
//! | [`on_handshake_error`] | the TLS handshake failed (then `on_close`) | `error: &pants::Error` |
//!
//! A datagram channel (`#[channel(datagram)]`) has its own three, each
//! taking `d: &mut Datagram<Self>` in place of the stream: [`on_read`]
//! (`from: &Addr, data: &[u8]`, or a `Packed` value: one datagram, whole),
//! [`on_datagram_error`] (`from: &Addr, error: &pants::Error`: a datagram
//! of the wrong size for the typed frame) and [`on_close`].
//! | [`on_overflow_error`] | a frame over the read state's `max` | `error: &pants::Error` |

// Items referenced by the attributes' docs.
#[allow(unused_imports, reason = "named by intra-doc links")]
use crate::{CloseReason, Engine, Error, Stream, WriteLimits, channel};

/// Marks the method called when the stream has closed, for any reason;
/// called exactly once, after which the channel value is dropped.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Logged;
///
/// #[channel]
/// impl Logged {
///     #[on_close]
///     fn gone(&mut self, s: &mut Stream<Self>) {
///         eprintln!("{} left", s.remote_addr());
///     }
/// }
/// # fn main() -> pants::Result<()> {
/// # let mut engine = Engine::new()?;
/// # engine.listen::<Logged>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub use pants_derive::on_close;
/// Marks the method called once the stream is connected: accepted by a
/// server, or a [`Stream::connect`]/[`Engine::connect`] that completed.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Banner;
///
/// #[channel]
/// impl Banner {
///     #[on_connect]
///     fn hello(&mut self, s: &mut Stream<Self>) {
///         s.write(b"220 ready\r\n");
///     }
/// }
/// # fn main() -> pants::Result<()> {
/// # let mut engine = Engine::new()?;
/// # engine.listen::<Banner>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub use pants_derive::on_connect;
/// Marks the method called when connecting failed (refused, unreachable,
/// name not resolved); [`#[on_close]`](on_close) follows. Without it the
/// error is logged.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Client;
///
/// #[channel]
/// impl Client {
///     #[on_connect_error]
///     fn failed(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
///         eprintln!("error: {error}");
///         s.stop_engine();
///     }
/// }
/// # fn main() -> pants::Result<()> {
/// # let mut engine = Engine::new()?;
/// # engine.listen::<Client>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub use pants_derive::on_connect_error;
/// Marks the method called when a frame is longer than its read state's
/// `max`, whatever way the input was split: a complete frame over `max`, or
/// an announced length (a prefix, `bytes = expr`) over it, is
/// [`Error::FrameTooLarge`]; an unfinished frame that can no longer fit is
/// [`Error::Overflow`]. Which of the two a long line gives depends on
/// whether its delimiter had arrived, so treat both alike. Without this
/// handler the stream is closed. If the handler keeps the stream open,
/// input resumes after the next delimiter, or after the too-large frame's
/// bytes.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Lines;
///
/// #[channel]
/// impl Lines {
///     #[on_read(delimiter = "\n", max = 4096)]
///     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
///         s.write_all(&[line, b"\n"]);
///     }
///
///     #[on_overflow_error]
///     fn too_long(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
///         s.write(format!("error: {error}\n").as_bytes());
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_overflow_error;
/// Marks the method called when the stream's write queue rises above its
/// high watermark ([`WriteLimits`]): stop producing (pause the stream you
/// copy from, stop reading a file) until `#[on_resume_writing]`. asyncio's
/// `pause_writing`, Netty's `channelWritabilityChanged`.
///
/// A stream's own replies pause its reading without a handler; this is for
/// producers the engine does not see: another stream, a timer, a thread.
///
/// ```
/// use pants::prelude::*;
///
/// /// The back of a proxy pauses the front while it cannot keep up.
/// struct Back {
///     front: StreamId,
/// }
///
/// #[channel]
/// impl Back {
///     #[on_read]
///     fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
///         s.write_to(self.front, data);
///     }
///
///     #[on_pause_writing]
///     fn full(&mut self, s: &mut Stream<Self>) {
///         s.set_reading_of(self.front, false);
///     }
///
///     #[on_resume_writing]
///     fn drained(&mut self, s: &mut Stream<Self>) {
///         s.set_reading_of(self.front, true);
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_pause_writing;
/// Marks a read state: the method gets one frame per call. Only inside a
/// [`#[channel]`](channel) impl, whose docs list every key.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Words;
///
/// #[channel]
/// impl Words {
///     #[on_read(regex = r"\s+", max = 1024)]
///     fn word(&mut self, s: &mut Stream<Self>, word: &[u8]) {
///         s.write_all(&[word, b"\n"]);
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_read;
/// Marks the method called when a stream that was above its high watermark
/// has drained to its low watermark: produce again. See
/// [`on_pause_writing`].
pub use pants_derive::on_resume_writing;
/// Marks the method called on every stream when the engine starts a
/// graceful shutdown ([`Engine::shutdown`], or SIGINT/SIGTERM after
/// [`Engine::stop_on_signals`]): it may still write (a goodbye), then the
/// queue is sent, the write side shut, and the stream closed.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Chat;
///
/// #[channel]
/// impl Chat {
///     #[on_read(delimiter = "\r\n")]
///     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
///         s.broadcast(&[line, b"\r\n"].concat());
///     }
///
///     #[on_shutdown]
///     fn bye(&mut self, s: &mut Stream<Self>) {
///         s.write(b"server going down\r\n");
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_shutdown;
/// Marks the method called when one of the stream's timeouts expires,
/// with which one. Declare timeouts on the channel
/// (`#[channel(idle_timeout = "30s", read_timeout = "10s",
/// write_timeout = "30s", connect_timeout = "5s")]`) or set them with
/// [`Stream::set_timeout`]. Without this handler the stream closes with
/// [`CloseReason::Timeout`]; with it the stream stays open unless the
/// handler closes it, and the timeout starts over.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Line;
///
/// #[channel(idle_timeout = "30s")]
/// impl Line {
///     #[on_read(delimiter = "\n")]
///     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
///         s.write_all(&[line, b"\n"]);
///     }
///
///     #[on_timeout]
///     fn idle(&mut self, s: &mut Stream<Self>, timeout: pants::Timeout) {
///         s.write(format!("{timeout}, bye\n").as_bytes());
///         s.close();
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_timeout;
/// Marks the method called when the write queue has drained: the place to
/// produce more output for a large transfer.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Source {
///     left: usize,
/// }
///
/// #[channel]
/// impl Source {
///     #[on_connect]
///     fn start(&mut self, s: &mut Stream<Self>) {
///         self.left = 100;
///         self.more(s);
///     }
///
///     #[on_write]
///     fn more(&mut self, s: &mut Stream<Self>) {
///         if self.left == 0 {
///             s.close();
///             return;
///         }
///         self.left -= 1;
///         s.write(&[b'x'; 65_536]);
///     }
/// }
/// # fn main() -> pants::Result<()> {
/// # let mut engine = Engine::new()?;
/// # engine.listen::<Source>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub use pants_derive::on_write;

/// Marks the method called when a TLS handshake finishes: on a stream of a
/// TLS server or a [`connect_tls`](Engine::connect_tls) client, just before
/// `on_connect`; after [`Stream::start_tls_server`] /
/// [`Stream::start_tls_client`] (STARTTLS), on its own. The negotiated
/// details are on the stream: [`Stream::alpn_protocol`],
/// [`Stream::peer_certificates`], [`Stream::server_name`].
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Secure;
///
/// #[channel]
/// impl Secure {
///     #[on_handshake]
///     fn secured(&mut self, s: &mut Stream<Self>) {
///         let alpn = s.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
///         log::info!("{}: TLS up, ALPN {alpn:?}", s.remote_addr());
///     }
///
///     #[on_read(delimiter = "\n")]
///     fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
///         s.write_all(&[line, b"\n"]);
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_handshake;
/// Marks the method called when a TLS handshake fails: the peer's
/// certificate was refused, the peer does not speak TLS (plaintext or
/// garbage on a TLS port), it sent an alert, closed, or took longer than
/// the handshake timeout. `on_close` follows. Without this handler the
/// failure is logged at `info` level.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Default)]
/// struct Secure;
///
/// #[channel]
/// impl Secure {
///     #[on_handshake_error]
///     fn refused(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
///         eprintln!("{}: {error}", s.remote_addr());
///     }
///
///     #[on_read]
///     fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
///         s.write(data);
///     }
/// }
/// # fn main() {}
/// ```
pub use pants_derive::on_handshake_error;

/// Marks the method of a datagram channel called for a datagram whose
/// size is not its typed frame's (the `#[on_read]` handler never sees it).
/// Without it, such datagrams are logged at `info` level and dropped.
///
/// ```
/// use pants::prelude::*;
///
/// #[derive(Packed, Clone, Copy, Default)]
/// struct Sample {
///     sensor: u16,
///     value: u32,
/// }
///
/// #[derive(Default)]
/// struct Collector;
///
/// #[channel(datagram)]
/// impl Collector {
///     #[on_read]
///     fn sample(&mut self, d: &mut Datagram<Self>, from: &Addr, s: Sample) {
///         log::info!("{from}: sensor {} = {}", s.sensor, s.value);
///         let _ = d.reply(b"ok");
///     }
///
///     #[on_datagram_error]
///     fn malformed(&mut self, _d: &mut Datagram<Self>, from: &Addr, error: &pants::Error) {
///         log::warn!("{from}: {error}");
///     }
/// }
/// # fn main() -> pants::Result<()> {
/// # let mut engine = Engine::<Collector>::new()?;
/// # engine.bind::<Collector>("127.0.0.1:0")?;
/// # Ok(())
/// # }
/// ```
pub use pants_derive::on_datagram_error;
