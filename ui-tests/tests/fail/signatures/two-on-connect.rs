use pants::prelude::*;

#[derive(Default)]
struct Hello;

#[channel]
impl Hello {
    #[on_connect]
    fn hello(&mut self, _s: &mut Stream<Self>) {}

    #[on_connect]
    fn welcome(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {}
