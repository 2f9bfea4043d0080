#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets on the stable toolchain.
#
#   fuzz/run.sh [TARGET|all] MINUTES     fuzz each target for MINUTES
#   fuzz/run.sh cmin [TARGET|all]        minimize the committed corpus (edges only,
#                                        so it stays small: tens of files)
#
# Targets: read_machine packed addr tls. RUSTC_BOOTSTRAP=1 lets stable
# rustc take the nightly flags cargo-fuzz passes (-Zsanitizer, sancov).
# SANITIZER=none (default; our crates have no unsafe) or address.
# New inputs go to fuzz/target/corpus/<target> (the committed
# fuzz/corpus/<target> only seeds the run); crashes to fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
SAN=${SANITIZER:-none}
ALL=(read_machine packed addr tls)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

pick() { if [ "${1:-all}" = all ]; then echo "${ALL[@]}"; else echo "$1"; fi; }

if [ "${1:-}" = cmin ]; then
    for t in $(pick "${2:-all}"); do
        mkdir -p "target/corpus/$t"
        rm -rf "target/cmin-$t" && mkdir -p "target/cmin-$t"
        cargo fuzz run -s "$SAN" -a "$t" "target/cmin-$t" "corpus/$t" "target/corpus/$t" \
            -- -set_cover_merge=1 -use_counters=0 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files|MERGE-OUTER: [0-9]+ files" || true
        [ -n "$(ls "target/cmin-$t")" ] || { echo "$t: the merge failed; corpus kept"; exit 1; }
        # Inputs that found a bug stay, under their names (unit tests name them).
        find "corpus/$t" -name 'regression-*' -exec cp {} "target/cmin-$t/" \;
        rm -rf "corpus/$t" && mv "target/cmin-$t" "corpus/$t"
        echo "$t: $(ls "corpus/$t" | wc -l) files, $(du -sk "corpus/$t" | cut -f1) KiB"
    done
    exit 0
fi

TARGETS=$(pick "${1:-all}")
MINUTES=${2:-5}
mkdir -p target/logs
cargo fuzz build -s "$SAN" -a
printf '%-13s %12s %8s %7s %8s %8s\n' target execs exec/s cov ft corpus
for t in $TARGETS; do
    mkdir -p "target/corpus/$t" "corpus/$t"
    log="target/logs/$t.log"
    cargo fuzz run -s "$SAN" -a "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time=$((MINUTES * 60)) -print_final_stats=1 >"$log" 2>&1 || {
        echo "$t: FAILED, see fuzz/$log and fuzz/artifacts/$t/"; tail -30 "$log"; exit 1; }
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    execs=$(grep -oE 'stat::number_of_executed_units:[[:space:]]+[0-9]+' "$log" | grep -oE '[0-9]+$')
    rate=$(grep -oE 'stat::average_exec_per_sec:[[:space:]]+[0-9]+' "$log" | grep -oE '[0-9]+$')
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last" | cut -d' ' -f2)
    printf '%-13s %12s %8s %7s %8s %8s\n' "$t" "$execs" "$rate" "$cov" "$ft" "$corp"
done
