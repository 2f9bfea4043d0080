//! `#[packed]` on a field was ignored: the field used the struct's order.
use pants::Packed;

#[derive(Packed)]
struct Header {
    kind: u8,
    #[packed(endian = "little")]
    length: u32,
}

fn main() {}
