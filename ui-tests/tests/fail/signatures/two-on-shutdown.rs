use pants::prelude::*;

#[derive(Default)]
struct Chat;

#[channel]
impl Chat {
    #[on_shutdown]
    fn bye(&mut self, s: &mut Stream<Self>) {
        s.write(b"bye\r\n");
    }

    #[on_shutdown]
    fn goodbye(&mut self, s: &mut Stream<Self>) {
        s.write(b"goodbye\r\n");
    }
}

fn main() {}
