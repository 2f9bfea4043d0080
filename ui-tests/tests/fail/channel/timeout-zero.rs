use pants::prelude::*;

#[derive(Default)]
struct Slow;

#[channel(read_timeout = "0s")]
impl Slow {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write(line);
    }
}

fn main() {}
