use pants::prelude::*;

#[derive(Default)]
struct Hello;

#[channel]
impl Hello {
    #[on_connect(greeting = "hi")]
    fn hello(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {}
