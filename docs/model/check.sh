#!/usr/bin/env bash
# Model-checks docs/model/rungroup.pml with Spin (Debian package `spin`; needs gcc).
#
#   bash docs/model/check.sh            # the CI suite (2-3 minutes on 2 cores)
#   bash docs/model/check.sh quick      # N = 2 only (1-2 minutes on 2 cores)
#   bash docs/model/check.sh full       # the CI suite plus larger runs (tens of minutes)
#   bash docs/model/check.sh run NAME.. # only the runs of any suite with these names (for
#                                       # .ci/seeded-bugs.sh: e.g. run condvar/lane-wakeup)
#
# Works from any directory. Generated files (pan.c, pan, trails) go to a temporary directory,
# removed at the end (set SPIN_KEEP=1 to keep it, e.g. to replay a trail with `spin -t -p`).
# Environment: SPIN_JOBS (parallel runs, default 2), SPIN_TIME_LIMIT (seconds per run, default
# 300; 3600 for `full`), SPIN_MEM (MB per run, default 6000).
#
# Exit status: 0 when every run ended as expected: every "pass" run explored its whole state space
# with no violation, every "fail" run (seeded bugs, among them the three defects this model found
# in src/; reachability witnesses; and finding/*, a property src/ does not satisfy yet, see
# README) found the violation it is meant to find. Anything else (a violation, an incomplete
# search, a seeded bug not caught, a witness not reached) exits 1. Missing tools exit 2.
# See docs/model/README.md for what each run checks.

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
model="$here/rungroup.pml"
suite=${1:-ci}
jobs=${SPIN_JOBS:-2}
if [ "$suite" = full ]; then limit=${SPIN_TIME_LIMIT:-3600}; else limit=${SPIN_TIME_LIMIT:-300}; fi
mem=${SPIN_MEM:-6000}

for tool in spin gcc timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check.sh: '$tool' not found (apt-get install -y spin gcc)" >&2
    exit 2
  fi
done
case "$suite" in
  ci | quick | full) ;;
  run) shift; if [ $# = 0 ]; then echo "usage: $0 run NAME..." >&2; exit 2; fi ;;
  *) echo "usage: $0 [ci|quick|full|run NAME...]" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/rungroup-spin.XXXXXX")
if [ "${SPIN_KEEP:-0}" = 1 ]; then
  echo "check.sh: keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# ---------------------------------------------------------------------------------------------
# The runs. One per line:  name | expect | kind | spin -D flags | pattern
#   expect  pass: exhaustive, no violation.  fail: a violation whose text matches `pattern`.
#   kind    safety: assertions + the watchdog (deadlock / hang).  live: LTL `terminates` with
#           weak fairness (-a -f), acceptance cycles and stutter-extended stuck states.
# ---------------------------------------------------------------------------------------------
INL="-DBUDGET=0 -DGRACE0=0 -DGRACE1=0"   # no deadline: the hook lane, no kill grace (the oklog/run case)
BUD="-DBUDGET=1 -DGRACE0=0 -DGRACE1=0"   # a budget only
G0="-DBUDGET=0 -DGRACE0=1 -DGRACE1=0"    # a grace on stage 0 only
G1="-DBUDGET=0 -DGRACE0=0 -DGRACE1=1"    # a grace on stage 1 only
G01="-DBUDGET=0 -DGRACE0=1 -DGRACE1=1"   # a grace on both stages
BG0="-DBUDGET=1 -DGRACE0=1 -DGRACE1=0"   # a budget and a grace on stage 0
BG01="-DBUDGET=1 -DGRACE0=1 -DGRACE1=1"  # everything

