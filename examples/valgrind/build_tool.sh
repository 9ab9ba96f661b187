#!/usr/bin/env bash
# Builds the Valgrind tool as a Valgrind tool must be built, outside CMake's usual flags:
# a freestanding C++ object, linked statically against Debian's libcoregrind and libvex,
# then a tool directory for VALGRIND_LIB (the tool plus links to the installed tools).
#   build_tool.sh CXX CC SOURCE INCLUDE_DIR OUT_DIR
set -euo pipefail
cxx=$1 cc=$2 source=$3 include=$4 out=$5
vglib=/usr/lib/x86_64-linux-gnu/valgrind
mkdir -p "$out/lib"
"$cxx" -DVGA_amd64=1 -DVGO_linux=1 -DVGP_amd64_linux=1 -DVGPV_amd64_linux_vanilla=1 \
  -O2 -g -DNDEBUG -fno-strict-aliasing -fno-builtin -fno-stack-protector -fomit-frame-pointer \
  -fno-pie -std=c++17 -ffreestanding -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables \
  -fno-threadsafe-statics -nostdlib -Wall -Wextra -Werror \
  -isystem /usr/include/valgrind -I"$include" -c "$source" -o "$out/tracebuf_valgrind.o"
"$cc" -static -nodefaultlibs -nostartfiles -u _start -no-pie -Wl,--build-id=none \
  -Wl,-Ttext-segment=0x58000000 "$out/tracebuf_valgrind.o" \
  "$vglib/libcoregrind-amd64-linux.a" "$vglib/libvex-amd64-linux.a" -lgcc \
  "$vglib/libgcc-sup-amd64-linux.a" -o "$out/lib/tracebuf-amd64-linux"
for f in /usr/libexec/valgrind/* "$vglib"/*; do
  ln -sf "$f" "$out/lib/$(basename "$f")"
done
