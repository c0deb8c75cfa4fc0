#!/usr/bin/env bash
# bench/compare.sh: two ocirelayd builds side by side, turn about, on the
# durable accept path: each run starts a fresh relay of each build (SQLite,
# the destination down, log.level info) and posts the same events over 64
# connections with ocirelay-bench. Prints each run and the medians: events/s,
# p50/p99 latency, and the relay's CPU (user + system, all threads) per event.
#
#   bench/compare.sh OLD_OCIRELAYD NEW_OCIRELAYD [RUNS] [EVENTS]
#
# RUNS defaults to 5, EVENTS to 60000; IDS=random in the environment posts
# UUID-shaped eventIDs (ocirelay-bench --ids) instead of "<run>-<seq>". Build each binary first (for the old
# one, e.g. a git worktree of the old commit and scripts/build.sh there).
# Uses build/bench/ocirelay-bench of this tree; every server listens on
# 127.0.0.1 on a free port.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OLD="${1:?usage: bench/compare.sh OLD_OCIRELAYD NEW_OCIRELAYD [RUNS] [EVENTS]}"
NEW="${2:?usage: bench/compare.sh OLD_OCIRELAYD NEW_OCIRELAYD [RUNS] [EVENTS]}"
RUNS="${3:-5}"
COUNT="${4:-60000}"
IDS="${IDS:-sequential}"
BENCH="$ROOT/build/bench/ocirelay-bench"
EVENT="$ROOT/tests/data/events/createobject.json"
[ -x "$BENCH" ] || (cd "$ROOT" && scripts/build.sh --target ocirelay-bench >/dev/null)
WORK="$(mktemp -d)"
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
TICK_US=$((1000000 / $(getconf CLK_TCK)))
say() { printf '%s compare: %s\n' "$(date +%T)" "$*" >&2; }
# shellcheck source=bench/relay.sh
source "$ROOT/bench/relay.sh"

# management_key BINARY: 1 when that build knows the `management:` section
# (older builds serve /metrics on the ingress port without it).
management_key() {
  RELAY_MANAGEMENT=1 write_config "$WORK/probe.yaml" "$WORK/probe" 9 0
  local out
  out="$("$1" --check-config --config "$WORK/probe.yaml" 2>&1)" || true
  case "$out" in
    *"unknown key 'management'"*) echo 0 ;;
    *) echo 1 ;;
  esac
}
OLD_MANAGEMENT="$(management_key "$OLD")"
NEW_MANAGEMENT="$(management_key "$NEW")"

# one BUILD_LABEL BINARY RUN: prints "label accepted_per_s p50_us p99_us cpu_us".
one() {
  local label="$1" run="$3" dir="$WORK/$1-$3" t0 t1
  OCIRELAYD="$2"
  if [ "$label" = old ]; then RELAY_MANAGEMENT="$OLD_MANAGEMENT"; else RELAY_MANAGEMENT="$NEW_MANAGEMENT"; fi
  write_config "$dir.yaml" "$dir" "$("$BENCH" free-port)" 0
  start_daemon "$dir.yaml" "$dir"
  t0="$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")"
  "$BENCH" post --target "$DAEMON_PORT" --count "$COUNT" --connections 64 \
    --run "$label-$run" --event "$EVENT" --ids "$IDS" >"$dir/post.out"
  t1="$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")"
  stop_daemon
  awk -v l="$label" -v c="$((t1 - t0))" -v u="$TICK_US" -v n="$COUNT" -F= '
    $1 == "accepted_per_s" {a = $2} $1 == "latency_p50_us" {p = $2} $1 == "latency_p99_us" {q = $2}
    END {printf "%s %s %s %s %.1f\n", l, a, p, q, c * u / n}' "$dir/post.out"
  rm -rf "$dir" "$dir.yaml"
}

for run in $(seq 1 "$RUNS"); do
  one old "$OLD" "$run"
  one new "$NEW" "$run"
done | tee "$WORK/all.txt"
echo "medians of $RUNS (events/s, p50 us, p99 us, relay CPU us per event):"
for label in old new; do
  for column in 2 3 4 5; do
    awk -v l="$label" -v c="$column" '$1 == l {print $c}' "$WORK/all.txt" | sort -n |
      awk '{v[NR] = $1} END {printf "%s ", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
  done | sed "s/^/$label: /"
  echo
done
