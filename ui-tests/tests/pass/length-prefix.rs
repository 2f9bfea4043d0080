//! Length-prefixed frames of each width, and `write_prefixed`.
use pants::prelude::*;

#[derive(Default)]
struct Prefixed;

#[channel]
impl Prefixed {
    #[on_read(prefix = u8, initial)]
    fn small(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        let _ = s.write_prefixed::<u8>(payload);
        s.switch(Self::MEDIUM);
    }

    #[on_read(prefix = u16, max = 1024)]
    fn medium(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        let _ = s.write_prefixed::<u16>(payload);
        s.switch(Self::LARGE);
    }

    #[on_read(prefix = u32, max = 16_777_216)]
    fn large(&mut self, s: &mut Stream<Self>, payload: &[u8]) {
        if let Err(e) = s.write_prefixed::<u32>(payload) {
            eprintln!("{e}");
        }
        s.switch(Self::SMALL);
    }

    #[on_overflow_error]
    fn too_large(&mut self, s: &mut Stream<Self>, error: &pants::Error) {
        if let pants::Error::FrameTooLarge { size, limit } = error {
            eprintln!("{size} > {limit}");
        }
        s.close();
    }
}

fn main() {
    let mut engine = Engine::<Prefixed>::new().unwrap();
    engine.listen::<Prefixed>("127.0.0.1:0").unwrap();
}
