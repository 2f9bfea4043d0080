//! A handler that returns a value: once "`match` arms have incompatible types".
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) -> usize {
        s.write(data);
        data.len()
    }
}

fn main() {}
