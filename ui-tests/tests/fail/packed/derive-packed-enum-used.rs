//! #[derive(Packed)] on an enum: one error, none at its uses.
use pants::prelude::*;

#[derive(Packed)]
enum Kind {
    Ping,
    Pong,
}

#[derive(Default)]
struct Proto;

#[channel]
impl Proto {
    #[on_read]
    fn kind(&mut self, s: &mut Stream<Self>, kind: Kind) {
        s.write_packed(&kind);
    }
}

fn main() {}
