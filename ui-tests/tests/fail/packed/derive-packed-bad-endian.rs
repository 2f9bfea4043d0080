use pants::Packed;

#[derive(Packed)]
#[packed(endian = "middle")]
struct Header {
    kind: u8,
    length: u32,
}

fn main() {}
