//! Multicast on this host: `multicast [GROUP:PORT] [COUNT]` (default
//! 239.255.42.99:4046, 5 messages). One engine runs a receiver joined to
//! the group on the loopback interface and a sender that sends COUNT
//! numbered messages to the group, one every 100 ms, out of the loopback
//! interface. The receiver prints each as `received N from ADDR`; the
//! program exits 0 once all arrived, 1 (saying why) if they do not within
//! 5 s or the group cannot be joined. Nothing leaves the host.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use pants::prelude::*;
use pants::{DatagramId, Error};

/// Prints each message; stops the engine when the last one arrives.
struct Receiver {
    want: u32,
    got: u32,
}

#[channel(datagram, app = Multicast)]
impl Receiver {
    #[on_read]
    fn message(&mut self, d: &mut Datagram<Self>, from: &Addr, data: &[u8]) {
        println!("received {} from {from}", String::from_utf8_lossy(data));
        self.got += 1;
        if self.got == self.want {
            d.close();
            d.stop_engine();
        }
    }
}

/// Only sends (its handler never runs: nobody sends to it).
struct Sender;

#[channel(datagram, app = Multicast)]
impl Sender {
    #[on_read]
    fn ignored(&mut self, _d: &mut Datagram<Self>, _from: &Addr, _data: &[u8]) {}
}

#[derive(App)]
enum Multicast {
    Receiver(Receiver),
    Sender(Sender),
}

fn main() {
    pants_examples::init_logging();
    let mut args = std::env::args().skip(1);
    let group: SocketAddrV4 = args
        .next()
        .unwrap_or_else(|| "239.255.42.99:4046".to_owned())
        .parse()
        .unwrap_or_else(|e| pants_examples::fail(format!("GROUP:PORT: {e}")));
    let count: u32 = args
        .next()
        .map_or(Ok(5), |n| n.parse())
        .unwrap_or_else(|e| pants_examples::fail(format!("COUNT: {e}")));
    if !group.ip().is_multicast() {
        pants_examples::fail(format!("{} is not a multicast group", group.ip()));
    }
    if let Err(e) = run(group, count) {
        pants_examples::fail(e);
    }
}

fn run(group: SocketAddrV4, count: u32) -> pants::Result<()> {
    let mut engine = Engine::<Multicast>::new()?;
    let receiver = engine.bind_with(
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, group.port())),
        Receiver {
            want: count,
            got: 0,
        },
    )?;
    engine
        .with_datagram::<Receiver, _>(receiver, |_, d| {
            d.join_multicast_v4(*group.ip(), Ipv4Addr::LOCALHOST)
        })
        .ok_or(Error::Closed)??;
    let sender = engine.bind_with("127.0.0.1:0", Sender)?;
    engine
        .with_datagram::<Sender, _>(sender, |_, d| {
            d.set_multicast_interface_v4(Ipv4Addr::LOCALHOST)
        })
        .ok_or(Error::Closed)??;
    println!("listening on {group}");
    let mut sent = 0;
    engine.cycle(Duration::from_millis(100), move |e| {
        if sent < count {
            sent += 1;
            send(e, sender, group, sent);
        }
    })?;
    engine.defer(Duration::from_secs(5), Engine::stop)?;
    engine.stop_on_signals()?;
    engine.start()?;
    // The receiver closed itself after the last message.
    if engine.datagram_addr(receiver).is_some() {
        return Err(Error::Address {
            input: group.to_string(),
            reason: "not every message arrived within 5 s (no multicast route?)".into(),
        });
    }
    Ok(())
}

fn send(e: &mut Engine<Multicast>, sender: DatagramId, group: SocketAddrV4, n: u32) {
    if let Err(err) = e.send_to(sender, SocketAddr::V4(group), n.to_string().as_bytes()) {
        log::warn!("send to {group}: {err}");
    }
}
