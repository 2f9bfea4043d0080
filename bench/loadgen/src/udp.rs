//! `udp`: a UDP echo client. CONNS sockets (tokio `UdpSocket`s, each bound
//! to an ephemeral port and connected to the server), each keeping DEPTH
//! datagrams of SIZE bytes in flight.
//!
//! A socket's DEPTH datagrams travel in slots: slot `k` sends the counters
//! `k`, `k + DEPTH`, `k + 2·DEPTH`, … (little-endian in the first 8 bytes),
//! so `counter % DEPTH` names the slot a reply belongs to; the other
//! SIZE − 8 bytes come from a random pattern at an offset given by the
//! counter and the socket's index. Each reply must be SIZE bytes, carry the
//! counter its slot is waiting for, and the pattern bytes that went with it
//! (so truncation, corruption, cross-talk between sockets and duplicates
//! are `errors`); then the slot sends its next counter.
//!
//! Loss: a datagram with no reply after 200 ms is counted `lost` and its
//! slot sends again under a new counter, so one lost datagram cannot stall a
//! socket. A reply that still turns up for a lost counter is counted `late`
//! (not an error, not a message). `msgs_per_s` is replies accepted per
//! second of the measured window; latency is from the send to the reply.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use crate::{cpu_secs, Args, Hist, Shared, Target, DONE, MEASURE, WARMUP};

/// A datagram with no reply for this long is lost; its slot sends again.
const LOSS: Duration = Duration::from_millis(200);
/// Pattern offsets are below this (a prime: sockets and counters spread).
const SPAN: usize = 4093;
/// The largest UDP payload over IPv4.
pub const MAX_UDP: usize = 65_507;
/// Lost counters remembered per slot (for telling late replies from
/// duplicates).
const REMEMBER: usize = 16;

/// Loss figures of the measured window (of the whole run with `-n`).
#[derive(Default)]
struct Loss {
    lost: Cell<u64>,
    late: Cell<u64>,
}

impl Loss {
    fn add(cell: &Cell<u64>, sh: &Shared, n: u64) {
        if sh.phase.get() == MEASURE {
            cell.set(cell.get() + n);
        }
    }
}

/// Random bytes: SPAN + SIZE of them, so any offset below SPAN has a whole
/// payload after it.
fn pattern(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..SPAN + size)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn offset(sock: usize, counter: u64) -> usize {
    ((counter % SPAN as u64) as usize * 31 + sock * 997) % SPAN
}

/// The payload after the counter for `counter` on socket `sock`.
fn payload(pat: &[u8], sock: usize, counter: u64, size: usize) -> &[u8] {
    let off = offset(sock, counter);
    &pat[off..off + size - 8]
}

struct Slot {
    /// The counter this slot waits for (when busy) or sends next.
    want: u64,
    sent: Instant,
    busy: bool,
    /// Counters given up on (late replies to them are not errors).
    lost: Vec<u64>,
}

async fn send(s: &UdpSocket, out: &mut [u8], pat: &[u8], sock: usize, counter: u64) -> io::Result<()> {
    let size = out.len();
    out[..8].copy_from_slice(&counter.to_le_bytes());
    out[8..].copy_from_slice(payload(pat, sock, counter, size));
    s.send(out).await.map(drop)
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    s: UdpSocket,
    id: usize,
    pat: Rc<Vec<u8>>,
    size: usize,
    depth: usize,
    sh: Rc<Shared>,
    loss: Rc<Loss>,
    quota: Option<u64>,
) {
    let d = depth as u64;
    let mut out = vec![0u8; size];
    // One byte more than a reply may have: a longer one shows as such.
    let mut rbuf = vec![0u8; size + 1];
    let t = Instant::now();
    let mut slots: Vec<Slot> = (0..d).map(|k| Slot { want: k, sent: t, busy: false, lost: Vec::new() }).collect();
    let mut received = 0u64;
    let mut in_flight = 0u64;
    for slot in slots.iter_mut() {
        if quota.is_some_and(|q| in_flight >= q) {
            break;
        }
        slot.busy = true;
        slot.sent = Instant::now();
        in_flight += 1;
        if let Err(e) = send(&s, &mut out, &pat, id, slot.want).await {
            sh.error(&format!("send: {e}"));
            return;
        }
    }
    if in_flight == 0 {
        return;
    }
    // Armed for the oldest datagram in flight; re-armed only when it fires
    // (sends only move deadlines later, so an early fire just re-arms).
    let mut timer = pin!(tokio::time::sleep_until((t + LOSS).into()));
    loop {
        if sh.phase.get() == DONE {
            return;
        }
        let got = poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut rbuf);
            if let Poll::Ready(r) = s.poll_recv(cx, &mut rb) {
                return Poll::Ready(Some(r.map(|()| rb.filled().len())));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await;
        let n = match got {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                sh.error(&format!("recv: {e}"));
                return;
            }
            None => {
                // Give up on what has been out for LOSS; send again.
                let now = Instant::now();
                let mut oldest = now;
                for slot in slots.iter_mut().filter(|s| s.busy) {
                    if now.duration_since(slot.sent) >= LOSS {
                        Loss::add(&loss.lost, &sh, 1);
                        if slot.lost.len() == REMEMBER {
                            slot.lost.remove(0);
                        }
                        slot.lost.push(slot.want);
                        slot.want += d;
                        slot.sent = now;
                        if let Err(e) = send(&s, &mut out, &pat, id, slot.want).await {
                            sh.error(&format!("send: {e}"));
                            return;
                        }
                    }
                    oldest = oldest.min(slot.sent);
                }
                timer.as_mut().reset((oldest + LOSS).into());
                continue;
            }
        };
        if n < 8 {
            sh.error(&format!("a {n}-byte reply to {size}-byte datagrams"));
            return;
        }
        let counter = u64::from_le_bytes(rbuf[..8].try_into().expect("8 bytes"));
        if n != size || rbuf[8..n] != *payload(&pat, id, counter, size) {
            sh.error(&format!("reply (counter {counter}, {n} bytes) differs from what was sent"));
            return;
        }
        let slot = &mut slots[(counter % d) as usize];
        if !slot.busy || counter != slot.want {
            if let Some(i) = slot.lost.iter().position(|&c| c == counter) {
                slot.lost.remove(i);
                Loss::add(&loss.late, &sh, 1);
                continue;
            }
            sh.error(&format!("reply with counter {counter}: not in flight (a duplicate?)"));
            return;
        }
        let now = Instant::now();
        match sh.phase.get() {
            MEASURE => {
                sh.hist.borrow_mut().record(now.duration_since(slot.sent).as_nanos() as u64);
                sh.msgs.set(sh.msgs.get() + 1);
            }
            WARMUP => {}
            _ => return,
        }
        received += 1;
        slot.want += d;
        if quota.is_some_and(|q| received + in_flight > q) {
            // With -n: this slot is done.
            slot.busy = false;
            in_flight -= 1;
            if in_flight == 0 {
                return;
            }
            continue;
        }
        slot.sent = now;
        if let Err(e) = send(&s, &mut out, &pat, id, slot.want).await {
            sh.error(&format!("send: {e}"));
            return;
        }
    }
}

