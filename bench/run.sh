#!/usr/bin/env bash
# run.sh — build the benchmark suite and run it: pants against its peers, side
# by side, interleaved (round 1: every server once, round 2: again, …), server
# pinned to CPU $SERVER_CPU (0) and the load generator to $LOADGEN_CPU (1).
#
#   bench/run.sh                  # everything (~25 min); results in bench/results/
#   bench/run.sh --quick          # smoke run (~3 min); results in bench/target/quick/
#   bench/run.sh --only "echo lines" -k 3 -d 2
#   bench/run.sh --only "tls handshake tlsmem" -k 1 -d 1
#   bench/run.sh --only udp -k 1 -d 1
#
# Options:
#   --quick           short runs, fewer echo shapes (K=1 D=1 W=0.5)
#   --only PARTS      any of: echo unix sendfile lines memory tls handshake tlsmem
#                     udp timers syscalls multi framing timeouts
#   -k ROUNDS         rounds per comparison (default 5)
#   -d SECS           measured seconds per run (default 3; warm-up W=1)
#   --out DIR         where results go (default bench/results, quick: bench/target/quick)
#   --no-build        use what bench/target/bin already holds
#
# Environment: SERVER_CPU, LOADGEN_CPU, CONFIGS (echo shapes "conns:size:depth …"),
# UNIX_CONFIGS (the unix part's shapes), SFSIZE (sendfile file bytes, 1 GiB),
# SFDOWNLOADS (downloads per sendfile run, 3), MEMCONNS (10000), BIGCONNS
# ("15000 19900"), SYSMSGS (200000), TLS_CONFIGS (the tls part's shapes,
# "64:4096:16 64:64:1"), HSCONNS (concurrent handshake workers, 32),
# TLSMEMCONNS (5000), UDP_CONFIGS (the udp part's shapes "sockets:size:depth …",
# default "1:64:1 64:64:1 1:1400:1 64:1400:1 64:64:8"), PANTS_ROOT (the
# checkout whose examples are measured; default: this one).
# Outputs: results.tsv (one row per run), results.md (tables, ratios,
# targets), chart.svg, env.txt. Per-run logs: bench/target/raw/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${PANTS_ROOT:-$(cd "$HERE/.." && pwd)}
T=$HERE/target
BIN=$T/bin
RAW=$T/raw
LOADGEN=$BIN/loadgen
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
K=5 D=3 W=1
ONLY="echo unix sendfile lines memory tls handshake tlsmem udp timers syscalls multi framing"
OUT=
QUICK=0
BUILD=1
CONFIGS=${CONFIGS:-"1:64:1 1:64:16 1:4096:1 1:4096:16 64:64:1 64:64:16 64:4096:1 64:4096:16 1000:64:1 1000:64:16 1000:4096:1 1000:4096:16"}
MEMCONNS=${MEMCONNS:-10000}
BIGCONNS=${BIGCONNS:-"15000 19900"}
SYSMSGS=${SYSMSGS:-200000}
UNIX_CONFIGS=${UNIX_CONFIGS:-"1:64:1 64:64:1 64:64:16 64:4096:1 1000:64:16"}
SFSIZE=${SFSIZE:-1073741824}
SFDOWNLOADS=${SFDOWNLOADS:-3}
TLS_CONFIGS=${TLS_CONFIGS:-"64:4096:16 64:64:1"}
HSCONNS=${HSCONNS:-32}
TLSMEMCONNS=${TLSMEMCONNS:-5000}
UDP_CONFIGS=${UDP_CONFIGS:-"1:64:1 64:64:1 1:1400:1 64:1400:1 64:64:8"}

usage() {
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --only) ONLY=$2; shift ;;
        -k) K=$2; shift ;;
        -d) D=$2; shift ;;
        --out) OUT=$2; shift ;;
        --no-build) BUILD=0 ;;
        *) usage ;;
    esac
    shift
done
if [ $QUICK = 1 ]; then
    K=1 D=1 W=0.5
    CONFIGS=${QUICK_CONFIGS:-"64:64:1 64:4096:16"}
    UNIX_CONFIGS=${QUICK_UNIX_CONFIGS:-"64:64:1 1:64:1"}
    UDP_CONFIGS=${QUICK_UDP_CONFIGS:-"64:64:1 64:1400:1"}
    SFDOWNLOADS=1
    BIGCONNS=15000
    SYSMSGS=20000
    OUT=${OUT:-$T/quick}
