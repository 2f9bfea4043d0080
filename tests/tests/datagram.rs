//! Datagram channels: UDP (IPv4, IPv6, dual-stack) and Unix datagram
//! sockets, with Python 3 as the peer: whole datagrams of every size, many
//! senders, multicast on loopback, stale and busy socket files, a full send
//! buffer (queue, then tail drop), typed frames of the wrong size.

use pants::prelude::*;
use pants::{Addr, Datagram, Packed};

use crate::util::{self, TempDir, python};

/// Echoes each datagram to its sender and counts them.
#[derive(Default)]
struct Echo {
    seen: usize,
}

#[channel(datagram)]
impl Echo {
    #[on_read]
    fn packet(&mut self, d: &mut Datagram<Self>, _from: &Addr, data: &[u8]) {
        self.seen += 1;
        d.reply(data).expect("reply");
    }
}

/// An engine with an `Echo` bound on `addr`; its bound address.
fn echo_on(addr: &str) -> (util::Bg<Echo>, Addr) {
    echo_batching(addr, true)
}

/// [`echo_on`] with `recvmmsg`/`sendmmsg` batching on or off.
fn echo_batching(addr: &str, batching: bool) -> (util::Bg<Echo>, Addr) {
    let addr = addr.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    let bg = util::spawn(move |e: &mut Engine<Echo>| {
        e.set_datagram_batching(batching);
        let id = e.bind::<Echo>(addr.as_str()).expect("bind");
        let _ = tx.send(e.datagram_addr(id).expect("bound"));
        None
    });
    let local = rx.recv_timeout(util::TIMEOUT).expect("the bound address");
    (bg, local)
}

/// Sends each size from a fresh Python socket and checks the echo.
const ROUND_TRIPS: &str = r#"
import os, socket, sys
target = sys.argv[1]
sizes = [int(n) for n in sys.argv[2].split(",")]
if target.startswith("/") or target.startswith("@"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    me = target + ".client" if target.startswith("/") else "\0pants-client-%d" % os.getpid()
    if target.startswith("/") and os.path.exists(me):
        os.unlink(me)
    s.bind(me)
    to = target if target.startswith("/") else "\0" + target[1:]
else:
    host, port = target.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    to = (host, int(port))
s.settimeout(5)
for n in sizes:
    data = os.urandom(n)
    s.sendto(data, to)
    got = s.recv(70000)
    print(n, "ok" if got == data else "differs (%d bytes back)" % len(got))
"#;

fn round_trips(listen: &str, target: impl Fn(&Addr) -> String, sizes: &[usize]) {
    let (bg, local) = echo_on(listen);
    let sizes_arg: Vec<String> = sizes.iter().map(ToString::to_string).collect();
    let out = python(ROUND_TRIPS, &[target(&local), sizes_arg.join(",")]);
    let want: String = sizes.iter().fold(String::new(), |mut out, n| {
        use std::fmt::Write;
        let _ = writeln!(out, "{n} ok");
        out
    });
    assert_eq!(String::from_utf8_lossy(&out), want, "on {local}");
    bg.stop();
}

#[test]
fn whole_datagrams_of_every_size_over_ipv4_ipv6_and_unix() {
    let sizes = [0, 1, 512, 9000, pants::MAX_UDP_V4];
    round_trips("127.0.0.1:0", ToString::to_string, &sizes);
    round_trips("[::1]:0", ToString::to_string, &sizes);
    // Dual-stack: an IPv4 peer of a `[::]` socket.
    round_trips(
        "[::]:0",
        |a| format!("127.0.0.1:{}", a.port().expect("a port")),
        &sizes,
    );
    let dir = TempDir::new("udp");
    let path = dir.path("echo.sock").display().to_string();
    round_trips(&path, ToString::to_string, &[0, 1, 512, 9000, 60_000]);
    assert!(
        !std::path::Path::new(&path).exists(),
        "the socket file outlived its socket"
    );
    let name = format!("@pants-udp-{}", std::process::id());
    round_trips(&name, ToString::to_string, &[0, 1, 512]);
}

/// 50 senders, 200 datagrams each, every one tagged with its sender: each
/// reply must come back to the socket that sent it.
const MANY: &str = r#"
import socket, sys, selectors
host, port = sys.argv[1].rsplit(":", 1)
to = (host, int(port))
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(50)]
wrong = 0
got = 0
for round in range(200):
    for i, s in enumerate(socks):
        s.sendto(b"%d:%d" % (i, round), to)
    for i, s in enumerate(socks):
        s.settimeout(5)
        data = s.recv(100)
        got += 1
        if not data.startswith(b"%d:" % i):
            wrong += 1
print(got, wrong)
"#;

#[test]
fn ten_thousand_datagrams_from_fifty_senders_each_answered_to_its_sender() {
    for batching in [true, false] {
        let (bg, local) = echo_batching("127.0.0.1:0", batching);
        let out = python(MANY, &[local.to_string()]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "10000 0\n",
            "batching {batching}"
        );
        bg.stop();
    }
}

/// Joins a group on loopback and reports what it receives.
struct Member {
    group: std::net::Ipv4Addr,
    events: util::Tx,
}