async fn socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if server.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(local).await?;
    s.connect(server).await?;
    Ok(s)
}

pub async fn run(a: &Args) -> String {
    let Target::Tcp(server) = a.addr else {
        unreachable!("parse_args lets udp have HOST:PORT only")
    };
    let mut socks = Vec::new();
    let mut failed = 0u64;
    for _ in 0..a.conns {
        match socket(server).await {
            Ok(s) => socks.push(s),
            Err(e) => {
                if failed == 0 {
                    eprintln!("loadgen: udp socket: {e}");
                }
                failed += 1;
            }
        }
    }
    let established = socks.len();
    let sh = Rc::new(Shared {
        phase: Cell::new(WARMUP),
        msgs: Cell::new(0),
        errors: Cell::new(failed),
        hist: std::cell::RefCell::new(Hist::new()),
    });
    let loss = Rc::new(Loss::default());
    let pat = Rc::new(pattern(a.size));
    let live = established.max(1) as u64;
    if a.count.is_some() {
        sh.phase.set(MEASURE);
    }
    let t_count = Instant::now();
    let srv_count = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    let mut tasks = Vec::new();
    for (i, s) in socks.into_iter().enumerate() {
        // Spread a fixed count: the first `count % live` sockets take one more.
        let quota = a.count.map(|n| n / live + u64::from((i as u64) < n % live));
        tasks.push(tokio::task::spawn_local(drive(
            s,
            i,
            pat.clone(),
            a.size,
            a.depth,
            sh.clone(),
            loss.clone(),
            quota,
        )));
    }

    let head = |msgs: u64, secs: f64, h: Option<&Hist>| {
        format!(
            "mode=udp conns={} size={} depth={} msgs_per_s={:.0} mb_per_s={:.2} p50_us={:.1} p99_us={:.1} errors={} \
             p999_us={:.1} lost={} late={} msgs={msgs} established={established} secs={secs:.3}",
            a.conns,
            a.size,
            a.depth,
            msgs as f64 / secs,
            msgs as f64 * a.size as f64 / secs / 1e6,
            h.map_or(0.0, |h| h.quantile_us(0.50)),
            h.map_or(0.0, |h| h.quantile_us(0.99)),
            sh.errors.get(),
            h.map_or(0.0, |h| h.quantile_us(0.999)),
            loss.lost.get(),
            loss.late.get(),
        )
    };
    let per_msg_ns = |cpu: f64, msgs: u64| if msgs > 0 { cpu * 1e9 / msgs as f64 } else { 0.0 };

    if a.count.is_some() {
        for t in tasks {
            let _ = t.await;
        }
        let secs = t_count.elapsed().as_secs_f64();
        let srv1 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
        let msgs = sh.msgs.get();
        let mut line = head(msgs, secs, None);
        if let (Some(x), Some(y)) = (srv_count, srv1) {
            line += &format!(" srv_ns_per_msg={:.0}", per_msg_ns((y.0 + y.1) - (x.0 + x.1), msgs));
        }
        return line;
    }

    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    sh.phase.set(MEASURE);
    let t0 = Instant::now();
    let lg0 = cpu_secs(None);
    let srv0 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    sh.phase.set(DONE);
    let secs = t0.elapsed().as_secs_f64();
    let lg1 = cpu_secs(None);
    let srv1 = a.watch_pid.and_then(|p| cpu_secs(Some(p)));

    let msgs = sh.msgs.get();
    let mut line = head(msgs, secs, Some(&sh.hist.borrow()));
    if let (Some(x), Some(y)) = (lg0, lg1) {
        let (u, t) = (y.0 - x.0, (y.0 + y.1) - (x.0 + x.1));
        line += &format!(
            " lg_cpu_pct={:.0} lg_usr_pct={:.0} lg_ns_per_msg={:.0}",
            t / secs * 100.0,
            u / secs * 100.0,
            per_msg_ns(t, msgs)
        );
    }
    if let (Some(x), Some(y)) = (srv0, srv1) {
        let t = (y.0 + y.1) - (x.0 + x.1);
        line += &format!(" srv_cpu_pct={:.0} srv_ns_per_msg={:.0}", t / secs * 100.0, per_msg_ns(t, msgs));
    }
    line
}
