use pants::prelude::*;

#[derive(Default)]
struct Http;

#[channel]
impl Http {
    #[on_read(delimiter = "\r\n")]
    fn head(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}

    #[on_read(bytes = 16)]
    fn body(&mut self, _s: &mut Stream<Self>, _chunk: &[u8]) {}
}

fn main() {}
