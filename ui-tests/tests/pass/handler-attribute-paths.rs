//! Handler attributes by any path that ends in their name.
#[derive(Default)]
struct Echo;

#[pants::channel]
impl Echo {
    #[pants::prelude::on_read]
    fn data(&mut self, s: &mut pants::Stream<Self>, data: &[u8]) {
        s.write(data);
    }

    #[::pants::on_close]
    fn closed(&mut self, _s: &mut pants::Stream<Self>) {}
}

fn main() -> pants::Result<()> {
    let mut engine = pants::Engine::<Echo>::new()?;
    engine.listen::<Echo>("127.0.0.1:0")?;
    Ok(())
}
