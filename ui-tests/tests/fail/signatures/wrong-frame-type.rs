use pants::prelude::*;

#[derive(Default)]
struct Lines;

#[channel]
impl Lines {
    // Frames are bytes; a `&str` would need UTF-8 checking the macro does not do.
    #[on_read(delimiter = "\n")]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &str) {}
}

fn main() {}
