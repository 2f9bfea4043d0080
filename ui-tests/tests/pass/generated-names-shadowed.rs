//! Items of the user's named like the generated code's bindings (`state`,
//! `s`, `frame`, `core`, `channel`, `at`, `order`, ...) are neither captured
//! by it (a constant in a parameter's place would be a pattern) nor hidden
//! from the user's `bytes = expr`.
#![allow(non_upper_case_globals, non_camel_case_types, dead_code)]

use pants::prelude::*;

const state: u16 = 7;
const s: u8 = 1;
const frame: u8 = 2;
const value: u8 = 3;
const key: usize = 4;
const event: u8 = 5;
const channel: u8 = 6;
const other: u8 = 7;
const bytes: u8 = 8;
const out: u8 = 9;
const order: u8 = 10;
const at: usize = 11;
const initial: u16 = 12;
const found: bool = true;
const on_write: bool = false;
struct error;

#[derive(Packed)]
struct Header {
    kind: u8,
    length: u16,
}

#[derive(Default)]
struct Front {
    length: u16,
}

#[channel(app = Proxy)]
impl Front {
    #[on_read(initial)]
    fn header(&mut self, s2: &mut Stream<Self>, header: Header) {
        self.length = header.length;
        s2.switch(Self::BODY);
    }

    #[on_read(bytes = self.length + u16::from(s) + state)]
    fn body(&mut self, s2: &mut Stream<Self>, _body: &[u8]) {
        s2.switch(Self::HEADER);
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, _e: &pants::Error) {}
}

#[derive(Default)]
struct Back;

#[channel(app = Proxy)]
impl Back {
    #[on_write]
    fn drained(&mut self, _s: &mut Stream<Self>) {}
}

#[derive(App)]
enum Proxy {
    Front(Front),
    Back(Back),
}

#[derive(Default)]
struct Alone;

#[cfg_attr(any(), allow(unused))]
#[channel]
impl Alone {
    #[cfg(all())]
    #[on_read(delimiter = "\n", initial)]
    fn line(&mut self, _s: &mut Stream<Self>, _line: &[u8]) {}

    #[on_read(bytes = at)]
    fn block(&mut self, _s: &mut Stream<Self>, _block: &[u8]) {}

    #[on_write]
    fn drained(&mut self, _s: &mut Stream<Self>) {}
}

fn main() -> pants::Result<()> {
    assert_eq!(Header::SIZE, 3);
    let mut engine = Engine::<Proxy>::new()?;
    engine.listen::<Front>("127.0.0.1:0")?;
    let mut alone = Engine::<Alone>::new()?;
    alone.listen::<Alone>("127.0.0.1:0")?;
    Ok(())
}
