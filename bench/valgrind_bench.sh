#!/usr/bin/env bash
# Wall time of xz -T4 under Valgrind: the none tool, lackey (its default basic counts), and
# the tracebuf tool writing a trace to a real file and to /dev/null. Median of 3 runs, written
# to docs/bench/valgrind.md.
#   bench/valgrind_bench.sh [LINES]    input size (default 10000 lines, about 450 KB)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
lines=${1:-10000}
cmake --preset default > /dev/null
cmake --build --preset default --target tracebuf_valgrind > /dev/null
dir=build/default/valgrind-bench
mkdir -p "$dir"
seq 1 "$lines" | sed 's/$/ tracebuf records every load and store/' > "$dir/input.txt"
xz_args=(/usr/bin/xz -T4 --block-size=65536 -1 -c "$dir/input.txt")
tool_lib=$PWD/build/default/valgrind/lib

median3() { # command...: median wall seconds of 3 runs
  local times=()
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > "$dir/out.xz" 2> /dev/null
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')")
    rm -f "$dir/trace"
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

native=$(median3 "${xz_args[@]}")
none=$(median3 valgrind --tool=none "${xz_args[@]}")
lackey=$(median3 valgrind --tool=lackey "${xz_args[@]}")
tb_file=$(VALGRIND_LIB=$tool_lib median3 valgrind --tool=tracebuf --out="$dir/trace" "${xz_args[@]}")
tb_null=$(VALGRIND_LIB=$tool_lib median3 valgrind --tool=tracebuf --out=/dev/null "${xz_args[@]}")
VALGRIND_LIB=$tool_lib valgrind --tool=tracebuf --out="$dir/trace" "${xz_args[@]}" > /dev/null 2> "$dir/tool.txt"
bytes=$(stat -c %s "$dir/trace"); rm -f "$dir/trace"

{
  echo "# The Valgrind tool against Valgrind's own tools"
  echo
  echo "\`bench/valgrind_bench.sh $lines\` on $(date -u +%Y-%m-%d): \`xz -T4 --block-size=65536 -1\` on"
  echo "$(stat -c %s "$dir/input.txt") bytes of text under Valgrind 3.19 ($(nproc) cores; Valgrind runs one"
  echo "thread at a time). Median wall time of 3 runs; native xz: ${native} s. The tracebuf tool"
  echo "records every instruction, load and store with its value ($bytes bytes of trace)."
  echo
  echo "| tool | wall (s) | ÷ none |"
  echo "|---|---|---|"
  echo "| none | $none | 1.00 |"
  echo "| lackey (basic counts) | $lackey | $(ratio "$lackey" "$none") |"
  echo "| tracebuf, real file | $tb_file | $(ratio "$tb_file" "$none") |"
  echo "| tracebuf, /dev/null | $tb_null | $(ratio "$tb_null" "$none") |"
  echo
  echo "The tracebuf tool's fast path is inline IR (a load, an add, a store and a compare on the"
  echo "position word, then the record's stores); only a full buffer calls a helper. lackey calls"
  echo "a helper for every instruction and every superblock."
} > docs/bench/valgrind.md
cat docs/bench/valgrind.md
