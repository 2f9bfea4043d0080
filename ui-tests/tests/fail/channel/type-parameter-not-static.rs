//! `impl<T>` without `T: 'static`: once 13 identical "the parameter type `T`
//! may not live long enough".
use pants::prelude::*;

#[derive(Default)]
struct Proto<T> {
    frames: Vec<T>,
}

#[channel]
impl<T: Default> Proto<T> {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {
        self.frames.push(T::default());
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {}
}

fn main() {
    let mut engine = Engine::<Proto<u8>>::new().unwrap();
    engine.listen::<Proto<u8>>("127.0.0.1:0").unwrap();
}
