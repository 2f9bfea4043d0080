//! A variant whose #[channel] has no `app = Proxy`: once "expected
//! `&mut Core<Back>`", pointing into pants.
use pants::prelude::*;

#[derive(Default)]
struct Front;

#[derive(Default)]
struct Back;

#[derive(App)]
enum Proxy {
    Front(Front),
    Back(Back),
}

#[channel(app = Proxy)]
impl Front {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

#[channel]
impl Back {
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {}
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Proxy>::new()?;
    engine.listen::<Front>("127.0.0.1:0")?;
    Ok(())
}
