#!/usr/bin/env bash
# End to end: the native example writes a trace, tracebuf-dump validates it; then
# tracebuf-dump must reject damaged copies (a hole, a truncated record, a bad length) with
# exit status 1, and usage or I/O errors with 2.
# usage: test_dump.sh TRACE_WORKERS TRACEBUF_DUMP WORKDIR
set -u
workers=$1 dump=$2 dir=$3
mkdir -p "$dir"
pass=0 fail=0
check() { # description, expected status, command...
  local what=$1 want=$2; shift 2
  "$@" > "$dir/out.txt" 2>&1
  local got=$?
  if [ "$got" -eq "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $what: exit $got, expected $want"; cat "$dir/out.txt"; fi
}
grep_out() { # description, pattern
  if grep -q -- "$2" "$dir/out.txt"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1: no '$2' in:"; cat "$dir/out.txt"; fi
}

trace=$dir/workers.trace
check "example runs" 0 "$workers" --out="$trace" --threads=8 --records=50000 --buffer=65536
grep_out "example reports flushes" "flushes of a 65536-byte buffer"
check "dump accepts the example's trace" 0 "$dump" "$trace"
grep_out "threads counted" "^threads: 8$"
grep_out "loads counted" "LOAD .* 300002 "
grep_out "verdict" "^valid$"

check "--verify wants a tracer's SUMMARY" 1 "$dump" --verify "$trace"
grep_out "missing summary reported" "no SUMMARY record"

size=$(stat -c %s "$trace")
# Damage the first record, whose start is known (offset 0): its footprint from its length.
first_len=$(od -An -tu2 -j2 -N2 "$trace" | tr -d ' ')
first=$(( (first_len + 7) / 8 ))
cp "$trace" "$dir/hole.trace"
dd if=/dev/zero of="$dir/hole.trace" bs=8 count=$first conv=notrunc status=none
check "dump rejects a hole" 1 "$dump" "$dir/hole.trace"
grep_out "hole reported" "^holes: 1 ($((first * 8)) bytes), first at offset 0"
grep_out "the rest is still counted" "^records: $(( 300010 - 1 ))$"

head -c $((size - 4)) "$trace" > "$dir/truncated.trace"
check "dump rejects a truncated file" 1 "$dump" "$dir/truncated.trace"
grep_out "truncation reported" "runs past the end"

cp "$trace" "$dir/length.trace"
printf '\x00\x20' | dd of="$dir/length.trace" bs=1 seek=2 conv=notrunc status=none
check "dump rejects a record longer than the maximum" 1 "$dump" "$dir/length.trace"
grep_out "length reported" "bad record at offset 0: length above"
check "--max-record is honoured" 1 "$dump" --max-record=16 "$trace"
check "--max-record below one header is refused" 2 "$dump" --max-record=3 "$trace"

: > "$dir/empty.trace"
check "an empty trace is valid" 0 "$dump" "$dir/empty.trace"
check "missing file" 2 "$dump" "$dir/does-not-exist"
check "no arguments" 2 "$dump"
check "bad option" 2 "$dump" --frobnicate "$trace"

echo "tracebuf-dump: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
