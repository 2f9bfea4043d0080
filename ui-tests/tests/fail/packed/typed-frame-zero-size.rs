use pants::prelude::*;

#[derive(Default)]
struct Nothing;

#[channel]
impl Nothing {
    #[on_read]
    fn empty(&mut self, _s: &mut Stream<Self>, _empty: [u8; 0]) {}
}

fn main() {
    let _ = Engine::<Nothing>::new().unwrap().listen::<Nothing>("127.0.0.1:0");
}
