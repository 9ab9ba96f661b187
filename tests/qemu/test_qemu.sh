#!/usr/bin/env bash
# The QEMU tracer end to end: a program runs natively and under tracebuf-qemu; its output
# must be identical, tracebuf-dump --verify must find every record valid and the
# per-thread counts equal to the plugin's own summary, and the trace's export for memtrace
# (all threads, and one) must keep memtrace's reader rules (MEMTRACE_CHECK). The trace has a
# trace id, numbers instructions from 1, and its MMAP records cover every instruction's pc.
#   test_qemu.sh guest WRAPPER DUMP MEMTRACE_CHECK WORKDIR GUEST     (the multi-threaded test program)
#   test_qemu.sh xz    WRAPPER DUMP MEMTRACE_CHECK WORKDIR           (xz -T4, which nobody here wrote)
#   test_qemu.sh baselines WRAPPER DUMP MEMTRACE_CHECK WORKDIR GUEST (the benchmark's peer plugins)
#   test_qemu.sh crash WRAPPER DUMP MEMTRACE_CHECK WORKDIR GUEST_CRASH FINDER
#                      (a guest that dies of SIGSEGV and of abort(): the trace reads valid and
#                      holds the marker's STORE - trace_find_store)
#   test_qemu.sh kill  WRAPPER DUMP MEMTRACE_CHECK WORKDIR   (xz -T4 killed with SIGKILL)
#   test_qemu.sh order WRAPPER DUMP MEMTRACE_CHECK WORKDIR PROBES CHECKER
#                      (order_probes traced: the counter's stores in increment order, every
#                      message read after its write - trace_order_check)
# TRACEBUF_TEST_MODE picks the plugin's mode: record (default), chunk, double, chunk-double,
# ordered;
# TRACEBUF_TEST_DIRECT=1 writes the trace with O_DIRECT (the plugin's direct=1);
# TRACEBUF_TEST_REPEAT runs the guest program that many times (a lost wake-up in the idle
# protocol once showed up as a hang in one run of five). Every traced run has a time limit,
# so that a hang fails the test in minutes, not at ctest's timeout.
set -u
mode=$1 wrapper=$2 dump=$3 memtrace_check=$4 dir=$5
plugin_mode=${TRACEBUF_TEST_MODE:-record}
# The guest test's buffer: 64 KiB, or 2 x 64 KiB double-buffered; 4 KiB chunks, so that
# each of the guest's threads has chunks to fill in it.
case "$plugin_mode" in
  record) guest_options=(--buffer=65536) ;;
  chunk) guest_options=(--buffer=65536 --mode=chunk --chunk=4096) ;;
  double) guest_options=(--buffer=131072 --mode=double) ;;
  chunk-double) guest_options=(--buffer=131072 --mode=chunk-double --chunk=4096) ;;
  ordered) guest_options=(--buffer=131072 --mode=ordered --chunk=4096) ;;
  *) echo "unknown TRACEBUF_TEST_MODE $plugin_mode"; exit 2 ;;
esac
direct_option=()
[ "${TRACEBUF_TEST_DIRECT:-0}" = 1 ] && direct_option=(--direct)
mkdir -p "$dir"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
summary_field() { sed -n "s/^  $1: \\([0-9]*\\).*/\\1/p" "$dir/stderr.txt"; }

