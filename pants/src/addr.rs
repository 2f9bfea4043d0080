//! Address parsing: what `listen` and `connect` accept.
//!
//! | input | listens on / connects to |
//! |---|---|
//! | `"127.0.0.1:4040"` | that IPv4 address |
//! | `"[::1]:4040"` | that IPv6 address; `"[::]:4040"` is dual-stack (IPv4 clients too) |
//! | `"4040"` | every interface, IPv6 and IPv4 (dual-stack `[::]`, or `0.0.0.0` without IPv6) |
//! | `"localhost:4040"` | the host name: `connect` resolves it on a helper thread (the engine serves others meanwhile) and tries every address, IPv6 and IPv4 interleaved; `listen` resolves it at once |
//! | a [`SocketAddr`] | itself |
//! | `"/run/app.sock"`, `"./app.sock"`, `"unix:app.sock"`, a [`Path`] | a Unix stream socket at that path |
//! | `"@app"` | a Linux abstract Unix socket name (no file) |

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The address of a stream's peer or a server: an IP socket address or a
/// Unix socket name. Printed as `127.0.0.1:4040`, `[::1]:4040`,
/// `/run/app.sock` or `@app`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Addr {
    /// An IPv4 or IPv6 socket address.
    Ip(SocketAddr),
    /// A Unix socket name (boxed: most streams are IP).
    Unix(Box<UnixAddr>),
}

/// A Unix socket's name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnixAddr {
    /// A path in the file system.
    Path(PathBuf),
    /// A Linux abstract name (printed `@name`; no file).
    Abstract(Vec<u8>),
    /// No name: a client socket that was never bound.
    Unnamed,
}

/// Who is at the other end of a Unix stream (`SO_PEERCRED`): the peer's
/// process, user and group when it connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The process id.
    pub pid: i32,
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl Addr {
    /// The IP address of an IP peer.
    pub fn ip(&self) -> Option<IpAddr> {
        self.as_ip().map(|a| a.ip())
    }

    /// The port of an IP peer.
    pub fn port(&self) -> Option<u16> {
        self.as_ip().map(|a| a.port())
    }

    /// The socket address of an IP peer.
    pub fn as_ip(&self) -> Option<SocketAddr> {
        match self {
            Self::Ip(a) => Some(*a),
            Self::Unix(_) => None,
        }
    }

    /// The Unix name of a Unix peer.
    pub fn as_unix(&self) -> Option<&UnixAddr> {
        match self {
            Self::Ip(_) => None,
            Self::Unix(u) => Some(u),
        }
    }

    /// The host part to show a person: the IP address of an IP peer, the
    /// whole name of a Unix one (chat's `Connected: HOST`).
    pub fn host(&self) -> impl fmt::Display + '_ {
        struct Host<'a>(&'a Addr);
        impl fmt::Display for Host<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Addr::Ip(a) => write!(f, "{}", a.ip()),
                    Addr::Unix(u) => write!(f, "{u}"),
                }
            }
        }
        Host(self)
    }

    pub(crate) fn unix(u: UnixAddr) -> Self {
        Self::Unix(Box::new(u))
    }
}

impl From<SocketAddr> for Addr {
    fn from(a: SocketAddr) -> Self {
        Self::Ip(a)
    }
}

/// An IP address works wherever std takes one (`TcpStream::connect(addr)`);
/// a Unix one is an `InvalidInput` error there.
impl ToSocketAddrs for Addr {
    type Iter = std::option::IntoIter<SocketAddr>;

    fn to_socket_addrs(&self) -> std::io::Result<Self::Iter> {
        match self {
            Self::Ip(a) => Ok(Some(*a).into_iter()),
            Self::Unix(u) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{u} is a Unix socket, not an IP address"),
            )),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(a) => write!(f, "{a}"),
            Self::Unix(u) => write!(f, "{u}"),
        }
    }
}

impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            Self::Unnamed => f.write_str("unix:(unnamed)"),
        }
    }
}

impl UnixAddr {
    /// The name of a std Unix socket address.
    pub(crate) fn from_std(addr: &std::os::unix::net::SocketAddr) -> Self {
        use std::os::linux::net::SocketAddrExt;
        if let Some(path) = addr.as_pathname() {
            Self::Path(path.to_path_buf())
        } else if let Some(name) = addr.as_abstract_name() {
            Self::Abstract(name.to_vec())
        } else {
            Self::Unnamed
        }
    }

