//! Datagram channels: bytes, a typed frame with its error handler and
//! `on_close`, and a stream and a datagram channel in one App.
use pants::prelude::*;

#[derive(Default)]
struct Echo;

#[channel(datagram)]
impl Echo {
    #[on_read]
    fn packet(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        let _ = d.reply(data);
    }
}

#[derive(Packed, Clone, Copy, Default)]
struct Pair {
    a: u16,
    b: u16,
}

#[derive(Default)]
struct Adder {
    closed: bool,
}

#[channel(datagram, app = Mixed)]
impl Adder {
    #[on_read]
    fn pair(&mut self, d: &mut Datagram<Self>, from: &Addr, p: Pair) {
        let sum = u32::from(p.a) + u32::from(p.b);
        let _ = d.send_to(from.clone(), &sum.to_be_bytes());
    }

    #[on_datagram_error]
    fn bad(&mut self, _d: &mut Datagram<Self>, _from: &Addr, _error: &pants::Error) {}

    #[on_close]
    fn closed(&mut self, _d: &mut Datagram<Self>) {
        self.closed = true;
    }
}

#[derive(Default)]
struct Lines;

#[channel(app = Mixed)]
impl Lines {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[line, b"\n"]);
    }
}

#[derive(App)]
enum Mixed {
    Adder(Adder),
    Lines(Lines),
}

fn main() -> pants::Result<()> {
    let mut one = Engine::<Echo>::new()?;
    one.bind::<Echo>("127.0.0.1:0")?;
    let mut mixed = Engine::<Mixed>::new()?;
    mixed.bind::<Adder>("127.0.0.1:0")?;
    mixed.listen::<Lines>("127.0.0.1:0")?;
    Ok(())
}