case "$mode" in
guest)
  guest=$6
  "$guest" > "$dir/native.txt" || bad "native run failed"
  # A 64 KiB buffer: hundreds of flushes while threads block, come and go, and fork.
  umask 022
  for run in $(seq 1 "${TRACEBUF_TEST_REPEAT:-1}"); do
    timeout 120 "$wrapper" --out="$dir/guest.trace" "${guest_options[@]}" "${direct_option[@]}" -- "$guest" > "$dir/traced.txt" \
      2> "$dir/stderr.txt" && ok || bad "traced run $run failed or hung (status $?): $(cat "$dir/stderr.txt")"
  done
  cmp -s "$dir/native.txt" "$dir/traced.txt" && ok || bad "output differs under the tracer"
  # Bad arguments are refused with a message on stderr (QEMU's log, where qemu_plugin_outs
  # writes, is off by default).
  plugin=$(dirname "$wrapper")/libtracebuf_qemu.so
  for args in "out=$dir/refused,bogus=1" "out=$dir/refused,buffer=4096" "out=$dir/refused,mode=chunk,chunk=12" \
              "out=$dir/refused,mode=ordered,chunk=40"; do
    if qemu-x86_64 -plugin "$plugin,$args" "$guest" > /dev/null 2> "$dir/refused.txt"; then
      bad "plugin accepted $args"
    else
      grep -q "^tracebuf: " "$dir/refused.txt" && ok || bad "no message for $args: $(cat "$dir/refused.txt")"
    fi
  done
  # The trace and its summary are private to their owner (mode 0600, under a umask that
  # would allow 0644), and neither is ever written through a symbolic link: refused, the
  # path named, the link's target untouched.
  trace_mode=$(stat -c %a "$dir/guest.trace") summary_mode=$(stat -c %a "$dir/guest.trace.summary")
  [ "$trace_mode" = 600 ] && [ "$summary_mode" = 600 ] && ok || bad "trace mode $trace_mode, summary mode $summary_mode (want 600)"
  echo "the victim's data" > "$dir/victim"
  ln -sfn "$dir/victim" "$dir/link.trace"
  if (umask 022; qemu-x86_64 -plugin "$plugin,out=$dir/link.trace" "$guest" > /dev/null 2> "$dir/refused.txt"); then
    bad "plugin wrote through a symbolic link"
  else
    grep -q "^tracebuf: cannot open $dir/link.trace: is a symbolic link: refused" "$dir/refused.txt" && ok \
      || bad "no message for a symbolic link: $(cat "$dir/refused.txt")"
  fi
  rm -f "$dir/linked-summary.trace"
  ln -sfn "$dir/victim" "$dir/linked-summary.trace.summary"
  (umask 022; qemu-x86_64 -plugin "$plugin,out=$dir/linked-summary.trace" "$guest" > /dev/null 2> "$dir/refused.txt") \
    && ok || bad "a link at the summary's path failed the run: $(cat "$dir/refused.txt")"
  grep -q "^tracebuf: cannot open $dir/linked-summary.trace.summary: is a symbolic link: refused" "$dir/refused.txt" \
    && ok || bad "no message for a symbolic link at the summary: $(cat "$dir/refused.txt")"
  [ "$(cat "$dir/victim")" = "the victim's data" ] && [ -L "$dir/link.trace" ] && ok || bad "the link's target was written"
  [ "$(stat -c %a "$dir/linked-summary.trace")" = 600 ] && ok || bad "trace mode $(stat -c %a "$dir/linked-summary.trace")"
  rm -f "$dir/linked-summary.trace"
  # Into a pipe: the trace arrives whole through write(2), and no summary file is made beside
  # it (for /dev/null that would be /dev/null.summary).
  if [ "$plugin_mode" = record ] || [ "$plugin_mode" = ordered ]; then
    rm -f "$dir/pipe" "$dir/pipe.summary"
    mkfifo "$dir/pipe"
    # Limited too: if the tracer never opens the pipe, cat would wait in open(2) for ever.
    timeout 150 cat "$dir/pipe" > "$dir/piped.trace" &
    reader=$!
    timeout 120 "$wrapper" --out="$dir/pipe" "${guest_options[@]}" -- "$guest" > /dev/null 2> "$dir/pipe-stderr.txt" \
      && ok || bad "traced run into a pipe failed: $(cat "$dir/pipe-stderr.txt")"
    wait "$reader"
    [ ! -e "$dir/pipe.summary" ] && ok || bad "a summary file was made beside a pipe"
    grep -q "^tracebuf-qemu: $dir/pipe is not a regular file: no summary file" "$dir/pipe-stderr.txt" && ok \
      || bad "the wrapper did not say why there is no summary: $(cat "$dir/pipe-stderr.txt")"
    "$dump" --verify "$dir/piped.trace" > "$dir/pipe-verify.txt" && grep -q "^verify: .* match$" "$dir/pipe-verify.txt" \
      && ok || bad "the piped trace does not verify: $(tail -3 "$dir/pipe-verify.txt")"
    rm -f "$dir/pipe" "$dir/piped.trace"
  fi
  flushes=$(summary_field flushes)
  [ "${flushes:-0}" -ge 100 ] && ok || bad "only ${flushes:-0} flushes (want >= 100)"
  threads=$(summary_field threads)
  [ "${threads:-0}" -eq 25 ] && ok || bad "traced ${threads:-0} threads, want 25 (main + 4 waves of 6)"
  trace=$dir/guest.trace
  ;;
