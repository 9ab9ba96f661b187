#!/usr/bin/env bash
# The QEMU tracer writing to a file system that is full: the guest must not notice - the
# same output and exit status as a native run - and the tracer must say that writing failed
# and how many bytes of the trace were lost; what was written reads valid in tracebuf-dump.
#   test_qemu_fault.sh tmpfs    PLUGIN DUMP WORKDIR GUEST   (a 2 MiB tmpfs mounted here: root only)
#   test_qemu_fault.sh dev_full PLUGIN DUMP WORKDIR GUEST   (a /dev/full node made here: root only)
# TRACEBUF_TEST_MODE picks the plugin's mode (record by default). Exits 77 (ctest: skipped)
# where the mount or the device node is not allowed; everything mounted is unmounted on any
# exit.
set -u
kind=$1 plugin=$2 dump=$3 dir=$4 guest=$5
plugin_mode=${TRACEBUF_TEST_MODE:-record}
case "$plugin_mode" in
  record) options=buffer=65536 ;;
  ordered) options=buffer=131072,mode=ordered,chunk=4096 ;;
  chunk-double) options=buffer=131072,mode=chunk-double,chunk=4096 ;;
  *) echo "unknown TRACEBUF_TEST_MODE $plugin_mode"; exit 2 ;;
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
  # /dev/full itself would put the plugin's OUT.summary into /dev: the same device, here.
  if ! mknod "$target/full" c 1 7 2> "$dir/mknod.txt"; then
    echo "SKIP: cannot make a device node here: $(cat "$dir/mknod.txt")"
    exit 77
  fi
  # A file system mounted nodev refuses to open it: that is no full disk either.
  if (echo x > "$target/full") 2>&1 | grep -q "No space left on device"; then :; else
    echo "SKIP: the device node does not act as /dev/full here (a nodev file system?)"
    exit 77
  fi
  out=$target/full
  ;;
*) echo "usage: test_qemu_fault.sh tmpfs|dev_full PLUGIN DUMP WORKDIR GUEST"; exit 2 ;;
esac

"$guest" > "$dir/native.txt"
native_status=$?
timeout 300 qemu-x86_64 -plugin "$plugin,out=$out,$options" "$guest" > "$dir/traced.txt" 2> "$dir/stderr.txt"
traced_status=$?
[ "$traced_status" = "$native_status" ] && ok || bad "exit status $traced_status under the tracer, $native_status natively"
cmp -s "$dir/native.txt" "$dir/traced.txt" && ok || bad "the guest's output differs under the tracer"
cat "$dir/stderr.txt"
report=$(grep "^tracebuf: writing $out failed: No space left on device; [0-9]* bytes of the trace lost" "$dir/stderr.txt")
[ -n "$report" ] && ok || bad "no report of the failed write and the bytes lost"
lost=$(echo "$report" | sed -n 's/.*; \([0-9]*\) bytes of the trace lost.*/\1/p')
kept=$(echo "$report" | sed -n 's/.*the file holds the first \([0-9]*\) bytes.*/\1/p')
[ "${lost:-0}" -gt 0 ] && ok || bad "no bytes reported lost"

if [ "$kind" = tmpfs ]; then
  size=$(stat -c %s "$out")
  [ "$size" = "${kept:-}" ] && ok || bad "the file holds $size bytes, the report says ${kept:-?}"
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
echo "qemu fault ($kind, $plugin_mode): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
