#!/usr/bin/env bash
# End to end: the native example writes a trace, tracebuf-dump validates it; then
# tracebuf-dump must reject damaged copies (a hole, a truncated record, a bad length) with
# exit status 1, and usage or I/O errors with 2. A hand-made trace with THREAD and SUMMARY's
# old tags must verify and export; --export-memtrace must pass memtrace_check, and leave no
# file behind when the trace is bad.
# usage: test_dump.sh TRACE_WORKERS TRACEBUF_DUMP MEMTRACE_CHECK WORKDIR
set -u
workers=$1 dump=$2 memtrace_check=$3 dir=$4
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
rm -f "$trace"
check "example runs" 0 "$workers" --out="$trace" --threads=8 --records=50000 --buffer=65536
grep_out "example reports flushes" "flushes of a 65536-byte buffer"
check "dump accepts the example's trace" 0 "$dump" "$trace"
grep_out "threads counted" "^threads: 8$"
grep_out "loads counted" "LOAD .* 300002 "
grep_out "verdict" "^valid$"

check "--verify without a SUMMARY counts per thread" 0 "$dump" --verify "$trace"
grep_out "missing summary reported" "no SUMMARY record"
grep_out "per-thread counts without a summary" "^verify: 8 threads, .* no summary to compare with: consistent$"

size=$(stat -c %s "$trace")
# Damage the first record, whose start is known (offset 0): its footprint from its length.
first_len=$(od -An -tu2 -j2 -N2 "$trace" | tr -d ' ')
first=$(( (first_len + 7) / 8 ))
cp "$trace" "$dir/hole.trace"
dd if=/dev/zero of="$dir/hole.trace" bs=8 count=$first conv=notrunc status=none
check "dump --strict rejects a hole" 1 "$dump" --strict "$dir/hole.trace"
grep_out "hole reported" "^holes: 1 ($((first * 8)) bytes), first at offset 0"
grep_out "the rest is still counted" "^records: $(( 300010 - 1 ))$"

head -c $((size - 4)) "$trace" > "$dir/truncated.trace"
check "dump --strict rejects a truncated file" 1 "$dump" --strict "$dir/truncated.trace"
grep_out "truncation reported" "runs past the end"
# By default the same damage reads as a trace that ended abnormally: valid up to the last
# whole record, and --recover cuts what follows.
check "dump reads a hole at the start as where reading stops" 0 "$dump" "$dir/hole.trace"
grep_out "hole of unknown length" "^stopped at offset 0: a hole of unknown length"
check "dump reads a file cut inside a record" 0 "$dump" "$dir/truncated.trace"
grep_out "cut record reported" "the file ends inside a record"
cp "$dir/truncated.trace" "$dir/recover.trace"
check "--recover cuts after the last whole record" 0 "$dump" --recover "$dir/recover.trace"
grep_out "recovery reported" "^recovered: covered 0 holes with padding and cut the file to"
check "a recovered file reads valid in --strict" 0 "$dump" --strict "$dir/recover.trace"
head -c 4096 /dev/zero >> "$dir/recover.trace"
check "a zero tail is reported" 0 "$dump" "$dir/recover.trace"
grep_out "zero tail reported" "^zero tail: 4096 bytes"

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

