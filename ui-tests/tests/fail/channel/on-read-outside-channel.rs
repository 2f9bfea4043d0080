use pants::prelude::*;

#[derive(Default)]
struct Echo;

impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {}
