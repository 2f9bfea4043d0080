//! `usize` is an integer, but no typed frame: its size depends on the platform.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn pair(&mut self, _s: &mut Stream<Self>, _pair: (u8, usize)) {}
}

fn main() {}
