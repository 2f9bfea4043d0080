//! The lines benchmark peer: each `\r\n`-terminated line comes back with its `\r\n`.

use pants::prelude::*;

#[derive(Default)]
struct LineEcho;

#[channel]
impl LineEcho {
    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[line, b"\r\n"]);
    }
}

fn main() {
    pants_examples::serve::<LineEcho>();
}
