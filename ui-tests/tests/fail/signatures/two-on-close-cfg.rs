//! Two `#[on_close]` handlers that are `#[cfg]` alternatives, both compiled
//! in: once "duplicate definitions with name `__pants_close`".
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[cfg(unix)]
    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {}

    #[cfg(not(windows))]
    #[on_close]
    fn gone(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {}
