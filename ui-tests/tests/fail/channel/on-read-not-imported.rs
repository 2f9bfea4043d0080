use pants::{Engine, Stream, channel};

#[derive(Default)]
struct Echo;

#[channel]
impl Echo {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

fn main() {
    let mut engine = Engine::new().unwrap();
    engine.listen::<Echo>("127.0.0.1:0").unwrap();
}
