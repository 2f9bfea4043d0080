//! Connections from birth to close: callback order, half-close, servers
//! closing, stopping the engine, and the addresses it accepts or refuses.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use pants::prelude::*;

use crate::util::{
    self, Echo, Lines, TIMEOUT, Tx, connect, expect_bytes, expect_eof, read_to_eof, send, show,
};

/// Reports every callback as an event.
struct Recorder {
    events: Tx,
}

#[channel]
impl Recorder {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        self.events.send("connect");
        s.write(b"hello\r\n");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.events.send(format!("read {}", show(line)));
        s.write_all(&[line, b"\r\n"]);
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.events.send("close");
    }

    #[on_connect_error]
    fn failed(&mut self, _s: &mut Stream<Self>, error: &pants::Error) {
        let kind = if matches!(error, pants::Error::Connect { .. }) {
            "Connect"
        } else {
            "unexpected kind"
        };
        self.events.send(format!("connect_error {kind}: {error}"));
    }
}

/// Reports `on_write` (and reads and close) as events.
struct Writer {
    events: Tx,
}

#[channel]
impl Writer {
    #[on_connect]
    fn connected(&mut self, s: &mut Stream<Self>) {
        s.write(b"hi\r\n");
    }

    #[on_write]
    fn drained(&mut self, _s: &mut Stream<Self>) {
        self.events.send("write");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        self.events.send(format!("read {}", show(line)));
        if line == b"reply" {
            s.write(b"ok\r\n");
        }
    }

    #[on_close]
    fn closed(&mut self, _s: &mut Stream<Self>) {
        self.events.send("close");
    }
}

/// Greets; `close server` closes the whole server; other lines echo.
#[derive(Default)]
struct Greeter;

#[channel]
impl Greeter {
    #[on_connect]
    fn hi(&mut self, s: &mut Stream<Self>) {
        s.write(b"hi\r\n");
    }

    #[on_read(delimiter = "\r\n")]
    fn line(&mut self, s: &mut Stream<Self>, line: &[u8]) {
        if line == b"close server" {
            if let Some(mut server) = s.server() {
                server.close();
            }
        } else {
            s.write_all(&[line, b"\r\n"]);
        }
    }
}

/// Tells the peer its own address as the server sees it.
#[derive(Default)]
struct WhoAmI;

#[channel]
impl WhoAmI {
    #[on_connect]
    fn tell(&mut self, s: &mut Stream<Self>) {
        let msg = format!("{}\r\n", s.remote_addr().host());
        s.write(msg.as_bytes());
    }

    #[on_read]
    fn data(&mut self, s: &mut Stream<Self>, data: &[u8]) {
        s.write(data);
    }
}

#[test]
fn accepted_stream_callbacks_run_in_order_and_close_once() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Recorder { events: tx.clone() }));
    let mut c = connect(server.addr());
    expect_bytes(&mut c, b"hello\r\n");
    send(&mut c, b"x\r\n");
    expect_bytes(&mut c, b"x\r\n");
    drop(c);
    rx.expect("connect");
    rx.expect("read x");
    rx.expect("close");
    server.stop();
    assert_eq!(rx.rest(), Vec::<String>::new(), "events after on_close");
}

#[test]
fn connected_stream_callbacks_run_in_order_and_close_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = listener.local_addr().unwrap();
    let (tx, rx) = util::events();
    let engine = util::spawn(move |e: &mut Engine<Recorder>| {
        e.connect(peer, Recorder { events: tx }).expect("connect");
        None
    });
    let mut conn = util::accept(&listener);
    expect_bytes(&mut conn, b"hello\r\n");
    send(&mut conn, b"hi\r\n");
    expect_bytes(&mut conn, b"hi\r\n");
    drop(conn);
    rx.expect("connect");
    rx.expect("read hi");
    rx.expect("close");
    engine.stop();
    assert_eq!(rx.rest(), Vec::<String>::new(), "events after on_close");
}

#[test]
fn refused_connect_reports_connect_error_then_close_and_nothing_else() {
    let port = util::closed_port();
    let closed = port.addr;
    let (tx, rx) = util::events();
    let engine = util::spawn(move |e: &mut Engine<Recorder>| {
        e.connect(closed, Recorder { events: tx })
            .expect("a refused connection is reported later, not here");
        None
    });
    let error = rx.next();
    assert!(
        error.starts_with(&format!(
            "connect_error Connect: cannot connect to {closed}"
        )),
        "{error}"
    );
    rx.expect("close");
    engine.stop();
    assert_eq!(rx.rest(), Vec::<String>::new(), "events after on_close");
}