#[channel(datagram)]
impl Member {
    #[on_read]
    fn packet(&mut self, d: &mut Datagram<Self>, from: &Addr, data: &[u8]) {
        self.events
            .send(format!("{} from {}", util::show(data), from.ip().is_some()));
        if data == b"leave" {
            d.leave_multicast_v4(self.group, std::net::Ipv4Addr::LOCALHOST)
                .expect("leave");
        }
    }
}

/// Sends each argument after the first two to the group, on loopback.
const SEND: &str = r#"
import socket, sys
group, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
for m in sys.argv[3:]:
    s.sendto(m.encode(), (group, port))
"#;

/// One datagram straight to the port.
const DIRECT: &str = r#"
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"direct", ("127.0.0.1", int(sys.argv[1])))
"#;

#[test]
fn multicast_on_loopback_join_and_leave() {
    let group: std::net::Ipv4Addr = "239.255.77.1".parse().expect("group");
    let (tx, rx) = util::events();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let bg = util::spawn(move |e: &mut Engine<Member>| {
        let id = e
            .bind_with("0.0.0.0:0", Member { group, events: tx })
            .expect("bind");
        let port = e.datagram_addr(id).and_then(|a| a.port()).expect("a port");
        e.with_datagram::<Member, _>(id, |_, d| {
            d.join_multicast_v4(group, std::net::Ipv4Addr::LOCALHOST)
        })
        .expect("a live socket")
        .expect("join");
        let _ = port_tx.send(port);
        None
    });
    let port = port_rx.recv_timeout(util::TIMEOUT).expect("port");
    let args = |msgs: &[&str]| {
        let mut a = vec![group.to_string(), port.to_string()];
        a.extend(msgs.iter().map(|m| (*m).to_owned()));
        a
    };
    python(SEND, &args(&["one", "leave"]));
    rx.expect("one from true");
    rx.expect("leave from true");
    // Left the group: nothing more arrives; a direct datagram still does.
    python(SEND, &args(&["after"]));
    python(DIRECT, &[port.to_string()]);
    rx.expect("direct from true");
    bg.stop();
}

#[test]
fn unix_datagram_files_stale_replaced_busy_refused() {
    let dir = TempDir::new("udgram");
    let path = dir.path("d.sock");
    // A stale file: bound by a socket that is gone.
    drop(std::os::unix::net::UnixDatagram::bind(&path).expect("bind"));
    assert!(path.exists());
    let mut e = Engine::<Echo>::new().expect("engine");
    let id = e
        .bind::<Echo>(path.as_path())
        .expect("a stale file is replaced");
    // Busy: another engine cannot take it.
    let mut other = Engine::<Echo>::new().expect("engine");
    let err = other
        .bind::<Echo>(path.as_path())
        .expect_err("a live socket is not stolen");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    // Not a socket: left alone.
    let file = dir.path("plain");
    std::fs::write(&file, b"x").expect("write");
    let err = other
        .bind::<Echo>(file.as_path())
        .expect_err("not a socket");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).expect("read"), b"x");
    e.close_datagram(id);
    assert!(!path.exists(), "the file goes with its socket");
}

/// A socket that only sends (from the test, through the engine).
#[derive(Default)]
struct Burst;

#[channel(datagram)]
impl Burst {
    #[on_read]
    fn packet(&mut self, _d: &mut Datagram<Self>, _from: &Addr, _data: &[u8]) {}
}

#[test]
fn a_full_send_buffer_queues_then_drops_new_datagrams() {
    // A Unix datagram peer that does not read: the kernel's queue for it
    // fills, sends would block, and the engine queues up to its bound.
    let dir = TempDir::new("burst");
    let peer_path = dir.path("peer.sock");
    let peer = std::os::unix::net::UnixDatagram::bind(&peer_path).expect("bind");
    let mut e = Engine::<Burst>::new().expect("engine");
    let id = e
        .bind_with(dir.path("me.sock").as_path(), Burst)
        .expect("bind");
    let total = pants::DATAGRAM_QUEUE_LEN * 4;
    let mut kept = 0usize;
    let mut dropped = 0u64;
    for i in 0..total {
        let data = vec![(i % 251) as u8; 1024];
        match e.send_to(id, peer_path.as_path(), &data) {
            Ok(true) => kept += 1,
            Ok(false) => dropped += 1,
            Err(err) => panic!("send {i}: {err}"),
        }
    }
    assert!(dropped > 0, "nothing was dropped of {total}");
    let queued = e
        .with_datagram::<Burst, _>(id, |_, d| (d.queued(), d.dropped()))
        .expect("live");
    assert_eq!(queued.0, pants::DATAGRAM_QUEUE_LEN, "the queue is full");
    assert_eq!(queued.1, dropped);
    // The peer reads everything: what was queued arrives, in order.
    peer.set_read_timeout(Some(util::TIMEOUT)).expect("timeout");
    peer.set_nonblocking(false).expect("blocking");
    let mut got = 0;
    let mut buf = vec![0u8; 2048];
    let deadline = std::time::Instant::now() + util::TIMEOUT;
    while got < kept {
        assert!(std::time::Instant::now() < deadline, "got {got} of {kept}");
        e.poll(Some(std::time::Duration::from_millis(1)))
            .expect("poll");
        peer.set_nonblocking(true).expect("nonblocking");
        while let Ok(n) = peer.recv(&mut buf) {
            assert_eq!(n, 1024);
            got += 1;
        }
    }
    assert_eq!(got, kept, "every kept datagram arrived");
}

