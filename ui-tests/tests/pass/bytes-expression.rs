//! `bytes = expr`: lengths computed at run time, from fields, methods and
//! expressions of every unsigned integer type.
use pants::prelude::*;

#[derive(Default)]
struct Http {
    content_length: usize,
    chunk: u16,
    lengths: Vec<u32>,
}

impl Http {
    fn next_length(&self) -> u64 {
        self.lengths.first().copied().map_or(1, u64::from)
    }
}

#[channel]
impl Http {
    #[on_read(delimiter = "\r\n\r\n", initial, max = 8192)]
    fn head(&mut self, s: &mut Stream<Self>, head: &[u8]) {
        self.content_length = head.len();
        s.switch(Self::BODY);
    }

    #[on_read(bytes = self.content_length, max = 1_048_576)]
    fn body(&mut self, s: &mut Stream<Self>, _body: &[u8]) {
        s.switch(Self::CHUNK);
    }

    #[on_read(bytes = self.chunk)]
    fn chunk(&mut self, s: &mut Stream<Self>, _chunk: &[u8]) {
        s.switch(Self::LISTED);
    }

    #[on_read(bytes = self.next_length())]
    fn listed(&mut self, s: &mut Stream<Self>, _data: &[u8]) {
        s.switch(Self::SUM);
    }

    #[on_read(bytes = usize::from(self.chunk) + 2)]
    fn sum(&mut self, s: &mut Stream<Self>, _data: &[u8]) {
        s.switch(Self::HEAD);
    }
}

fn main() {
    let mut engine = Engine::<Http>::new().unwrap();
    engine.listen::<Http>("127.0.0.1:0").unwrap();
}
