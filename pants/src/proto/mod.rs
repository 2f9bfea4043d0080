//! The pure layer: no sockets, no clock reads, no user code.
//!
//! Each module is a state machine over caller-owned data with time passed
//! in, unit-tested byte by byte (cuts at every offset, reference models).

pub mod close;
pub mod deadlines;
pub mod framing;
pub mod lifecycle;
pub mod read;
#[cfg(test)]
mod testing;
pub mod timer;
pub mod write_queue;
