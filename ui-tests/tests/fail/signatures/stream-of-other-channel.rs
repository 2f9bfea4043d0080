use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[derive(Default)]
struct Other;

#[channel]
impl Other {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Other>, _data: &[u8]) {}
}

fn main() {}
