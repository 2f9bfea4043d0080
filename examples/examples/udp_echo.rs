//! The echo server for datagrams: `udp_echo [ADDR]` (default
//! 127.0.0.1:4040; `[::]:PORT` for dual-stack, a path or `@NAME` for a Unix
//! datagram socket). Each datagram, the empty one included, goes back
//! whole to its sender. Prints `listening on ADDR`; a bad or busy address
//! is an error (exit 1); SIGINT/SIGTERM stop it.
//!
//! Try it with `python3 -c "import socket; s=socket.socket(socket.AF_INET,
//! socket.SOCK_DGRAM); s.sendto(b'hi', ('127.0.0.1', 4040)); print(s.recv(99))"`.

use pants::prelude::*;
use pants::{Addr, Datagram};

#[derive(Default)]
struct UdpEcho;

#[channel(datagram)]
impl UdpEcho {
    #[on_read]
    fn packet(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        if let Err(e) = d.reply(data) {
            log::info!("{}: reply failed: {e}", d.id());
        }
    }
}

fn main() {
    pants_examples::init_logging();
    let addr = pants_examples::listen_addr();
    let run = || -> pants::Result<()> {
        let mut engine = Engine::<UdpEcho>::new()?;
        let id = engine.bind::<UdpEcho>(addr.as_str())?;
        let local = engine.datagram_addr(id).ok_or(pants::Error::Closed)?;
        engine.stop_on_signals()?;
        println!("listening on {local}");
        engine.start()
    };
    if let Err(e) = run() {
        pants_examples::fail(e);
    }
}