fi
OUT=${OUT:-$HERE/results}
ONLY=${ONLY//,/ }
mkdir -p "$BIN" "$RAW" "$OUT"

# ---------------------------------------------------------------- build
build() {
    echo "== build: bench workspace (loadgen, tokio/mio peers, timers)" >&2
    CARGO_TARGET_DIR=$T/cargo cargo build --release --locked --manifest-path "$HERE/Cargo.toml"
    for b in loadgen tokio-echo tokio-echo-mt tokio-lines mio-echo tokio-rustls-echo tokio-udp-echo timers; do
        install -m 755 "$T/cargo/release/$b" "$BIN/$b"
    done
    echo "== build: C epoll servers" >&2
    ${CC:-gcc} -O2 -Wall -Wextra -o "$BIN/c-epoll-echo" "$HERE/servers/c/epoll-echo.c"
    ${CC:-gcc} -O2 -Wall -Wextra -o "$BIN/c-epoll-lines" "$HERE/servers/c/epoll-lines.c"
    ${CC:-gcc} -O2 -Wall -Wextra -o "$BIN/c-sendfile" "$HERE/servers/c/sendfile-server.c"
    ${CC:-gcc} -O2 -Wall -Wextra -o "$BIN/c-epoll-udp-echo" "$HERE/servers/c/epoll-udp-echo.c"
    echo "== build: pants examples ($ROOT)" >&2
    (cd "$ROOT" && cargo build --release --locked -p pants-examples --examples)
    install -m 755 "$ROOT/target/release/examples/echo" "$BIN/pants-echo"
    if [ -f "$ROOT/target/release/examples/idle_echo" ]; then
        install -m 755 "$ROOT/target/release/examples/idle_echo" "$BIN/pants-echo-idle"
    fi
    install -m 755 "$ROOT/target/release/examples/line_echo" "$BIN/pants-lines"
    install -m 755 "$ROOT/target/release/examples/unix_echo" "$BIN/pants-unix-echo"
    install -m 755 "$ROOT/target/release/examples/send_file" "$BIN/pants-send-file"
    install -m 755 "$ROOT/target/release/examples/multi_echo" "$BIN/pants-multi"
    # tls_echo takes ADDR CERT KEY; the suite passes CERT KEY PORT.
    rm -f "$BIN/pants-tls-echo"
    if [ -f "$ROOT/target/release/examples/tls_echo" ]; then
        install -m 755 "$ROOT/target/release/examples/tls_echo" "$BIN/pants-tls-echo-bin"
        printf '#!/bin/sh\nexec "%s" "127.0.0.1:$3" "$1" "$2"\n' "$BIN/pants-tls-echo-bin" >"$BIN/pants-tls-echo"
        chmod 755 "$BIN/pants-tls-echo"
    fi
    # udp_echo takes [ADDR]; the suite passes PORT.
    rm -f "$BIN/pants-udp-echo"
    if [ -f "$ROOT/target/release/examples/udp_echo" ]; then
        install -m 755 "$ROOT/target/release/examples/udp_echo" "$BIN/pants-udp-echo-bin"
        printf '#!/bin/sh\nexec "%s" "127.0.0.1:$1"\n' "$BIN/pants-udp-echo-bin" >"$BIN/pants-udp-echo"
        chmod 755 "$BIN/pants-udp-echo"
    fi
    for n in 1 2; do # multi_echo takes [ADDR] [THREADS]; the suite wants the port last
        printf '#!/bin/sh\nexec "%s" "$1" %s\n' "$BIN/pants-multi" "$n" >"$BIN/pants-multi-$n"
        chmod 755 "$BIN/pants-multi-$n"
    done
    echo "== build: the original Pants 1.0.1 under Python 2.7 (if present)" >&2
    local py2
    py2=${PYTHON2:-$(PYENV_VERSION=2.7.18 pyenv which python2.7 2>/dev/null || command -v python2.7 || true)}
    rm -f "$BIN/pants-py2-echo" "$BIN/pants-py2-lines"
    if [ -n "$py2" ] && [ -x "$py2" ]; then
        if [ -d "$T/py2site/pants" ] || "$py2" -m pip install -q --target "$T/py2site" pants==1.0.1; then
            for m in echo lines; do
                printf '#!/bin/sh\nPANTS_PY2_SITE="%s" exec "%s" "%s" %s "$@"\n' \
                    "$T/py2site" "$py2" "$HERE/servers/py/pants_py2.py" "$m" >"$BIN/pants-py2-$m"
                chmod 755 "$BIN/pants-py2-$m"
            done
        fi
    else
        echo "WARNING: no python2.7: the original Pants is left out" >&2
    fi
}
[ $BUILD = 1 ] && build
have() { [ -x "$BIN/$1" ]; }

# ---------------------------------------------------------------- TLS
# A test CA and a leaf for localhost / 127.0.0.1 signed by it (EC P-256,
# CA:FALSE: webpki refuses a CA certificate as the end entity); made once in
# bench/target/tls/, remade when missing or within a day of expiry.
TLSDIR=$T/tls
TLS_CA=$TLSDIR/ca.pem
TLS_CERT=$TLSDIR/server.pem
TLS_KEY=$TLSDIR/server.key
tls_certs() {
    if [ -f "$TLS_CERT" ] && [ -f "$TLS_KEY" ] && [ -f "$TLS_CA" ] &&
        openssl x509 -in "$TLS_CERT" -noout -checkend 86400 >/dev/null 2>&1; then
        return 0
    fi
    echo "-- creating the test CA and server certificate in $TLSDIR"
    mkdir -p "$TLSDIR"
    (
        cd "$TLSDIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
            -keyout ca.key -out ca.pem -subj "/CN=pants bench test CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout server.key -out server.csr -subj "/CN=localhost"
        printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
            -sha256 -extfile server.ext -out server.pem
    ) >"$RAW/tls-certs.log" 2>&1 || { echo "openssl failed: $RAW/tls-certs.log" >&2; exit 1; }
}
TLS_LG="--tls --ca $TLS_CA --sni localhost"
lock_version() { # LOCKFILE CRATE -> its version
    awk -v n="$2" '$0 == "name = \"" n "\"" {getline; gsub(/version = |"/, ""); print; exit}' "$1"
}
case " $ONLY " in *" tls "* | *" handshake "* | *" tlsmem "*)
    tls_certs
    v_pants=$(lock_version "$ROOT/Cargo.lock" rustls)
    v_peer=$(lock_version "$HERE/Cargo.lock" rustls)
    if [ "$v_pants" != "$v_peer" ]; then
        echo "WARNING: rustls $v_pants in pants but $v_peer in the bench peers: pin bench/*/Cargo.toml to $v_pants" >&2
    fi
    ;;
