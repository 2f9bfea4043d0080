use pants::Packed;

#[derive(Packed)]
enum Message {
    Ping(u32),
    Pong(u32),
}

fn main() {}
