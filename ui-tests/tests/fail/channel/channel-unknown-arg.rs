use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(application = Echo)]
impl Echo {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {}
