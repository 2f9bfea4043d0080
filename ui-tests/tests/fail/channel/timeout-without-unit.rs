use pants::prelude::*;

#[derive(Default)]
struct Idle;

#[channel(idle_timeout = "30")]
impl Idle {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {}
