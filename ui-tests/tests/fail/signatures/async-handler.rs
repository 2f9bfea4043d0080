//! `async fn`: once an elided-lifetime error and "`match` arms have
//! incompatible types".
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    async fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() {}
