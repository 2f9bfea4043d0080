//! A bare value: once syn's "expected ident", with no keys listed.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read("\r\n")]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}
}

fn main() {}
