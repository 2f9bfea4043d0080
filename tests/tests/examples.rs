//! The example programs, run as processes: `echo`, `block_echo`, `chat`,
//! `line_echo` and `client`.

use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::process::{Command, Stdio};
use std::thread;

use crate::util::{
    self, ChildGuard, ExampleServer, TIMEOUT, connect, expect_bytes, expect_eof, read_to_eof, send,
    show,
};

const SERVERS: [&str; 4] = ["echo", "block_echo", "chat", "line_echo"];

/// Runs `client ADDR` with `input` on stdin; returns what it left.
fn run_client(addr: &str, input: &[u8]) -> util::Finished {
    let mut child = ChildGuard(
        Command::new(util::example("client"))
            .arg(addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client example"),
    );
    let mut stdin = child.0.stdin.take().expect("stdin is piped");
    // Closing stdin (dropping it) is the client's cue to half-close.
    stdin.write_all(input).expect("write the client's stdin");
    drop(stdin);
    util::finish(child, "the client example", TIMEOUT)
}

#[test]
fn example_echo_echoes() {
    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let mut c = connect(server.addr);
    send(&mut c, b"hello from the tests");
    expect_bytes(&mut c, b"hello from the tests");
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn example_block_echo_sends_8_byte_blocks_with_crlf() {
    let server = ExampleServer::start("block_echo", "127.0.0.1:0");
    let mut c = connect(server.addr);
    send(&mut c, b"12345678abcdefgh123");
    expect_bytes(&mut c, b"12345678\r\nabcdefgh\r\n");
    send(&mut c, b"45678");
    expect_bytes(&mut c, b"12345678\r\n");
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn example_line_echo_echoes_lines() {
    let server = ExampleServer::start("line_echo", "127.0.0.1:0");
    let mut c = connect(server.addr);
    send(&mut c, b"one\r\ntw");
    expect_bytes(&mut c, b"one\r\n");
    send(&mut c, b"o\r\n");
    expect_bytes(&mut c, b"two\r\n");
}

#[test]
fn example_chat_announces_relays_and_says_goodbye() {
    let server = ExampleServer::start("chat", "127.0.0.1:0");
    let mut a = connect(server.addr);
    expect_bytes(&mut a, b"Connected: 127.0.0.1\r\n");
    let mut b = connect(server.addr);
    for c in [&mut a, &mut b] {
        expect_bytes(c, b"Connected: 127.0.0.1\r\n");
    }
    send(&mut a, b"hello\r\n");
    for c in [&mut a, &mut b] {
        expect_bytes(c, b"127.0.0.1: hello\r\n");
    }
    send(&mut b, b"hi there\r\nsecond line\r\n");
    for c in [&mut a, &mut b] {
        expect_bytes(c, b"127.0.0.1: hi there\r\n127.0.0.1: second line\r\n");
    }
    drop(b);
    expect_bytes(&mut a, b"Disconnected: 127.0.0.1\r\n");
    send(&mut a, b"anyone?\r\n");
    expect_bytes(&mut a, b"127.0.0.1: anyone?\r\n");
}

#[test]
fn example_client_copies_stdin_half_closes_and_exits_zero() {
    // The peer answers only once it has read to EOF: the client must
    // half-close at the end of stdin and still print the answer.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || {
        let mut conn = util::accept(&listener);
        let got = read_to_eof(&mut conn);
        let answer = [b"got: ".as_slice(), &got.to_ascii_uppercase()].concat();
        conn.write_all(&answer).unwrap();
        got
    });
    let done = run_client(&addr.to_string(), b"hello\nworld\n");
    assert_eq!(
        peer.join().unwrap(),
        b"hello\nworld\n",
        "what the peer read"
    );
    assert!(
        done.status.success(),
        "client exited with {}: {}",
        done.status,
        done.stderr
    );
    assert_eq!(show(&done.stdout), show(b"got: HELLO\nWORLD\n"));
}

#[test]
fn example_client_talks_to_example_echo() {
    let server = ExampleServer::start("echo", "127.0.0.1:0");
    let input: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let done = run_client(&server.addr.to_string(), &input);
    assert!(done.status.success(), "{}: {}", done.status, done.stderr);
    assert_eq!(done.stdout.len(), input.len());
    assert!(done.stdout == input, "the echo differs");
}

#[test]
fn example_client_reports_a_refused_connection() {
    let port = util::closed_port();
    let closed = port.addr;
    let done = run_client(&closed.to_string(), b"");
    assert!(!done.status.success(), "exit status {}", done.status);
    assert!(
        done.stderr
            .contains(&format!("error: cannot connect to {closed}")),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("refused"), "{}", done.stderr);
}

#[test]
fn example_client_reports_bad_usage_and_addresses() {
    let child = ChildGuard(
        Command::new(util::example("client"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let done = util::finish(child, "client without arguments", TIMEOUT);
    assert!(!done.status.success());
    assert!(done.stderr.contains("usage: client"), "{}", done.stderr);

    let done = run_client("no-port-here", b"");
    assert!(!done.status.success());
    assert!(
        done.stderr
            .starts_with("error: invalid address `no-port-here`"),
        "{}",
        done.stderr
    );
}

#[test]
fn example_servers_report_bad_addresses() {
    for name in SERVERS {
        for bad in ["not-an-address", "127.0.0.1:99999", "::1:80"] {
            let child = ChildGuard(
                Command::new(util::example(name))
                    .arg(bad)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
            let done = util::finish(child, name, TIMEOUT);
            assert!(!done.status.success(), "{name} {bad}: {}", done.status);
            assert!(
                done.stderr
                    .starts_with(&format!("error: invalid address `{bad}`")),
                "{name} {bad}: {}",
                done.stderr
            );
            assert!(
                done.stdout.is_empty(),
                "{name} {bad}: {}",
                show(&done.stdout)
            );
        }
    }
}

#[test]
fn example_servers_report_busy_addresses() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    for name in SERVERS {
        let child = ChildGuard(
            Command::new(util::example(name))
                .arg(addr.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let done = util::finish(child, name, TIMEOUT);
        assert!(!done.status.success(), "{name}: {}", done.status);
        assert!(
            done.stderr
                .starts_with(&format!("error: cannot listen on {addr}")),
            "{name}: {}",
            done.stderr
        );
    }
}
