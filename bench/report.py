#!/usr/bin/env python3
"""report.py — the suite's tables, targets and chart (standard library only).

  report.py OUT_DIR             results.tsv + env.txt -> results.md + chart.svg
  report.py --strace FILE       `strace -c -f` summary -> key=value counts
  report.py --criterion LOG     `cargo bench` output   -> part=framing rows

Ratios are computed per round (pants and the peer ran back to back, A B A B),
then the median over rounds is taken, with min-max beside it.
"""
import math
import re
import statistics
import sys
from pathlib import Path

import chart

# ------------------------------------------------------------------ parsing


def parse_rows(path):
    rows = []
    for ln in Path(path).read_text().splitlines():
        kv = {}
        for f in ln.split():
            if "=" in f:
                k, v = f.split("=", 1)
                try:
                    kv[k] = float(v)
                except ValueError:
                    kv[k] = v
        if kv:
            rows.append(kv)
    return rows


def strace_counts(path, base=None):
    """Calls per syscall from a `strace -c` table (minus those of `base`)."""
    if base is not None:
        big_run, small_run = strace_counts(path), strace_counts(base)
        diff = {k: big_run[k] - small_run[k] for k in big_run}
        diff.update({f"{k}_total": big_run[k] for k in ("epoll_ctl", "accepts")})
        return diff
    calls = {}
    for ln in Path(path).read_text().splitlines():
        f = ln.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            try:
                calls[f[-1]] = int(f[3])
            except ValueError:
                pass
    # Calls, not messages: a recvmmsg or sendmmsg is one call for a batch.
    reads = sum(calls.get(k, 0) for k in ("read", "recvfrom", "readv", "recvmsg", "recvmmsg"))
    writes = sum(calls.get(k, 0) for k in ("write", "sendto", "writev", "sendmsg", "sendmmsg"))
    return {
        "reads": reads,
        "writes": writes,
        "epoll_wait": calls.get("epoll_wait", 0) + calls.get("epoll_pwait", 0) + calls.get("epoll_pwait2", 0),
        "epoll_ctl": calls.get("epoll_ctl", 0),
        "accepts": calls.get("accept4", 0) + calls.get("accept", 0),
        "total": sum(calls.values()),
    }


UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def criterion_rows(path):
    """part=framing rows from criterion's text output (the middle estimate)."""
    out, name = [], None
    for ln in Path(path).read_text().splitlines():
        m = re.match(r"^(\S+/\S+)\s+time:", ln) or re.match(r"^(\S+/\S+)\s*$", ln)
        if m:
            name = m.group(1)
        m = re.search(r"thrpt:\s+\[\S+ \S+ (\S+) (\w*)(elem|B)/s", ln)
        if m and name:
            value = float(m.group(1)) * UNITS.get(m.group(2), 1)
            kind = "elems_per_s" if m.group(3) == "elem" else "bytes_per_s"
            out.append(f"part=framing name={name} {kind}={value:.6g}")
            name = None
    return out


# ------------------------------------------------------------------ numbers


def med(xs):
    xs = [x for x in xs if isinstance(x, float) and not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def rng(xs):
    xs = [x for x in xs if isinstance(x, float) and not math.isnan(x)]
    return (min(xs), max(xs)) if xs else (float("nan"), float("nan"))


def big(x):
    if not isinstance(x, float) or math.isnan(x):
        return "n/a"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.0f}k"
    return f"{x:.0f}"


def fmt(x, d=2):
    return "n/a" if not isinstance(x, float) or math.isnan(x) else f"{x:.{d}f}"


def ratio_cell(rs):
    lo, hi = rng(rs)
    return f"{fmt(med(rs))} ({fmt(lo)}–{fmt(hi)})" if rs else "n/a"


def per_round(rows, part, cell, a, b, key):
    """Per-round ratios a/b of `key` in one cell."""
    by = {}
    for r in rows:
        if r.get("part") == part and r.get("cell") == cell and r.get("failed") is None:
            by.setdefault(r["server"], {})[r["round"]] = r.get(key, float("nan"))
    out = []
    for rnd, x in by.get(a, {}).items():
        y = by.get(b, {}).get(rnd)
        if isinstance(x, float) and isinstance(y, float) and y > 0:
            out.append(x / y)
    return out


def values(rows, part, cell, server, key):
    return [r.get(key, float("nan")) for r in rows
            if r.get("part") == part and r.get("cell") == cell and r.get("server") == server]


