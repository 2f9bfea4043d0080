//! Address text: `unix:` paths, `@abstract`, `host:port`, `[v6]:port`,
//! bare ports; never resolved over the network.

/// The fuzz target `addr`: the bytes as text (lossy UTF-8), parsed every
/// way `listen` and `connect` would, without name resolution.
pub fn addr(data: &[u8]) {
    crate::addr::fuzz_parse_addr(&String::from_utf8_lossy(data));
}
