#!/usr/bin/env bash
# Installs the Debian 12 packages tracebuf's build, tests, examples and benchmarks need -
# only those that are missing. Run as root (or with sudo available).
#   scripts/install-deps.sh          everything
set -euo pipefail

packages=(
  g++ cmake ninja-build
  libboost-atomic1.81-dev libboost-test1.81-dev  # Boost.Atomic wait/notify needs >= 1.79
  libbenchmark-dev python3                       # benchmarks and their report
  libconcurrentqueue-dev liburcu-dev             # the benchmarks' peers
  qemu-user xz-utils                             # the QEMU tracer, its demo and tests
  valgrind                                       # the Valgrind tool and its tests
  relacy-dev spin                                # model checking: Relacy, a Promela model
  clang-14 libfuzzer-14-dev libclang-rt-14-dev   # libFuzzer targets
  clang-format-14                                # the layout check (.clang-format)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "tracebuf: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
