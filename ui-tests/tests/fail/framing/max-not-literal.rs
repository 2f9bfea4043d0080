use pants::prelude::*;

const MAX_LINE: usize = 4096;

#[derive(Default)]
struct Lines;

#[channel]
impl Lines {
    #[on_read(delimiter = "\n", max = MAX_LINE)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
