use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Clone for Echo {
    fn clone(&self) -> Self {
        Echo
    }
}

fn main() {}
