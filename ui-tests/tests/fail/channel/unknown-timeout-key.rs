use pants::prelude::*;

#[derive(Default)]
struct Idle;

#[channel(idle_timout = "30s")]
impl Idle {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {}
