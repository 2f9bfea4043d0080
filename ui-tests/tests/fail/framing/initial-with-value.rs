//! `initial = true`: once a bare "expected `,`".
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read(delimiter = "\n", initial = true)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
