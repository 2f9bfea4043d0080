//! TLS settings for servers ([`ServerTls`]) and clients ([`ClientTls`]),
//! built on rustls with the `ring` provider.
//!
//! The common cases take a line each:
//!
//! ```no_run
//! # fn main() -> pants::Result<()> {
//! use pants::tls::{ClientAuth, ClientTls, ServerTls};
//! // A server: certificate chain and key from PEM files.
//! let server = ServerTls::from_pem_files("cert.pem", "key.pem")?
//!     .with_certificate_for("other.example", "other.pem", "other-key.pem")? // SNI
//!     .with_alpn(["h2", "http/1.1"]);
//! // A client: the webpki roots, the platform's, or a CA file; verifying.
//! let client = ClientTls::webpki_roots().with_alpn(["h2"]);
//! let private = ClientTls::from_ca_file("ca.pem")?;
//! // Mutual TLS.
//! let strict = server.clone().with_client_auth("clients-ca.pem", ClientAuth::Required)?;
//! # let _ = (client, private, strict); Ok(())
//! # }
//! ```
//!
//! Anything else: build an `Arc<rustls::ServerConfig>` or
//! `Arc<rustls::ClientConfig>` yourself ([`rustls`] is re-exported, so the
//! versions match) and pass it with [`ServerTls::from_config`] /
//! [`ClientTls::from_config`].

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use rustls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{Error, Result};

/// How long a TLS handshake may take unless set otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The crypto provider every config here is built with (`ring`: no native
/// build dependency).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Whether a TLS server asks clients for certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a certificate is refused.
    Required,
    /// A client may present a certificate (it must then verify) or none.
    Optional,
}

// ---------------------------------------------------------------- files

/// The certificate chain in a PEM file (at least one certificate).
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
        .map_err(|e| pem_error(path, "certificates", &e))?;
    if certs.is_empty() {
        return Err(Error::Tls {
            context: format!("{}", path.display()),
            reason: "no certificate in the file (expected PEM `BEGIN CERTIFICATE`)".into(),
        });
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, "a private key", &e))
}

fn pem_error(path: &Path, what: &str, e: &rustls_pki_types::pem::Error) -> Error {
    use rustls_pki_types::pem::Error as Pem;
    let reason = match e {
        Pem::Io(io) => io.to_string(),
        Pem::NoItemsFound => format!("no {what} in the file (expected PEM)"),
        other => format!("not valid PEM {what}: {other:?}"),
    };
    Error::Tls {
        context: format!("{}", path.display()),
        reason,
    }
}

