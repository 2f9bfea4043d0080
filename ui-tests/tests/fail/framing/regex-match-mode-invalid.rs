//! The error shows the pattern as written, not the anchored `\A(?:...)`
//! form that match mode compiles.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read(regex = r"(\d+", mode = "match")]
    fn number(&mut self, _s: &mut Stream<Self>, _n: pants::Match<'_>) {}
}

fn main() {}
