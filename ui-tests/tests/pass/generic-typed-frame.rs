//! A typed frame of a type parameter is sized inside the impl; a concrete
//! one beside it is checked by a free constant.
use pants::prelude::*;

#[derive(Default)]
struct Proto<T> {
    last: Option<T>,
}

#[channel]
impl<T: Packed + 'static> Proto<T> {
    #[on_read(initial, max = 64)]
    fn value(&mut self, s: &mut Stream<Self>, value: T) {
        self.last = Some(value);
        s.switch(Self::PAIR);
    }

    #[on_read]
    fn pair(&mut self, s: &mut Stream<Self>, _pair: (u16, u16)) {
        s.switch(Self::VALUE);
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Proto<u32>>::new()?;
    engine.listen::<Proto<u32>>("127.0.0.1:0")?;
    Ok(())
}
