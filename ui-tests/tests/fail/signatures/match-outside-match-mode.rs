use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read(regex = r"\s+")]
    fn word(&mut self, _s: &mut Stream<Self>, _word: pants::Match<'_>) {}
}

fn main() {}
