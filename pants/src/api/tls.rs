//! TLS on a [`Stream`]: STARTTLS and what the handshake negotiated.

use rustls_pki_types::CertificateDer;

use crate::api::channel::Channel;
use crate::api::stream::Stream;
use crate::error::{Error, Result};
use crate::proto::lifecycle::Lifecycle;
use crate::sys::tls::TlsStart;
use crate::tls::{ClientTls, ServerTls};

impl<C: Channel> Stream<'_, C> {
    /// STARTTLS, server side: when this handler returns, the stream turns
    /// TLS and waits for the client's handshake. Bytes written before this
    /// call go out in plaintext first; bytes written after it (and
    /// everything read after the frame being handled) are TLS. No more
    /// plaintext frames are delivered. `#[on_handshake]` runs when the
    /// handshake is done, `#[on_handshake_error]` (then `#[on_close]`) if
    /// it fails.
    ///
    /// # Errors
    /// [`Error::Closed`] if the stream is closing, [`Error::Tls`] if it is
    /// already TLS or upgrading.
    pub fn start_tls_server(&mut self, tls: &ServerTls) -> Result<()> {
        self.start_tls(TlsStart::Server(tls.clone()))
    }

    /// STARTTLS, client side: as [`start_tls_server`](Self::start_tls_server),
    /// but this side sends the first handshake message. The certificate is
    /// verified for [`ClientTls::with_server_name`], or else the peer's IP
    /// address.
    ///
    /// # Errors
    /// As `start_tls_server`, and [`Error::Tls`] if there is no name to
    /// verify (a Unix socket peer and no server name given).
    pub fn start_tls_client(&mut self, tls: &ClientTls) -> Result<()> {
        let name = if let Some(name) = tls.server_name() {
            tls.name_for(name)?
        } else {
            let remote = self.remote_addr();
            let ip = remote.ip().ok_or_else(|| Error::Tls {
                context: remote.to_string(),
                reason: "no host name to verify; give one with ClientTls::with_server_name".into(),
            })?;
            tls.name_for(&ip.to_string())?
        };
        self.start_tls(TlsStart::Client(tls.clone(), name))
    }

    fn start_tls(&mut self, start: TlsStart) -> Result<()> {
        let key = self.key();
        let io = self.io_mut();
        if !io.life.is_open() {
            return Err(Error::Closed);
        }
        if io.sock.tls().is_some() || io.life.has(Lifecycle::UPGRADING) {
            return Err(Error::Tls {
                context: format!("stream {}", io.remote),
                reason: "TLS is already on, or starting".into(),
            });
        }
        if io.life.has(Lifecycle::CONNECTING) {
            // Starts when the connect finishes, before `on_connect`.
            io.extra().tls = Some(Box::new(start));
            return Ok(());
        }
        // The transport turns TLS now, so what is written from here on is
        // encrypted and what was queued before goes out first in
        // plaintext; reading stops after this frame, and the handshake
        // starts (with the input that followed) once the handler returns.
        let plain = io.wq.len() as u64;
        crate::engine::install_tls(io, &start, plain).map_err(|e| Error::Tls {
            context: format!("stream {}", io.remote),
            reason: e.to_string(),
        })?;
        io.life.set(Lifecycle::UPGRADING);
        let generation = io.generation;
        self.core_mut().upgrades.push((key, generation));
        Ok(())
    }

    /// Whether the stream is TLS (from the start, or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.io().sock.tls().is_some()
    }

    /// Whether a TLS handshake is under way.
    pub fn is_handshaking(&self) -> bool {
        self.io().life.has(Lifecycle::HANDSHAKING)
    }

    /// The ALPN protocol the handshake chose, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.io().sock.tls()?.conn.alpn_protocol()
    }

    /// The peer's certificate chain (end entity first): the server's, on a
    /// client; a client's, on a server that asked for one (mutual TLS).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.io().sock.tls()?.conn.peer_certificates()
    }

    /// On a TLS server's stream: the name the client asked for (SNI).
    pub fn server_name(&self) -> Option<&str> {
        match &self.io().sock.tls()?.conn {
            rustls::Connection::Server(conn) => conn.server_name(),
            rustls::Connection::Client(_) => None,
        }
    }

    /// The TLS version negotiated.
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.io().sock.tls()?.conn.protocol_version()
    }
}
