use pants::prelude::*;

#[derive(Default)]
struct Words;

#[channel]
impl Words {
    #[on_read(regex = r"\s*")]
    fn word(&mut self, _s: &mut Stream<Self>, _word: &[u8]) {}
}

fn main() {}
