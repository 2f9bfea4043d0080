//! A frame kept for `'static`: once "`__pants_frame` escapes the method
//! body", "has type `pants::__private::Payload<'1>`", at `fn`.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &'static [u8]) {}
}

fn main() {}
