//! A regex in a plain string with `\d`: the lexer's error, and nothing else.
use pants::prelude::*;

#[derive(Default)]
struct Numbers;

#[channel]
impl Numbers {
    #[on_read(regex = "\d+")]
    fn number(&mut self, _s: &mut Stream<Self>, _n: &[u8]) {}
}

fn main() {}
