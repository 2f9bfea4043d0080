#!/usr/bin/env bash
# bench/soak.sh DURATION — the soak (issue 12): 1,000 connections opening,
# talking (mixed framing, some slow, some resetting) and vanishing against
# the pants examples for DURATION (e.g. 30s, 5m, 10m, 1h; a bare number is
# seconds), while each server's open fds, VmRSS and CPU time are sampled.
#
# Builds the release examples (root workspace) and bench/soak, starts echo,
# line_echo, block_echo, chat, unix_echo and tls_echo (a throwaway CA and
# certificate made with openssl) on 127.0.0.1 port 0 / a Unix path, runs
# `soak` against all of them at once, then stops the servers with SIGTERM
# (each must exit 0). Writes bench/results/soak-<commit>/ (summary.md,
# samples.tsv, env.txt, the servers' stderr) and prints the summary.
# Exit 0 on PASS; 1 on any error, a leak, a dead or misbehaving server.
#
# Environment: CONNS (default 1000, spread over the servers as below),
# SAMPLE (seconds between samples, default 10), RSS_TOL (% over the first
# half's peak RSS allowed at the end and in the second half, default 10), OUT (results
# directory), SEED, SOAK_STRACE (1, the default if strace is installed:
# each server runs under strace stopping at signals only, so a signal that
# stops one is written down with its sender; 0: not), SOAK_SRC (tree: build the checkout as it is, the
# default, results in soak-<commit>-dirty if pants/ or examples/ has
# uncommitted changes; head: build the committed HEAD alone, exported with
# git archive into bench/target/soak/, so the figures belong to a commit).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

usage() { echo "usage: bench/soak.sh DURATION   (e.g. 30s, 5m, 10m, 1h)" >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in
    *h) SECS=$((${1%h} * 3600)) ;;
    *m) SECS=$((${1%m} * 60)) ;;
    *s) SECS=${1%s} ;;
    *) SECS=$1 ;;
esac
case $SECS in '' | *[!0-9]*) usage ;; esac
[ "$SECS" -ge 20 ] || { echo "soak: DURATION must be at least 20s" >&2; exit 2; }

CONNS=${CONNS:-1000}
SAMPLE=${SAMPLE:-10}
RSS_TOL=${RSS_TOL:-10}
SEED=${SEED:-$(date +%s)}
SOAK_SRC=${SOAK_SRC:-tree}
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
DIRTY=$(git -C "$ROOT" status --porcelain -- pants pants-derive examples Cargo.toml Cargo.lock | wc -l)
case $SOAK_SRC in
    tree) TAG=$COMMIT; [ "$DIRTY" -eq 0 ] || TAG=$COMMIT-dirty ;;
    head) TAG=$COMMIT ;;
    *) echo "soak: SOAK_SRC is tree or head" >&2; exit 2 ;;
