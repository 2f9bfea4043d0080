//! The echo server on a Unix stream socket: `unix_echo PATH` (or `@NAME`
//! for a Linux abstract socket). Prints `listening on PATH`; a socket file
//! left by a dead server is replaced, a path where a live one listens is an
//! error (exit 1); the file is removed when the server shuts down.
//!
//! Try it with `nc -U PATH` or Python's `socket.AF_UNIX`.

use pants::prelude::*;

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
    let Some(path) = std::env::args().nth(1) else {
        pants_examples::fail("usage: unix_echo PATH (or @NAME for an abstract socket)");
    };
    // A bare file name is a path too (`unix_echo echo.sock`).
    let addr = if path.starts_with(['/', '.', '@']) || path.starts_with("unix:") {
        path
    } else {
        format!("unix:{path}")
    };
    pants_examples::serve_at::<Echo>(&addr);
}
