use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {}
