use pants::Packed;

#[derive(Packed)]
#[packed(align = 4)]
struct Header {
    kind: u8,
    length: u32,
}

fn main() {}
