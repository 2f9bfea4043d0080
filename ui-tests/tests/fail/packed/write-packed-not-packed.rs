use pants::prelude::*;

#[derive(Default)]
struct Greeter;

#[channel]
impl Greeter {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write_packed(&"hello");
    }
}

fn main() {}
