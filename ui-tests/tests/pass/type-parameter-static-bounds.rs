//! A channel's type parameters are `'static` by a bound, a where-clause or
//! an `Any` bound (which implies it).
use std::any::Any;

use pants::prelude::*;

#[derive(Default)]
struct Proto<A, B, C> {
    a: Vec<A>,
    b: Vec<B>,
    c: Vec<C>,
}

#[channel]
impl<A: 'static, B: Any + Default, C> Proto<A, B, C>
where
    C: Default + 'static,
{
    #[on_read]
    fn data(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {
        self.a.clear();
        self.b.push(B::default());
        self.c.push(C::default());
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Proto<u8, u16, u32>>::new()?;
    engine.listen::<Proto<u8, u16, u32>>("127.0.0.1:0")?;
    Ok(())
}
