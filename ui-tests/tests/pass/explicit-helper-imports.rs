//! Handler attributes imported one by one count as used: #[channel] removes
//! them, then names each on a marker item that the attribute expands to
//! nothing.
#![deny(unused_imports)]

use pants::{Engine, Stream, channel, on_close, on_read};

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {}
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Echo>::new()?;
    engine.listen::<Echo>("127.0.0.1:0")?;
    Ok(())
}
