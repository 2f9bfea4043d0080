//! Generated code names primitive types by absolute path, so a user type
//! called `u16`, `usize` or `u8` changes nothing.
#![allow(non_camel_case_types, dead_code)]

use pants::prelude::*;

mod shadow {
    pub struct u8;
    pub struct u16;
    pub struct u32;
    pub struct usize;
}
use shadow::*;

#[derive(Packed)]
struct Header {
    kind: ::core::primitive::u8,
    length: ::core::primitive::u32,
}

#[derive(Default)]
struct Shadowed {
    length: ::core::primitive::usize,
}

#[channel]
impl Shadowed {
    #[on_read(initial)]
    fn header(&mut self, s: &mut Stream<Self>, header: Header) {
        self.length = header.length as ::core::primitive::usize;
        s.switch(Self::BODY);
    }

    #[on_read(bytes = self.length)]
    fn body(&mut self, s: &mut Stream<Self>, body: &[::core::primitive::u8]) {
        s.write(body);
        s.switch(Self::HEADER);
    }
}

fn main() {
    let _ = (u8, u16, u32, usize);
    let mut engine = Engine::<Shadowed>::new().unwrap();
    engine.listen::<Shadowed>("127.0.0.1:0").unwrap();
}
