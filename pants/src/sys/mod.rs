//! The only code that touches sockets and the clock: the transport and
//! listener seams, socket setup, and [`Clock`](clock::Clock).

pub(crate) mod clock;
pub(crate) mod datagram;
pub(crate) mod listener;
pub(crate) mod net;
pub(crate) mod resolver;
pub(crate) mod tls;
pub(crate) mod transport;