esac
OUT=${OUT:-$HERE/results/soak-$TAG}
WORK=$HERE/target/soak
mkdir -p "$WORK" "$OUT"
rm -f "$WORK"/*.log "$WORK"/*.err "$WORK"/unix_echo.sock

# 1,000 connections and a listener or two per server, plus the client's.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((CONNS * 2 + 100)) ]; then
    echo "soak: ulimit -n is $(ulimit -n), need $((CONNS * 2 + 100))" >&2
    exit 1
fi

if [ "$SOAK_SRC" = head ]; then
    # The committed HEAD, exported (git archive) and built on its own, so
    # uncommitted work in the checkout is not what gets soaked.
    SRC=$WORK/src-$COMMIT
    if [ ! -d "$SRC" ]; then
        mkdir -p "$SRC.tmp"
        git -C "$ROOT" archive HEAD | tar -x -C "$SRC.tmp"
        mv "$SRC.tmp" "$SRC"
    fi
    echo "-- building the release examples of HEAD ($COMMIT, in $SRC) and the soak client"
    (cd "$SRC" && CARGO_TARGET_DIR=$WORK/target cargo build --release -q -p pants-examples --examples)
    EX=$WORK/target/release/examples
else
    [ "$DIRTY" -eq 0 ] || echo "-- note: $DIRTY uncommitted changes under pants/ examples/ are built in (SOAK_SRC=head builds HEAD alone)"
    echo "-- building the release examples and the soak client"
    (cd "$ROOT" && cargo build --release -q -p pants-examples --examples)
    EX=$ROOT/target/release/examples
fi
(cd "$HERE" && cargo build --release -q -p soak)
SOAK=$HERE/target/release/soak

echo "-- throwaway CA and certificate for tls_echo in $WORK"
(
    cd "$WORK"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout ca.key -out ca.pem -subj "/CN=pants soak throwaway CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -sha256 -extfile server.ext -out server.pem
) >"$WORK/openssl.log" 2>&1 || { echo "soak: openssl failed: $WORK/openssl.log" >&2; exit 1; }

# name kind share-per-mille command...
SERVERS=(
    "echo echo 200 $EX/echo 127.0.0.1:0"
    "line_echo lines 180 $EX/line_echo 127.0.0.1:0"
    "block_echo blocks 150 $EX/block_echo 127.0.0.1:0"
    "chat chat 100 $EX/chat 127.0.0.1:0"
    "unix_echo echo 170 $EX/unix_echo $WORK/unix_echo.sock"
    "tls_echo tls 200 $EX/tls_echo 127.0.0.1:0 $WORK/server.pem $WORK/server.key"
)
PIDS=()
WAITS=()
SENTINEL=
cleanup() {
    local p
    # A server under strace: its tracer's children first (killing strace
    # alone would leave the server running, detached).
    for p in "${WAITS[@]}"; do
        for c in $(pgrep -P "$p"); do kill -KILL "$c" 2>/dev/null || true; done
    done
    for p in "${PIDS[@]}" "${WAITS[@]}" $SENTINEL; do kill -KILL "$p" 2>/dev/null || true; done
}
TRACE=${SOAK_STRACE:-1}
command -v strace >/dev/null || TRACE=0
trap cleanup EXIT

TARGETS=()
NAMES=()
left=$CONNS
n=0
for spec in "${SERVERS[@]}"; do
    read -r name kind share cmd <<<"$spec"
    n=$((n + 1))
    if [ "$n" -eq ${#SERVERS[@]} ]; then conns=$left; else conns=$((CONNS * share / 1000)); fi
    left=$((left - conns))
    : >"$WORK/$name.log"
    : >"$WORK/$name.signals"
    if [ "$TRACE" = 1 ]; then
        # Under strace, stopping at signals only (seccomp-bpf: no system
        # call is traced), so a signal that stops a server names its sender.
        # shellcheck disable=SC2086
        strace -q -f --seccomp-bpf -e trace=none -e signal=all -o "$WORK/$name.signals" \
            $cmd >"$WORK/$name.log" 2>"$WORK/$name.err" </dev/null &
        waitpid=$!
        WAITS+=("$waitpid")
        pid=
        for ((i = 0; i < 200; i++)); do
            # (strace forks short-lived children of its own to test ptrace)
            exe=${cmd%% *}
            pid=$(pgrep -P "$waitpid" -x "${exe##*/}" | head -n 1) && [ -n "$pid" ] && break
            sleep 0.05
        done
        [ -n "$pid" ] || { echo "soak: $name did not start under strace" >&2; exit 1; }
    else
        # shellcheck disable=SC2086
        $cmd >"$WORK/$name.log" 2>"$WORK/$name.err" </dev/null &
        pid=$!
        waitpid=$pid
        WAITS+=("$waitpid")
    fi
    PIDS+=("$pid")
    addr=
    for ((i = 0; i < 200; i++)); do
        addr=$(sed -n 's/^listening on //p' "$WORK/$name.log" | head -n 1)
        [ -n "$addr" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "soak: $name exited before listening: $(cat "$WORK/$name.err")" >&2; exit 1; }
        sleep 0.05
    done
    [ -n "$addr" ] || { echo "soak: $name did not say 'listening on' within 10 s" >&2; exit 1; }
    case $addr in /* | ./*) addr=unix:$addr ;; unix:*) ;; esac
    echo "   $name pid $pid listening on $addr ($conns connections, $kind)"
    TARGETS+=("$name:$kind:$conns:$pid:$addr")
    NAMES+=("$name")
done

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command: bench/soak.sh $1 (CONNS=$CONNS SAMPLE=$SAMPLE RSS_TOL=$RSS_TOL SEED=$SEED SOAK_SRC=$SOAK_SRC)"
    echo "commit: $(git -C "$ROOT" rev-parse HEAD)"
    if [ "$SOAK_SRC" = head ]; then
        echo "built from: HEAD exported with git archive (SOAK_SRC=head)"
    else
        echo "built from: the checkout, with $DIRTY uncommitted changes under pants/ pants-derive/ examples/ Cargo.*"
    fi
    echo "kernel: $(uname -r); cpus: $(nproc); ulimit -n: $(ulimit -n)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc: $(rustc --version)"
} >"$OUT/env.txt"

# Any SIGINT, SIGTERM, SIGHUP, SIGQUIT or SIGKILL a server gets during the
# soak is written down with its sender (and the sender's parents) at once.
: >"$OUT/signals.txt"
if [ "$TRACE" = 1 ]; then
    sleep 100000 &
    SENTINEL=$!
    (
        tail -q -n 0 -F --pid="$SENTINEL" "$WORK"/*.signals 2>/dev/null | while read -r line; do
            case $line in *SIGINT* | *SIGTERM* | *SIGHUP* | *SIGQUIT* | *SIGKILL* | *killed\ by* | *exited\ with*) ;; *) continue ;; esac
            {
                echo "$(date -u +%H:%M:%S) $line"
                sp=$(sed -n 's/.*si_pid=\([0-9]*\).*/\1/p' <<<"$line")
                for ((k = 0; k < 5 && ${sp:-0} > 1; k++)); do
                    ps -o pid=,ppid=,user=,args= -p "$sp" 2>/dev/null | sed 's/^/    sender: /' || break
                    sp=$(ps -o ppid= -p "$sp" 2>/dev/null | tr -d ' ')
                done
            } >>"$OUT/signals.txt"
        done
    ) &
    WATCHER=$!
