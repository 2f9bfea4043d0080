//! What handlers see: the channel traits, the [`Stream`](stream::Stream)
//! handle, [`ServerRef`](server::ServerRef) and ids.

pub(crate) mod channel;
pub(crate) mod datagram;
pub(crate) mod server;
pub(crate) mod stream;
pub(crate) mod tls;
