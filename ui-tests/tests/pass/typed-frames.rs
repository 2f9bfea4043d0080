//! Typed frames: tuples, arrays, integers and derived structs as handler
//! arguments, and `write_packed` of the same types.
use pants::prelude::*;

#[derive(Packed, Clone, Copy, Default)]
#[packed(endian = "little")]
struct Header {
    kind: u8,
    tag: [u8; 3],
    length: u32,
    inner: Inner,
}

#[derive(Packed, Clone, Copy, Default)]
#[packed(endian = "big")]
struct Inner(i16, f64);

#[derive(Packed)]
struct Wrapped<T> {
    value: T,
    check: u8,
}

#[derive(Packed)]
struct Unit;

#[derive(Default)]
struct Typed;

#[channel]
impl Typed {
    #[on_read(initial)]
    fn pair(&mut self, s: &mut Stream<Self>, (a, b): (u16, u16)) {
        s.write_packed(&(a, b, u32::from(a) * u32::from(b)));
        s.switch(Self::HEADER);
    }

    #[on_read(max = 64)]
    fn header(&mut self, s: &mut Stream<Self>, header: Header) {
        s.write_packed(&header);
        s.switch(Self::ONE);
    }

    #[on_read]
    fn one(&mut self, s: &mut Stream<Self>, n: u64) {
        s.write_packed(&[n, n]);
        s.switch(Self::WRAPPED);
    }

    #[on_read]
    fn wrapped(&mut self, s: &mut Stream<Self>, w: Wrapped<(u8, [i8; 2])>) {
        s.write_packed(&Unit);
        s.write_packed(&w.value);
        let _ = w.check;
        s.switch(Self::PAIR);
    }
}

fn main() {
    assert_eq!(<Header as Packed>::SIZE, 1 + 3 + 4 + 2 + 8);
    assert_eq!(<Wrapped<(u8, [i8; 2])> as Packed>::SIZE, 4);
    assert_eq!(<Unit as Packed>::SIZE, 0);
    let mut engine = Engine::<Typed>::new().unwrap();
    engine.listen::<Typed>("127.0.0.1:0").unwrap();
}
