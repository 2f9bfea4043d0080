//! An echo server: one client, clients in turn, clients at once, a large payload.

use std::io::Write;
use std::net::Shutdown;
use std::sync::Barrier;
use std::thread;

use crate::util::{self, Echo, connect, expect_bytes, expect_eof, read_to_eof, send};

#[test]
fn echo_single_client() {
    let server = util::serve::<Echo>();
    let mut c = connect(server.addr());
    send(&mut c, b"hello, pants");
    expect_bytes(&mut c, b"hello, pants");
    send(&mut c, b"\r\nsecond\0write");
    expect_bytes(&mut c, b"\r\nsecond\0write");
    // At the client's EOF the server closes too.
    c.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut c);
}

#[test]
fn echo_sequential_clients() {
    let server = util::serve::<Echo>();
    for i in 0..5 {
        let mut c = connect(server.addr());
        let msg = format!("client {i} says hello");
        send(&mut c, msg.as_bytes());
        expect_bytes(&mut c, msg.as_bytes());
        c.shutdown(Shutdown::Write).unwrap();
        expect_eof(&mut c);
    }
}

#[test]
fn echo_concurrent_clients_get_only_their_own_data() {
    const CLIENTS: usize = 8;
    let server = util::serve::<Echo>();
    let addr = server.addr();
    let start = Barrier::new(CLIENTS);
    thread::scope(|scope| {
        for i in 0..CLIENTS {
            let start = &start;
            scope.spawn(move || {
                let mut c = connect(addr);
                start.wait();
                for j in 0..50 {
                    let msg = format!("<client {i} message {j}>");
                    send(&mut c, msg.as_bytes());
                    expect_bytes(&mut c, msg.as_bytes());
                }
                // Nothing of anyone else's is left over.
                c.shutdown(Shutdown::Write).unwrap();
                expect_eof(&mut c);
            });
        }
    });
}

#[test]
fn echo_one_megabyte() {
    let server = util::serve::<Echo>();
    let payload: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut c = connect(server.addr());
    let mut writer = c.try_clone().unwrap();
    thread::scope(|scope| {
        let sender = scope.spawn(|| {
            writer.write_all(&payload).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let echoed = read_to_eof(&mut c);
        sender.join().unwrap();
        assert_eq!(echoed.len(), payload.len(), "echoed length");
        let first_difference = echoed.iter().zip(&payload).position(|(a, b)| a != b);
        assert_eq!(first_difference, None, "the echo differs from the payload");
    });
}
