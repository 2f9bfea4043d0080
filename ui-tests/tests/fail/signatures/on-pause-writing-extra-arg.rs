use pants::prelude::*;

#[derive(Default)]
struct Producer;

#[channel]
impl Producer {
    #[on_pause_writing]
    fn full(&mut self, _s: &mut Stream<Self>, _queued: usize) {}
}

fn main() {}
