//! A variant that holds no channel type.
use pants::prelude::*;

#[derive(Default)]
struct Front;

#[derive(Default)]
struct Back;

#[derive(App)]
enum Proxy {
    Front(Front),
    Count(u32),
}

#[channel(app = Proxy)]
impl Front {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {}