fn certified(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>> {
    let chain = load_certs(cert)?;
    let key_der = load_key(key)?;
    CertifiedKey::from_der(chain, key_der, provider)
        .map(Arc::new)
        .map_err(|e| Error::Tls {
            context: format!("{} and {}", cert.display(), key.display()),
            reason: e.to_string(),
        })
}

fn roots_from(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| Error::Tls {
            context: format!("{}", path.display()),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}

// ---------------------------------------------------------------- servers

/// A TLS server's settings: [`Engine::listen_tls`](crate::Engine::listen_tls).
#[derive(Clone)]
pub struct ServerTls {
    built: Built<ServerConfig>,
    handshake_timeout: Duration,
}

#[derive(Clone)]
enum Built<C> {
    /// Settings to build a config from.
    Parts(Box<Parts>),
    /// A config given whole.
    Config(Arc<C>),
}

#[derive(Clone, Default)]
struct Parts {
    /// The default certificate (servers) or the client certificate.
    cert: Option<Arc<CertifiedKey>>,
    /// Certificates by SNI name (servers).
    by_name: HashMap<String, Arc<CertifiedKey>>,
    alpn: Vec<Vec<u8>>,
    /// Server: the CAs client certificates must chain to. Client: the
    /// trusted roots.
    roots: Option<Arc<RootCertStore>>,
    client_auth: Option<ClientAuth>,
    /// Client: accept any certificate.
    insecure: bool,
    /// Client: the certificate chain and key to present (mutual TLS).
    client_cert: Option<Arc<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>>,
    built_server: Option<Arc<ServerConfig>>,
    built_client: Option<Arc<ClientConfig>>,
}

#[allow(
    clippy::missing_panics_doc,
    reason = "the configs are rebuilt on every edit, so `config` finds one"
)]
impl ServerTls {
    /// A server presenting the certificate chain in `cert_pem` with the key
    /// in `key_pem` (to every client, whatever name it asks for, unless a
    /// [`with_certificate_for`](Self::with_certificate_for) matches).
    pub fn from_pem_files(cert_pem: impl AsRef<Path>, key_pem: impl AsRef<Path>) -> Result<Self> {
        let ck = certified(cert_pem.as_ref(), key_pem.as_ref(), &provider())?;
        let mut parts = Parts {
            cert: Some(ck),
            ..Parts::default()
        };
        parts.built_server = Some(build_server(&parts)?);
        Ok(Self {
            built: Built::Parts(Box::new(parts)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// A server with a rustls config built by hand.
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        Self {
            built: Built::Config(config),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// SNI: clients asking for `name` get this certificate instead.
    pub fn with_certificate_for(
        self,
        name: &str,
        cert_pem: impl AsRef<Path>,
        key_pem: impl AsRef<Path>,
    ) -> Result<Self> {
        let ck = certified(cert_pem.as_ref(), key_pem.as_ref(), &provider())?;
        self.edit(|parts| {
            parts.by_name.insert(name.to_ascii_lowercase(), ck);
        })
    }

    /// The ALPN protocols offered, most preferred first.
    #[must_use]
    pub fn with_alpn<P: AsRef<[u8]>>(self, protocols: impl IntoIterator<Item = P>) -> Self {
        let alpn: Vec<Vec<u8>> = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        match self.built {
            Built::Config(mut config) => {
                Arc::make_mut(&mut config).alpn_protocols = alpn;
                Self {
                    built: Built::Config(config),
                    ..self
                }
            }
            Built::Parts(_) => self
                .edit(|parts| parts.alpn = alpn)
                .unwrap_or_else(|_| unreachable!("ALPN cannot make a config invalid")),
        }
    }

    /// Mutual TLS: client certificates must chain to a CA in `ca_pem`.
    pub fn with_client_auth(self, ca_pem: impl AsRef<Path>, auth: ClientAuth) -> Result<Self> {
        let roots = Arc::new(roots_from(ca_pem.as_ref())?);
        self.edit(|parts| {
            parts.roots = Some(roots);
            parts.client_auth = Some(auth);
        })
    }

    /// How long a client may take to finish its handshake (default 10 s).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The rustls config connections are made with.
    pub fn config(&self) -> Arc<ServerConfig> {
        match &self.built {
            Built::Config(c) => Arc::clone(c),
            Built::Parts(p) => Arc::clone(p.built_server.as_ref().expect("built on every edit")),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Parts)) -> Result<Self> {
        let Built::Parts(parts) = &mut self.built else {
            return Err(Error::Tls {
                context: "ServerTls::from_config".into(),
                reason:
                    "a config given whole cannot be changed piecewise; build it with these settings"
                        .into(),
            });
        };
        f(parts);
        parts.built_server = Some(build_server(parts)?);
        Ok(self)
    }
}

fn build_server(parts: &Parts) -> Result<Arc<ServerConfig>> {
    let fail = |reason: String| Error::Tls {
        context: "server config".into(),
        reason,
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    let builder = match (&parts.roots, parts.client_auth) {
        (Some(roots), Some(auth)) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::clone(roots), provider());
            let verifier = match auth {
                ClientAuth::Required => verifier,
                ClientAuth::Optional => verifier.allow_unauthenticated(),
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| fail(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let default = parts
        .cert
        .clone()
        .ok_or_else(|| fail("no certificate".into()))?;
    let mut config = builder.with_cert_resolver(Arc::new(Sni {
        default,
        by_name: parts.by_name.clone(),
    }));
    config.alpn_protocols.clone_from(&parts.alpn);
    Ok(Arc::new(config))
}

/// Picks a certificate by the name the client asked for (SNI), else the
/// default one.
#[derive(Debug)]
struct Sni {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Sni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()));
        Some(Arc::clone(named.unwrap_or(&self.default)))
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl From<Arc<ServerConfig>> for ServerTls {
    fn from(config: Arc<ServerConfig>) -> Self {
        Self::from_config(config)
    }
}

// ---------------------------------------------------------------- clients

/// A TLS client's settings: [`Engine::connect_tls`](crate::Engine::connect_tls).
///
/// Certificates are verified, and the server's name checked against them,
/// unless [`dangerous_accept_any_certificate`](Self::dangerous_accept_any_certificate)
/// says otherwise.
#[derive(Clone)]
pub struct ClientTls {
    built: Built<ClientConfig>,
    server_name: Option<String>,
    handshake_timeout: Duration,
}

#[allow(
    clippy::missing_panics_doc,
    reason = "building with ring's provider and its default versions cannot fail (see the tests)"
)]
impl ClientTls {
    fn with_roots(roots: RootCertStore) -> Self {
        let mut parts = Parts {
            roots: Some(Arc::new(roots)),
            ..Parts::default()
        };
        parts.built_client = Some(build_client(&parts).expect("a verifying config builds"));
        Self {
            built: Built::Parts(Box::new(parts)),
            server_name: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Trusts the Mozilla root certificates compiled in (`webpki-roots`).
    pub fn webpki_roots() -> Self {
        Self::with_roots(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
    }

    /// Trusts the platform's root certificates (read from the system's
    /// certificate store; fails if none could be read).
    pub fn platform_roots() -> Result<Self> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let reason = found.errors.first().map_or_else(
                || "no root certificates found".to_owned(),
                ToString::to_string,
            );
            return Err(Error::Tls {
                context: "the platform's certificate store".into(),
                reason,
            });
        }
        Ok(Self::with_roots(roots))
    }

    /// Trusts the CA certificates in a PEM file (and nothing else).
    pub fn from_ca_file(ca_pem: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::with_roots(roots_from(ca_pem.as_ref())?))
    }

    /// A client with a rustls config built by hand.
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        Self {
            built: Built::Config(config),
            server_name: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// **Dangerous**: accepts any certificate for any name, so anyone on
    /// the path can read and change the traffic. For tests and debugging.
    pub fn dangerous_accept_any_certificate() -> Self {
        let mut parts = Parts {
            insecure: true,
            ..Parts::default()
        };
        parts.built_client = Some(build_client(&parts).expect("builds"));
        Self {
            built: Built::Parts(Box::new(parts)),
            server_name: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The ALPN protocols offered, most preferred first.
    #[must_use]
    pub fn with_alpn<P: AsRef<[u8]>>(mut self, protocols: impl IntoIterator<Item = P>) -> Self {
        let alpn: Vec<Vec<u8>> = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        match &mut self.built {
            Built::Config(config) => Arc::make_mut(config).alpn_protocols = alpn,
            Built::Parts(parts) => {
                parts.alpn = alpn;
                parts.built_client = Some(build_client(parts).expect("ALPN keeps it valid"));
            }
        }
        self
    }

    /// Mutual TLS: presents this certificate chain and key to servers that
    /// ask for one.
    pub fn with_client_certificate(
        mut self,
        cert_pem: impl AsRef<Path>,
        key_pem: impl AsRef<Path>,
    ) -> Result<Self> {
        let (cert, key) = (cert_pem.as_ref(), key_pem.as_ref());
        // Checked as a pair now, not at the first handshake.
        certified(cert, key, &provider())?;
        let pair = (load_certs(cert)?, load_key(key)?);
        let Built::Parts(parts) = &mut self.built else {
            return Err(Error::Tls {
                context: "ClientTls::from_config".into(),
                reason: "a config given whole cannot be changed piecewise".into(),
            });
        };
        parts.client_cert = Some(Arc::new(pair));
        parts.built_client = Some(build_client(parts)?);
        Ok(self)
    }

    /// The name to ask for (SNI) and verify the certificate against;
    /// by default the host part of the address connected to.
    #[must_use]
    pub fn with_server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }

    /// How long the handshake may take (default 10 s).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The server name set with [`with_server_name`](Self::with_server_name).
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The rustls config connections are made with.
    pub fn config(&self) -> Arc<ClientConfig> {
        match &self.built {
            Built::Config(c) => Arc::clone(c),
            Built::Parts(p) => Arc::clone(p.built_client.as_ref().expect("built on every edit")),
        }
    }

    /// The name to verify for a connect to `host` (the configured name
    /// first).
    pub(crate) fn name_for(&self, host: &str) -> Result<ServerName<'static>> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        ServerName::try_from(name.to_owned()).map_err(|_| Error::Tls {
            context: name.to_owned(),
            reason: "not a valid server name for TLS (give one with ClientTls::with_server_name)"
                .into(),
        })
    }
}

fn build_client(parts: &Parts) -> Result<Arc<ClientConfig>> {
    let fail = |reason: String| Error::Tls {
        context: "client config".into(),
        reason,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    let builder = if parts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider())))
    } else {
        let roots = parts
            .roots
            .clone()
            .unwrap_or_else(|| Arc::new(RootCertStore::empty()));
        builder.with_root_certificates(roots)
    };
    let mut config = match &parts.client_cert {
        Some(pair) => builder
            .with_client_auth_cert(pair.0.clone(), pair.1.clone_key())
            .map_err(|e| fail(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols.clone_from(&parts.alpn);
    Ok(Arc::new(config))
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl From<Arc<ClientConfig>> for ClientTls {
    fn from(config: Arc<ClientConfig>) -> Self {
        Self::from_config(config)
    }
}

/// The verifier of [`ClientTls::dangerous_accept_any_certificate`]: takes
/// any certificate, still checks handshake signatures.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_configs_build_with_the_ring_provider() {
        for tls in [
            ClientTls::webpki_roots(),
            ClientTls::dangerous_accept_any_certificate(),
            ClientTls::webpki_roots().with_alpn(["h2", "http/1.1"]),
        ] {
            let config = tls.config();
            assert!(config.alpn_protocols.len() <= 2);
        }
    }

    #[test]
    fn file_errors_name_the_file() {
        let err = ServerTls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
            .expect_err("no such file");
        let text = err.to_string();
        assert!(text.contains("/nonexistent/cert.pem"), "{text}");
        let err = ClientTls::from_ca_file("/etc/hostname").expect_err("not PEM");
        assert!(err.to_string().contains("/etc/hostname"), "{err}");
    }

    #[test]
    fn server_names() {
        let tls = ClientTls::webpki_roots();
        assert!(tls.name_for("example.com").is_ok());
        assert!(tls.name_for("127.0.0.1").is_ok());
        assert!(tls.name_for("[::1]").is_ok());
        assert!(tls.name_for("not a name").is_err());
    }
}