def errors(rows, part, cell=None):
    return int(sum(r.get("errors", 0) for r in rows
                   if r.get("part") == part and (cell is None or r.get("cell") == cell)
                   and isinstance(r.get("errors"), float) and r["errors"] > 0))


def cells(rows, part):
    seen = []
    for r in rows:
        if r.get("part") == part and r.get("cell") not in seen:
            seen.append(r["cell"])
    return seen


def label(cell):
    m = re.match(r"c(\d+)_s(\d+)_p(\d+)", cell)
    if not m:
        return cell
    c, s, p = m.groups()
    size = "4 KiB" if s == "4096" else f"{int(s):,} B"
    return f"{int(c):,} × {size} × {p}"


# ------------------------------------------------------------------ report


class Targets:
    def __init__(self):
        self.rows = []
        self.bars = []  # (label, value, target, higher_is_better)

    def add(self, what, measured, target, ok, margin, bar=None):
        self.rows.append((what, measured, target, ok, margin))
        if bar:
            self.bars.append(bar)


def check(value, target, higher):
    """(met?, margin text): margin is how far past (+) or short of (-) the target."""
    if not isinstance(value, float) or math.isnan(value):
        return None, "not measured"
    if higher:
        return value >= target, f"{(value / target - 1) * 100:+.1f}%"
    return value <= target, f"{(1 - value / target) * 100:+.1f}%"


def mark(ok):
    return {True: "met", False: "**missed**", None: "n/a"}[ok]