xz)
  command -v xz > /dev/null || { echo "xz not installed"; exit 1; }
  seq 1 10000 | sed 's/$/ tracebuf records every load and store/' > "$dir/input.txt"
  xz -T4 --block-size=65536 -1 -c "$dir/input.txt" > "$dir/native.xz" || bad "native xz failed"
  timeout 300 "$wrapper" --out="$dir/xz.trace" --mode="$plugin_mode" -- xz -T4 --block-size=65536 -1 -c "$dir/input.txt" \
    > "$dir/traced.xz" 2> "$dir/stderr.txt" && ok || bad "traced xz failed or hung (status $?): $(cat "$dir/stderr.txt")"
  cmp -s "$dir/native.xz" "$dir/traced.xz" && ok || bad "xz output differs under the tracer"
  threads=$(summary_field threads)
  [ "${threads:-0}" -ge 3 ] && ok || bad "traced ${threads:-0} threads: xz's workers did not run"
  trace=$dir/xz.trace
  ;;
baselines)
  # The benchmark's peer plugins still load, run the program unchanged and write records.
  guest=$6 base=$(dirname "$wrapper")/libbaseline_qemu.so
  "$guest" > "$dir/native.txt" || bad "native run failed"
  for s in count mutex private; do
    rm -f "$dir"/base.trace*
    qemu-x86_64 -plugin "$base,strategy=$s,out=$dir/base.trace" "$guest" > "$dir/$s.txt" \
      && ok || bad "$s: run failed"
    cmp -s "$dir/native.txt" "$dir/$s.txt" && ok || bad "$s: output differs"
    if [ "$s" != count ]; then
      bytes=$(cat "$dir"/base.trace* 2> /dev/null | wc -c)
      [ "$bytes" -gt 1000000 ] && ok || bad "$s: wrote only $bytes bytes"
    fi
  done
  rm -f "$dir"/base.trace*
  echo "qemu baselines: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
  ;;
order)
  probes=$6 checker=$7
  # The two probes of docs/protocol.md, "Ordered mode": each prints the addresses to check
  # first (they differ between a native and a traced run), then its result.
  run_probe() { # NAME CHECK-KIND PROBE-ARGS...
    local name=$1 kind=$2
    shift 2
    "$probes" "$@" > "$dir/$name.native" || bad "$name: native run failed"
    timeout 600 "$wrapper" --out="$dir/$name.trace" "${guest_options[@]}" -- "$probes" "$@" > "$dir/$name.traced" \
      2> "$dir/stderr.txt" && ok || bad "$name: traced run failed or hung (status $?): $(cat "$dir/stderr.txt")"
    cmp -s <(tail -n +2 "$dir/$name.native") <(tail -n +2 "$dir/$name.traced") && ok || bad "$name: output differs"
    local where
    where=$(head -1 "$dir/$name.traced" | cut -d' ' -f2-)
    # shellcheck disable=SC2086 # the address (and size) are separate arguments
    "$checker" "$kind" $where "$dir/$name.trace" > "$dir/$name.order" && ok || bad "$name: order violated: $(cat "$dir/$name.order")"
    cat "$dir/$name.order"
    "$dump" --verify "$dir/$name.trace" > "$dir/$name.verify" && ok || { bad "$name: tracebuf-dump --verify"; cat "$dir/$name.verify"; }
    rm -f "$dir/$name.trace"
  }
  run_probe spinlock counter spinlock 4 20000
  run_probe message data message 100000
  echo "qemu order ($plugin_mode): $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
  ;;
