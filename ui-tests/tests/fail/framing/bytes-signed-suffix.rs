use pants::prelude::*;

#[derive(Default)]
struct Blocks;

#[channel]
impl Blocks {
    #[on_read(bytes = 4i32)]
    fn block(&mut self, _s: &mut Stream<Self>, _block: &[u8]) {}
}

fn main() {}
