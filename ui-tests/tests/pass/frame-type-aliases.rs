//! Frame, error and timeout parameters through aliases and full paths are
//! what they name; in match mode `&[u8]` gets the match's bytes.
use pants::prelude::*;

type Bytes = [u8];
type Failure = pants::Error;

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read(delimiter = "\n", initial)]
    fn line(&mut self, s: &mut Stream<Self>, _line: &Bytes) {
        s.switch(Self::RAW);
    }

    #[on_read(bytes = 4)]
    fn raw(&mut self, s: &mut Stream<Self>, _raw: &[::core::primitive::u8]) {
        s.switch(Self::WORD);
    }

    #[on_read(regex = r"\w+", mode = "match")]
    fn word(&mut self, s: &mut Stream<Self>, word: &[u8]) {
        s.write(word);
        s.switch(Self::LINE);
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Echo>, _error: &Failure) {}

    #[on_timeout]
    fn expired(&mut self, _s: &mut pants::Stream<'_, Self>, _timeout: pants::Timeout) {}
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Echo>::new()?;
    engine.listen::<Echo>("127.0.0.1:0")?;
    Ok(())
}