# ---- a hand-made trace with the old THREAD (0x4d52) and SUMMARY (0x4d53) tags ----
# le VALUE BYTES: VALUE little-endian; record TAG PAYLOAD_BYTES FIELDS...: a record, padded.
le() { local out="" i; for ((i = 0; i < $2; i++)); do out+=$(printf '\\x%02x' $(( ($1 >> (8 * i)) & 0xff ))); done; printf "$out"; }
record() {
  local tag=$1 n=$2; shift 2
  le "$tag" 2; le $((4 + n)) 2
  while [ $# -gt 0 ]; do le "$1" "$2"; shift 2; done
  local pad=$(( (8 - (4 + n) % 8) % 8 )); [ "$pad" -gt 0 ] && le 0 "$pad"
}
old=$dir/old-tags.trace
{
  record 0x4d38 20 62 2 0 2 0x1122334455667788 8 0x99aabbccddeeff00 8   # HEADER, a trace id
  record 0x4d52 12 77 4 78 4 0 4                                        # THREAD pid 77 tid 78 serial 0
  record 0x4d44 14 0 4 0x401000 8 0 1 0x90 1                            # INSN seq 0 (old traces count from 0)
  record 0x4d47 4 0 4                                                   # INSN_EXEC
  record 0x4d41 20 0 4 0x7000 8 42 8                                    # LOAD of 42
  record 0x4e52 12 77 4 79 4 1 4                                        # THREAD in slot 1: tid 79, serial 1
  record 0x4e47 4 0 4                                                   # slot 1: INSN_EXEC of the same insn
  record 0x4d53 40 2 4 2 4 0 4 78 4 4 8 1 4 79 4 2 8                    # SUMMARY: 2 of 2; 4 and 2 records
} > "$old"
check "dump verifies a trace with the old tags" 0 "$dump" --verify "$old"
grep_out "old tags noted" "^note: 3 THREAD and SUMMARY records with the old tags"
grep_out "old THREAD named" "THREAD-OLD"
grep_out "old-tag counts match" "^verify: 2 threads, 6 records attributed, summary 6: match$"
rm -f "$dir/old.memtrace"
check "the old-tag trace exports" 0 "$dump" --export-memtrace="$dir/old.memtrace" "$old"
grep_out "export counts" "2 executions, 2 instructions (1 second numbers)"
check "its export keeps memtrace's rules" 0 "$memtrace_check" "$dir/old.memtrace"
grep_out "both executions, two numbers" "ok: 6 records, 2 INSN, 2 executions, 1 LOAD"
check "--thread=1 exports one thread" 0 "$dump" --export-memtrace="$dir/old1.memtrace" --thread=1 "$old"
check "its export keeps memtrace's rules" 0 "$memtrace_check" "$dir/old1.memtrace"
grep_out "one execution" "ok: 3 records, 1 INSN, 1 executions, 0 LOAD"

# ---- bad input to the export: exit 1, the offset named, nothing left behind ----
rm -f "$dir/bad.memtrace"
check "a trace without a HEADER is not exported" 1 "$dump" --export-memtrace="$dir/bad.memtrace" "$trace"
grep_out "the reason, with its offset" "offset 0: the trace does not start with a HEADER record; no export written"
head -c $(( $(stat -c %s "$old") - 4 )) "$old" > "$dir/old-truncated.trace"
# A file that ends inside a record is what a killed writer leaves: its whole records export.
check "a truncated trace exports its whole records" 0 "$dump" --export-memtrace="$dir/cut.memtrace" "$dir/old-truncated.trace"
grep_out "truncation at the last record" "incomplete: the trace ended abnormally; exported its whole records up to offset 120 "
check "the cut trace's export keeps memtrace's rules" 0 "$memtrace_check" "$dir/cut.memtrace"
rm -f "$dir/cut.memtrace"
cp "$old" "$dir/old-length.trace"
printf '\x00\x20' | dd of="$dir/old-length.trace" bs=1 seek=122 conv=notrunc status=none
check "a trace with a bad length is not exported" 1 "$dump" --export-memtrace="$dir/bad.memtrace" "$dir/old-length.trace"
grep_out "the bad record named" "offset 120: length above the maximum"
[ ! -e "$dir/bad.memtrace" ] && ok_files=1 || ok_files=0
ls "$dir"/*.partial-* > /dev/null 2>&1 && ok_files=0
if [ "$ok_files" = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a failed export left a file"; fi
check "--thread needs --export-memtrace" 2 "$dump" --thread=1 "$old"
check "--export-memtrace with --verify is refused" 2 "$dump" --verify --export-memtrace="$dir/x" "$old"
check "the export would overwrite its input" 2 "$dump" --export-memtrace="$old" "$old"

# ---- trace files are private to their owner and never written through a link ----
# A trace holds every value the program loaded: mode 0600 (under a umask that would allow
# 0644), also for a file that existed with 0644; a symbolic link at the path is refused,
# named, and its target left as it was.
same() { # description, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: '$3', expected '$2'"; fi
}
umask 022
same "the example's trace is 0600" 600 "$(stat -c %a "$trace")"
same "the export is 0600" 600 "$(stat -c %a "$dir/old.memtrace")"
echo old > "$dir/was-public.trace" && chmod 644 "$dir/was-public.trace"
check "the example overwrites an existing trace" 0 "$workers" --out="$dir/was-public.trace" --threads=1 --records=10
same "an existing 0644 trace becomes 0600" 600 "$(stat -c %a "$dir/was-public.trace")"
echo "the victim's data" > "$dir/victim"
ln -sfn "$dir/victim" "$dir/link.trace"
check "the example refuses a symbolic link" 1 "$workers" --out="$dir/link.trace" --threads=1 --records=10
grep_out "the refusal names the path" "$dir/link.trace: is a symbolic link: refused"
ln -sfn "$dir/victim" "$dir/link.memtrace"
check "the export refuses a symbolic link" 2 "$dump" --export-memtrace="$dir/link.memtrace" "$old"
grep_out "the export's refusal names the path" "$dir/link.memtrace: is a symbolic link: refused"
same "the link's target is untouched" "the victim's data" "$(cat "$dir/victim")"
[ -L "$dir/link.trace" ] && [ -L "$dir/link.memtrace" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: a link was replaced"; }
rm -f "$dir/does-not-exist-yet"
ln -sfn "$dir/does-not-exist-yet" "$dir/dangling.trace"
check "a dangling link is refused too" 1 "$workers" --out="$dir/dangling.trace" --threads=1 --records=10
[ ! -e "$dir/does-not-exist-yet" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: a dangling link's target was created"; }

echo "tracebuf-dump: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