    /// The std socket address to bind or connect to.
    pub(crate) fn to_std(&self) -> std::io::Result<std::os::unix::net::SocketAddr> {
        use std::os::linux::net::SocketAddrExt;
        match self {
            Self::Path(p) => std::os::unix::net::SocketAddr::from_pathname(p),
            Self::Abstract(name) => std::os::unix::net::SocketAddr::from_abstract_name(name),
            Self::Unnamed => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an unnamed Unix socket cannot be bound or connected to",
            )),
        }
    }
}

/// Something that names an address: `&str`, `String`, [`SocketAddr`], a
/// bare `u16` port, a [`Path`] (a Unix socket) or an [`Addr`].
pub trait IntoAddr {
    /// The text to show in error messages.
    fn describe(&self) -> String;
    /// Resolves to one or more socket addresses, in the order to try them.
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>>;
    /// The Unix socket this names, if it names one (then `resolve` is not used).
    fn unix(&self) -> Option<Result<UnixAddr>> {
        None
    }
    /// The host name and port, if this names a host to resolve (`connect`
    /// then resolves it off the event loop instead of calling `resolve`).
    fn name(&self) -> Option<(String, u16)> {
        None
    }
}

impl IntoAddr for Addr {
    fn describe(&self) -> String {
        self.to_string()
    }
    fn resolve(&self, _listening: bool) -> Result<Vec<SocketAddr>> {
        match self {
            Self::Ip(a) => Ok(vec![*a]),
            Self::Unix(_) => Ok(Vec::new()),
        }
    }
    fn unix(&self) -> Option<Result<UnixAddr>> {
        self.as_unix().map(|u| Ok(u.clone()))
    }
}

impl IntoAddr for &Path {
    fn describe(&self) -> String {
        self.display().to_string()
    }
    fn resolve(&self, _listening: bool) -> Result<Vec<SocketAddr>> {
        Ok(Vec::new())
    }
    fn unix(&self) -> Option<Result<UnixAddr>> {
        Some(Ok(UnixAddr::Path(self.to_path_buf())))
    }
}

impl IntoAddr for PathBuf {
    fn describe(&self) -> String {
        self.display().to_string()
    }
    fn resolve(&self, _listening: bool) -> Result<Vec<SocketAddr>> {
        Ok(Vec::new())
    }
    fn unix(&self) -> Option<Result<UnixAddr>> {
        Some(Ok(UnixAddr::Path(self.clone())))
    }
}

