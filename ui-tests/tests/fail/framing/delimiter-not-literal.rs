use pants::prelude::*;

const SEP: &str = "\r\n";

#[derive(Default)]
struct Lines;

#[channel]
impl Lines {
    #[on_read(delimiter = SEP)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
