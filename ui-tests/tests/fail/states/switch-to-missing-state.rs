use pants::prelude::*;

#[derive(Default)]
struct Http;

#[channel]
impl Http {
    #[on_read(delimiter = "\r\n")]
    fn head(&mut self, s: &mut Stream<Self>, _line: &[u8]) {
        s.switch(Self::NOPE);
    }
}

fn main() {}