crash)
  # A guest that stores a marker into a global and dies (SIGSEGV, abort): QEMU runs no
  # plugin callback then (docs/qemu-tracer.md), so the trace is what the file window holds.
  # It must read valid (incomplete, per-thread counts consistent), export for memtrace, and
  # hold the marker's STORE.
  guest=$6 finder=$7
  plugin=$(dirname "$wrapper")/libtracebuf_qemu.so
  case "$plugin_mode" in
    record) options=buffer=65536 ;;
    chunk) options=buffer=65536,mode=chunk,chunk=4096 ;;
    double) options=buffer=131072,mode=double ;;
    chunk-double) options=buffer=131072,mode=chunk-double,chunk=4096 ;;
    ordered) options=buffer=131072,mode=ordered,chunk=4096 ;;
  esac
  for how in segv abort; do
    trace=$dir/crash-$how.trace
    rm -f "$trace" "$trace.summary"
    timeout 120 qemu-x86_64 -plugin "$plugin,out=$trace,$options" "$guest" "$how" > "$dir/crash.txt" 2> "$dir/stderr.txt"
    status=$?
    { [ "$status" -eq 139 ] || [ "$status" -eq 134 ]; } && ok || bad "$how: the guest did not die of its signal (status $status)"
    read -r _ address value < "$dir/crash.txt"
    [ -n "${address:-}" ] && ok || bad "$how: the guest printed no marker"
    [ ! -e "$trace.summary" ] && ok || bad "$how: a summary was written, so the exit hook ran after all"
    "$dump" --verify "$trace" > "$dir/verify.txt" && ok || { bad "$how: tracebuf-dump --verify"; cat "$dir/verify.txt"; }
    grep -q "^incomplete: the tracer did not reach its exit; [1-9][0-9]* records$" "$dir/verify.txt" && ok \
      || bad "$how: not read as an incomplete trace: $(tail -3 "$dir/verify.txt")"
    grep -q "^verify: .* no summary to compare with: consistent$" "$dir/verify.txt" && ok || bad "$how: counts inconsistent"
    grep -q "^header: machine 62, trace id" "$dir/verify.txt" && ok || bad "$how: no HEADER"
    found=$("$finder" "$trace" "$address" "$value")
    [ "${found:-0}" -ge 1 ] && ok || bad "$how: the marker's STORE ($address = $value) is not in the trace"
    export=$dir/crash.memtrace
    if "$dump" --export-memtrace="$export" "$trace" > "$dir/export.txt" 2>&1; then
      ok
      "$memtrace_check" --pcs-mapped "$export" > "$dir/check.txt" && ok || bad "$how: export breaks memtrace's rules: $(cat "$dir/check.txt")"
    else
      bad "$how: export failed: $(cat "$dir/export.txt")"
    fi
    grep "^verify: [0-9]* threads\|^incomplete\|^zero tail\|^stopped\|^holes" "$dir/verify.txt"
    rm -f "$export" "$trace"
  done
  echo "qemu crash ($plugin_mode): $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
  ;;
kill)
  # xz -T4 under the tracer, killed with SIGKILL once it has written a quarter of its output:
  # the trace must read valid up to its last whole record and export for memtrace.
  command -v xz > /dev/null || { echo "xz not installed"; exit 1; }
  plugin=$(dirname "$wrapper")/libtracebuf_qemu.so
  # 150 KB of numbers that compress about 5:1, in nine 16 KiB blocks: xz writes its output
  # in 8 KiB pieces, and the first of its four comes a quarter into the work, with all four
  # threads compressing (about 30 million records). Text that compressed 80:1 wrote its first
  # piece after most of the work, and made a 2 GB trace.
  seq 1 6000 | awk '{ printf "%d tracebuf %d\n", $1, ($1 * 2654435761) % 4294967296 }' > "$dir/input.txt"
  trace=$dir/kill.trace
  # No output of an earlier run: the wait below could see it before the shell truncates it.
  rm -f "$trace" "$dir/traced.xz"
  xz -T4 --block-size=16384 -1 -c "$dir/input.txt" > "$dir/native.xz"
  quarter=$(( $(stat -c %s "$dir/native.xz") / 4 ))
  qemu-x86_64 -plugin "$plugin,out=$trace,mode=$plugin_mode" "$(command -v xz)" -T4 --block-size=16384 -1 -c "$dir/input.txt" \
    > "$dir/traced.xz" 2> "$dir/stderr.txt" &
  pid=$!
  # Wait for xz's output to pass a quarter (or for xz to end, which fails the test): a
  # condition, not a time. (The trace file's size says little: the window preallocates.)
  while kill -0 "$pid" 2> /dev/null && [ "$(stat -c %s "$dir/traced.xz" 2> /dev/null || echo 0)" -lt "$quarter" ]; do
    sleep 0.05
  done
  if kill -KILL "$pid" 2> /dev/null; then ok; else bad "xz ended before it could be killed"; fi
  wait "$pid" 2> /dev/null
  "$dump" --verify "$trace" > "$dir/verify.txt" && ok || { bad "tracebuf-dump --verify"; cat "$dir/verify.txt"; }
  grep -q "^incomplete: the tracer did not reach its exit; [1-9][0-9]* records$" "$dir/verify.txt" && ok \
    || bad "not read as an incomplete trace: $(tail -3 "$dir/verify.txt")"
  grep -q "^verify: .* no summary to compare with: consistent$" "$dir/verify.txt" && ok || bad "counts inconsistent"
  grep "^verify: [0-9]* threads\|^incomplete\|^zero tail\|^stopped\|^holes" "$dir/verify.txt"
  export=$dir/kill.memtrace
  if "$dump" --export-memtrace="$export" "$trace" > "$dir/export.txt" 2>&1; then
    ok
    "$memtrace_check" "$export" > "$dir/check.txt" && ok || bad "export breaks memtrace's rules: $(cat "$dir/check.txt")"
  else
    bad "export failed: $(cat "$dir/export.txt")"
  fi
  cp "$trace" "$dir/recover.trace" 2> /dev/null
  rm -f "$export" "$trace"
  "$dump" --recover "$dir/recover.trace" > "$dir/recover.txt" && ok || bad "--recover failed: $(cat "$dir/recover.txt")"
  "$dump" --strict "$dir/recover.trace" > /dev/null && ok || bad "the recovered trace does not read whole in --strict"
  rm -f "$dir/recover.trace"
  echo "qemu kill ($plugin_mode): $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
  ;;