quick_runs() {
cat <<EOF
safety/inline          | pass | safety | -DN=2 $INL -DPANICS                               |
safety/budget          | pass | safety | -DN=2 $BUD                                       |
safety/grace-stage1    | pass | safety | -DN=2 $G1                                        |
safety/grace-stage0    | pass | safety | -DN=2 $G0 -DEXIT=1                               |
condvar/no-lost-wakeup | pass | safety | -DN=2 $INL -DCONDVAR                             |
condvar/no-lost-wakeup | pass | safety | -DN=2 $BUD -DCONDVAR -DEXIT=1 -DSTOPS=1          |
condvar/lane-wakeup    | pass | safety | -DN=2 $G1 -DCONDVAR                              |
liveness/inline        | pass | live   | -DN=2 $INL -DLIVE                                |
liveness/budget        | pass | live   | -DN=2 $BUD -DLIVE -DEXIT=1 -DSTOPS=1             |
liveness/grace-stage0  | pass | live   | -DN=2 $G0 -DLIVE -DEXIT=1 -DSTOPS=1              |
liveness/grace-stage1  | pass | live   | -DN=2 $G1 -DLIVE -DEXIT=1 -DSTOPS=1              |
safety/slow-hooks      | pass | safety | -DN=2 $G0 -DSLOW -DEXIT=1 -DSTOPS=1               |
safety/slow-hooks      | pass | safety | -DN=2 $G1 -DSLOW -DEXIT=1 -DSTOPS=1               |
bug/no-cas             | fail | safety | -DN=2 $INL -DBUG_NO_CAS                          | wins==1
bug/stage-skip         | fail | safety | -DN=2 $BUD -DBUG_STAGE_SKIP                      | abandoned|nexit\[0\]==nsize\[0\]
bug/notify-no-lock     | fail | safety | -DN=2 $INL -DBUG_NOTIFY_NOLOCK                   | waiting
bug/lane-no-notify     | fail | safety | -DN=2 $G1 -DBUG_LANE_NO_NOTIFY                   | waiting
bug/double-interrupt   | fail | safety | -DN=2 $INL -DBUG_DOUBLE_INTERRUPT                | icalls
bug/K1-force-winner    | fail | safety | -DN=2 $INL -DBUG_FORCE_WINNER                    | exited\[i\]
bug/K2-finish-no-wait  | fail | safety | -DN=2 $BUD -DBUG_FINISH_NO_WAIT                  | wres!=1
bug/K3-no-lane-wait    | fail | safety | -DN=2 $BUD -DBUG_NO_LANE_WAIT                    | gave_up
bug/stop-frees-queue   | fail | safety | -DN=2 $INL -DBUG_STOP_FREES_QUEUE                | in_intr==0
bug/escalate-at-once   | fail | safety | -DN=2 $INL -DBUG_ESCALATE_AT_ONCE                | nexit\[0\]==nsize\[0\]
bug/first-no-serve     | fail | safety | -DN=2 $INL -DBUG_FIRST_NO_SERVE                  | culprits
bug/skipped-ok         | fail | safety | -DN=2 $BUD -DBUG_SKIPPED_OK                      | rep_skipped
witness/abandoned      | fail | safety | -DN=2 $BUD -DWITNESS=1                            | abandoned
witness/hook-blocked   | fail | safety | -DN=2 $BUD -DWITNESS=2                                  | rep_blocked
witness/budget-spent   | fail | safety | -DN=2 $BUD -DWITNESS=3                            | budget_fired
witness/grace-expired  | fail | safety | -DN=2 $G0 -DEXIT=1 -DWITNESS=4                    | grace_fired
witness/stop-escalated | fail | safety | -DN=2 $INL -DWITNESS=5                            | escalations
witness/stop-triggered | fail | safety | -DN=2 $INL -DWITNESS=6                            | who
witness/all-exited     | fail | safety | -DN=2 $INL -DWITNESS=7                            | who
witness/err-returned   | fail | safety | -DN=2 $INL -DWITNESS=8                            | result
witness/panic-resumed  | fail | safety | -DN=2 $INL -DPANICS -DWITNESS=9                    | result
witness/lanes-overlap  | fail | safety | -DN=2 $G0 -DWITNESS=10                            | in_intr
witness/hook-skipped   | fail | safety | -DN=2 $BUD -DWITNESS=11                           | rep_skipped
witness/escalated-err  | fail | safety | -DN=2 $INL -DWITNESS=12                           | result
witness/kill-after-stop| fail | safety | -DN=2 $G1 -DWITNESS=13                            | kill_fired
EOF
}

