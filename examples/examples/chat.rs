//! Tutorial 3: echo each line to every client.
//!
//! Lines end in `\r\n`. A new client makes everyone see `Connected: IP`, a
//! line `hi` from 10.0.0.7 reaches everyone as `10.0.0.7: hi`, and a client
//! leaving makes the others see `Disconnected: IP`.

use pants::prelude::*;

#[derive(Default)]
struct Chat;

#[channel]
impl Chat {
    #[on_connect]
    fn joined(&mut self, s: &mut Stream<Self>) {
        let msg = format!("Connected: {}\r\n", s.remote_addr().host());
        s.broadcast(msg.as_bytes());
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        let mut msg = format!("{}: ", s.remote_addr().host()).into_bytes();
        msg.extend_from_slice(line);
        msg.extend_from_slice(b"\r\n");
        s.broadcast(&msg);
    }

    #[on_close]
    fn left(&mut self, s: &mut Stream<Self>) {
        let msg = format!("Disconnected: {}\r\n", s.remote_addr().host());
        s.broadcast(msg.as_bytes());
    }
}

fn main() {
    pants_examples::serve::<Chat>();
}
