//! A stream handler's signature on a datagram channel.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(datagram)]
impl Echo {
    #[on_read]
    fn packet(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {}
