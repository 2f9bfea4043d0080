//! tokio-udp-echo PORT — UDP echo on a tokio current_thread runtime: the
//! idiomatic `UdpSocket` loop, `recv_from` then `send_to` the same bytes
//! back to the sender, one 64 KiB buffer. Bound on 127.0.0.1:PORT with the
//! default socket buffers (as the other UDP peers); prints
//! `listening on 127.0.0.1:PORT` (stderr) once bound.

use tokio::net::UdpSocket;

async fn serve(port: u16) {
    let sock = UdpSocket::from_std(bench_servers::udp_socket(port)).expect("tokio UdpSocket");
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // An ICMP error for an earlier reply: it concerns that reply.
                eprintln!("recv_from: {e}");
                continue;
            }
        };
        if let Err(e) = sock.send_to(&buf[..n], from).await {
            eprintln!("send_to {from}: {e}");
        }
    }
}

fn main() {
    let port = bench_servers::port_arg("tokio-udp-echo");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(serve(port));
}
