//! `#[channel]` on a generic impl carries the generics and bounds over.

use pants::prelude::*;

#[derive(Default)]
struct Proto<T> {
    frames: Vec<T>,
}

#[channel]
impl<T: 'static + Default> Proto<T> {
    #[on_read(delimiter = "\n", initial)]
    fn line(&mut self, s: &mut Stream<Self>, _line: &[u8]) {
        self.frames.push(T::default());
        s.switch(Self::BLOCK);
    }

    #[on_read(bytes = 4)]
    fn block(&mut self, s: &mut Stream<Self>, _block: &[u8]) {
        s.switch(Self::LINE);
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.frames.clear();
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen::<Proto<String>>("127.0.0.1:0")?;
    let mut other = Engine::new()?;
    other.listen::<Proto<u8>>("127.0.0.1:0")?;
    Ok(())
}
