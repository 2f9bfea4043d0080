use pants::prelude::*;

struct Borrowing<'a> {
    greeting: &'a str,
}

#[channel]
impl<'a> Borrowing<'a> {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write(self.greeting.as_bytes());
    }
}

fn main() {}
