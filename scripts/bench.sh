#!/usr/bin/env bash
# The full benchmark: every strategy in one run (5 repetitions, medians), then the report.
# Writes docs/bench/results.json, results.md and the throughput plots. Takes a few minutes;
# run it on an otherwise idle machine. Installs missing Debian packages first.
#   scripts/bench.sh [extra tracebuf_bench options...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default > /dev/null
cmake --build --preset default --target tracebuf_bench
mkdir -p docs/bench
TRACEBUF_BENCH_DIR=build/default build/default/bench/tracebuf_bench --benchmark_filter=-^stall/ \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
  --benchmark_out=docs/bench/results.json --benchmark_out_format=json "$@"
# The flush stalls: one long run each (a 64 MiB flush every ~0.1-1 s), percentiles over all
# its flushes.
TRACEBUF_BENCH_DIR=build/default build/default/bench/tracebuf_bench --benchmark_filter='^stall/.*/64MiB/' \
  --benchmark_min_time=6 --benchmark_out=docs/bench/stall.json --benchmark_out_format=json "$@"
python3 bench/report.py docs/bench/results.json docs/bench/stall.json docs/bench
