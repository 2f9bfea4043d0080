use pants::Packed;

#[derive(Packed)]
struct Header {
    kind: u8,
    name: String,
}

fn main() {}
