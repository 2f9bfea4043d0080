//! Tutorial 2: input is cut into 8-byte blocks; each comes back followed by `\r\n`.

use pants::prelude::*;

#[derive(Default)]
struct BlockEcho;

#[channel]
impl BlockEcho {
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        log::info!("{} connected", s.remote_addr());
    }

    #[on_read(bytes = 8)]
    fn block(&mut self, s: &mut Stream<Self>, block: &[u8]) {
        s.write_all(&[block, b"\r\n"]);
    }
}

fn main() {
    pants_examples::serve::<BlockEcho>();
}