ci_runs() {
quick_runs
cat <<EOF
safety/grace-both      | pass | safety | -DN=2 $G01 -DEXIT=1                              |
safety/budget+grace0   | pass | safety | -DN=2 $BG0 -DEXIT=1                              |
safety/inline          | pass | safety | -DN=3 $INL -DEXIT=2                              |
safety/budget          | pass | safety | -DN=3 $BUD -DEXIT=1 -DSTOPS=0                    |
condvar/no-lost-wakeup | pass | safety | -DN=3 $INL -DCONDVAR -DEXIT=1                    |
EOF
}

full_runs() {
ci_runs
cat <<EOF
safety/inline          | pass | safety | -DN=4 $INL -DEXIT=1                              |
safety/budget          | pass | safety | -DN=3 $BUD -DEXIT=1 -DSTOPS=1                    |
safety/grace-stage1    | pass | safety | -DN=3 $G1 -DEXIT=1 -DSTOPS=1                     |
safety/slow-hooks      | pass | safety | -DN=2 $G1 -DSLOW                                 |
safety/slow-hooks      | pass | safety | -DN=2 $BUD -DSLOW                                |
safety/fine-lanes      | pass | safety | -DN=2 $G01 -DFINE_LANES -DSLOW -DEXIT=1          |
liveness/budget        | pass | live   | -DN=2 $BUD -DLIVE -DEXIT=1                       |
safety/everything      | pass | safety | -DN=2 $BG01 -DEXIT=1                             |
safety/all-configs     | pass | safety | -DN=2 -DEXIT=1                                   |
safety/grace-stage0    | pass | safety | -DN=3 $G0 -DEXIT=1 -DSTOPS=1                     |
liveness/all-configs   | pass | live   | -DN=2 -DLIVE -DEXIT=1 -DSTOPS=1                  |
EOF
}

# ---------------------------------------------------------------------------------------------

run_one() { # index name expect kind flags pattern
  local idx=$1 name=$2 expect=$3 kind=$4 flags=$5 pattern=$6
  local dir="$work/$idx"
  mkdir -p "$dir" && cp "$model" "$dir/rungroup.pml"
  (
    cd "$dir" || exit 1
    set -f   # flags hold brackets: no globbing
    # shellcheck disable=SC2086
    if ! spin $flags -a rungroup.pml >spin.txt 2>&1; then
      echo "ERROR spin -a failed: $(head -3 spin.txt | tr '\n' ' ')" >verdict.txt; exit 0
    fi
    # a run expected to fail stops early: compiling pan costs more than optimizing it saves
    local opt=-O2; if [ "$expect" = fail ]; then opt=-O1; fi
    local cflags="$opt -DCOLLAPSE -DMEMLIM=$mem" runflags="-m50000 -w26"
    if [ "$kind" = safety ]; then
      cflags="$cflags -DSAFETY -DNOCLAIM"; runflags="$runflags -E"
      # a seeded bug: breadth-first, so the shortest counterexample (the intended one) is reported
      case "$name" in bug/*) cflags="$cflags -DBFS" ;; esac
    else
      cflags="$cflags -DNFAIR=6"; runflags="$runflags -a -f -E"
    fi
    # shellcheck disable=SC2086
    if ! gcc $cflags -o pan pan.c >gcc.txt 2>&1; then
      echo "ERROR gcc failed: $(head -3 gcc.txt | tr '\n' ' ')" >verdict.txt; exit 0
    fi
    local start end rc
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    timeout "$limit" ./pan $runflags >pan.txt 2>&1
    rc=$?
    end=$(date +%s.%N)
    local secs states errors violation
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    states=$(awk '/states, stored/ { print $1; exit }' pan.txt)
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.txt | head -1)
    violation=$(grep -m1 -E 'assertion violated|acceptance cycle|invalid end state|max search depth too small|out of memory|reached -DMEMLIM bound' pan.txt | sed 's/^pan:[0-9]*: *//')
    local status
    if [ $rc -eq 124 ]; then
      status="ERROR timeout after ${limit}s (search incomplete)"
    elif grep -q -E 'out of memory|max search depth too small|reached -DMEMLIM bound' pan.txt; then
      status="ERROR search incomplete: $violation"
    elif [ -z "$errors" ]; then
      status="ERROR pan ended without a result (exit $rc)"
    elif [ "$expect" = pass ]; then
      if [ "$errors" = 0 ]; then status="ok"; else status="FAIL violation: $violation"; fi
    else
      if [ "$errors" = 0 ]; then
        status="FAIL expected a violation matching '$pattern', found none"
      elif printf '%s' "$violation" | grep -q -E -- "$pattern"; then
        status="ok caught: $violation"
      else
        status="FAIL wrong violation (expected '$pattern'): $violation"
      fi
    fi
    printf '%s\t%s\t%s\n' "${states:-?}" "$secs" "$status" >verdict.txt
  )
}