#[test]
fn on_write_runs_once_per_drained_write_and_not_otherwise() {
    let (tx, rx) = util::events();
    let server = util::serve_with(move |_| Some(Writer { events: tx.clone() }));
    let mut c = connect(server.addr());
    expect_bytes(&mut c, b"hi\r\n");
    rx.expect("write");
    // Input that is not answered: no write, so no on_write.
    send(&mut c, b"quiet\r\n");
    rx.expect("read quiet");
    send(&mut c, b"reply\r\n");
    expect_bytes(&mut c, b"ok\r\n");
    rx.expect("read reply");
    rx.expect("write");
    drop(c);
    rx.expect("close");
    server.stop();
    assert_eq!(rx.rest(), Vec::<String>::new());
}

#[test]
fn peer_half_close_delivers_every_frame_and_replies_before_eof() {
    for over in util::Over::ALL {
        let (server, _place) = util::serve_over::<Lines>(over);
        let mut c = util::connect_to(&server.local());
        send(&mut c, b"a\r\nb\r\n");
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(show(&read_to_eof(&mut c)), "[a][b]", "over {over:?}");
    }
}

/// Serves `Greeter` on `127.0.0.N:0` (see [`util::own_loopback`]).
fn greeter_on(n: u8) -> util::Bg<Greeter> {
    let addr = format!("{}:0", util::own_loopback(n));
    util::spawn(move |e: &mut Engine<Greeter>| Some(e.listen::<Greeter>(addr).expect("listen")))
}

#[test]
fn server_close_from_the_engine_closes_every_connection() {
    let server = greeter_on(2);
    let (addr, sid) = (server.addr(), server.server_id());
    let mut clients: Vec<_> = (0..3)
        .map(|_| {
            let mut c = connect(addr);
            expect_bytes(&mut c, b"hi\r\n");
            c
        })
        .collect();
    server.call(move |e| e.server(sid).expect("listening").close());
    for c in &mut clients {
        expect_eof(c);
    }
    assert!(
        server.call(move |e| e.server(sid).is_none()),
        "a closed server is gone"
    );
    util::assert_refused(addr);
    assert_eq!(server.call(|e| e.stream_count()), 0);
}

#[test]
fn server_close_from_a_handler_closes_every_connection() {
    let server = greeter_on(3);
    let addr = server.addr();
    let mut clients: Vec<_> = (0..3)
        .map(|_| {
            let mut c = connect(addr);
            expect_bytes(&mut c, b"hi\r\n");
            c
        })
        .collect();
    send(&mut clients[1], b"close server\r\n");
    for c in &mut clients {
        expect_eof(c);
    }
    util::assert_refused(addr);
}

#[test]
fn handle_stops_the_engine_from_another_thread() {
    let server = util::serve::<Echo>();
    let mut c = connect(server.addr());
    send(&mut c, b"ping");
    expect_bytes(&mut c, b"ping");
    let on_engine = server.call(|e| (thread::current().id(), e.stream_count()));
    assert_ne!(
        on_engine.0,
        thread::current().id(),
        "calls run on the engine's thread"
    );
    assert_eq!(on_engine.1, 1);
    let handle = server.handle.clone();
    thread::spawn(move || handle.stop()).join().unwrap();
    server.join().expect("start() returns Ok after a stop");
}

#[test]
fn stop_before_start_returns_at_once_and_start_resumes() {
    let mut engine = Engine::<Echo>::new().unwrap();
    let guard = engine.defer(TIMEOUT, Engine::stop).unwrap();
    engine.handle().stop();
    let t = Instant::now();
    engine.start().unwrap();
    assert!(
        t.elapsed() < TIMEOUT / 2,
        "a pending Handle::stop stops the first turn"
    );
    // Timers stay: start again runs until the next stop.
    let t = Instant::now();
    engine
        .defer(Duration::from_millis(20), Engine::stop)
        .unwrap();
    engine.start().unwrap();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(20), "stopped early: {took:?}");
    assert!(took < TIMEOUT / 2, "stopped late: {took:?}");
    assert!(engine.cancel(guard));
}

#[test]
fn ipv6_loopback_listen_and_connect() {
    let server = util::spawn(|e: &mut Engine<WhoAmI>| {
        Some(e.listen::<WhoAmI>("[::1]:0").expect("listen on [::1]:0"))
    });
    assert!(server.addr().is_ipv6(), "{}", server.addr());
    let mut c = connect(server.addr());
    expect_bytes(&mut c, b"::1\r\n");
    send(&mut c, b"over v6");
    expect_bytes(&mut c, b"over v6");
}

