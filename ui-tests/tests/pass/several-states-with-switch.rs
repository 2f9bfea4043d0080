//! A header line, then a body of a fixed size, then back to headers.

use pants::prelude::*;

#[derive(Default)]
struct Messages {
    bodies: usize,
}

#[channel]
impl Messages {
    #[on_read(delimiter = "\n", initial)]
    fn header(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        if line.is_empty() {
            s.switch(Self::BODY);
        }
    }

    #[on_read(bytes = 16)]
    fn body(&mut self, s: &mut Stream<Self>, body: &[u8]) {
        self.bodies += 1;
        s.write(body);
        s.switch(Self::HEADER);
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen::<Messages>("127.0.0.1:0")?;
    let header: ReadState<Messages> = Messages::HEADER;
    assert_eq!(header.index(), 0);
    assert_eq!(Messages::BODY.index(), 1);
    Ok(())
}