esac

# ---------------------------------------------------------------- helpers
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck source=lib.sh
. "$HERE/lib.sh"
TSV=$OUT/results.tsv
LG_ERR=$RAW/loadgen.err
: >"$TSV"
: >"$LG_ERR"
SRV_PID=
# (an `if`, not `[ … ] &&`: the trap's last status would be the script's)
cleanup() { if [ -n "$SRV_PID" ]; then stop_server "$SRV_PID"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host: $(uname -n), kernel $(uname -r)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc)"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "rustc: $(rustc --version)"
    echo "gcc: $(gcc --version | head -1)"
    py2=$(PYENV_VERSION=2.7.18 pyenv which python2.7 2>/dev/null || command -v python2.7 || true)
    echo "python2: $([ -n "$py2" ] && "$py2" --version 2>&1)"
    echo "pants: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- pants pants-derive examples 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "open-file limit: $(ulimit -n)"
    echo "rustls: pants $(lock_version "$ROOT/Cargo.lock" rustls), bench peers and loadgen $(lock_version "$HERE/Cargo.lock" rustls) (ring $(lock_version "$HERE/Cargo.lock" ring)); tokio-rustls $(lock_version "$HERE/Cargo.lock" tokio-rustls)"
    echo "pinning: servers on CPU $SERVER_CPU, loadgen on CPU $LOADGEN_CPU"
    echo "params: K=$K D=$D W=$W MEMCONNS=$MEMCONNS BIGCONNS=$BIGCONNS SYSMSGS=$SYSMSGS HSCONNS=$HSCONNS TLSMEMCONNS=$TLSMEMCONNS quick=$QUICK"
    echo "parts: $ONLY"
    echo "load average at start: $(cut -d" " -f1-3 /proc/loadavg); CPUs busy over 1 s before the runs: $(cpu_busy_pct 1)%"
} >"$OUT/env.txt"
cat "$OUT/env.txt"

