#!/usr/bin/env bash
# One exhaustive Spin search of the protocol model, and its verdict.
#   run_spin.sh MODEL WORKDIR EXPECT [-DNAME[=VALUE]...] [-- PAN_CFLAG...]
# The defines go to spin (the model's switches: mutants, witnesses, CAP, EPOCH_BITS); the
# flags after -- to the compiler of pan.c (-DREVERSE: a witness found sooner that way).
# EXPECT:
#   pass      0 errors in a complete search (assertions, invalid end states), and the drain
#             at the end of init reached
#   progress  0 non-progress cycles in a complete search (pan -l): no livelock
#   assert    an assertion violation (a mutant must fail this way)
#   deadlock  an invalid end state: a producer never finishes (a mutant must fail this way)
#   witness   the WITNESS assertion fails: a run with all the events in its mask exists
# Environment: CC (default gcc), SPIN (default spin).
# Exhaustive: no bitstate, no hash compaction; -DCOLLAPSE compresses states losslessly.
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 MODEL WORKDIR pass|progress|assert|deadlock|witness [-D...]" >&2
  exit 2
fi
model=$(realpath "$1")
workdir=$2
expect=$3
shift 3
defines=()
pan_cflags=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do defines+=("$1"); shift; done
if [ $# -gt 0 ]; then shift; pan_cflags=("$@"); fi
cc=${CC:-gcc}
spin=${SPIN:-spin}
label="${defines[*]:-(the protocol)}"

mkdir -p "$workdir"
cd "$workdir"
rm -f pan pan.* ./*.trail
cp "$model" model.pml

start=$(date +%s.%N)
if ! "$spin" "${defines[@]}" -a model.pml > spin.log 2>&1; then
  cat spin.log >&2
  echo "spin: $label: spin -a failed" >&2
  exit 1
fi

# -O2 where the whole space is searched; the others stop at their first error, and compile
# faster at -O0. MEMLIM (MB) turns running out of memory into a reported, incomplete search.
case $expect in
  pass)     cflags=(-O2 -DSAFETY) ;;
  progress) cflags=(-O2 -DNP) ;;
  assert|deadlock|witness) cflags=(-O0 -DSAFETY) ;;
  *) echo "run_spin.sh: unknown expectation '$expect'" >&2; exit 2 ;;
esac
"$cc" "${cflags[@]}" -DCOLLAPSE -DMEMLIM=4096 "${pan_cflags[@]}" -w -o pan pan.c

panflags=(-m100000 -w24)
if [ "$expect" != pass ] && [ "$expect" != progress ]; then panflags=(-m100000 -w22); fi
if [ "$expect" = progress ]; then panflags+=(-l); fi
./pan "${panflags[@]}" > pan.log 2>&1 || true
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.log | tail -1)
stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | tail -1)
depth=$(sed -n 's/.*depth reached \([0-9][0-9]*\).*/\1/p' pan.log | tail -1)
summary="spin: $label: ${stored:-?} states stored, depth ${depth:-?}, ${elapsed} s"

fail() {
  echo "$summary" >&2
  echo "spin: $label: $*" >&2
  echo "--- pan output ($workdir/pan.log) ---" >&2
  head -60 pan.log >&2
  exit 1
}

[ -n "$errors" ] || fail "no verdict from pan"
if grep -q "out of memory\|memory limit" pan.log; then fail "ran out of memory: the search is incomplete"; fi

case $expect in
  pass|progress)
    [ "$errors" -eq 0 ] || fail "$errors error(s); replay: cd $workdir && spin -t -p -g model.pml"
    if grep -q "search depth too small\|Search not completed" pan.log; then fail "the search is incomplete"; fi
    grep -q "Full statespace search" pan.log || fail "not a full state-space search"
    if [ "$expect" = pass ]; then
      # The drain is init's last statement: if it is unreached, no run ever finishes.
      if awk '/^unreached in init/ { f = 1; next } /^unreached in|^pan:/ { f = 0 } f && /-end-/ { bad = 1 } END { exit !bad }' pan.log; then
        fail "the end of init is unreached: no run finishes"
      fi
    fi
    echo "$summary: 0 errors, complete" ;;
  assert|deadlock|witness)
    [ "$errors" -gt 0 ] || fail "expected a failure, but the search found none"
    first=$(grep -m1 '^pan:1: ' pan.log || true)
    case $expect in
      assert)   [[ $first == "pan:1: assertion violated"* ]] || fail "expected an assertion violation" ;;
      deadlock) [[ $first == "pan:1: invalid end state"* ]] || fail "expected an invalid end state" ;;
      witness)  [[ $first == "pan:1: assertion violated ((seen&"* ]] ||
                  fail "the witness events are not reachable together (try each bit of WITNESS alone)" ;;
    esac
    echo "$summary: failed as expected: $first" ;;
esac