#[test]
fn engine_connects_to_an_ipv6_address() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let peer = format!("[::1]:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = util::events();
    let _engine = util::spawn(move |e: &mut Engine<Recorder>| {
        e.connect(peer.as_str(), Recorder { events: tx })
            .expect("connect");
        None
    });
    let mut conn = util::accept(&listener);
    assert!(conn.peer_addr().unwrap().is_ipv6());
    expect_bytes(&mut conn, b"hello\r\n");
    rx.expect("connect");
}

#[test]
fn dual_stack_listener_shows_ipv4_peers_as_ipv4() {
    let server = util::spawn(|e: &mut Engine<WhoAmI>| {
        Some(e.listen::<WhoAmI>("[::]:0").expect("listen on [::]:0"))
    });
    let port = server.addr().port();
    let mut v4 = connect(SocketAddr::from(([127, 0, 0, 1], port)));
    expect_bytes(&mut v4, b"127.0.0.1\r\n");
    let mut v6 = connect(format!("[::1]:{port}").parse().unwrap());
    expect_bytes(&mut v6, b"::1\r\n");
}

#[test]
fn bad_addresses_are_clear_errors() {
    let mut engine = Engine::<Echo>::new().unwrap();
    let bad = [
        "",
        "   ",
        "nope",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:99999",
        "127.0.0.1:http",
        ":80",
        "::1:80",
        "[::1:80",
        "[::1]",
        "70000",
    ];
    for addr in bad {
        let err = engine
            .listen::<Echo>(addr)
            .expect_err(&format!("listen on {addr:?}"));
        assert!(
            matches!(err, pants::Error::Address { .. }),
            "listen {addr:?}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{addr}`")), "{addr:?}: {msg}");
    }
    for addr in bad.iter().chain(&["4040"]) {
        let err = engine
            .connect(*addr, Echo)
            .expect_err(&format!("connect to {addr:?}"));
        assert!(
            matches!(err, pants::Error::Address { .. }),
            "connect {addr:?}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("`{addr}`")), "{err}");
    }
    assert_eq!(engine.stream_count(), 0, "no stream is left behind");
    // The engine still works.
    let id = engine.listen::<Echo>("127.0.0.1:0").unwrap();
    assert!(engine.server(id).is_some());
}

#[test]
fn busy_address_is_a_listen_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut engine = Engine::<Echo>::new().unwrap();
    let err = engine.listen::<Echo>(addr).unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    match err {
        pants::Error::Listen { addr: at, source } => {
            assert_eq!(at.as_ip(), Some(addr));
            assert_eq!(source.kind(), ErrorKind::AddrInUse);
        }
        other => panic!("expected Error::Listen, got {other:?}"),
    }
    // Another engine's listener is just as busy.
    let id = engine.listen::<Echo>("127.0.0.1:0").unwrap();
    let mine = util::server_addr(&mut engine, id);
    let mut other = Engine::<Echo>::new().unwrap();
    assert!(matches!(
        other.listen::<Echo>(mine.to_string()),
        Err(pants::Error::Listen { .. })
    ));
}

/// An address that resolves to several socket addresses, tried in order.
struct Several(Vec<SocketAddr>);

impl pants::IntoAddr for Several {
    fn describe(&self) -> String {
        "several".to_owned()
    }

    fn resolve(&self, _listening: bool) -> pants::Result<Vec<SocketAddr>> {
        Ok(self.0.clone())
    }
}

#[test]
fn connect_falls_back_to_the_next_address() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    let port = util::closed_port();
    let closed = port.addr;
    let (tx, rx) = util::events();
    let _engine = util::spawn(move |e: &mut Engine<Recorder>| {
        e.connect(Several(vec![closed, open]), Recorder { events: tx })
            .expect("connect");
        None
    });
    let mut conn = util::accept(&listener);
    expect_bytes(&mut conn, b"hello\r\n");
    rx.expect("connect");
}

#[test]
fn connect_reports_one_error_when_every_address_fails() {
    let (first, second) = (util::closed_port(), util::closed_port());
    let addrs = vec![first.addr, second.addr];
    let (tx, rx) = util::events();
    let engine = util::spawn(move |e: &mut Engine<Recorder>| {
        e.connect(Several(addrs), Recorder { events: tx })
            .expect("connect");
        None
    });
    let error = rx.next();
    assert!(
        error.starts_with("connect_error Connect: cannot connect to several"),
        "{error}"
    );
    rx.expect("close");
    engine.stop();
    assert_eq!(rx.rest(), Vec::<String>::new());
}

#[test]
fn listen_falls_back_to_the_next_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    let free = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = util::spawn(move |e: &mut Engine<Echo>| {
        Some(e.listen::<Echo>(Several(vec![busy, free])).expect("listen"))
    });
    assert_ne!(server.addr(), busy);
    let mut c = connect(server.addr());
    send(&mut c, b"second address");
    expect_bytes(&mut c, b"second address");
}