/// A Unix socket named in text: `unix:PATH`, `@NAME`, or a path starting
/// with `/` or `.`; `None` for IP forms.
fn unix_str(input: &str) -> Option<Result<UnixAddr>> {
    let text = input.trim();
    let bad = |reason: &str| Error::Address {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let named = if let Some(rest) = text.strip_prefix("unix:") {
        rest
    } else if text.starts_with('/') || text.starts_with('.') || text.starts_with('@') {
        text
    } else {
        return None;
    };
    Some(if let Some(name) = named.strip_prefix('@') {
        if name.is_empty() {
            Err(bad("empty abstract socket name after `@`"))
        } else {
            Ok(UnixAddr::Abstract(name.as_bytes().to_vec()))
        }
    } else if named.is_empty() {
        Err(bad("empty Unix socket path after `unix:`"))
    } else {
        Ok(UnixAddr::Path(PathBuf::from(named)))
    })
}

impl IntoAddr for SocketAddr {
    fn describe(&self) -> String {
        self.to_string()
    }
    fn resolve(&self, _listening: bool) -> Result<Vec<SocketAddr>> {
        Ok(vec![*self])
    }
}

impl IntoAddr for u16 {
    fn describe(&self) -> String {
        self.to_string()
    }
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>> {
        resolve_str(&self.to_string(), listening)
    }
}

impl IntoAddr for &str {
    fn describe(&self) -> String {
        (*self).to_owned()
    }
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>> {
        resolve_str(self, listening)
    }
    fn unix(&self) -> Option<Result<UnixAddr>> {
        unix_str(self)
    }
    fn name(&self) -> Option<(String, u16)> {
        name_str(self)
    }
}

impl IntoAddr for String {
    fn describe(&self) -> String {
        self.clone()
    }
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>> {
        resolve_str(self, listening)
    }
    fn unix(&self) -> Option<Result<UnixAddr>> {
        unix_str(self)
    }
    fn name(&self) -> Option<(String, u16)> {
        name_str(self)
    }
}

impl IntoAddr for &String {
    fn describe(&self) -> String {
        (*self).clone()
    }
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>> {
        resolve_str(self, listening)
    }
    fn unix(&self) -> Option<Result<UnixAddr>> {
        unix_str(self)
    }
    fn name(&self) -> Option<(String, u16)> {
        name_str(self)
    }
}

/// What address text names: socket addresses, or a host name to resolve.
enum Parsed<'a> {
    Addrs(Vec<SocketAddr>),
    Name(&'a str, u16),
}

/// Parses `HOST:PORT`, `[V6]:PORT` or a bare port, and resolves a host
/// name (blocking).
fn resolve_str(input: &str, listening: bool) -> Result<Vec<SocketAddr>> {
    match parse_str(input, listening)? {
        Parsed::Addrs(addrs) => Ok(addrs),
        Parsed::Name(host, port) => resolve_name(host, port).map_err(|source| Error::Connect {
            addr: input.to_owned(),
            source,
        }),
    }
}

/// The host name and port of a `HOST:PORT` text whose host is not an IP
/// literal, for resolution off the event loop.
fn name_str(input: &str) -> Option<(String, u16)> {
    match parse_str(input, false) {
        Ok(Parsed::Name(host, port)) => Some((host.to_owned(), port)),
        _ => None,
    }
}

/// Resolves a host name with the system resolver (blocking).
pub(crate) fn resolve_name(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot resolve host `{host}`: {e}")))?
        .collect();
    if found.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("host `{host}` has no addresses"),
        ));
    }
    Ok(found)
}

fn parse_str(input: &str, listening: bool) -> Result<Parsed<'_>> {
    let bad = |reason: &str| Error::Address {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(bad(
            "empty address; expected HOST:PORT, [IPV6]:PORT or PORT",
        ));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Parsed::Addrs(vec![addr]));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = text.parse().map_err(|_| bad("port must be 0..=65535"))?;
        if !listening {
            return Err(bad(
                "a bare port needs a host to connect to; expected HOST:PORT",
            ));
        }
        // Dual-stack `[::]`, or IPv4 only where IPv6 is unavailable.
        return Ok(Parsed::Addrs(vec![
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
            SocketAddr::from(([0, 0, 0, 0], port)),
        ]));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(bad("missing port; expected HOST:PORT, [IPV6]:PORT or PORT"));
    };
    if host.is_empty() {
        return Err(bad("missing host before `:`"));
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("port must be a number 0..=65535"));
    }
    if port.parse::<u16>().is_err() {
        return Err(bad("port must be 0..=65535"));
    }
    if host.contains(':') && !host.starts_with('[') {
        return Err(bad("IPv6 addresses need brackets, as in [::1]:4040"));
    }
    if host.starts_with('[') {
        return Err(bad("not a valid IPv6 address"));
    }
    Ok(Parsed::Name(host, port.parse::<u16>().unwrap_or(0)))
}

