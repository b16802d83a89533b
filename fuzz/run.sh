#!/usr/bin/env bash
# Runs the fuzz targets for SECONDS each (default 120), two at a time, from the committed
# seeds (fuzz/seeds/) plus what earlier runs found (fuzz/corpus/). The budget per input: a
# single allocation over 8 MiB or one input running over 1 s is a failure (the readers' own
# budgets keep a whole input to a few MiB); 2 GiB resident bounds AddressSanitizer's
# quarantine. Needs the nightly toolchain and cargo-fuzz. Usage: fuzz/run.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-120}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(pickle stored_session signed_string expiry cookie_header)
mkdir -p logs
cargo +nightly fuzz build
run() {
    mkdir -p "corpus/$1"
    if cargo +nightly fuzz run "$1" "corpus/$1" "seeds/$1" -- \
        -max_total_time="$SECONDS_EACH" -malloc_limit_mb=8 -rss_limit_mb=2048 -timeout=1 \
        -max_len=65536 -print_final_stats=1 > "logs/$1.log" 2>&1; then
        echo "$1: clean, $(grep -o 'stat::number_of_executed_units: [0-9]*' "logs/$1.log" | grep -o '[0-9]*$') inputs in ${SECONDS_EACH} s"
    else
        echo "$1: FAILED (fuzz/logs/$1.log)"
    fi
}
i=0
for t in "${TARGETS[@]}"; do
    run "$t" &
    i=$((i + 1))
    if [ $((i % 2)) -eq 0 ]; then wait; fi
done
wait
