//! A stream timeout on a datagram channel.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(datagram, idle_timeout = "30s")]
impl Echo {
    #[on_read]
    fn packet(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        let _ = d.reply(data);
    }
}

fn main() {}
