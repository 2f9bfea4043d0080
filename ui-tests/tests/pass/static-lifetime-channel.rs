//! A channel type with a lifetime parameter works when the impl names
//! `'static`: the engine owns channel values, so they cannot borrow.

use pants::prelude::*;

struct Greeter<'a> {
    greeting: &'a str,
}

#[channel]
impl Greeter<'static> {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write(self.greeting.as_bytes());
        s.close();
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen_with::<Greeter<'static>, _>("127.0.0.1:0", |_| {
        Some(Greeter { greeting: "hi\r\n" })
    })?;
    Ok(())
}
