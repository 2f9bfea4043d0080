//! The one state marked `initial` is `#[cfg]`'d out and two are left.
use pants::prelude::*;

#[derive(Default)]
struct Http;

#[channel]
impl Http {
    #[on_read(delimiter = "\r\n")]
    fn head(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}

    #[cfg(windows)]
    #[on_read(bytes = 16, initial)]
    fn body(&mut self, _s: &mut Stream<Self>, _chunk: &[u8]) {}

    #[on_read(bytes = 4)]
    fn trailer(&mut self, _s: &mut Stream<Self>, _chunk: &[u8]) {}
}

fn main() {}
