#!/usr/bin/env bash
# The fuzz step of CI: installs what it needs (a nightly toolchain, cargo-fuzz
# from crates.io), builds every target once (kept in fuzz/target, so a cached
# fuzz/target makes later runs rebuild only what changed), replays every seed
# and committed regression input through every target, the differential ones
# included, then fuzzes each target for a bounded time. Fails when any target
# finds anything (a panic, a crash, a leak, an input slower than
# FUZZ_INPUT_TIMEOUT seconds); the inputs are under fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=20        fuzzing time per target (0: replay only)
#   FUZZ_PARALLEL=2        targets run at the same time (one process each)
#   FUZZ_INPUT_TIMEOUT=10  seconds one input may take before it is a finding
#   FUZZ_TOOLCHAIN=nightly the toolchain libFuzzer's instrumentation needs
#   FUZZ_SEED=1            libFuzzer's -seed for every target: fixed, so a rerun
#                          of one commit tries the same inputs in the same order
#                          (a finding reproduces, a pass is not luck); 0 draws a
#                          random seed each run (libFuzzer's own default)
#
# With the defaults, 21 targets take about 21 x 20 s / 2 = 3.5 minutes of
# fuzzing, plus the build (see fuzz/README.md, "CI", for measured times).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-20}
parallel=${FUZZ_PARALLEL:-2}
input_timeout=${FUZZ_INPUT_TIMEOUT:-10}
fuzz_seed=${FUZZ_SEED:-1}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
cargo_fuzz_version=0.13.2
start=$(date +%s)

echo "== fuzz: toolchain and cargo-fuzz"
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$toolchain" --profile minimal
fi
rustup run "$toolchain" rustc --version
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi
cargo fuzz --version

echo "== fuzz: build every target (release, debug assertions, ASan)"
build_start=$(date +%s)
cargo "+$toolchain" fuzz build
echo "built in $(($(date +%s) - build_start)) s"

targets=$(cargo "+$toolchain" fuzz list)
# Logs of this run (fuzz/target is not committed); the marker tells this
# run's findings from older files in artifacts/.
logs=target/ci-logs
rm -rf "$logs"
mkdir -p "$logs"
touch "$logs/.start"

# One target: replay its seeds and regressions (files only: pending/ holds
# known failures whose fix has not landed, listed below), then fuzz it.
run_target() {
  local t=$1 log=$logs/$1.log
  local inputs=()
  local f
  for f in "seeds/$t"/* "regressions/$t"/*; do
    [[ -f $f && $(basename "$f") != README.md ]] && inputs+=("$f")
  done
  {
    if ((${#inputs[@]})); then
      cargo "+$toolchain" fuzz run "$t" "${inputs[@]}" -- -timeout="$input_timeout" || exit 1
    fi
    if ((seconds > 0)); then
      mkdir -p "corpus/$t"
      cargo "+$toolchain" fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout="$input_timeout" -seed="$fuzz_seed" -print_final_stats=1 || exit 1
    fi
  } >"$log" 2>&1
}

echo "== fuzz: replay, then $seconds s per target, $parallel at a time, -seed=$fuzz_seed"
failed=()
declare -A pids=()
for t in $targets; do
  while ((${#pids[@]} >= parallel)); do
    wait -n || true
    for p in "${!pids[@]}"; do
      if ! kill -0 "$p" 2>/dev/null; then
        wait "$p" || failed+=("${pids[$p]}")
        unset "pids[$p]"
      fi
    done
  done
  run_target "$t" &
  pids[$!]=$t
done
for p in "${!pids[@]}"; do
  wait "$p" || failed+=("${pids[$p]}")
done

total=0
for t in $targets; do
  # A target that crashed before its stats has none: count 0, and report it
  # below (grep finding nothing must not end the script under pipefail).
  runs=$({ grep -o 'stat::number_of_executed_units: [0-9]*' "$logs/$t.log" || true; } | awk '{s += $2} END {print s + 0}')
  total=$((total + runs))
  printf '%-20s %12s executions\n' "$t" "$runs"
done
printf '%-20s %12s executions\n' total "$total"
for p in regressions/*/pending/*; do
  [[ -f $p ]] && echo "note: $p is a known failure whose fix is pending; not replayed"
done

if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "== fuzz: $t FAILED (log: fuzz/$logs/$t.log)"
    grep -A 4 -m 1 'panicked at\|ERROR: libFuzzer\|ERROR: AddressSanitizer' "$logs/$t.log" || tail -n 20 "$logs/$t.log"
    find "artifacts/$t" -type f -newer "$logs/.start" 2>/dev/null | sed 's|^|  input: fuzz/|'
  done
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}; reproduce with cargo +$toolchain fuzz run <target> <input> (fuzz/README.md)"
  exit 1
fi
echo "fuzz: every target passed in $(($(date +%s) - start)) s"
