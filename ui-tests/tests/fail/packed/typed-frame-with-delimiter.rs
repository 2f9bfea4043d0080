use pants::prelude::*;

#[derive(Default)]
struct Pairs;

#[channel]
impl Pairs {
    #[on_read(delimiter = "\r\n")]
    fn pair(&mut self, _s: &mut Stream<Self>, (_a, _b): (u16, u16)) {}
}

fn main() {}
