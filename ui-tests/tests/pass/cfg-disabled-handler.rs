//! Handlers under a `#[cfg]` that is off vanish with everything made from
//! them; `#[cfg]` alternatives may each be marked (`initial`, `#[on_connect]`).

use std::io::Read;
use std::time::Duration;

use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[cfg(any())]
    #[on_read(delimiter = "\n", initial)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}

    #[cfg(all())]
    #[on_read(initial)]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[on_read(bytes = 4)]
    fn block(&mut self, s: &mut Stream<Self>, _block: &[u8]) {
        s.switch(Self::DATA);
    }

    #[cfg(any())]
    #[on_connect]
    fn hello(&mut self, s: &mut Stream<Self>) {
        s.write(b"never compiled\n");
    }

    #[cfg(all())]
    #[on_connect]
    fn welcome(&mut self, s: &mut Stream<Self>) {
        s.write(b"welcome\n");
    }

    #[cfg(any())]
    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {}
}

fn main() -> pants::Result<()> {
    assert_eq!(
        <Echo as pants::Channel>::__PANTS_INITIAL,
        Echo::DATA.index()
    );
    let mut engine = Engine::new()?;
    let server = engine.listen::<Echo>("127.0.0.1:0")?;
    let addr = engine
        .server(server)
        .and_then(|s| s.local_addr())
        .expect("listening");
    let mut client = std::net::TcpStream::connect(addr)?;
    for _ in 0..20 {
        engine.poll(Some(Duration::from_millis(10)))?;
    }
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut greeting = [0; 8];
    client.read_exact(&mut greeting)?;
    assert_eq!(&greeting, b"welcome\n");
    Ok(())
}
