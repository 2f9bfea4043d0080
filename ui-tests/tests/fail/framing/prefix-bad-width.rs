use pants::prelude::*;

#[derive(Default)]
struct Messages;

#[channel]
impl Messages {
    #[on_read(prefix = u64)]
    fn message(&mut self, _s: &mut Stream<Self>, _payload: &[u8]) {}
}

fn main() {}