case "$suite" in
  quick) runs=$(quick_runs) ;;
  ci) runs=$(ci_runs) ;;
  full) runs=$(full_runs) ;;
  run)
    runs=$(full_runs | awk -F'|' -v names=" $* " '{
      name = $1; gsub(/^[ \t]+|[ \t]+$/, "", name)
      if (index(names, " " name " ")) print
    }')
    if [ -z "$runs" ]; then echo "check.sh: no run named: $*" >&2; exit 2; fi
    ;;
esac

mapfile -t lines < <(printf '%s\n' "$runs" | sed '/^[[:space:]]*$/d')
total_start=$(date +%s)
echo "spin model check of docs/model/rungroup.pml: ${#lines[@]} runs, suite '$suite', $jobs in parallel"

trim() { local s=$1; s="${s#"${s%%[![:space:]]*}"}"; printf '%s' "${s%"${s##*[![:space:]]}"}"; }

idx=0
for line in "${lines[@]}"; do
  IFS='|' read -r name expect kind flags pattern <<<"$line"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "$idx" "$(trim "$name")" "$(trim "$expect")" "$(trim "$kind")" "$(trim "$flags")" "$(trim "${pattern:-}")" &
  idx=$((idx + 1))
done
wait

failed=0
idx=0
for line in "${lines[@]}"; do
  IFS='|' read -r name expect kind flags pattern <<<"$line"
  n=$(printf '%s' "$flags" | sed -n 's/.*-DN=\([0-9]*\).*/\1/p')
  verdict="$work/$idx/verdict.txt"
  if [ -f "$verdict" ]; then
    IFS=$'\t' read -r states secs status <"$verdict"
  else
    states="?"; secs="?"; status="ERROR no verdict"
  fi
  case "$status" in ok*) mark=PASS ;; *) mark=FAIL; failed=1 ;; esac
  printf '%-4s %-24s N=%s %-6s expect=%-4s states=%-10s time=%6ss  %s\n' \
    "$mark" "$(trim "$name")" "$n" "$(trim "$kind")" "$(trim "$expect")" "$states" "$secs" "$status"
  if [ "$mark" = FAIL ]; then echo "     flags: $(trim "$flags")  (files: $work/$idx)"; fi
  idx=$((idx + 1))
done
echo "spin model check: $(( $(date +%s) - total_start ))s wall, $([ $failed = 0 ] && echo 'all runs as expected' || echo 'FAILED')"
if [ $failed != 0 ] && [ "${SPIN_KEEP:-0}" != 1 ]; then
  echo "(rerun with SPIN_KEEP=1 to keep the pan output and trails; replay: cd DIR && spin -t -p -g rungroup.pml)"
fi
exit $failed
