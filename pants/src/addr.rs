//! Address parsing: what `listen` and `connect` accept.
//!
//! | input | listens on / connects to |
//! |---|---|
//! | `"127.0.0.1:4040"` | that IPv4 address |
//! | `"[::1]:4040"` | that IPv6 address; `"[::]:4040"` is dual-stack (IPv4 clients too) |
//! | `"4040"` | every interface, IPv6 and IPv4 (dual-stack `[::]`, or `0.0.0.0` without IPv6) |
//! | `"localhost:4040"` | the host name, resolved (blocking `getaddrinfo`); every result is tried in turn |
//! | a [`SocketAddr`] | itself |

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};

use crate::error::{Error, Result};

/// Something that names an address: `&str`, `String`, [`SocketAddr`] or a bare `u16` port.
pub trait IntoAddr {
    /// The text to show in error messages.
    fn describe(&self) -> String;
    /// Resolves to one or more socket addresses, in the order to try them.
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>>;
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
}

impl IntoAddr for String {
    fn describe(&self) -> String {
        self.clone()
    }
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>> {
        resolve_str(self, listening)
    }
}

impl IntoAddr for &String {
    fn describe(&self) -> String {
        (*self).clone()
    }
    fn resolve(&self, listening: bool) -> Result<Vec<SocketAddr>> {
        resolve_str(self, listening)
    }
}

/// Parses `HOST:PORT`, `[V6]:PORT` or a bare port.
fn resolve_str(input: &str, listening: bool) -> Result<Vec<SocketAddr>> {
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
        return Ok(vec![addr]);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = text.parse().map_err(|_| bad("port must be 0..=65535"))?;
        if !listening {
            return Err(bad(
                "a bare port needs a host to connect to; expected HOST:PORT",
            ));
        }
        // Dual-stack `[::]`, or IPv4 only where IPv6 is unavailable.
        return Ok(vec![
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
            SocketAddr::from(([0, 0, 0, 0], port)),
        ]);
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
    let found: Vec<SocketAddr> = (host, port.parse::<u16>().unwrap_or(0))
        .to_socket_addrs()
        .map_err(|e| Error::Connect {
            addr: input.to_owned(),
            source: std::io::Error::new(e.kind(), format!("cannot resolve host `{host}`: {e}")),
        })?
        .collect();
    if found.is_empty() {
        return Err(bad(&format!("host `{host}` has no addresses")));
    }
    Ok(found)
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
}
