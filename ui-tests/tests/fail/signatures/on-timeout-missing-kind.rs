use pants::prelude::*;

#[derive(Default)]
struct Idle;

#[channel(idle_timeout = "30s")]
impl Idle {
    #[on_timeout]
    fn expired(&mut self, s: &mut Stream<Self>) {
        s.close();
    }
}

fn main() {}
