//! Tutorial 1: an echo server. Every byte that arrives is written back.
//!
//! `cargo run --release --example echo [ADDR]` (default 127.0.0.1:4040), then
//! `nc 127.0.0.1 4040` and type.

use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {
    pants_examples::serve::<Echo>();
}
