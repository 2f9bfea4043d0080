use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(self: &Self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {}
