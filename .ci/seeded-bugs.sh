#!/usr/bin/env bash
# Seeded bugs: does the verification catch what matters?
#
#   bash .ci/seeded-bugs.sh --ci            # every bug, its cheap layers only (CI; a few minutes)
#   bash .ci/seeded-bugs.sh                 # every bug, every layer (same as --full)
#   bash .ci/seeded-bugs.sh --ci NAME...    # only these bugs (file names in .ci/seeded/, no .diff)
#
# Each .ci/seeded/*.diff is one plausible bug, a unified diff. For each, this script applies it
# alone (`git apply`) to a scratch copy of the tree, runs the layers the diff names (a loom model,
# a shuttle scenario, an integration-test filter, a Spin run), and requires that at least one of
# them FAILS: the bug is caught. A bug that compiles and passes every layer is MISSED; a diff that
# no longer applies or does not compile is an ERROR. Before any bug, every layer used is run once on
# the unpatched copy and must pass: a layer that fails anyway would "catch" every bug.
# Format of the diffs and their layer lines, and where the runner's diffs go: .ci/seeded/README.md.
#
# Why this exists next to mutation testing: cargo-mutants never weakens an atomic ordering, drops
# a lock or reorders statements, so its score says nothing about the bugs listed here
# (docs/verification.md).
#
# Environment: SEEDED_TIMEOUT (seconds per layer, default 300, twice the slowest layer here; a
# layer that times out counts as catching the bug, like a hung test), SEEDED_SHUTTLE_ITERATIONS (schedules per shuttle scheduler,
# default 1000), LOOM_MAX_PREEMPTIONS (default 2, the CI bound).
#
# Scratch copy: target/seeded/tree (its own git repository, rebuilt from the working tree on every
# run, uncommitted changes included). One target directory per cfg, kept between runs so builds
# are incremental: target/seeded/{loom,shuttle,test}. They must not be the working tree's own
# (target/loom, ...): cargo names a package's artifacts by its path relative to the workspace
# root, the same for the scratch copy and the tree, so a patched build left there would pass for
# the tree's own.

set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR=never

mode=full
names=()
for arg in "$@"; do
  case "$arg" in
    --ci) mode=ci ;;
    --full) mode=full ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "seeded-bugs: unknown option $arg" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done

timeout_s=${SEEDED_TIMEOUT:-300}
shuttle_iterations=${SEEDED_SHUTTLE_ITERATIONS:-1000}
preemptions=${LOOM_MAX_PREEMPTIONS:-2}
scratch="$root/target/seeded/tree"
logs="$root/target/seeded/logs"

# ---------------------------------------------------------------------------------------------
# The bugs. Every diff in .ci/seeded/, in name order. Diffs against src/runner.rs go in the same
# directory, named runner-*.diff: the section of .ci/seeded/README.md "Runner diffs" says which
# bugs they should seed and which layers caught them before the runner's rewrite. Nothing in this
# script needs to change for them.
# ---------------------------------------------------------------------------------------------
diffs=()
if [ ${#names[@]} = 0 ]; then
  for diff in "$root"/.ci/seeded/*.diff; do [ -e "$diff" ] && diffs+=("$diff"); done
else
  for name in "${names[@]}"; do
    diff="$root/.ci/seeded/${name%.diff}.diff"
    if [ ! -e "$diff" ]; then echo "seeded-bugs: no such bug: $diff" >&2; exit 2; fi
    diffs+=("$diff")
  done
fi
if [ ${#diffs[@]} = 0 ]; then echo "seeded-bugs: no diffs in .ci/seeded/" >&2; exit 2; fi

# The layers of a diff for this mode: its `# ci:` lines, plus its `# full:` lines in full mode.
layers_of() {
  local diff=$1
  sed -n 's/^# ci: *//p' "$diff"
  if [ "$mode" = full ]; then sed -n 's/^# full: *//p' "$diff"; fi
}

# cfg of a layer kind: which build it needs.
cfg_of() {
  case "$1" in
    loom) echo loom ;;
    loomlib) echo loomlib ;;
    shuttle) echo shuttle ;;
    test) echo test ;;
    unit) echo test ;;
    spin) echo spin ;;
    *) echo "?" ;;
  esac
}

# cargo, in the scratch tree, for one cfg, cut off after SEEDED_TIMEOUT seconds.
cargo_for() { # cfg, cargo args...
  local cfg=$1; shift
  case "$cfg" in
    loom | loomlib)
      (cd "$scratch" && RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="$preemptions" \
        CARGO_TARGET_DIR="$root/target/seeded/loom" timeout "$timeout_s" cargo "$@") ;;
    shuttle)
      (cd "$scratch" && RUSTFLAGS="--cfg shuttle" RUNGROUP_SHUTTLE_ITERATIONS="$shuttle_iterations" \
        CARGO_TARGET_DIR="$root/target/seeded/shuttle" timeout "$timeout_s" cargo "$@") ;;
    test)
      (cd "$scratch" && CARGO_TARGET_DIR="$root/target/seeded/test" timeout "$timeout_s" cargo "$@") ;;
  esac
}

