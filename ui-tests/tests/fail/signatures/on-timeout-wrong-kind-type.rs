use pants::prelude::*;

#[derive(Default)]
struct Idle;

#[channel(idle_timeout = "1m")]
impl Idle {
    #[on_timeout]
    fn expired(&mut self, s: &mut Stream<Self>, after: std::time::Duration) {
        let _ = after;
        s.close();
    }
}

fn main() {}
