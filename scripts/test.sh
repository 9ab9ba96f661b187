#!/usr/bin/env bash
# The whole test suite: the optimised build, then AddressSanitizer + UndefinedBehavior-
# Sanitizer, then ThreadSanitizer. Installs missing Debian packages first.
#   scripts/test.sh                  all three
#   scripts/test.sh default          one of: default asan tsan
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then presets=(default asan tsan); fi
for preset in "${presets[@]}"; do
  echo "=== tracebuf: ${preset} ==="
  start=$(date +%s)
  cmake --workflow --preset "$preset"
  echo "=== tracebuf: ${preset} passed in $(( $(date +%s) - start )) s ==="
done
