//! `app = Proxy` on a type `Proxy` has no variant for: once "the trait
//! bound `Proxy: Member<Back>` is not satisfied".
use pants::prelude::*;

#[derive(Default)]
struct Front;

#[derive(Default)]
struct Back;

#[derive(App)]
enum Proxy {
    Front(Front),
}

#[channel(app = Proxy)]
impl Front {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[channel(app = Proxy)]
impl Back {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {}
