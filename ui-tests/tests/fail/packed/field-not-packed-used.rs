//! A field that is not packed: one error at the field, none at the uses of
//! the struct (a typed frame, `write_packed`, `pack`).
use pants::prelude::*;

#[derive(Packed)]
struct Header {
    kind: u8,
    name: String,
}

#[derive(Default)]
struct Proto;

#[channel]
impl Proto {
    #[on_read]
    fn header(&mut self, s: &mut Stream<Self>, header: Header) {
        s.write_packed(&header);
    }
}

fn encode(header: &Header) -> Vec<u8> {
    header.pack()
}

fn main() {
    let _ = encode;
}
