use pants::prelude::*;

#[derive(Default)]
struct Echo;

macro_rules! handlers {
    () => {};
}

#[channel]
impl Echo {
    handlers!();

    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {}
