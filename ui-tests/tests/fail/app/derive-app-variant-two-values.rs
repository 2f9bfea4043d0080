//! A variant with two values: one error at the second, and the uses of
//! `Proxy`, `Front` and `Back` add none.
use pants::prelude::*;

#[derive(Default)]
struct Front;

#[derive(Default)]
struct Back;

#[derive(App)]
enum Proxy {
    Front(Front),
    Back(Back, u32),
}

#[channel(app = Proxy)]
impl Front {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, _data: &[u8]) {
        let _ = s.connect("127.0.0.1:9", Back);
    }
}

#[channel(app = Proxy)]
impl Back {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Proxy>::new()?;
    engine.listen::<Front>("127.0.0.1:0")?;
    let _ = Proxy::from(Back);
    Ok(())
}
