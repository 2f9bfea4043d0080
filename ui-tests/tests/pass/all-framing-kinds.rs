//! Every framing kind `#[on_read]` accepts, each with and without `max`.

use pants::prelude::*;

#[derive(Default)]
struct Framings;

#[channel]
impl Framings {
    #[on_read(initial)]
    fn any(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
        s.switch(Self::BLOCK);
    }

    #[on_read(bytes = 8, max = 64)]
    fn block(&mut self, s: &mut Stream<Self>, _block: &[u8]) {
        s.switch(Self::LINE);
    }

    #[on_read(delimiter = "\r\n", max = 4096)]
    fn line(&mut self, s: &mut Stream<Self>, _line: &[u8]) {
        s.switch(Self::RECORD);
    }

    #[on_read(delimiter = b"\x00\xff")]
    fn record(&mut self, s: &mut Stream<Self>, _record: &[u8]) {
        s.switch(Self::WORD);
    }

    #[on_read(regex = r"\s+")]
    fn word(&mut self, s: &mut Stream<Self>, _word: &[u8]) {
        s.switch(Self::SEARCHED);
    }

    #[on_read(regex = r"[,;]", mode = "search", max = 128)]
    fn searched(&mut self, s: &mut Stream<Self>, _field: &[u8]) {
        s.switch(Self::MATCHED);
    }

    #[on_read(regex = r"[0-9]+\n", mode = "match")]
    fn matched(&mut self, s: &mut Stream<Self>, number: Match) {
        s.write(number.as_bytes());
        s.switch(Self::ANY);
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen::<Framings>("127.0.0.1:0")?;
    Ok(())
}
