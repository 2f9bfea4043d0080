use pants::prelude::*;

#[derive(Default)]
struct Owned;

#[channel]
impl Owned {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: Vec<u8>) {}
}

fn main() {}
