//! A generic handler: once "type annotations needed", with a suggestion
//! to edit the signature into `fn data::<T><T: Default>(`.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data<T: Default>(&mut self, _s: &mut Stream<Self>, _data: &[u8]) {
        let _ = T::default();
    }
}

fn main() {}
