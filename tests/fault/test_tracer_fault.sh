#!/usr/bin/env bash
# A tracer writing to a file system that is full: the guest must not notice - the same
# output and exit status as a native run - and the tracer must say that writing failed and
# how many bytes of the trace were lost; what was written reads valid in tracebuf-dump.
#   test_tracer_fault.sh tmpfs    TRACER DUMP WORKDIR GUEST   (a 2 MiB tmpfs mounted here: root only)
#   test_tracer_fault.sh dev_full TRACER DUMP WORKDIR GUEST   (/dev/full)
# TRACER: the QEMU plugin (libtracebuf_qemu.so) or the tracebuf-valgrind wrapper.
# TRACEBUF_TEST_MODE picks the plugin's mode (record by default; the Valgrind tool has only
# record mode). Exits 77 (ctest: skipped) where the mount or the device node is not allowed;
# everything mounted is unmounted on any exit.
set -u
kind=$1 tracer=$2 dump=$3 dir=$4 guest=$5
plugin_mode=${TRACEBUF_TEST_MODE:-record}
case "$tracer" in
  *.so) tracer_name=qemu ;;
  *) tracer_name=valgrind ;;
esac
case "$tracer_name/$plugin_mode" in
  */record) options=buffer=65536 ;;
  qemu/ordered) options=buffer=131072,mode=ordered,chunk=4096 ;;
  qemu/chunk-double) options=buffer=131072,mode=chunk-double,chunk=4096 ;;
  *) echo "no TRACEBUF_TEST_MODE $plugin_mode for $tracer_name"; exit 2 ;;
esac
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
mkdir -p "$dir"
target=$dir/target
mounted=0
cleanup() {
  if [ "$mounted" = 1 ]; then umount "$target" || umount -l "$target"; fi
  rm -rf "$target"
}
trap cleanup EXIT
cleanup # a previous run's leftovers
mkdir -p "$target"

case "$kind" in
tmpfs)
  if ! mount -t tmpfs -o size=2m,mode=0700 tracebuf-fault "$target" 2> "$dir/mount.txt"; then
    echo "SKIP: cannot mount a tmpfs here: $(cat "$dir/mount.txt")"
    exit 77
  fi
  mounted=1
  out=$target/guest.trace
  ;;
dev_full)
  # /dev/full itself: no tracer makes a file beside a device.
  [ -c /dev/full ] || { echo "SKIP: no /dev/full"; exit 77; }
  out=/dev/full
  ;;
*) echo "usage: test_tracer_fault.sh tmpfs|dev_full TRACER DUMP WORKDIR GUEST"; exit 2 ;;
esac

"$guest" > "$dir/native.txt"
native_status=$?
if [ "$tracer_name" = qemu ]; then
  timeout 300 qemu-x86_64 -plugin "$tracer,out=$out,$options" "$guest" > "$dir/traced.txt" 2> "$dir/stderr.txt"
else
  timeout 300 "$tracer" --out="$out" --buffer="${options#buffer=}" -- "$guest" > "$dir/traced.txt" 2> "$dir/stderr.txt"
fi
traced_status=$?
[ "$traced_status" = "$native_status" ] && ok || bad "exit status $traced_status under the tracer, $native_status natively"
cmp -s "$dir/native.txt" "$dir/traced.txt" && ok || bad "the guest's output differs under the tracer"
cat "$dir/stderr.txt"
# (Valgrind starts its tool's lines with ==PID==.)
report=$(grep -E "^(==[0-9]+== )?tracebuf: writing $out failed: No space left on device; [0-9]+ bytes of the trace lost" "$dir/stderr.txt")
[ -n "$report" ] && ok || bad "no report of the failed write and the bytes lost"
lost=$(echo "$report" | sed -n 's/.*; \([0-9]*\) bytes of the trace lost.*/\1/p')
kept=$(echo "$report" | sed -n 's/.*the file holds the first \([0-9]*\) bytes.*/\1/p')
[ "${lost:-0}" -gt 0 ] && ok || bad "no bytes reported lost"

if [ "$kind" = tmpfs ]; then
  size=$(stat -c %s "$out")
  if [ "$tracer_name" = qemu ]; then
    [ "$size" = "${kept:-}" ] && ok || bad "the file holds $size bytes, the report says ${kept:-?}"
  else
    # No ftruncate in Valgrind's tool interface: what reached the file of the failed flush
    # is zeros, which the reader takes for the trace's end.
    nonzero=$(tail -c +$((${kept:-0} + 1)) "$out" | tr -d '\0' | wc -c)
    [ "$size" -ge "${kept:-0}" ] && [ "$nonzero" = 0 ] && ok \
      || bad "the file holds $size bytes, the report says ${kept:-?}, and $nonzero bytes past it are not zero"
  fi
  [ "$size" -gt 0 ] && [ "$size" -le $((2 * 1024 * 1024)) ] && ok || bad "trace of $size bytes on a 2 MiB file system"
  # Every record the file holds is whole and valid. --verify cannot match: the SUMMARY,
  # written at exit, is among the bytes lost - that, and only that, is what it may report.
  "$dump" "$out" > "$dir/dump.txt" && ok || { bad "tracebuf-dump: the trace written so far is not valid"; cat "$dir/dump.txt"; }
  if "$dump" --verify "$out" > "$dir/verify.txt"; then
    ok
  else
    grep -q "^verify: no SUMMARY record" "$dir/verify.txt" && ! grep -q "^invalid: bad record\|^invalid: the trace has holes" "$dir/verify.txt" \
      && ok || { bad "tracebuf-dump --verify finds more than the missing SUMMARY"; cat "$dir/verify.txt"; }
  fi
  grep "^records:\|^threads:\|^verify:" "$dir/dump.txt" "$dir/verify.txt"
else
  [ "${kept:-}" = 0 ] && ok || bad "/dev/full kept ${kept:-?} bytes"
fi
echo "$tracer_name fault ($kind, $plugin_mode): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