/// A typed datagram: exactly 4 bytes.
#[derive(Packed, Clone, Copy, Default)]
struct Pair {
    a: u16,
    b: u16,
}

struct Adder {
    events: util::Tx,
}

#[channel(datagram)]
impl Adder {
    #[on_read]
    fn pair(&mut self, d: &mut Datagram<Self>, _from: &Addr, p: Pair) {
        d.reply(format!("{}", u32::from(p.a) + u32::from(p.b)).as_bytes())
            .expect("reply");
    }

    #[on_datagram_error]
    fn bad(&mut self, d: &mut Datagram<Self>, _from: &Addr, error: &pants::Error) {
        self.events.send(format!("error {error}"));
        d.reply(b"bad").expect("reply");
    }
}

/// Four datagrams: a good pair, 3 bytes, 5 bytes, another good pair.
const ASK: &str = r#"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for m in [b"\x00\x01\x00\x02", b"\x00\x01\x00", b"\x00\x01\x00\x02\x03", b"\x01\x00\x01\x00"]:
    s.sendto(m, (host, int(port)))
    print(s.recv(100).decode())
"#;

#[test]
fn typed_datagrams_of_the_wrong_size_go_to_the_error_handler() {
    let (tx, rx) = util::events();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let bg = util::spawn(move |e: &mut Engine<Adder>| {
        let id = e
            .bind_with("127.0.0.1:0", Adder { events: tx })
            .expect("bind");
        let _ = port_tx.send(e.datagram_addr(id).expect("bound"));
        None
    });
    let local = port_rx.recv_timeout(util::TIMEOUT).expect("addr");
    let out = python(ASK, &[local.to_string()]);
    assert_eq!(String::from_utf8_lossy(&out), "3\nbad\nbad\n512\n");
    let first = rx.next();
    assert!(first.contains("3 bytes") && first.contains('4'), "{first}");
    let second = rx.next();
    assert!(second.contains("5 bytes"), "{second}");
    bg.stop();
}

#[test]
fn oversized_and_bad_targets_are_clear_errors() {
    let mut e = Engine::<Echo>::new().expect("engine");
    let id = e.bind::<Echo>("127.0.0.1:0").expect("bind");
    let big = vec![0u8; pants::MAX_UDP_V4 + 1];
    let err = e
        .send_to(id, "127.0.0.1:9", &big)
        .expect_err("over 65,507 bytes");
    assert!(err.to_string().contains("65507"), "{err}");
    let err = e
        .send_to(id, "example.invalid:9", b"x")
        .expect_err("a host name is not resolved here");
    assert!(
        err.to_string().contains("resolve host names first"),
        "{err}"
    );
    let err = e.send_to(id, "not an address", b"x").expect_err("bad");
    assert!(err.to_string().contains("not an address"), "{err}");
}

#[test]
fn udp_echo_example() {
    for listen in ["127.0.0.1:0", "[::1]:0"] {
        let server = util::ExampleServer::start("udp_echo", listen);
        let shown = server.shown.clone();
        assert!(
            shown.starts_with(if listen.starts_with('[') {
                "[::1]:"
            } else {
                "127.0.0.1:"
            }),
            "listening on {shown}"
        );
        let sizes = [0, 1, 512, pants::MAX_UDP_V4];
        let sizes_arg: Vec<String> = sizes.iter().map(ToString::to_string).collect();
        let out = python(ROUND_TRIPS, &[shown.clone(), sizes_arg.join(",")]);
        let want: String = sizes.iter().fold(String::new(), |mut out, n| {
            use std::fmt::Write;
            let _ = writeln!(out, "{n} ok");
            out
        });
        assert_eq!(String::from_utf8_lossy(&out), want, "on {shown}");
        // The same port again: a clear error, exit 1.
        let busy = std::process::Command::new(util::example("udp_echo"))
            .arg(&shown)
            .output()
            .expect("run");
        assert_eq!(busy.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&busy.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(&shown),
            "{stderr}"
        );
        server.signal("TERM");
        let (status, _) = server.wait(util::TIMEOUT);
        assert!(status.success(), "{status}");
    }
}

#[test]
fn multicast_example_sends_and_receives_on_loopback() {
    // A free port for the group (the example binds it with the group's
    // address; an ephemeral one found the usual way).
    let port = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let out = std::process::Command::new(util::example("multicast"))
        .arg(format!("239.255.42.98:{port}"))
        .arg("3")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("received "))
        .collect();
    assert_eq!(received.len(), 3, "{stdout}");
    assert!(
        received[0].starts_with("received 1 from 127.0.0.1:"),
        "{stdout}"
    );
}
