//! Match mode hands the handler a `Match` with the capture groups.

use pants::prelude::*;

#[derive(Default)]
struct Commands;

#[channel]
impl Commands {
    #[on_read(regex = r"(?P<verb>[A-Z]+) (?P<arg>[^\r\n]*)\r\n", mode = "match")]
    fn command(&mut self, s: &mut Stream<Self>, command: Match) {
        let verb = command.name("verb").unwrap_or_default();
        let arg = command.get(2).unwrap_or_default();
        if verb == b"ECHO" {
            s.write_all(&[arg, b"\r\n"]);
        }
        let _groups = command.len();
        let _whole: &[u8] = command.as_bytes();
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen::<Commands>("127.0.0.1:0")?;
    Ok(())
}
