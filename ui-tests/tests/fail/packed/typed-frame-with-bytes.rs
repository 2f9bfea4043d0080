use pants::prelude::*;

#[derive(Default)]
struct Numbers;

#[channel]
impl Numbers {
    #[on_read(bytes = 4)]
    fn number(&mut self, _s: &mut Stream<Self>, _n: u32) {}
}

fn main() {}
