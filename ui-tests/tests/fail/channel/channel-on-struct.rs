use pants::prelude::*;

#[channel]
#[derive(Default)]
struct Echo;

fn main() {}
