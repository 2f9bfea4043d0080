use pants::prelude::*;

#[derive(Default)]
struct Hello;

#[channel]
impl Hello {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>, greeting: &[u8]) {
        s.write(greeting);
    }
}

fn main() {}
