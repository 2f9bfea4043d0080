//! A handler in a second impl block of a type whose #[channel] impl is
//! another: the message says to move it (adding #[channel] here would make
//! two channel impls).
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

impl Echo {
    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {}
