#!/usr/bin/env bash
# One fuzz test: runs a libFuzzer target for RUNS executions from a fresh copy of the seed
# corpus (make_corpus's), with a fixed seed so that a failure replays, and fails on any crash,
# sanitizer report, failed check, hang (-timeout) or leak. The input that failed is kept in
# WORKDIR (crash-*, timeout-*, leak-*); replay it with `TARGET FILE`.
#   run_fuzz.sh TARGET SEEDS WORKDIR RUNS MAX_LEN
set -u
target=$1 seeds=$2 dir=$3 runs=$4 max_len=$5
name=$(basename "$target")
rm -rf "$dir"
mkdir -p "$dir/corpus"
start=$(date +%s.%N)
"$target" -runs="$runs" -seed=1 -max_len="$max_len" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$dir/" "$dir/corpus" "$seeds" > "$dir/log.txt" 2>&1
status=$?
end=$(date +%s.%N)
executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.txt")
printf '%s: %s executions in %.1f s, %s inputs in the corpus; exit %d\n' "$name" "${executed:-?}" \
  "$(awk "BEGIN { print $end - $start }")" "$(ls "$dir/corpus" | wc -l)" "$status"
if [ "$status" -ne 0 ] || [ "${executed:-0}" -lt "$runs" ]; then
  tail -n 60 "$dir/log.txt"
  for f in "$dir"/crash-* "$dir"/timeout-* "$dir"/leak-* "$dir"/oom-*; do
    [ -e "$f" ] && { echo "failing input: $f"; od -A d -t x1 "$f" | head -20; }
  done
  exit 1
fi