#[test]
fn bare_port_listens_on_every_interface() {
    for as_text in [true, false] {
        let server = util::spawn(move |e: &mut Engine<WhoAmI>| {
            let id = if as_text {
                e.listen::<WhoAmI>("0")
            } else {
                e.listen::<WhoAmI>(0u16)
            };
            Some(id.expect("listen on a bare port"))
        });
        assert!(server.addr().ip().is_unspecified(), "{}", server.addr());
        let port = server.addr().port();
        let mut v4 = connect(SocketAddr::from(([127, 0, 0, 1], port)));
        expect_bytes(&mut v4, b"127.0.0.1\r\n");
        let mut v6 = connect(format!("[::1]:{port}").parse().unwrap());
        expect_bytes(&mut v6, b"::1\r\n");
    }
}

#[test]
fn accept_hook_can_refuse_and_a_panicking_hook_drops_only_that_peer() {
    let mut accepted = 0;
    let server = util::serve_with(move |_| {
        accepted += 1;
        assert!(
            accepted != 2,
            "the accept hook panics (the test expects this)"
        );
        (accepted != 1).then_some(Echo)
    });
    for _ in 0..2 {
        let mut dropped = connect(server.addr());
        assert_eq!(show(&util::read_until_closed(&mut dropped)), "");
    }
    let mut c = connect(server.addr());
    send(&mut c, b"third time");
    expect_bytes(&mut c, b"third time");
    assert_eq!(server.call(|e| e.stream_count()), 1);
}

// ---------------------------------------------------------------------------
// Connection limits.

/// Waits until `n` connections wait, not accepted, in `server`'s backlog,
/// then lets the engine run two more turns: a server at its limit leaves
/// them there.
fn backlog_holds(bg: &util::Bg<Greeter>, server: SocketAddr, n: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while crate::timeouts::accept_queue(server) < n {
        assert!(
            Instant::now() < deadline,
            "no connection reached the backlog"
        );
        thread::yield_now();
    }
    for _ in 0..2 {
        bg.call(|_| ());
    }
    assert_eq!(
        crate::timeouts::accept_queue(server),
        n,
        "a server at its limit accepted"
    );
}

#[test]
fn a_server_at_its_connection_limit_waits_for_a_close() {
    let listen = format!("{}:0", util::own_loopback(21));
    let server = util::spawn(move |e: &mut Engine<Greeter>| {
        let options = pants::ListenOptions {
            max_connections: Some(2),
            ..pants::ListenOptions::default()
        };
        Some(
            e.listen_with_options(listen.as_str(), options, |_| Some(Greeter))
                .expect("listen"),
        )
    });
    let addr = server.addr();
    let mut first = connect(addr);
    expect_bytes(&mut first, b"hi\r\n");
    let mut second = connect(addr);
    expect_bytes(&mut second, b"hi\r\n");
    let mut third = connect(addr);
    backlog_holds(&server, addr, 1);
    assert_eq!(server.call(|e| e.stream_count()), 2);
    // The others are served meanwhile.
    send(&mut second, b"ping\r\n");
    expect_bytes(&mut second, b"ping\r\n");
    drop(first);
    expect_bytes(&mut third, b"hi\r\n");
    server.stop();
}

#[test]
fn an_engine_at_its_connection_limit_stops_every_server() {
    let (a_ip, b_ip) = (util::own_loopback(22), util::own_loopback(23));
    let (b_tx, b_rx) = std::sync::mpsc::channel();
    let server = util::spawn(move |e: &mut Engine<Greeter>| {
        e.set_max_connections(Some(1));
        let b = e
            .listen_with(format!("{b_ip}:0").as_str(), |_| Some(Greeter))
            .expect("listen b");
        let _ = b_tx.send(
            e.server(b)
                .and_then(|s| s.local_addr())
                .and_then(|a| a.as_ip())
                .expect("b's address"),
        );
        Some(
            e.listen_with(format!("{a_ip}:0").as_str(), |_| Some(Greeter))
                .expect("listen a"),
        )
    });
    let a = server.addr();
    let b = b_rx.recv_timeout(TIMEOUT).expect("b's address");
    let mut one = connect(a);
    expect_bytes(&mut one, b"hi\r\n");
    // The engine is full: the other server waits too.
    let mut two = connect(b);
    backlog_holds(&server, b, 1);
    drop(one);
    expect_bytes(&mut two, b"hi\r\n");
    // Full again; lifting the limit lets the next one in.
    let mut three = connect(a);
    backlog_holds(&server, a, 1);
    server.call(|e| e.set_max_connections(None));
    expect_bytes(&mut three, b"hi\r\n");
    server.stop();
}