# Builds what a cfg's layers need. 0: built; else the build failed.
build() { # cfg log
  case "$1" in
    loom) cargo_for loom test --release --test loom --no-run >>"$2" 2>&1 ;;
    # Only for the bugs that name a library model: the library's loom test build is its own.
    loomlib) cargo_for loomlib test --release --lib --no-run >>"$2" 2>&1 ;;
    shuttle) cargo_for shuttle test --release --test shuttle --no-run >>"$2" 2>&1 ;;
    test) cargo_for test test --test it --no-run >>"$2" 2>&1 &&
      cargo_for test test --lib --no-run >>"$2" 2>&1 ;;
    spin) command -v spin >/dev/null 2>&1 && command -v gcc >/dev/null 2>&1 ;;
  esac
}

# Runs one layer: `loom MODEL`, `loomlib MODEL` (a loom model inside the library, of a part the
# public API cannot reach under loom: the timer thread), `shuttle SCENARIO`, `test FILTER`,
# `unit FILTER` (the library's unit tests: the planner's property tests) (`all` for each: the whole
# suite), `spin RUN` (a run of docs/model/check.sh by name). Exit: 0 passed, 1 failed, 124 timed out.
run_layer() { # kind arg log
  local kind=$1 arg=$2 log=$3 rc
  case "$kind" in
    loom)
      if [ "$arg" = all ]; then cargo_for loom test --release --test loom >>"$log" 2>&1
      else cargo_for loom test --release --test loom -- --exact "$arg" >>"$log" 2>&1; fi ;;
    loomlib)
      if [ "$arg" = all ]; then cargo_for loomlib test --release --lib >>"$log" 2>&1
      else cargo_for loomlib test --release --lib -- --exact "$arg" >>"$log" 2>&1; fi ;;
    shuttle)
      if [ "$arg" = all ]; then cargo_for shuttle test --release --test shuttle >>"$log" 2>&1
      else cargo_for shuttle test --release --test shuttle -- --exact "$arg" >>"$log" 2>&1; fi ;;
    test)
      if [ "$arg" = all ]; then cargo_for test test --test it >>"$log" 2>&1
      else cargo_for test test --test it -- "$arg" >>"$log" 2>&1; fi ;;
    unit)
      if [ "$arg" = all ]; then cargo_for test test --lib >>"$log" 2>&1
      else cargo_for test test --lib -- "$arg" >>"$log" 2>&1; fi ;;
    spin)
      SPIN_TIME_LIMIT=$timeout_s bash "$scratch/docs/model/check.sh" run "$arg" >>"$log" 2>&1 ;;
    *) echo "unknown layer kind '$kind'" >>"$log"; return 2 ;;
  esac
  rc=$?
  # loom aborts the whole test binary after a deadlock (a panic in a destructor): any non-zero
  # exit of a run that built is a failure of the layer.
  case $rc in 0) return 0 ;; 124) return 124 ;; *) return 1 ;; esac
}

# The line of a failed layer's log that says what was caught: loom's harness line, else the
# message of the first panic (the line after "panicked at"), else Spin's violation.
evidence() { # kind arg log
  local kind=$1 arg=$2 log=$3 line="" failed=""
  set -- "$kind" "$log"
  # A whole suite: how many of its tests failed (a loom deadlock aborts the rest: at least that).
  if [ "$arg" = all ] && [ "$kind" != spin ]; then
    failed="$(grep -c -E '^test .* FAILED$' "$log") failed; "
  fi
  case "$1" in
    loom | loomlib) line=$(grep -m1 -E '^loom .*: FAILED at iteration' "$2") ;;
    spin) line=$(grep -m1 -E '^FAIL ' "$2" | sed -n 's/^FAIL *\([^ ]*\).*\(FAIL .*\)/\1: \2/p') ;;
  esac
  if [ -z "$line" ]; then
    line=$(grep -m1 -A1 'panicked at' "$2" | sed -n '2p')
    case "$line" in deadlock*) line="$kind: $line" ;; esac
  fi
  printf '%s%s' "$failed" "${line:-(see the log)}" | tr -s ' ' | cut -c1-200
}

