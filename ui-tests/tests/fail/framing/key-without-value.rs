use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read(delimiter("\n"))]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