# run_set PART CELL MODE "LOADGEN ARGS" SERVER... : K rounds, each server once
# per round in the order given; one results.tsv row per run. Servers take
# the port as their last argument, or with NET=unix the socket unix:PATH;
# SRV_ARGS (if set) goes before it (send_file's FILE). With NET=udp the
# servers bind a UDP socket on the port (start_server waits for it).
SOCKDIR=$T/sock
run_set() {
    local part=$1 cell=$2 mode=$3 args=$4 r i s port line
    shift 4
    echo "-- $(date -u +%H:%M:%S) $part $cell: $* ($mode $args, $K rounds)"
    for ((r = 1; r <= K; r++)); do
        i=0
        for s in "$@"; do
            i=$((i + 1))
            have "$s" || continue
            port=$((9100 + i))
            [ "${NET:-tcp}" = unix ] && port=unix:$SOCKDIR/$s.sock
            if ! start_server "$BIN/$s ${SRV_ARGS:-}${SRV_ARGS:+ }$port" "$SERVER_CPU" "$RAW/$s.log"; then
                line="mode=$mode msgs_per_s=0 errors=-1 failed=1"
            else
                # shellcheck disable=SC2086
                line=$(run_loadgen "$port" "$SRV_PID" "$LOADGEN_CPU" "$mode" $args -d "$D" -w "$W")
                stop_server "$SRV_PID"
                SRV_PID=
            fi
            echo "part=$part cell=$cell server=$s round=$r $line" >>"$TSV"
            printf '   r%d %-16s %s\n' "$r" "$s" "$(grep -o 'msgs_per_s=[^ ]*\|p99_us=[^ ]*\|errors=[^ ]*\|lost=[^ ]*\|srv_ns_per_msg=[^ ]*\|srv_cpu_pct=[^ ]*\|gb_per_s=[^ ]*\|srv_s_per_gib=[^ ]*\|truncated=[^ ]*' <<<"$line" | tr '\n' ' ')"
        done
    done
}

# mem_one SERVER N: VmRSS growth per idle connection (memory.sh's method).
# With MEMPART=tlsmem: the server gets SRV_ARGS before its port, loadgen
# idle gets LG_EXTRA (--tls …: each connection handshakes and echoes once),
# and the reading waits for loadgen's "established=" (all handshakes done).
mem_one() {
    local s=$1 n=$2 port=9120 rss0 fd0 rss1 fd1 i lg line per part=${MEMPART:-memory} lgerr=$RAW/idle.err
    have "$s" || return 0
    echo "-- $(date -u +%H:%M:%S) $part $s: $n idle connections"
    start_server "$BIN/$s ${SRV_ARGS:-}${SRV_ARGS:+ }$port" "$SERVER_CPU" "$RAW/$s.log" || return 0
    sleep 0.5 # interpreters finish importing
    rss0=$(vmrss_kb "$SRV_PID")
    fd0=$(nfds "$SRV_PID")
    : >"$lgerr"
    # shellcheck disable=SC2086
    taskset -c "$LOADGEN_CPU" "$LOADGEN" idle "127.0.0.1:$port" -c "$n" -d 4 ${LG_EXTRA:-} >"$RAW/idle.out" 2>"$lgerr" &
    lg=$!
    for ((i = 0; i < 600; i++)); do
        if [ $(($(nfds "$SRV_PID") - fd0)) -ge "$n" ]; then
            [ -z "${LG_EXTRA:-}" ] && break
            grep -q '^established=' "$lgerr" && break
        fi
        kill -0 "$lg" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    rss1=$(vmrss_kb "$SRV_PID")
    fd1=$(nfds "$SRV_PID")
    wait "$lg" || true
    cat "$lgerr" >>"$LG_ERR"
    stop_server "$SRV_PID"
    SRV_PID=
    line=$(tail -n 1 "$RAW/idle.out")
    per=0
    [ $((fd1 - fd0)) -gt 0 ] && per=$(((rss1 - rss0) * 1024 / (fd1 - fd0)))
    line="part=$part server=$s conns=$n accepted=$((fd1 - fd0)) rss_before_kb=$rss0 rss_after_kb=$rss1 bytes_per_conn=$per $(grep -o 'established=[^ ]*\|alive_at_end=[^ ]*' <<<"$line" | tr '\n' ' ')"
    echo "   $line"
    echo "$line" >>"$TSV"
}