# A fresh scratch copy of the working tree, as its own git repository. Every file is touched, so
# no build left over from an earlier (patched) run is ever taken for the current one.
fresh_scratch() {
  rm -rf "$scratch"
  mkdir -p "$scratch" "$logs"
  git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$scratch"
  (
    cd "$scratch" &&
      find . -type f -not -path './.git/*' -exec touch {} + &&
      git init -q && git add -A &&
      git -c user.name=seeded -c user.email=seeded@localhost commit -q -m clean
  )
}

restore_scratch() {
  (cd "$scratch" && git checkout -q -- . && git clean -q -fd)
}

start_all=$(date +%s)
echo "seeded bugs: ${#diffs[@]} diffs, mode $mode, loom bound $preemptions, shuttle $shuttle_iterations schedules"
fresh_scratch || { echo "seeded-bugs: cannot make the scratch copy" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Control: every layer used, on the unpatched copy, must pass.
# ---------------------------------------------------------------------------------------------
mapfile -t all_layers < <(for diff in "${diffs[@]}"; do layers_of "$diff"; done | sort -u)
declare -A built=()
control_failed=0
for layer in "${all_layers[@]}"; do
  read -r kind arg <<<"$layer"
  cfg=$(cfg_of "$kind")
  log="$logs/control.$kind.${arg//[^A-Za-z0-9_.-]/_}.log"
  : >"$log"
  if [ -z "${built[$cfg]:-}" ]; then
    if ! build "$cfg" "$log"; then
      echo "CONTROL build for '$cfg' failed on the unpatched tree (log: $log)"; exit 1
    fi
    built[$cfg]=1
  fi
  t0=$(date +%s)
  run_layer "$kind" "$arg" "$log"
  rc=$?
  printf 'control  %-70s %s (%ss)\n' "$layer" "$([ $rc = 0 ] && echo passes || echo "FAILS (log: $log)")" \
    "$(( $(date +%s) - t0 ))"
  [ $rc = 0 ] || control_failed=1
done
if [ $control_failed != 0 ]; then
  echo "seeded-bugs: a layer fails on the unpatched tree; it cannot tell a bug apart" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# The bugs, one at a time.
# ---------------------------------------------------------------------------------------------
rows=()
missed=0
for diff in "${diffs[@]}"; do
  name=$(basename "$diff" .diff)
  summary=$(sed -n 's/^# bug: *//p' "$diff" | head -1)
  mapfile -t layers < <(layers_of "$diff")
  echo
  echo "=== $name: $summary"
  if [ ${#layers[@]} = 0 ]; then
    rows+=("$name|-|ERROR|0|no layer for mode $mode"); missed=1; continue
  fi
  restore_scratch
  if ! (cd "$scratch" && git apply --whitespace=nowarn "$diff") 2>"$logs/$name.apply.log"; then
    rows+=("$name|-|ERROR|0|the diff does not apply: $(head -1 "$logs/$name.apply.log")")
    missed=1; continue
  fi
  caught=0
  declare -A bug_built=()
  for layer in "${layers[@]}"; do
    read -r kind arg <<<"$layer"
    cfg=$(cfg_of "$kind")
    log="$logs/$name.$kind.${arg//[^A-Za-z0-9_.-]/_}.log"
    : >"$log"
    t0=$(date +%s)
    if [ -z "${bug_built[$cfg]:-}" ]; then
      if ! build "$cfg" "$log"; then
        rows+=("$name|$layer|ERROR|$(( $(date +%s) - t0 ))|does not build (log: $log)")
        missed=1; continue
      fi
      bug_built[$cfg]=1
    fi
    run_layer "$kind" "$arg" "$log"
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    case $rc in
      0) verdict=passed; why="" ;;
      124) verdict=CAUGHT; caught=1; why="timed out after ${timeout_s}s (a hang)" ;;
      *) verdict=CAUGHT; caught=1; why=$(evidence "$kind" "$arg" "$log") ;;
    esac
    printf '  %-6s %-70s %4ss  %s\n' "$verdict" "$layer" "$secs" "$why"
    rows+=("$name|$layer|$verdict|$secs|$why")
  done
  unset bug_built
  if [ $caught = 0 ]; then
    echo "  MISSED: no layer failed"
    rows+=("$name|(every layer)|MISSED|0|no layer failed")
    missed=1
  fi
done
restore_scratch

echo
echo "| bug | layer | result | time | what failed |"
echo "|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r name layer verdict secs why <<<"$row"
  printf '| %s | %s | %s | %ss | %s |\n' "$name" "$layer" "$verdict" "$secs" "${why//|/\\|}"
done
echo
echo "seeded bugs: $(( $(date +%s) - start_all ))s wall, mode $mode: $([ $missed = 0 ] &&
  echo "every bug caught" || echo "FAILED (a bug missed, or an error)")"
exit $missed
