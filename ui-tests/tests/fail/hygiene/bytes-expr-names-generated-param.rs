//! A `bytes = expr` expression sees the channel (`self`), not the generated
//! code's parameters: `state` was the state index, read as a length.
use pants::prelude::*;

#[derive(Default)]
struct Body;

#[channel]
impl Body {
    #[on_read(bytes = state)]
    fn body(&mut self, _s: &mut Stream<Self>, _body: &[u8]) {}
}

fn main() {}
