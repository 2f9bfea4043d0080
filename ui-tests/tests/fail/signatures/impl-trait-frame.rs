use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: impl AsRef<[u8]>) {}
}

fn main() {}
