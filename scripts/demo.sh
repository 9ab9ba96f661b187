#!/usr/bin/env bash
# The main job: traces xz -T4 (a real multi-threaded program nobody here wrote) under QEMU
# with the tracebuf plugin, checks that xz's output is byte-identical to a native run, and
# verifies the trace with tracebuf-dump --verify (every record valid; per-thread counts equal
# to the plugin's own summary). Installs missing Debian packages first.
#   scripts/demo.sh [LINES] [MODE]   input size in lines of text (default 10000, about
#                                    450 KB; the trace takes about 2.3 KB per input byte);
#                                    the plugin's mode: record (default), chunk, double,
#                                    chunk-double, ordered (docs/qemu-tracer.md)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
lines=${1:-10000}
mode=${2:-record}
cmake --preset default > /dev/null
cmake --build --preset default --target tracebuf_qemu tracebuf-dump
dir=build/default/demo
mkdir -p "$dir"
seq 1 "$lines" | sed 's/$/ tracebuf records every load and store/' > "$dir/input.txt"
xz -T4 --block-size=65536 -1 -c "$dir/input.txt" > "$dir/native.xz"
build/default/qemu/tracebuf-qemu --out="$dir/xz.trace" --mode="$mode" -- \
  xz -T4 --block-size=65536 -1 -c "$dir/input.txt" > "$dir/traced.xz"
cmp "$dir/native.xz" "$dir/traced.xz"
echo "xz output under the tracer: identical to the native run"
build/default/tools/tracebuf-dump --verify "$dir/xz.trace"
