//! #[channel] on a trait whose methods carry handler attributes: one error,
//! not one more per handler attribute.
use pants::prelude::*;

#[channel]
trait Proto {
    #[on_read]
    fn data(&mut self, data: &[u8]);

    #[on_close]
    fn closed(&mut self);
}

fn main() {}
