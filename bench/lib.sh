# Helpers for run.sh (sourced, not run); adapted from the shared rig.


# port_of "CMD ... ADDR" -> ADDR (the command's last word): a TCP port, or
# a Unix stream socket as unix:PATH (or an absolute path).
port_of() {
    local w
    # shellcheck disable=SC2086
    set -- $1
    for w; do :; done
    case $w in
        unix:/* | /*) echo "$w"; return 0 ;;
        '' | *[!0-9]*) echo "not a port or unix:PATH at the end of the server command: '$w'" >&2; return 1 ;;
    esac
    echo "$w"
}

listening() { # PORT | unix:PATH | /PATH; with NET=udp a PORT is a bound UDP socket
    case $1 in
        unix:*) [ -n "$(ss -Hxl src "${1#unix:}" 2>/dev/null)" ] ;;
        /*) [ -n "$(ss -Hxl src "$1" 2>/dev/null)" ] ;;
        *) if [ "${NET:-tcp}" = udp ]; then
               [ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]
           else
               [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
           fi ;;
    esac
}

# start_server CMD CPU LOG: start CMD pinned to CPU, wait until its port (or
# Unix socket path: a last word unix:PATH) listens (with NET=udp: until a UDP
# socket is bound on the port); sets SRV_PID. Fails if
# the port or path is already taken by a listener or CMD dies. A stale socket
# file is the server's to replace.
start_server() {
    local cmd=$1 cpu=$2 log=${3:-/dev/null} port i
    port=$(port_of "$cmd") || return 1
    if listening "$port"; then
        echo "$port is already in use" >&2
        return 1
    fi
    taskset -c "$cpu" bash -c "exec $cmd" </dev/null >>"$log" 2>&1 &
    SRV_PID=$!
    for ((i = 0; i < 200; i++)); do
        if listening "$port"; then
            return 0
        fi
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            echo "server exited before listening: $cmd" >&2
            SRV_PID=
            return 1
        fi
        sleep 0.05
    done
    echo "server did not listen on $port within 10 s: $cmd" >&2
    kill -KILL "$SRV_PID" 2>/dev/null
    SRV_PID=
    return 1
}

stop_server() { # PID
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

vmrss_kb() { # PID
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

nfds() { # PID
    ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# run_loadgen PORT SRV_PID LOADGEN_CPU ARGS... -> prints loadgen's last line
# (or a failure line), pinned to LOADGEN_CPU, watching SRV_PID's CPU time.
# PORT is a port on 127.0.0.1, or any address loadgen takes (unix:PATH).
run_loadgen() {
    local port=$1 pid=$2 cpu=$3 line addr
    shift 3
    case $port in
        *[!0-9]*) addr=$port ;;
        *) addr=127.0.0.1:$port ;;
    esac
    line=$(taskset -c "$cpu" "$LOADGEN" "$1" "$addr" "${@:2}" --watch-pid "$pid" 2>>"$LG_ERR" | tail -n 1) || true
    if [ -z "$line" ]; then
        line="mode=$1 msgs_per_s=0 p50_us=0 p99_us=0 errors=-1 failed=1"
    fi
    echo "$line"
}

# cpu_busy_pct [SECS]: how busy all CPUs were over SECS (default 1), in %
# of the machine, from /proc/stat: anything else running (a build, tests)
# disturbs the runs and shows here.
cpu_busy_pct() {
    local a b
    a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep "${1:-1}"
    b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0)}'
}
