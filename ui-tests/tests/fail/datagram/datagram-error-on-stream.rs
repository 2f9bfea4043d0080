//! `#[on_datagram_error]` on a stream channel.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_datagram_error]
    fn bad(&mut self, _s: &mut Stream<Self>, _error: &pants::Error) {}
}

fn main() {}
