#!/usr/bin/env bash
# The main job until a tracer exists: builds the native example, runs it (8 threads write
# one trace while two of them block in read(2)), and validates the trace with
# tracebuf-dump. Installs missing Debian packages first.
#   scripts/demo.sh [trace_workers options...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default > /dev/null
cmake --build --preset default --target trace_workers tracebuf-dump
trace=build/default/demo.trace
build/default/examples/trace_workers --out="$trace" "$@"
build/default/tools/tracebuf-dump "$trace"
