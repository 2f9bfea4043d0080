//! A mismatch only the compiler can see (through an alias): reported at the
//! parameter's type, with no fix-it spliced into the signature (generated
//! calls are spanned in the macro's context).
use pants::prelude::*;

#[derive(Default)]
struct Echo;

type Text = str;

#[channel]
impl Echo {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &Text) {}
}

fn main() {}
