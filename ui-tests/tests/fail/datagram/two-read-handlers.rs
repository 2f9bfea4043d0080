//! Two `#[on_read]` handlers: a datagram channel has no read states.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(datagram)]
impl Echo {
    #[on_read]
    fn first(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        let _ = d.reply(data);
    }

    #[on_read]
    fn second(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        let _ = d.reply(data);
    }
}

fn main() {}
