#!/usr/bin/env bash
# Builds ocirelay with sanitizers and runs the whole test suite (unit and
# integration tests, through ctest) under them. Exits non-zero when a test
# fails or when any sanitizer reported anything, in the test executables or
# in a daemon (ocirelayd, ocirelayctl) that a test spawned.
#
#   scripts/test-sanitizers.sh [address|thread]
#     address (default)  ASan + LeakSanitizer + UBSan, build dir build-asan
#     thread             TSan, build dir build-tsan
#
# Every sanitized process writes its reports to a file of its own under
# <build dir>/sanitizer-reports (log_path), not to its stderr: a daemon's
# stderr goes to a log file that the test may never look at, so a report
# there could pass silently. Any file in that directory fails this script.
# Extra arguments go to ctest (e.g. -R 'integration' or -E 'package').
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=${1:-address}
if [[ $# -gt 0 ]]; then shift; fi
case "$mode" in
  address) build=build-asan; sanitize="address,undefined" ;;
  thread) build=build-tsan; sanitize="thread" ;;
  *)
    echo "usage: $0 [address|thread] [ctest arguments...]" >&2
    exit 2
    ;;
esac

jobs=$(nproc)
start=$(date +%s)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCIRELAY_SANITIZE="$sanitize" \
  -DOCIRELAY_BUILD_BENCH=OFF -DOCIRELAY_WERROR="${OCIRELAY_WERROR:-OFF}" >/dev/null
cmake --build "$build" -j"$jobs"
built=$(date +%s)

reports="$root/$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
supp="$root/tests/sanitizers"

# halt_on_error: the first report ends the process with `exitcode`, so the
# test that ran it fails too (when it looks at the exit status).
export ASAN_OPTIONS="halt_on_error=1:exitcode=86:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$reports/asan"
export LSAN_OPTIONS="exitcode=86:suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=86:print_stacktrace=1:suppressions=$supp/ubsan.supp:log_path=$reports/ubsan"
# TSan goes on after a report so that one run lists every race; a report
# still makes the process exit with `exitcode` at its end.
export TSAN_OPTIONS="halt_on_error=0:exitcode=86:second_deadlock_stack=1:suppressions=$supp/tsan.supp:log_path=$reports/tsan"

status=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 900 "$@" || status=$?
finished=$(date +%s)

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]} > 0)); then
  echo "test-sanitizers: ${#found[@]} sanitizer report file(s) in $reports:" >&2
  for f in "${found[@]}"; do
    echo "===== $f" >&2
    head -n 80 "$f" >&2
  done
  status=1
fi

echo "test-sanitizers ($mode): build $((built - start)) s, tests $((finished - built)) s," \
  "exit status $status"
exit "$status"
