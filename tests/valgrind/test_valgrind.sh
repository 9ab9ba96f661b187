#!/usr/bin/env bash
# The Valgrind tool end to end: a program's output must be identical under the tool,
# tracebuf-dump --verify must pass, and the LOAD and STORE records in the trace must equal
# the loads and stores the tool counted with a second, separate counter (--check-counts)
# and, with COMPARE_LACKEY=1 (deterministic programs), lackey's detailed counts. The trace's
# export for memtrace must keep memtrace's reader rules (MEMTRACE_CHECK) and hold every
# LOAD and STORE of the trace. The trace has a trace id, numbers instructions from 1, and its
# MMAP records cover every instruction's pc.
#   test_valgrind.sh TOOL_DIR DUMP MEMTRACE_CHECK WORKDIR NAME BUFFER PROGRAM ARGS...
set -u
tool_dir=$1 dump=$2 memtrace_check=$3 dir=$4 name=$5 buffer=$6
shift 6
mkdir -p "$dir"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

nm_out=$(nm -u "$tool_dir/lib/tracebuf-amd64-linux")
[ -z "$nm_out" ] && ok || bad "nm -u of the tool lists: $nm_out"

"$@" > "$dir/$name.native" || bad "native run failed"
trace=$dir/$name.trace
"$tool_dir/tracebuf-valgrind" --out="$trace" --buffer="$buffer" --check-counts -- "$@" \
  > "$dir/$name.traced" 2> "$dir/$name.stderr" && ok || bad "traced run failed: $(cat "$dir/$name.stderr")"
cmp -s "$dir/$name.native" "$dir/$name.traced" && ok || bad "output differs under the tool"
"$dump" --verify "$trace" > "$dir/$name.verify" && ok || { bad "tracebuf-dump --verify"; cat "$dir/$name.verify"; }
grep -q "^header: machine 62, trace id [0-9a-f]\{32\}$" "$dir/$name.verify" && ! grep -q "trace id 0\{32\}" "$dir/$name.verify" \
  && ok || bad "no trace id in the HEADER"
grep -q "^instructions: [0-9]* INSN records, insn_seq 1 to" "$dir/$name.verify" && ok || bad "insn_seq does not start at 1"

# Records by type, summed over every thread slot (the name column is LOAD, LOAD[3], ...).
loads=$(awk '$2 ~ /^LOAD(\[|$)/ { s += $3 } END { print s + 0 }' "$dir/$name.verify")
stores=$(awk '$2 ~ /^STORE(\[|$)/ { s += $3 } END { print s + 0 }' "$dir/$name.verify")
read -r exec_loads exec_stores < <(sed -n 's/.*executed loads \([0-9]*\) stores \([0-9]*\).*/\1 \2/p' "$dir/$name.stderr")
[ "$loads" = "${exec_loads:-x}" ] && ok || bad "LOAD records $loads, loads executed ${exec_loads:-?}"
[ "$stores" = "${exec_stores:-x}" ] && ok || bad "STORE records $stores, stores executed ${exec_stores:-?}"
flushes=$(sed -n 's/.* \([0-9]*\) flushes.*/\1/p' "$dir/$name.stderr")

export=$dir/$name.memtrace
if "$dump" --export-memtrace="$export" "$trace" > "$dir/$name.export" 2>&1; then
  ok
  "$memtrace_check" --pcs-mapped "$export" > "$dir/$name.check" && ok || bad "the export breaks memtrace's rules: $(cat "$dir/$name.check")"
  read -r checked_loads checked_stores < <(sed -n 's/.* \([0-9]*\) LOAD, \([0-9]*\) STORE.*/\1 \2/p' "$dir/$name.check")
  [ "${checked_loads:-x} ${checked_stores:-x}" = "$loads $stores" ] && ok ||
    bad "the export holds ${checked_loads:-?} LOAD and ${checked_stores:-?} STORE, the trace $loads and $stores"
  cat "$dir/$name.export" "$dir/$name.check"
else
  bad "export failed: $(cat "$dir/$name.export")"
fi
rm -f "$export"

# A deterministic program also runs under lackey. Its --detailed-counts loads and stores
# (Iex_Load, LoadG, Store, StoreG, and CAS as one of each) are the same things the tool
# records, so on identical runs - same arguments, same minimal environment, since even the
# environment's size changes what the program executes - the totals must agree.
if [ "${COMPARE_LACKEY:-0}" = 1 ]; then
  run_clean() { env -i PATH=/usr/bin:/bin VALGRIND_LIB="$tool_dir/lib" valgrind -q "$@"; }
  run_clean --tool=tracebuf --out="$dir/$name.clean.trace" "$@" > /dev/null 2> /dev/null \
    || bad "clean tracebuf run failed"
  "$dump" "$dir/$name.clean.trace" > "$dir/$name.clean.dump" || bad "clean trace invalid"
  rm -f "$dir/$name.clean.trace"
  run_clean --tool=lackey --basic-counts=no --detailed-counts=yes "$@" > /dev/null 2> "$dir/$name.lackey" \
    || bad "lackey run failed"
  clean_loads=$(awk '$2 ~ /^LOAD(\[|$)/ { s += $3 } END { print s + 0 }' "$dir/$name.clean.dump")
  clean_stores=$(awk '$2 ~ /^STORE(\[|$)/ { s += $3 } END { print s + 0 }' "$dir/$name.clean.dump")
  read -r lk_loads lk_stores < <(awk '$2 ~ /^(I8|I16|I32|I64|I128|F32|F64|F128|V128|V256|D32|D64|D128)$/ {
      gsub(",", "", $3); gsub(",", "", $4); l += $3; s += $4 } END { print l + 0, s + 0 }' "$dir/$name.lackey")
  [ "$clean_loads" = "$lk_loads" ] && ok || bad "LOAD records $clean_loads, lackey counted $lk_loads loads"
  [ "$clean_stores" = "$lk_stores" ] && ok || bad "STORE records $clean_stores, lackey counted $lk_stores stores"
  echo "same run under lackey: loads $lk_loads stores $lk_stores; in the trace: $clean_loads $clean_stores"
fi

grep "^verify:" "$dir/$name.verify"
echo "loads $loads stores $stores (counted separately: ${exec_loads:-?} ${exec_stores:-?}), ${flushes:-?} flushes"
rm -f "$trace"
echo "valgrind $name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