# sys_one SERVER CELL MODE "ARGS": `strace -c -f` over the server's whole
# life while loadgen exchanges exactly N messages, for N = SYSMSGS and
# 2 x SYSMSGS; the difference of the two runs' counts, divided by SYSMSGS, is
# the per-message cost without start-up, accepts and closes.
sys_one() {
    local s=$1 cell=$2 mode=$3 args=$4 port=9130 child line n counts=()
    have "$s" || return 0
    command -v strace >/dev/null || { { apt-get update -qq && apt-get install -y -qq strace; } >/dev/null 2>&1 || { echo "no strace" >&2; return 0; }; }
    for n in "$SYSMSGS" $((2 * SYSMSGS)); do
        echo "-- $(date -u +%H:%M:%S) syscalls $s: $mode $args -n $n"
        start_server "strace -c -f -o $RAW/strace-$s-$cell-$n.txt $BIN/$s $port" "$SERVER_CPU" "$RAW/$s.log" || return 0
        child=$(pgrep -P "$SRV_PID" | head -1)
        # shellcheck disable=SC2086
        line=$(run_loadgen "$port" "$child" "$LOADGEN_CPU" "$mode" $args -n "$n")
        kill -TERM "$child" 2>/dev/null || true
        stop_server "$SRV_PID"
        SRV_PID=
        counts+=("$RAW/strace-$s-$cell-$n.txt")
    done
    line="part=syscalls server=$s cell=$cell $(grep -o 'mode=[^ ]*\|conns=[^ ]*\|depth=[^ ]*\|errors=[^ ]*' <<<"$line" | tr '\n' ' ')msgs=$SYSMSGS $(python3 "$HERE/report.py" --strace "${counts[@]}")"
    echo "   $line"
    echo "$line" >>"$TSV"
}

cell_of() { # conns:size:depth -> c64_s64_p1
    local c s p
    IFS=: read -r c s p <<<"$1"
    echo "c${c}_s${s}_p${p}"
}

