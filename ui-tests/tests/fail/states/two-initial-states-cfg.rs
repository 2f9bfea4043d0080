//! Two `initial` states that are `#[cfg]` alternatives, both compiled in:
//! the first one used to win in silence.
use pants::prelude::*;

#[derive(Default)]
struct Http;

#[channel]
impl Http {
    #[cfg(unix)]
    #[on_read(delimiter = "\r\n", initial)]
    fn head(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}

    #[cfg(not(windows))]
    #[on_read(bytes = 16, initial)]
    fn body(&mut self, _s: &mut Stream<Self>, _chunk: &[u8]) {}
}

fn main() {}
