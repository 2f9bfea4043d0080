//! A framing key on a datagram channel: each datagram is one frame.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(datagram)]
impl Echo {
    #[on_read(delimiter = "\n")]
    fn packet(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        let _ = d.reply(data);
    }
}

fn main() {}
