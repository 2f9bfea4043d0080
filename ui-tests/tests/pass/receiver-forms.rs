//! A handler's receiver is `&mut Self` however it is spelt: `&mut self`,
//! `&'a mut self`, `self: &mut Self`, `self: &mut TheType`.
use pants::prelude::*;

#[derive(Default)]
struct Echo {
    frames: usize,
}

#[channel]
impl Echo {
    #[on_read]
    fn data(self: &mut Self, s: &mut Stream<Self>, data: &[u8]) {
        self.frames += 1;
        s.write(data);
    }

    #[on_connect]
    fn hello(self: &mut Echo, s: &mut Stream<Self>) {
        s.write(b"hello\n");
    }

    #[on_close]
    fn closed<'a>(&'a mut self, _s: &mut Stream<Self>) {
        self.frames = 0;
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Echo>::new()?;
    engine.listen::<Echo>("127.0.0.1:0")?;
    Ok(())
}
