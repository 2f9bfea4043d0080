use pants::prelude::*;

#[derive(Default)]
struct Body {
    length: i32,
}

#[channel]
impl Body {
    #[on_read(bytes = self.length)]
    fn body(&mut self, _s: &mut Stream<Self>, _body: &[u8]) {}
}

fn main() {}
