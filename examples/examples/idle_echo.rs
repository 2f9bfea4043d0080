//! The echo server with an idle timeout: a connection that sends and
//! receives nothing for SECS seconds (default 60) is closed. It is also the
//! benchmark's measure of what timeouts cost a busy server (every read
//! moves the deadline).
//!
//! `cargo run --release --example idle_echo [ADDR] [SECS]`.

use std::time::Duration;

use pants::prelude::*;

#[derive(Default)]
struct IdleEcho;

#[channel(idle_timeout = "60s")]
impl IdleEcho {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        if let Some(secs) = idle_secs() {
            s.set_timeout(Timeout::Idle, Some(Duration::from_secs(secs)));
        }
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

/// The second argument, if given and not the default.
fn idle_secs() -> Option<u64> {
    static SECS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *SECS.get_or_init(|| {
        let arg = std::env::args().nth(2)?;
        match arg.parse::<u64>() {
            Ok(n) if n > 0 => (n != 60).then_some(n),
            _ => pants_examples::fail(format!("bad idle timeout {arg:?}: give whole seconds > 0")),
        }
    })
}

fn main() {
    let _ = idle_secs();
    pants_examples::serve::<IdleEcho>();
}
