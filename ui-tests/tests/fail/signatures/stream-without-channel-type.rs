//! `Stream` without its channel type: once rustc's help to write `Stream<C>`,
//! the struct's own parameter name.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, _s: &mut Stream, _data: &[u8]) {}
}

fn main() {}
