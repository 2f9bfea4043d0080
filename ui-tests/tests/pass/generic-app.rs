//! An App enum with a type parameter: its channel types name it with the
//! parameter (`app = Proxy<T>`), and dispatch goes through their impls.
use std::marker::PhantomData;

use pants::prelude::*;

#[derive(Default)]
struct Front<T> {
    _t: PhantomData<T>,
}

#[derive(Default)]
struct Back<T> {
    _t: PhantomData<T>,
}

#[channel(app = Proxy<T>)]
impl<T: Default + 'static> Front<T> {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, _data: &[u8]) {
        let _ = s.connect("127.0.0.1:9", Back::<T>::default());
    }
}

#[channel(app = Proxy<T>)]
impl<T: Default + 'static> Back<T> {
    #[on_write]
    fn drained(&mut self, _s: &mut Stream<Self>) {}
}

#[derive(App)]
enum Proxy<T: Default + 'static> {
    Front(Front<T>),
    Back(Back<T>),
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Proxy<u8>>::new()?;
    engine.listen::<Front<u8>>("127.0.0.1:0")?;
    Ok(())
}
