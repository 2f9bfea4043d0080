use pants::prelude::*;

#[derive(Default)]
struct Lines;

#[channel]
impl Lines {
    #[on_read(delimiter = "\n", max = 1024 * 4)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
