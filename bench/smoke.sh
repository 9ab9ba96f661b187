#!/usr/bin/env bash
# CI smoke mode: every benchmark once, briefly, then the report script on its JSON.
# Fails on errors only, never on time.  usage: smoke.sh TRACEBUF_BENCH REPORT_PY OUT_DIR
set -euo pipefail
bench=$1 report=$2 out=$3
mkdir -p "$out"
TRACEBUF_BENCH_DIR="$out" "$bench" --benchmark_min_time=0.001 \
  --benchmark_out="$out/smoke.json" --benchmark_out_format=json > "$out/smoke.txt"
python3 "$report" "$out/smoke.json" "$out/report"
for f in results.md throughput-24B-big.svg throughput-16B-l2.svg; do
  test -s "$out/report/$f" || { echo "bench smoke: $f missing"; exit 1; }
done
count=$(grep -c '"run_name"' "$out/smoke.json")
echo "bench smoke: $count benchmarks ran, report written"
