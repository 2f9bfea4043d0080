use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, _error: pants::Error) {}
}

fn main() {}
