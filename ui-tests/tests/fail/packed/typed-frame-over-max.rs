use pants::prelude::*;

#[derive(Default)]
struct Pairs;

#[channel]
impl Pairs {
    #[on_read(max = 2)]
    fn pair(&mut self, _s: &mut Stream<Self>, (_a, _b): (u16, u16)) {}
}

fn main() {
    let _ = Engine::<Pairs>::new().unwrap().listen::<Pairs>("127.0.0.1:0");
}
