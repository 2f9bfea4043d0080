//! `usize` is an integer but has no fixed size on the wire.
use pants::Packed;

#[derive(Packed)]
struct Header {
    kind: u8,
    length: usize,
}

fn main() {
    let _ = Header::SIZE;
}