*) echo "usage: test_qemu.sh guest|xz|baselines|order|crash|kill WRAPPER DUMP MEMTRACE_CHECK WORKDIR [GUEST [CHECKER]]"; exit 2 ;;
esac

"$dump" --verify "$trace" > "$dir/verify.txt" && ok || { bad "tracebuf-dump --verify"; cat "$dir/verify.txt"; }
grep -q "^verify: .* match$" "$dir/verify.txt" && ok || bad "no matching verify line"
grep -q "^header: machine 62, trace id [0-9a-f]\{32\}$" "$dir/verify.txt" && ! grep -q "trace id 0\{32\}" "$dir/verify.txt" \
  && ok || bad "no trace id in the HEADER"
grep -q "^instructions: [0-9]* INSN records, insn_seq 1 to" "$dir/verify.txt" && ok || bad "insn_seq does not start at 1"
cat "$dir/stderr.txt"
grep "^verify:" "$dir/verify.txt"
# For memtrace: every thread merged, then the first thread alone. The merged export holds
# every LOAD and STORE of the trace (summed over the slots: LOAD, LOAD[3], ...).
loads=$(awk '$2 ~ /^LOAD(\[|$)/ { s += $3 } END { print s + 0 }' "$dir/verify.txt")
stores=$(awk '$2 ~ /^STORE(\[|$)/ { s += $3 } END { print s + 0 }' "$dir/verify.txt")
for selection in all 0; do
  export=$dir/$mode.memtrace thread_option=()
  [ "$selection" = all ] || thread_option=(--thread="$selection")
  if "$dump" --export-memtrace="$export" "${thread_option[@]}" "$trace" > "$dir/export.txt" 2>&1; then
    ok
    "$memtrace_check" --pcs-mapped "$export" > "$dir/check.txt" && ok || bad "export ($selection) breaks memtrace's rules: $(cat "$dir/check.txt")"
    if [ "$selection" = all ]; then
      grep -q " $loads LOAD, $stores STORE," "$dir/check.txt" && ok || bad "the export lost records: trace $loads LOAD, $stores STORE"
    fi
    cat "$dir/export.txt" "$dir/check.txt"
  else
    bad "export ($selection) failed: $(cat "$dir/export.txt")"
  fi
  rm -f "$export"
done
if [ "$plugin_mode" = chunk ] || [ "$plugin_mode" = chunk-double ]; then
  grep -q "warning: a chunk-mode trace" "$dir/export.txt" && ok || bad "no chunk-order warning from the export"
fi
rm -f "$trace"   # traces run to gigabytes
if [ "$plugin_mode" = chunk ] || [ "$plugin_mode" = chunk-double ]; then
  grep -q "^verify: [1-9][0-9]* chunks, 0 faults" "$dir/verify.txt" && ok || bad "no chunks, or chunk faults"
fi
echo "qemu $mode ($plugin_mode): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
