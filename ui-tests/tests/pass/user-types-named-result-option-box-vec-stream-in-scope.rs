//! Generated code names everything by absolute path, so user items that
//! shadow prelude and pants names change nothing.
#![allow(dead_code)]

use pants::{
    App, Engine, Match, channel, on_close, on_connect, on_connect_error, on_overflow_error,
    on_read, on_write,
};

struct Result;
struct Option;
struct Some;
struct None;
struct Box;
struct Vec;
struct String;
struct Stream;
struct Error;
struct Channel;
struct ReadState;
struct Regex;
struct OnceLock;
struct Rule;
struct Framing;
struct Payload;
struct Member;
trait From {}
trait Default {}
trait Sized {}
mod std {}
mod core {}
mod __private {}

#[derive(::core::default::Default)]
struct Shadowed;

#[channel]
impl Shadowed {
    #[on_read(delimiter = "\n", initial)]
    fn line(&mut self, s: &mut pants::Stream<Self>, line: &[u8]) {
        s.write(line);
        s.switch(Self::WORD);
    }

    #[on_read(regex = r"\s+")]
    fn word(&mut self, s: &mut pants::Stream<Self>, _word: &[u8]) {
        s.switch(Self::PAIR);
    }

    #[on_read(regex = r"([a-z]+)=([0-9]+)\n", mode = "match")]
    fn pair(&mut self, s: &mut pants::Stream<Self>, _pair: Match) {
        s.switch(Self::LINE);
    }

    #[on_connect]
    fn connected(&mut self, _s: &mut pants::Stream<Self>) {}

    #[on_write]
    fn drained(&mut self, _s: &mut pants::Stream<Self>) {}

    #[on_close]
    fn closed(&mut self, _s: &mut pants::Stream<Self>) {}

    #[on_connect_error]
    fn refused(&mut self, _s: &mut pants::Stream<Self>, _error: &pants::Error) {}

    #[on_overflow_error]
    fn overflow(&mut self, _s: &mut pants::Stream<Self>, _error: &pants::Error) {}
}

#[derive(::core::default::Default)]
struct Front;

#[derive(::core::default::Default)]
struct Back;

#[derive(App)]
enum Both {
    Front(Front),
    Back(Back),
}

#[channel(app = Both)]
impl Front {
    #[on_read]
    fn data(&mut self, _s: &mut pants::Stream<Self>, _data: &[u8]) {}
}

#[channel(app = Both)]
impl Back {
    #[on_connect_error]
    fn refused(&mut self, _s: &mut pants::Stream<Self>, _error: &pants::Error) {}
}

fn main() -> pants::Result<()> {
    let mut engine = Engine::new()?;
    engine.listen::<Shadowed>("127.0.0.1:0")?;
    let mut both = Engine::<Both>::new()?;
    both.listen::<Front>("127.0.0.1:0")?;
    ::core::result::Result::Ok(())
}
