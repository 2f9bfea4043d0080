//! One handler for every event.

use pants::prelude::*;

#[derive(Default)]
struct Everything {
    events: usize,
}

#[channel]
impl Everything {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        self.events += 1;
        s.write(b"hello\n");
    }

    #[on_read(delimiter = "\n", max = 1024)]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.events += 1;
        s.write(line);
    }

    #[on_write]
    fn drained(&mut self, _s: &mut Stream<Self>) {
        self.events += 1;
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.events += 1;
    }

    #[on_connect_error]
    fn refused(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        let _ = error.to_string();
    }

    #[on_overflow_error]
    fn overflow(&mut self, s: &mut Stream<Self>, _error: &pants::Error) {
        s.close();
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen::<Everything>("127.0.0.1:0")?;
    Ok(())
}
