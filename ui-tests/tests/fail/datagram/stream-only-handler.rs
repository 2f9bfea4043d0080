//! `#[on_connect]` means nothing to a datagram socket.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(datagram)]
impl Echo {
    #[on_read]
    fn packet(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        let _ = d.reply(data);
    }

    #[on_connect]
    fn hello(&mut self, _d: &mut Datagram<Self>) {}
}

fn main() {}