fi

echo "-- soak: $CONNS connections for ${SECS}s"
set +e
"$SOAK" --secs "$SECS" --sample "$SAMPLE" --rss-tol "$RSS_TOL" --seed "$SEED" \
    --ca "$WORK/ca.pem" --sni localhost --out "$OUT" "${TARGETS[@]}" 2> >(tee "$OUT/soak.err" >&2) >"$OUT/soak.out"
rc=$?
set -e
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"

if [ -n "$SENTINEL" ]; then
    sleep 1
    kill "$SENTINEL" 2>/dev/null || true
    wait "$SENTINEL" 2>/dev/null || true
    SENTINEL=
    wait "$WATCHER" 2>/dev/null || true # tail notices within a second
fi

# Graceful stop: every server must exit 0 on SIGTERM.
stops=()
for i in "${!PIDS[@]}"; do
    pid=${PIDS[$i]}
    kill -TERM "$pid" 2>/dev/null || true
done
for i in "${!PIDS[@]}"; do
    pid=${PIDS[$i]}
    name=${NAMES[$i]}
    st=0
    for ((k = 0; k < 150; k++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        stops+=("$name: still running 15 s after SIGTERM (killed)")
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
    wait "${WAITS[$i]}" 2>/dev/null || st=$?
    if [ "$st" -ne 0 ]; then
        stops+=("$name: exit status $st after SIGTERM")
        rc=1
    fi
done
PIDS=()

{
    echo "# Soak: bench/soak.sh $1"
    echo
    sed 's/^/    /' "$OUT/env.txt"
    echo
    cat "$OUT/soak.out"
    echo
    if [ ${#stops[@]} -eq 0 ]; then
        echo "Servers: every one exited 0 on the final SIGTERM."
    else
        echo "Servers: **${stops[*]}**"
    fi
    if [ "$TRACE" = 1 ]; then
        echo
        if [ -s "$OUT/signals.txt" ]; then
            echo "**Signals received or exits during the soak** (strace; with the sender):"
            echo
            echo '```'
            cat "$OUT/signals.txt"
            echo '```'
            rc=1
        else
            echo "Signals received during the soak (strace): none that stops a process; no server exited."
        fi
        # Other signals (SIGPIPE, ignored, from a write to a closed socket)
        # are counted, not failed.
        for name in "${NAMES[@]}"; do
            other=$({ grep -o -- '--- SIG[A-Z0-9]*' "$WORK/$name.signals" || true; } | { grep -v -e SIGTERM -e SIGINT || true; } | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}' || true)
            [ -z "$other" ] || echo "$name also received (not failed): $other."
        done
    fi
    for name in "${NAMES[@]}"; do
        # The first 200 lines (a warning per rude connection adds up).
        head -n 200 "$WORK/$name.err" >"$OUT/$name.stderr"
        if [ -s "$WORK/$name.err" ]; then
            # Kinds of lines, numbers and addresses folded; a warning is
            # reported, anything else (an error, a panic) fails the soak.
            echo
            echo "$name stderr: $(wc -l <"$WORK/$name.err") lines, by kind:"
            echo
            echo '```'
            sed -E 's/[0-9]+/N/g' "$WORK/$name.err" | sort | uniq -c | sort -rn | head -n 20
            echo '```'
            if grep -qv '^warn: ' "$WORK/$name.err"; then
                echo
                echo "**$name wrote something other than warnings to stderr.**"
                rc=1
            fi
        fi
    done
    echo
    echo "Overall: $([ "$rc" -eq 0 ] && echo PASS || echo FAIL)"
} >"$OUT/summary.md"
rm -f "$OUT/soak.out" "$OUT/soak.md"
cat "$OUT/summary.md"
echo "-- written to $OUT"
exit "$rc"