/// Address parsing for the fuzzer, without name resolution: every pure
/// path `listen` and `connect` take for `input` (the Unix forms, the IP
/// forms listening or not, the host name split off for the resolver), and
/// their consistency. `resolve` is called only where it does not resolve.
#[doc(hidden)]
pub(crate) fn fuzz_parse_addr(input: &str) {
    let names_input = |e: &Error| {
        assert!(
            matches!(e, Error::Address { input: i, .. } if i == input),
            "an error names its input: {e:?}"
        );
    };
    assert_eq!(input.describe(), input);
    let owned = input.to_owned();
    assert_eq!(owned.describe(), input);
    let unix = input.unix();
    assert_eq!(
        format!("{unix:?}"),
        format!("{:?}", owned.unix()),
        "&str and String agree"
    );
    match unix {
        Some(Ok(u)) => {
            let shown = u.to_string();
            let again = match &u {
                UnixAddr::Abstract(name) => {
                    assert!(!name.is_empty(), "an empty abstract name");
                    unix_str(&shown)
                }
                UnixAddr::Path(p) => {
                    assert!(!p.as_os_str().is_empty(), "an empty path");
                    unix_str(&format!("unix:{shown}"))
                }
                UnixAddr::Unnamed => panic!("parsed as unnamed"),
            };
            assert!(
                matches!(&again, Some(Ok(a)) if *a == u),
                "{u:?} shown as {shown:?} parses as {again:?}"
            );
            let _ = u.to_std();
            let _ = Addr::unix(u).to_string();
        }
        Some(Err(e)) => names_input(&e),
        None => {}
    }
    for listening in [false, true] {
        match parse_str(input, listening) {
            Ok(Parsed::Addrs(addrs)) => {
                assert!(!addrs.is_empty(), "no addresses");
                // Pure here: nothing to resolve.
                let resolved = input.resolve(listening).expect("parsed");
                assert_eq!(resolved, addrs);
                assert_eq!(owned.resolve(listening).expect("parsed"), addrs);
                if addrs.len() > 1 {
                    assert!(listening, "a bare port only to listen");
                    assert!(addrs.iter().all(|a| a.ip().is_unspecified()));
                }
            }
            Ok(Parsed::Name(host, port)) => {
                assert!(!host.is_empty() && !host.contains(':') && !host.starts_with('['));
                assert_eq!(input.name(), Some((host.to_owned(), port)));
                assert_eq!(owned.name(), Some((host.to_owned(), port)));
                let text = format!("{host}:{port}");
                assert!(
                    matches!(parse_str(&text, listening), Ok(Parsed::Name(h, p)) if h == host && p == port),
                    "{host:?} port {port} as {text:?}"
                );
            }
            Err(e) => {
                names_input(&e);
                if !listening {
                    assert_eq!(input.name(), None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            "127.0.0.1:80".resolve(true).unwrap(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
        assert_eq!(
            "[::1]:80".resolve(true).unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        let any: Vec<SocketAddr> = vec![
            "[::]:4040".parse().unwrap(),
            "0.0.0.0:4040".parse().unwrap(),
        ];
        assert_eq!("4040".resolve(true).unwrap(), any);
        assert_eq!(4040u16.resolve(true).unwrap(), any);
        assert!(!"localhost:80".resolve(false).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_input() {
        for bad in [
            "",
            "nope",
            "1.2.3.4:",
            "1.2.3.4:99999",
            ":80",
            "::1:80",
            "[::1:80",
            "70000",
            "host:port",
            "a b:80x",
        ] {
            let err = bad.resolve(true).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        assert!("4040".resolve(false).is_err());
    }

    #[test]
    fn unix_forms() {
        let path = |p: &str| Some(UnixAddr::Path(PathBuf::from(p)));
        assert_eq!(
            "/run/a.sock".unix().map(Result::unwrap),
            path("/run/a.sock")
        );
        assert_eq!("./a.sock".unix().map(Result::unwrap), path("./a.sock"));
        assert_eq!("unix:a.sock".unix().map(Result::unwrap), path("a.sock"));
        assert_eq!(
            "@app".unix().map(Result::unwrap),
            Some(UnixAddr::Abstract(b"app".to_vec()))
        );
        assert_eq!(
            "unix:@app".unix().map(Result::unwrap),
            Some(UnixAddr::Abstract(b"app".to_vec()))
        );
        assert!("127.0.0.1:80".unix().is_none());
        assert!("localhost:80".unix().is_none());
        for bad in ["@", "unix:", "unix:@"] {
            let err = bad.unix().unwrap().unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        assert_eq!(
            Addr::unix(UnixAddr::Abstract(b"x".to_vec())).to_string(),
            "@x"
        );
        let ip: Addr = "[::1]:80".parse::<SocketAddr>().unwrap().into();
        assert_eq!(ip.to_string(), "[::1]:80");
        assert_eq!(ip.host().to_string(), "::1");
        // The remote address lives in every stream's state: keep it small.
        assert!(size_of::<Addr>() <= 32, "{}", size_of::<Addr>());
    }
}
