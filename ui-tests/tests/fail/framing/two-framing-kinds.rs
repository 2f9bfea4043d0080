use pants::prelude::*;

#[derive(Default)]
struct Lines;

#[channel]
impl Lines {
    #[on_read(delimiter = "\n", bytes = 8)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
