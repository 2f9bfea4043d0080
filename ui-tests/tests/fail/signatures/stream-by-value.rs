use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_connect]
    fn hello(&mut self, _s: Stream<Self>) {}
}

fn main() {}
