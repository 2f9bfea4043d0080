//! Two protocols on one engine: an `App` enum with a variant per channel type.

use pants::prelude::*;

#[derive(Default)]
struct Front {
    back: Option<StreamId>,
}

#[derive(Default)]
struct Back {
    front: Option<StreamId>,
}

#[derive(App)]
enum Proxy {
    Front(Front),
    Back(Back),
}

#[channel(app = Proxy)]
impl Front {
    #[on_connect]
    fn accepted(&mut self, s: &mut Stream<Self>) {
        let back = Back {
            front: Some(s.id()),
        };
        self.back = s.connect("127.0.0.1:9", back).ok();
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        if let Some(back) = self.back {
            s.write_to(back, data);
        }
    }
}

#[channel(app = Proxy)]
impl Back {
    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        if let Some(front) = self.front {
            s.write_to(front, data);
        }
    }

    #[on_close]
    fn closed(&mut self, s: &mut Stream<Self>) {
        if let Some(front) = self.front {
            s.close_stream(front);
        }
    }
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::<Proxy>::new()?;
    let server = engine.listen::<Front>("127.0.0.1:0")?;
    let addr = engine
        .server(server)
        .and_then(|s| s.local_addr())
        .expect("listening");
    engine.connect(addr, Back::default())?;
    Ok(())
}