# ---------------------------------------------------------------- parts
for part in $ONLY; do
    case $part in
    echo)
        for cfg in $CONFIGS; do
            IFS=: read -r c s p <<<"$cfg"
            servers=(pants-echo c-epoll-echo tokio-echo)
            # The original Pants, on the shape the shared rig measured it.
            [ "$cfg" = 64:64:1 ] && servers+=(pants-py2-echo)
            run_set echo "$(cell_of "$cfg")" echo "-c $c -s $s -p $p" "${servers[@]}"
        done
        ;;
    unix)
        # The echo shapes on a Unix stream socket: pants' unix_echo against
        # the C epoll server, both on unix:PATH in bench/target/sock/.
        mkdir -p "$SOCKDIR"
        for cfg in $UNIX_CONFIGS; do
            IFS=: read -r c s p <<<"$cfg"
            NET=unix run_set unix "$(cell_of "$cfg")" echo "-c $c -s $s -p $p" pants-unix-echo c-epoll-echo
        done
        ;;
    sendfile)
        # Stream::write_file (sendfile inside the engine) against a blocking C
        # sendfile(2) loop: SFDOWNLOADS whole-file downloads per run over
        # loopback TCP, one after the other, each read to EOF and counted.
        sf=$T/sendfile-$SFSIZE.bin
        if [ "$(stat -c %s "$sf" 2>/dev/null)" != "$SFSIZE" ]; then
            echo "-- creating $sf ($SFSIZE random bytes, kept for later runs)"
            head -c "$SFSIZE" /dev/urandom >"$sf.tmp" && mv "$sf.tmp" "$sf"
        fi
        cat "$sf" >/dev/null # into the page cache: no server reads the disk
        SRV_ARGS=$sf run_set sendfile "f$((SFSIZE >> 20))MiB_x$SFDOWNLOADS" drain "--expect $SFSIZE -c $SFDOWNLOADS" pants-send-file c-sendfile
        ;;
    tls)
        # TLS echo: pants tls_echo against tokio + tokio-rustls (same rustls,
        # ring provider), loadgen a TLS client; handshakes before the window.
        for cfg in $TLS_CONFIGS; do
            IFS=: read -r c s p <<<"$cfg"
            SRV_ARGS="$TLS_CERT $TLS_KEY" run_set tls "$(cell_of "$cfg")" echo "-c $c -s $s -p $p $TLS_LG" pants-tls-echo tokio-rustls-echo
        done
        ;;
    handshake)
        # Full handshakes per second: HSCONNS workers, each repeating connect,
        # full TLS handshake (no resumption), one 64 B echo, close.
        SRV_ARGS="$TLS_CERT $TLS_KEY" run_set handshake "c${HSCONNS}_s64" handshake "-c $HSCONNS -s 64 $TLS_LG" pants-tls-echo tokio-rustls-echo
        ;;
    tlsmem)
        # VmRSS growth per idle TLS connection (handshake and one echo done).
        for s in pants-tls-echo tokio-rustls-echo; do
            MEMPART=tlsmem SRV_ARGS="$TLS_CERT $TLS_KEY" LG_EXTRA="$TLS_LG -s 64" mem_one "$s" "$TLSMEMCONNS"
        done
        ;;
    udp)
        # UDP echo: pants udp_echo against a tokio current_thread UdpSocket
        # loop and a C epoll + recvmmsg/sendmmsg (batches of 32) server;
        # loadgen udp: N connected client sockets, DEPTH datagrams each in
        # flight, every reply checked, a datagram lost after 200 ms re-sent.
        for cfg in $UDP_CONFIGS; do
            IFS=: read -r c s p <<<"$cfg"
            NET=udp run_set udp "$(cell_of "$cfg")" udp "-c $c -s $s -p $p" pants-udp-echo tokio-udp-echo c-epoll-udp-echo
        done
        ;;
    lines)
        run_set lines c64_s64_p16 lines "-c 64 -s 64 -p 16" pants-lines c-epoll-lines tokio-lines pants-py2-lines
        ;;
    memory)
        for s in pants-echo c-epoll-echo tokio-echo pants-py2-echo; do
            mem_one "$s" "$MEMCONNS"
        done
        for n in $BIGCONNS; do
            mem_one pants-echo "$n"
        done
        ;;
    timers)
        echo "-- $(date -u +%H:%M:%S) timers"
        "$BIN/timers" 1000000 | sed -n 's/^RESULT /part=timers /p' | tee -a "$TSV" | sed 's/^/   /'
        ;;
    syscalls)
        sys_one pants-echo c64_s64_p1 echo "-c 64 -s 64 -p 1"
        sys_one c-epoll-echo c64_s64_p1 echo "-c 64 -s 64 -p 1"
        sys_one pants-lines c64_s64_p16 lines "-c 64 -s 64 -p 16"
        sys_one c-epoll-lines c64_s64_p16 lines "-c 64 -s 64 -p 16"
        for s in pants-udp-echo tokio-udp-echo c-epoll-udp-echo; do
            NET=udp sys_one "$s" c64_s64_p1 udp "-c 64 -s 64 -p 1"
        done
        ;;
    timeouts)
        # What an idle timeout costs a busy server: every read moves the
        # deadline (a store), the timer is re-armed once per period.
        for cfg in 64:64:1 1000:64:16 1:4096:16; do
            IFS=: read -r c s p <<<"$cfg"
            run_set timeouts "$(cell_of "$cfg")" echo "-c $c -s $s -p $p" pants-echo pants-echo-idle c-epoll-echo
        done
        mem_one pants-echo-idle "$MEMCONNS"
        ;;
    multi)
        # 1 vs 2 engines sharing the port; both CPUs for the server AND the
        # loadgen (a 2-core machine has no third core), so read it as a bound.
        SERVER_CPU=0,1 LOADGEN_CPU=0,1 run_set multi c1000_s64_p16 echo "-c 1000 -s 64 -p 16" pants-multi-1 pants-multi-2
        SERVER_CPU=0,1 LOADGEN_CPU=0,1 run_set multi c64_s4096_p16 echo "-c 64 -s 4096 -p 16" pants-multi-1 pants-multi-2
        ;;
    framing)
        echo "-- $(date -u +%H:%M:%S) framing (criterion, pants/benches/framing.rs)"
        quick=()
        [ $QUICK = 1 ] && quick=(--quick)
        (cd "$ROOT" && taskset -c "$SERVER_CPU" cargo bench --locked -p pants --bench framing -- --noplot "${quick[@]}") >"$RAW/framing.log" 2>&1 || echo "   framing bench failed: $RAW/framing.log"
        python3 "$HERE/report.py" --criterion "$RAW/framing.log" | tee -a "$TSV" | sed 's/^/   /'
        ;;
    *) echo "unknown part: $part" >&2; exit 2 ;;
    esac
done

echo "load average at end: $(cut -d" " -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
python3 "$HERE/report.py" "$OUT"
echo "== done: $OUT/results.md, $OUT/chart.svg"
