//! TLS in the engine: TLS servers and clients, the handshake's start, end
//! and failure, and STARTTLS upgrades applied when their handler returns.

use std::io;
use std::sync::Arc;

use rustls_pki_types::ServerName;

use crate::addr::IntoAddr;
use crate::api::channel::{App, Channel, Event, Member};
use crate::api::server::{ServerId, StreamId};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::proto::close::CloseReason;
use crate::proto::deadlines::Timeout;
use crate::proto::lifecycle::Lifecycle;
use crate::sys::net::ListenOptions;
use crate::sys::tls::TlsStart;
use crate::tls::{ClientTls, ServerTls};

impl<A: App> Engine<A> {
    /// Listens on `addr` for TLS: every connection accepted (on every
    /// socket of this listener) handshakes first; `#[on_handshake]` then
    /// `#[on_connect]` run when it is done, `#[on_handshake_error]` then
    /// `#[on_close]` when it fails. Each connection gets `C::default()`.
    ///
    /// ```no_run
    /// # use pants::prelude::*;
    /// # #[derive(Default)] struct Echo;
    /// # #[channel] impl Echo { #[on_read] fn data(&mut self, s: &mut Stream<Self>, d: &[u8]) { s.write(d); } }
    /// # fn main() -> pants::Result<()> {
    /// let tls = pants::tls::ServerTls::from_pem_files("cert.pem", "key.pem")?;
    /// let mut engine = Engine::new()?;
    /// engine.listen_tls::<Echo>("0.0.0.0:4443", tls)?;
    /// engine.start()
    /// # }
    /// ```
    pub fn listen_tls<C>(
        &mut self,
        addr: impl IntoAddr,
        tls: impl Into<ServerTls>,
    ) -> Result<ServerId>
    where
        C: Channel<App = A> + Default,
        A: Member<C>,
    {
        self.listen_tls_with(addr, tls, |_| Some(C::default()))
    }

