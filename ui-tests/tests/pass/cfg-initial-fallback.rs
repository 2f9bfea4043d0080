//! With the marked `initial` state `#[cfg]`'d out, the only state compiled
//! in is the initial one, wherever it is declared; one of two `#[cfg]`
//! alternatives of an event is compiled in.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[cfg(any())]
    #[on_read(delimiter = "\n", initial)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}

    #[cfg(all())]
    #[on_read(bytes = 4)]
    fn block(&mut self, _s: &mut Stream<Self>, _block: &[u8]) {}

    #[cfg(any())]
    #[on_read(bytes = 8)]
    fn wide(&mut self, _s: &mut Stream<Self>, _block: &[u8]) {}

    #[cfg(any())]
    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {}

    #[cfg(all())]
    #[on_close]
    fn gone(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {
    assert_eq!(<Echo as pants::Channel>::__PANTS_INITIAL, Echo::BLOCK.index());
}
