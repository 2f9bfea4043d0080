//! The flow-control, timeout and shutdown handlers, with every timeout key.

use pants::prelude::*;

#[derive(Default)]
struct Relay {
    paused: bool,
    timeouts: u32,
}

#[channel(idle_timeout = "30s", read_timeout = "500ms", write_timeout = "2m", connect_timeout = "1h")]
impl Relay {
    #[on_read(delimiter = "\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        s.write_all(&[line, b"\n"]);
    }

    #[on_pause_writing]
    fn full(&mut self, s: &mut Stream<Self>) {
        self.paused = true;
        s.pause_reading();
    }

    #[on_resume_writing]
    fn drained(&mut self, s: &mut Stream<Self>) {
        self.paused = false;
        s.resume_reading();
    }

    #[on_timeout]
    fn expired(&mut self, s: &mut Stream<Self>, timeout: pants::Timeout) {
        self.timeouts += 1;
        if timeout == pants::Timeout::Idle {
            s.close();
        }
    }

    #[on_shutdown]
    fn bye(&mut self, s: &mut Stream<Self>) {
        s.write(b"bye\n");
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        let _ = s.close_reason().map(pants::CloseReason::is_orderly);
    }
}

fn main() {
    assert_eq!(
        <Relay as pants::Channel>::__PANTS_TIMEOUTS.read,
        Some(std::time::Duration::from_millis(500))
    );
    let mut engine = Engine::<Relay>::new().unwrap();
    engine.listen::<Relay>("127.0.0.1:0").unwrap();
}
