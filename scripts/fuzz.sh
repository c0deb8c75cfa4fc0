#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) in
# build-fuzz/ and runs each for a bounded time:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 30 (the CI smoke run); TARGET defaults to
# all of event filter config http. Each target starts from the seeds made by
# tests/fuzz/make_seeds.sh (fixtures + tests/fuzz/seeds) and from what
# earlier runs added to build-fuzz/corpus/<target>/. Fails on any crash,
# sanitizer report, leak, timeout (an input taking over 10 s) or memory use
# over 2 GiB; the input that did it is saved as
# build-fuzz/artifacts/<target>/{crash,leak,timeout,oom}-<sha1>, and can be
# replayed with build-fuzz/tests/fuzz/fuzz_<target> <file>.
#
# Environment: CXX (default clang++-14), FUZZ_JOBS (build jobs, default 2),
# FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT (seconds per input, default 10).
set -euo pipefail

seconds=${1:-30}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(event filter config http)

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
cxx=${CXX:-clang++-14}
jobs=${FUZZ_JOBS:-2}
rss_mb=${FUZZ_RSS_MB:-2048}
timeout_s=${FUZZ_TIMEOUT:-10}

start=$(date +%s)
cmake -S "$root" -B "$build" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DOCIRELAY_FUZZ=ON -DOCIRELAY_BUILD_TESTS=OFF -DOCIRELAY_BUILD_BENCH=OFF \
  -DOCIRELAY_WERROR="${OCIRELAY_WERROR:-OFF}" >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}"
built=$(date +%s)
echo "fuzz: built in $((built - start)) s"

"$root/tests/fuzz/make_seeds.sh" "$build/seeds"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1:suppressions=$root/tests/fuzz/ubsan.supp}

failed=()
summary=()
for t in "${targets[@]}"; do
  case $t in
    event | filter) dict=json ;;
    config) dict=config ;;
    http) dict=http ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
  esac
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "fuzz: $t for ${seconds} s (log: $log)"
  status=0
  "$build/tests/fuzz/fuzz_$t" "$corpus" "$build/seeds/$t" \
    -dict="$root/tests/fuzz/dict/$dict.dict" \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  # The last status line: "#N DONE cov: C ft: F corp: ... exec/s: E ...".
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  summary+=("$t: ${last:-no status line}")
  if [[ $status -ne 0 ]]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $status); the end of its log:" >&2
    tail -40 "$log" >&2
  fi
done

echo "fuzz: summary (total $(( $(date +%s) - start )) s)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]}; inputs in $build/artifacts/" >&2
  exit 1
fi
echo "fuzz: no crash, leak or timeout"