    /// [`listen_tls`](Self::listen_tls) with a function making each
    /// connection's channel value (or refusing it with `None`).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn listen_tls_with<C, F>(
        &mut self,
        addr: impl IntoAddr,
        tls: impl Into<ServerTls>,
        accept: F,
    ) -> Result<ServerId>
    where
        C: Channel<App = A>,
        A: Member<C>,
        F: FnMut(&crate::Addr) -> Option<C> + 'static,
    {
        let tls = Box::new(tls.into());
        self.listen_inner(&addr, ListenOptions::default(), accept, Some(tls))
    }

    /// Opens a TLS client stream to `addr`: connects, then handshakes,
    /// verifying the server's certificate for the host part of `addr` (or
    /// [`ClientTls::with_server_name`]), which is also sent as SNI.
    /// `#[on_handshake]` then `#[on_connect]` run when it is done; a refused
    /// certificate arrives at `#[on_handshake_error]`, then `#[on_close]`.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "an address by value reads naturally at the call site"
    )]
    pub fn connect_tls<C>(
        &mut self,
        addr: impl IntoAddr,
        tls: &ClientTls,
        channel: C,
    ) -> Result<StreamId>
    where
        C: Channel<App = A>,
        A: Member<C>,
    {
        let name = server_name_for(&addr, tls)?;
        let id = self.connect(addr, channel)?;
        if let Some(io) = self.core.stream_mut(id.key as usize) {
            io.extra().tls = Some(Box::new(TlsStart::Client(tls.clone(), name)));
        }
        Ok(id)
    }

    /// Puts TLS over a connected stream and starts the handshake;
    /// `announce` delays `on_connect` until it is done (a stream TLS from
    /// the start: everything it queued while connecting is encrypted).
    pub(super) fn begin_tls(&mut self, key: usize, start: &TlsStart, announce: bool) {
        let installed = self
            .core
            .stream_mut(key)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
            .and_then(|io| install_tls(io, start, 0));
        if let Err(e) = installed {
            return self.handshake_failed(key, e, None);
        }
        if let Some(tls) = self.core.stream_mut(key).and_then(|io| io.sock.tls_mut()) {
            tls.connect_pending = announce;
        }
        self.arm_handshake(key);
    }

    /// The handshake of a stream whose transport is now TLS: input already
    /// read after the upgrade point goes to rustls, the handshake timeout
    /// starts, and reading resumes.
    fn arm_handshake(&mut self, key: usize) {
        let now = self.core.now;
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        io.life.clear(Lifecycle::UPGRADING);
        let early = std::mem::take(&mut io.rbuf);
        let Some(tls) = io.sock.tls_mut() else {
            return;
        };
        let timeout = tls.handshake_timeout;
        if let Err(e) = tls.feed(&early) {
            return self.handshake_failed(key, e, None);
        }
        io.life.set(Lifecycle::HANDSHAKING);
        let declared = io.deadlines().and_then(|d| d.timeouts().handshake);
        self.core
            .set_timeout(key, Timeout::Handshake, Some(declared.unwrap_or(timeout)));
        if let Some(d) = self.core.stream_mut(key).and_then(|io| io.deadlines()) {
            d.handshake_started(now);
        }
        self.core.arm_deadline(key);
        // A client speaks first; input may already wait in the socket.
        self.core.mark_dirty(key);
        self.core.resume(key);
    }

    /// After a read of a TLS stream: records to answer with, and the end
    /// of the handshake (`on_handshake`, then a delayed `on_connect`).
    pub(super) fn tls_progress(&mut self, key: usize) {
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        if io.sock.wants_write() {
            self.core.mark_dirty(key);
        }
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        if !io.life.has(Lifecycle::HANDSHAKING) || io.sock.is_handshaking() {
            return;
        }
        io.life.clear(Lifecycle::HANDSHAKING);
        if let Some(d) = io.deadlines() {
            d.handshake_done();
        }
        let announce = io
            .sock
            .tls_mut()
            .is_some_and(|tls| std::mem::take(&mut tls.connect_pending));
        self.core.arm_deadline(key);
        self.call(key, Event::Handshake);
        if announce && self.core.stream(key).is_some_and(|io| io.life.is_open()) {
            self.call(key, Event::Connect);
        }
        // Plaintext queued during the handshake can go now.
        self.core.mark_dirty(key);
    }

    /// The handshake failed: the alert goes out if it can, then
    /// `on_handshake_error`, then the stream closes (`reason`, or an error
    /// made of `source`).
    pub(super) fn handshake_failed(
        &mut self,
        key: usize,
        source: io::Error,
        reason: Option<CloseReason>,
    ) {
        let Some(io) = self.core.stream_mut(key) else {
            return;
        };
        let reason = reason.unwrap_or_else(|| match source.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => CloseReason::Reset,
            kind => CloseReason::Handshake(Arc::new(io::Error::new(kind, source.to_string()))),
        });
        // The alert (or a flight rustls still holds) goes out if the socket
        // takes it now; not to a peer that reset (EPIPE, SIGPIPE).
        if !matches!(reason, CloseReason::Reset) {
            io.sock.flush_alert();
        }
        io.life.clear(Lifecycle::HANDSHAKING | Lifecycle::UPGRADING);
        let error = Error::Handshake {
            peer: io.remote.to_string(),
            source,
        };
        log::debug!("stream #{key}: {error}");
        self.call(key, Event::HandshakeError(&error));
        self.core.close_now(key, reason);
    }

    /// STARTTLS upgrades asked by handlers that have now returned: their
    /// transport is already TLS (since the call); the handshake starts.
    pub(super) fn apply_upgrades(&mut self) {
        for (key, generation) in std::mem::take(&mut self.core.upgrades) {
            let upgrading = self.core.is_live(key, generation)
                && self
                    .core
                    .stream(key)
                    .is_some_and(|io| io.life.has(Lifecycle::UPGRADING) && io.life.is_open());
            if upgrading {
                self.arm_handshake(key);
            }
        }
    }

    /// A connect finished on a stream that is to be TLS: start it.
    /// Returns whether it was one.
    pub(super) fn connected_tls(&mut self, key: usize) -> bool {
        let start = self
            .core
            .stream_mut(key)
            .and_then(|io| io.extra.as_mut()?.tls.take());
        match start {
            Some(start) => {
                self.begin_tls(key, &start, true);
                true
            }
            None => false,
        }
    }

    /// An accepted connection of a TLS server: start it.
    pub(super) fn accepted_tls(&mut self, key: usize, tls: ServerTls) {
        self.begin_tls(key, &TlsStart::Server(tls), true);
    }
}

/// Swaps a stream's plain socket for TLS; `plain` bytes of its queue go
/// out before the first record.
pub(crate) fn install_tls(
    io: &mut crate::core::StreamIo,
    start: &TlsStart,
    plain: u64,
) -> io::Result<()> {
    let conn = start.connection().map_err(io::Error::other)?;
    io.sock.start_tls(conn, plain)?;
    if let Some(tls) = io.sock.tls_mut() {
        tls.handshake_timeout = start.handshake_timeout();
    }
    Ok(())
}

/// The name a TLS client verifies: the configured one, else the host part
/// of the address.
fn server_name_for(addr: &impl IntoAddr, tls: &ClientTls) -> Result<ServerName<'static>> {
    if let Some(name) = tls.server_name() {
        return tls.name_for(name);
    }
    if addr.unix().is_some() {
        return Err(Error::Tls {
            context: addr.describe(),
            reason: "a Unix socket has no host name to verify; give one with ClientTls::with_server_name"
                .into(),
        });
    }
    if let Some((host, _)) = addr.name() {
        return tls.name_for(&host);
    }
    let ip = addr
        .resolve(false)?
        .first()
        .map(|a| a.ip().to_string())
        .ok_or_else(|| Error::Address {
            input: addr.describe(),
            reason: "no address".into(),
        })?;
    tls.name_for(&ip)
}