def report(out):
    out = Path(out)
    rows = parse_rows(out / "results.tsv")
    env = (out / "env.txt").read_text() if (out / "env.txt").exists() else ""
    t = Targets()
    md = ["# Benchmark results", "", "```", env.rstrip(), "```", ""]
    md += ["Every ratio is pants ÷ peer, computed per round (the two ran back to back) and "
           "summarised as the median over rounds (min–max). `CPU/msg` is the server process's "
           "user+sys CPU time over the measured window (from /proc) per message; throughput "
           "on this 2-core VM is mostly the kernel's loopback path, so CPU/msg is the steadier "
           "figure. loadgen verifies every echoed byte; errors are counted below.", ""]

    body = []
    # -------------------------------------------------------------- echo
    echo_cells = cells(rows, "echo")
    if echo_cells:
        body += ["## Echo", "",
                 "| conns × size × in flight | pants msgs/s | C epoll | tokio ct | thr. ÷ tokio (≥ 1.00) | CPU/msg ÷ C (≤ 1.10) | pants CPU ns/msg | C ns/msg | thr. ÷ C | p99 pants / C µs | errors |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for cell in echo_cells:
            thr_t = per_round(rows, "echo", cell, "pants-echo", "tokio-echo", "msgs_per_s")
            thr_c = per_round(rows, "echo", cell, "pants-echo", "c-epoll-echo", "msgs_per_s")
            cpu_c = per_round(rows, "echo", cell, "pants-echo", "c-epoll-echo", "srv_ns_per_msg")
            p99p = med(values(rows, "echo", cell, "pants-echo", "p99_us"))
            p99c = med(values(rows, "echo", cell, "c-epoll-echo", "p99_us"))
            body.append(
                f"| {label(cell)} | {big(med(values(rows, 'echo', cell, 'pants-echo', 'msgs_per_s')))} "
                f"| {big(med(values(rows, 'echo', cell, 'c-epoll-echo', 'msgs_per_s')))} "
                f"| {big(med(values(rows, 'echo', cell, 'tokio-echo', 'msgs_per_s')))} "
                f"| {ratio_cell(thr_t)} | {ratio_cell(cpu_c)} "
                f"| {fmt(med(values(rows, 'echo', cell, 'pants-echo', 'srv_ns_per_msg')), 0)} "
                f"| {fmt(med(values(rows, 'echo', cell, 'c-epoll-echo', 'srv_ns_per_msg')), 0)} "
                f"| {ratio_cell(thr_c)} | {fmt(p99p, 0)} / {fmt(p99c, 0)} | {errors(rows, 'echo', cell)} |")
            ok, margin = check(med(thr_t), 1.0, True)
            t.add(f"echo {label(cell)}: throughput ÷ tokio current_thread", fmt(med(thr_t)), "≥ 1.00", ok, margin,
                  ("thr ÷ tokio " + label(cell), med(thr_t), 1.0, True))
            ok, margin = check(med(cpu_c), 1.10, False)
            t.add(f"echo {label(cell)}: CPU/msg ÷ C epoll", fmt(med(cpu_c)), "≤ 1.10", ok, margin,
                  ("CPU ÷ C " + label(cell), med(cpu_c), 1.10, False))
        py2 = [c for c in echo_cells if values(rows, "echo", c, "pants-py2-echo", "msgs_per_s")]
        for cell in py2:
            thr = per_round(rows, "echo", cell, "pants-echo", "pants-py2-echo", "msgs_per_s")
            cpu = per_round(rows, "echo", cell, "pants-echo", "pants-py2-echo", "srv_ns_per_msg")
            body += ["", f"Original Pants 1.0.1 (Python 2.7), echo {label(cell)}: pants-rs throughput "
                     f"**{ratio_cell(thr)}×**, CPU/msg **{ratio_cell(cpu)}×** the original's "
                     f"(original: {big(med(values(rows, 'echo', cell, 'pants-py2-echo', 'msgs_per_s')))} msgs/s, "
                     f"{fmt(med(values(rows, 'echo', cell, 'pants-py2-echo', 'srv_ns_per_msg')), 0)} ns/msg)."]
            t.add(f"echo {label(cell)}: throughput ÷ original Pants (py2.7)", fmt(med(thr)), "(report)", None, "")
        body.append("")

    # -------------------------------------------------------------- unix
    unix_cells = cells(rows, "unix")
    if unix_cells:
        body += ["## Echo over a Unix stream socket", "",
                 "pants `unix_echo PATH` against the C epoll echo server listening on `unix:PATH`.", "",
                 "| conns × size × in flight | pants msgs/s | C epoll | CPU/msg ÷ C (≤ 1.10) | pants CPU ns/msg | C ns/msg | thr. ÷ C | p99 pants / C µs | errors |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for cell in unix_cells:
            thr_c = per_round(rows, "unix", cell, "pants-unix-echo", "c-epoll-echo", "msgs_per_s")
            cpu_c = per_round(rows, "unix", cell, "pants-unix-echo", "c-epoll-echo", "srv_ns_per_msg")
            p99p = med(values(rows, "unix", cell, "pants-unix-echo", "p99_us"))
            p99c = med(values(rows, "unix", cell, "c-epoll-echo", "p99_us"))
            body.append(
                f"| {label(cell)} | {big(med(values(rows, 'unix', cell, 'pants-unix-echo', 'msgs_per_s')))} "
                f"| {big(med(values(rows, 'unix', cell, 'c-epoll-echo', 'msgs_per_s')))} "
                f"| {ratio_cell(cpu_c)} "
                f"| {fmt(med(values(rows, 'unix', cell, 'pants-unix-echo', 'srv_ns_per_msg')), 0)} "
                f"| {fmt(med(values(rows, 'unix', cell, 'c-epoll-echo', 'srv_ns_per_msg')), 0)} "
                f"| {ratio_cell(thr_c)} | {fmt(p99p, 0)} / {fmt(p99c, 0)} | {errors(rows, 'unix', cell)} |")
            ok, margin = check(med(cpu_c), 1.10, False)
            t.add(f"unix echo {label(cell)}: CPU/msg ÷ C epoll", fmt(med(cpu_c)), "≤ 1.10", ok, margin,
                  ("unix CPU ÷ C " + label(cell), med(cpu_c), 1.10, False))
        body.append("")

    # -------------------------------------------------------------- udp
    udp_cells = cells(rows, "udp")
    if udp_cells:
        P, TK, C = "pants-udp-echo", "tokio-udp-echo", "c-epoll-udp-echo"
        body += ["## UDP echo", "",
                 "pants `udp_echo` against a tokio current_thread `UdpSocket` loop (`recv_from`, "
                 "`send_to`) and a C epoll server batching with `recvmmsg`/`sendmmsg` (32 a call). "
                 "loadgen `udp`: client sockets connected to the server, each keeping the given "
                 "number of datagrams in flight and checking every reply (counter + pattern); a "
                 "datagram without a reply for 200 ms is counted lost and sent again. On loopback "
                 "the sender's system call also delivers the datagram to the receiving socket, so "
                 "server CPU/datagram includes delivering its replies to the client.", "",
                 "| sockets × size × in flight | pants dgrams/s | tokio | C recvmmsg | rate ÷ tokio (≥ 1.00) "
                 "| CPU/dgram ÷ C (≤ 1.10) | CPU/dgram ÷ tokio | pants / tokio / C CPU ns/dgram "
                 "| rate ÷ C | p99 pants / tokio / C µs | lost pants / tokio / C | errors |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for cell in udp_cells:
            thr_t = per_round(rows, "udp", cell, P, TK, "msgs_per_s")
            thr_c = per_round(rows, "udp", cell, P, C, "msgs_per_s")
            cpu_c = per_round(rows, "udp", cell, P, C, "srv_ns_per_msg")
            cpu_t = per_round(rows, "udp", cell, P, TK, "srv_ns_per_msg")
            lost = " / ".join(str(int(sum(x for x in values(rows, "udp", cell, s, "lost") if isinstance(x, float)
                                          and not math.isnan(x)))) for s in (P, TK, C))
            ns = " / ".join(fmt(med(values(rows, "udp", cell, s, "srv_ns_per_msg")), 0) for s in (P, TK, C))
            p99 = " / ".join(fmt(med(values(rows, "udp", cell, s, "p99_us")), 0) for s in (P, TK, C))
            body.append(
                f"| {label(cell)} | {big(med(values(rows, 'udp', cell, P, 'msgs_per_s')))} "
                f"| {big(med(values(rows, 'udp', cell, TK, 'msgs_per_s')))} "
                f"| {big(med(values(rows, 'udp', cell, C, 'msgs_per_s')))} "
                f"| {ratio_cell(thr_t)} | {ratio_cell(cpu_c)} | {ratio_cell(cpu_t)} | {ns} "
                f"| {ratio_cell(thr_c)} | {p99} | {lost} | {errors(rows, 'udp', cell)} |")
            ok, margin = check(med(thr_t), 1.0, True)
            t.add(f"UDP echo {label(cell)}: datagrams/s ÷ tokio UdpSocket", fmt(med(thr_t)), "≥ 1.00", ok, margin,
                  ("UDP rate ÷ tokio " + label(cell), med(thr_t), 1.0, True))
            ok, margin = check(med(cpu_c), 1.10, False)
            t.add(f"UDP echo {label(cell)}: CPU/datagram ÷ C recvmmsg", fmt(med(cpu_c)), "≤ 1.10", ok, margin,
                  ("UDP CPU ÷ C " + label(cell), med(cpu_c), 1.10, False))
        body += ["", "`lost`: datagrams given up on in the measured windows, summed over the rounds; with 64 × 8 datagrams in "
                 "flight the server socket's default receive buffer (208 KiB) overflows, so that shape "
                 "is an overload one: each lost datagram idles its slot for 200 ms.", ""]

    # -------------------------------------------------------------- sendfile
    for cell in cells(rows, "sendfile"):
        m = re.match(r"f(\d+)MiB_x(\d+)", cell)
        what = (f"{int(m.group(1)) / 1024:g} GiB file, {m.group(2)} download(s) per run, one after the other"
                if m else cell)
        body += ["## write_file: a file over loopback TCP", "",
                 f"{what}; loadgen reads each to EOF and checks the byte count. pants `send_file` "
                 "(`Stream::write_file`, sendfile in the engine, then a graceful close) against a "
                 "blocking C `sendfile(2)` loop (`c-sendfile`). Server CPU is user+sys over the "
                 "downloads.", "",
                 "| server | GB/s | server CPU s / GiB | server CPU % | pants thr. ÷ it | pants CPU/GiB ÷ it | errors |",
                 "|---|---|---|---|---|---|---|"]
        for s in ("pants-send-file", "c-sendfile"):
            if not values(rows, "sendfile", cell, s, "gb_per_s"):
                continue
            thr = per_round(rows, "sendfile", cell, "pants-send-file", s, "gb_per_s")
            cpu = per_round(rows, "sendfile", cell, "pants-send-file", s, "srv_s_per_gib")
            errs = int(sum(r.get("errors", 0) for r in rows if r.get("part") == "sendfile" and r.get("cell") == cell
                           and r.get("server") == s and isinstance(r.get("errors"), float) and r["errors"] > 0))
            mine = s == "pants-send-file"
            body.append(f"| {s} | {fmt(med(values(rows, 'sendfile', cell, s, 'gb_per_s')))} "
                        f"| {fmt(med(values(rows, 'sendfile', cell, s, 'srv_s_per_gib')), 3)} "
                        f"| {fmt(med(values(rows, 'sendfile', cell, s, 'srv_cpu_pct')), 0)} "
                        f"| {'—' if mine else ratio_cell(thr)} | {'—' if mine else ratio_cell(cpu)} | {errs} |")
        thr = per_round(rows, "sendfile", cell, "pants-send-file", "c-sendfile", "gb_per_s")
        cpu = per_round(rows, "sendfile", cell, "pants-send-file", "c-sendfile", "srv_s_per_gib")
        t.add("write_file: throughput ÷ C sendfile", ratio_cell(thr), "(report)", None, "")
        t.add("write_file: server CPU/GiB ÷ C sendfile", ratio_cell(cpu), "(report)", None, "")
        body.append("")

    # -------------------------------------------------------------- lines
    if cells(rows, "lines"):
        cell = cells(rows, "lines")[0]
        body += ["## Lines (64-byte lines + CRLF)", "",
                 f"{label(cell)}.", "",
                 "| server | lines/s | CPU ns/line | pants thr. ÷ it | pants CPU/line ÷ it | p99 µs | errors |",
                 "|---|---|---|---|---|---|---|"]
        for s in ("pants-lines", "c-epoll-lines", "tokio-lines", "pants-py2-lines"):
            if not values(rows, "lines", cell, s, "msgs_per_s"):
                continue
            thr = per_round(rows, "lines", cell, "pants-lines", s, "msgs_per_s")
            cpu = per_round(rows, "lines", cell, "pants-lines", s, "srv_ns_per_msg")
            errs = int(sum(r.get("errors", 0) for r in rows if r.get("part") == "lines" and r.get("server") == s
                           and isinstance(r.get("errors"), float) and r["errors"] > 0))
            body.append(f"| {s} | {big(med(values(rows, 'lines', cell, s, 'msgs_per_s')))} "
                        f"| {fmt(med(values(rows, 'lines', cell, s, 'srv_ns_per_msg')), 0)} "
                        f"| {ratio_cell(thr) if s != 'pants-lines' else '—'} | {ratio_cell(cpu) if s != 'pants-lines' else '—'} "
                        f"| {fmt(med(values(rows, 'lines', cell, s, 'p99_us')), 0)} | {errs} |")
        thr = per_round(rows, "lines", cell, "pants-lines", "tokio-lines", "msgs_per_s")
        ok, margin = check(med(thr), 1.3, True)
        t.add("lines: throughput ÷ tokio + LinesCodec", fmt(med(thr)), "≥ 1.30", ok, margin,
              ("lines thr ÷ tokio+LinesCodec", med(thr), 1.3, True))
        cpu = per_round(rows, "lines", cell, "pants-lines", "c-epoll-lines", "srv_ns_per_msg")
        ok, margin = check(med(cpu), 1.10, False)
        t.add("lines: CPU/line ÷ C epoll lines", fmt(med(cpu)), "≤ 1.10", ok, margin,
              ("lines CPU ÷ C", med(cpu), 1.10, False))
        thr = per_round(rows, "lines", cell, "pants-lines", "pants-py2-lines", "msgs_per_s")
        if thr:
            t.add("lines: throughput ÷ original Pants (py2.7)", fmt(med(thr)), "(report)", None, "")
        body.append("")

    # -------------------------------------------------------------- memory
    mem = [r for r in rows if r.get("part") == "memory"]
    if mem:
        body += ["## Idle memory", "",
                 "Server VmRSS growth per accepted idle connection (user-space memory; kernel socket "
                 "buffers are not in it).", "",
                 "| server | connections | accepted | alive at end | VmRSS before → after | bytes / connection |",
                 "|---|---|---|---|---|---|"]
        for r in mem:
            body.append(f"| {r['server']} | {int(r['conns']):,} | {int(r.get('accepted', 0)):,} "
                        f"| {int(r.get('alive_at_end', 0)):,} | {r.get('rss_before_kb', 0) / 1024:.1f} → "
                        f"{r.get('rss_after_kb', 0) / 1024:.1f} MiB | {int(r.get('bytes_per_conn', 0)):,} |")
        p10 = [r for r in mem if r["server"] == "pants-echo" and r["conns"] == 10000]
        if p10:
            v = float(p10[0]["bytes_per_conn"])
            ok, margin = check(v, 256.0, False)
            t.add("idle: bytes per connection at 10,000", f"{v:.0f}", "≤ 256", ok, margin,
                  ("idle bytes/conn ÷ 256", v / 256.0, 1.0, False))
        for r in mem:
            if r["server"] == "pants-echo" and r["conns"] > 10000:
                held = min(r.get("accepted", 0), r.get("alive_at_end", 0))
                target = 15000 if r["conns"] == 15000 else r["conns"]
                ok, margin = check(float(held), float(target), True)
                t.add(f"idle: connections held by one engine (of {int(r['conns']):,})", f"{int(held):,}",
                      f"≥ {int(target):,}", ok, margin)
        body.append("")

    # -------------------------------------------------------------- syscalls
    sc = [r for r in rows if r.get("part") == "syscalls"]
    if sc:
        body += ["## System calls per message", "",
                 "`strace -c -f` over the server's whole life while loadgen exchanges exactly N and then "
                 "2N messages (two runs); the difference of the counts divided by N is the steady-state "
                 "cost per message (start-up, accepts and closes cancel out). Under strace the server is "
                 "slower, so batching may differ from the timed runs. A `recvmmsg` or `sendmmsg` "
                 "counts as one read or write, however many datagrams it carried.", "",
                 "| server | shape | N | reads / msg | writes / msg | epoll_wait / msg | epoll_ctl / msg | all syscalls / msg | epoll_ctl in the 2N run | accepts |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for r in sc:
            n = r.get("msgs", 0) or float("nan")
            body.append(f"| {r['server']} | {label(r['cell'])} | {int(r.get('msgs', 0)):,} "
                        f"| {fmt(r['reads'] / n, 3)} | {fmt(r['writes'] / n, 3)} | {fmt(r['epoll_wait'] / n, 3)} "
                        f"| {fmt(r['epoll_ctl'] / n, 4)} | {fmt(r['total'] / n, 3)} "
                        f"| {int(r['epoll_ctl_total'])} | {int(r['accepts_total'])} |")
        for r in sc:
            if r["server"] == "pants-echo":
                n = r.get("msgs", 0) or float("nan")
                t.add("steady state: epoll_ctl per message", f"{r['epoll_ctl'] / n:.4f}", "0",
                      r["epoll_ctl"] <= 0, "")
                ok, margin = check(r["reads"] / n, 1.0, False)
                t.add("steady state: reads per echo round trip", fmt(r["reads"] / n, 3), "≤ 1", ok, margin)
                ok, margin = check(r["writes"] / n, 1.0, False)
                t.add("steady state: writes per echo round trip", fmt(r["writes"] / n, 3), "≤ 1", ok, margin)
        body.append("")

    # -------------------------------------------------------------- timers
    tm = [r for r in rows if r.get("part") == "timers"]
    if tm:
        body += ["## Timers (`pants::timer::TimerQueue`, best of 5)", "",
                 "| what | n | seconds | ns / op |", "|---|---|---|---|"]
        for r in tm:
            body.append(f"| {r['name']} | {int(r['n']):,} | {fmt(r['secs'], 3)} | {fmt(r['ns_per_op'], 1)} |")
        worst = max((r["secs"] for r in tm if "insert_cancel" in str(r["name"])), default=float("nan"))
        ok, margin = check(worst, 0.3, False)
        t.add("timers: 1,000,000 insert + cancel (worst variant)", f"{fmt(worst, 3)} s", "< 0.3 s", ok, margin,
              ("timers insert+cancel ÷ 0.3 s", worst / 0.3, 1.0, False))
        body.append("")

    # -------------------------------------------------------------- multi
    if cells(rows, "multi"):
        body += ["## Engine per core (`pants::run_threads`, SO_REUSEPORT): 1 → 2 engines", "",
                 "Servers and loadgen share both CPUs (there is no third core), so the loadgen competes "
                 "with the second engine: this bounds scaling from below, it does not measure it.", "",
                 "| shape | 1 engine msgs/s | 2 engines msgs/s | 2 ÷ 1 throughput | 2 ÷ 1 CPU/msg | errors |",
                 "|---|---|---|---|---|---|"]
        for cell in cells(rows, "multi"):
            thr = per_round(rows, "multi", cell, "pants-multi-2", "pants-multi-1", "msgs_per_s")
            cpu = per_round(rows, "multi", cell, "pants-multi-2", "pants-multi-1", "srv_ns_per_msg")
            body.append(f"| {label(cell)} | {big(med(values(rows, 'multi', cell, 'pants-multi-1', 'msgs_per_s')))} "
                        f"| {big(med(values(rows, 'multi', cell, 'pants-multi-2', 'msgs_per_s')))} "
                        f"| {ratio_cell(thr)} | {ratio_cell(cpu)} | {errors(rows, 'multi', cell)} |")
        body.append("")

    # -------------------------------------------------------------- framing
    fr = [r for r in rows if r.get("part") == "framing"]
    if fr:
        body += ["## Framing micro-benchmarks (criterion, `pants/benches/framing.rs`)", "",
                 "| benchmark | throughput |", "|---|---|"]
        for r in fr:
            if "elems_per_s" in r:
                body.append(f"| {r['name']} | {big(r['elems_per_s'])} frames/s |")
            else:
                body.append(f"| {r['name']} | {r['bytes_per_s'] / 1e9:.2f} GB/s |")
        body.append("")

    # -------------------------------------------------------------- TLS
    P, R = "pants-tls-echo", "tokio-rustls-echo"
    tls_cells = cells(rows, "tls")
    if tls_cells:
        body += ["## TLS echo", "",
                 "pants `tls_echo` against tokio (current_thread) + tokio-rustls, both on the same rustls "
                 "with the `ring` provider (versions in the header); loadgen is a tokio-rustls client "
                 "trusting the test CA. Handshakes happen before the timed window, so this is the "
                 "record layer: decrypt, echo, encrypt.", "",
                 "| conns × size × in flight | pants msgs/s | tokio-rustls | thr. ÷ tokio-rustls (≥ 1.00) | CPU/msg ÷ tokio-rustls (≤ 1.00) | pants CPU ns/msg | tokio-rustls ns/msg | p99 pants / tokio-rustls µs | errors |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for cell in tls_cells:
            thr = per_round(rows, "tls", cell, P, R, "msgs_per_s")
            cpu = per_round(rows, "tls", cell, P, R, "srv_ns_per_msg")
            body.append(
                f"| {label(cell)} | {big(med(values(rows, 'tls', cell, P, 'msgs_per_s')))} "
                f"| {big(med(values(rows, 'tls', cell, R, 'msgs_per_s')))} "
                f"| {ratio_cell(thr)} | {ratio_cell(cpu)} "
                f"| {fmt(med(values(rows, 'tls', cell, P, 'srv_ns_per_msg')), 0)} "
                f"| {fmt(med(values(rows, 'tls', cell, R, 'srv_ns_per_msg')), 0)} "
                f"| {fmt(med(values(rows, 'tls', cell, P, 'p99_us')), 0)} / "
                f"{fmt(med(values(rows, 'tls', cell, R, 'p99_us')), 0)} | {errors(rows, 'tls', cell)} |")
            ok, margin = check(med(thr), 1.0, True)
            t.add(f"TLS echo {label(cell)}: throughput ÷ tokio-rustls", fmt(med(thr)), "≥ 1.00", ok, margin,
                  ("TLS thr ÷ tokio-rustls " + label(cell), med(thr), 1.0, True))
            ok, margin = check(med(cpu), 1.0, False)
            t.add(f"TLS echo {label(cell)}: CPU/msg ÷ tokio-rustls", fmt(med(cpu)), "≤ 1.00", ok, margin,
                  ("TLS CPU ÷ tokio-rustls " + label(cell), med(cpu), 1.0, False))
        body.append("")

    for cell in cells(rows, "handshake"):
        m = re.match(r"c(\d+)_s(\d+)", cell)
        what = f"{m.group(1)} concurrent clients, {m.group(2)} B echo" if m else cell
        body += ["## TLS full handshakes per second", "",
                 f"{what}. Each client repeats: new TCP connection, full TLS handshake (no session "
                 "resumption), one echo, `close_notify` and close (the server closes first). Server CPU "
                 "is user+sys over the window per completed cycle. The client verifies the certificate "
                 "chain (two ECDSA P-256 verifications) and so costs more per handshake than the server: "
                 "when loadgen's CPU % is near 100 the rate is the client's, and CPU/handshake is the "
                 "server's figure.", "",
                 "| server | handshakes/s | server CPU µs / handshake | server CPU % | loadgen CPU % | cycle p50 / p99 ms | pants rate ÷ it | pants CPU/hs ÷ it | truncated | errors |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for s in (P, R):
            if not values(rows, "handshake", cell, s, "hs_per_s"):
                continue
            thr = per_round(rows, "handshake", cell, P, s, "hs_per_s")
            cpu = per_round(rows, "handshake", cell, P, s, "srv_us_per_hs")
            errs = int(sum(r.get("errors", 0) for r in rows if r.get("part") == "handshake" and r.get("cell") == cell
                           and r.get("server") == s and isinstance(r.get("errors"), float) and r["errors"] > 0))
            trunc = int(sum(r.get("truncated", 0) for r in rows if r.get("part") == "handshake"
                            and r.get("cell") == cell and r.get("server") == s and isinstance(r.get("truncated"), float)))
            mine = s == P
            body.append(f"| {s} | {fmt(med(values(rows, 'handshake', cell, s, 'hs_per_s')), 0)} "
                        f"| {fmt(med(values(rows, 'handshake', cell, s, 'srv_us_per_hs')), 1)} "
                        f"| {fmt(med(values(rows, 'handshake', cell, s, 'srv_cpu_pct')), 0)} "
                        f"| {fmt(med(values(rows, 'handshake', cell, s, 'lg_cpu_pct')), 0)} "
                        f"| {fmt(med(values(rows, 'handshake', cell, s, 'p50_us')) / 1e3, 1)} / "
                        f"{fmt(med(values(rows, 'handshake', cell, s, 'p99_us')) / 1e3, 1)} "
                        f"| {'—' if mine else ratio_cell(thr)} | {'—' if mine else ratio_cell(cpu)} | {trunc} | {errs} |")
        thr = per_round(rows, "handshake", cell, P, R, "hs_per_s")
        ok, margin = check(med(thr), 1.0, True)
        t.add("TLS full handshakes/s ÷ tokio-rustls", fmt(med(thr)), "≥ 1.00", ok, margin,
              ("TLS handshakes/s ÷ tokio-rustls", med(thr), 1.0, True))
        cpu = per_round(rows, "handshake", cell, P, R, "srv_us_per_hs")
        t.add("TLS server CPU per handshake ÷ tokio-rustls", ratio_cell(cpu), "(report)", None, "")
        body.append("")

    tmem = [r for r in rows if r.get("part") == "tlsmem"]
    if tmem:
        body += ["## Idle TLS memory", "",
                 "Server VmRSS growth per accepted idle connection, each having completed its TLS "
                 "handshake and one 64 B echo first (user-space memory: the rustls session with its "
                 "buffers, and the server's own per-connection state; kernel socket buffers are not in "
                 "it). The tokio-rustls peer keeps a 64 KiB read buffer per connection, as its echo loop "
                 "is written.", "",
                 "| server | connections | accepted | alive at end | VmRSS before → after | bytes / connection |",
                 "|---|---|---|---|---|---|"]
        for r in tmem:
            body.append(f"| {r['server']} | {int(r['conns']):,} | {int(r.get('accepted', 0)):,} "
                        f"| {int(r.get('alive_at_end', 0)):,} | {r.get('rss_before_kb', 0) / 1024:.1f} → "
                        f"{r.get('rss_after_kb', 0) / 1024:.1f} MiB | {int(r.get('bytes_per_conn', 0)):,} |")
        per = {r["server"]: float(r.get("bytes_per_conn", 0)) for r in tmem}
        if P in per:
            t.add(f"idle TLS: bytes per connection at {int(tmem[0]['conns']):,}", f"{per[P]:.0f}", "(report)", None, "")
        if per.get(P) is not None and per.get(R):
            t.add("idle TLS: bytes per connection ÷ tokio-rustls", fmt(per[P] / per[R]), "(report)", None, "")
        body.append("")

    md += ["## Targets", "", "| target | measured | wanted | result | margin |", "|---|---|---|---|---|"]
    for what, measured, target, ok, margin in t.rows:
        md.append(f"| {what} | {measured} | {target} | {mark(ok)} | {margin} |")
    met = sum(1 for r in t.rows if r[3] is True)
    missed = sum(1 for r in t.rows if r[3] is False)
    md += ["", f"{met} met, {missed} missed. Margin: how far past (+) or short of (−) the target.", ""]
    md += body
    (out / "results.md").write_text("\n".join(md) + "\n")
    (out / "chart.svg").write_text(chart.svg(t.bars))
    print("\n".join(md[md.index("## Targets"):md.index("## Targets") + len(t.rows) + 5]))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--strace":
        # SMALL_RUN BIG_RUN: the per-message part is the difference.
        print(" ".join(f"{k}={v}" for k, v in strace_counts(sys.argv[3], sys.argv[2]).items()))
    elif len(sys.argv) == 3 and sys.argv[1] == "--criterion":
        print("\n".join(criterion_rows(sys.argv[2])))
    elif len(sys.argv) == 2:
        report(sys.argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
