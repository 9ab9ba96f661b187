#!/usr/bin/env bash
# Installs the tracebuf build tree into a scratch prefix and builds the consumer against
# it (find_package), then builds the consumer with tracebuf as a subdirectory (C++20).
# usage: run.sh TRACEBUF_SOURCE_DIR TRACEBUF_BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 build=$2 work=$3
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" > /dev/null
cmake -S "$src/tests/consumer" -B "$work/installed" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/installed" > /dev/null
"$work/installed/consumer"
# The subdirectory build also checks that the headers build as C++20.
cmake -S "$src/tests/consumer" -B "$work/subdir" -DTRACEBUF_SOURCE_DIR="$src" -DCMAKE_CXX_STANDARD=20 > /dev/null
cmake --build "$work/subdir" > /dev/null
"$work/subdir/consumer"
test -f "$work/prefix/include/tracebuf/trace_buffer.hpp"
test -f "$work/prefix/lib/cmake/tracebuf/tracebufConfigVersion.cmake" || \
  test -f "$work/prefix/lib/x86_64-linux-gnu/cmake/tracebuf/tracebufConfigVersion.cmake"
