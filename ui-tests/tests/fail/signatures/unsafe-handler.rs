use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_connect]
    unsafe fn hello(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {}
