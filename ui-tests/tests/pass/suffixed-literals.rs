//! Integer literals with a suffix are byte counts like any other: the macro
//! emits their value where a `usize` is expected.
use pants::prelude::*;

#[derive(Default)]
struct Blocks;

#[channel]
impl Blocks {
    #[on_read(bytes = 4u32, max = 4096u32, initial)]
    fn block(&mut self, s: &mut Stream<Self>, _block: &[u8]) {
        s.switch(Self::LINE);
    }

    #[on_read(delimiter = "\n", max = 1_024usize)]
    fn line(&mut self, s: &mut Stream<Self>, _line: &[u8]) {
        s.switch(Self::PAIR);
    }

    #[on_read(max = 16u16)]
    fn pair(&mut self, s: &mut Stream<Self>, _pair: (u16, u16)) {
        s.switch(Self::SIZED);
    }

    #[on_read(prefix = u16, max = 65_535u64)]
    fn sized(&mut self, s: &mut Stream<Self>, _payload: &[u8]) {
        s.switch(Self::BLOCK);
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Blocks>::new()?;
    engine.listen::<Blocks>("127.0.0.1:0")?;
    Ok(())
}
