#!/usr/bin/env bash
# bench/compare.sh: two ocirelayd builds side by side, turn about, on the
# durable accept path: each run starts a fresh relay of each build (SQLite,
# the destination down, log.level info) and posts the same events over 64
# connections with ocirelay-bench. Prints each run and the medians: events/s,
# p50/p99 latency, and the relay's CPU (user + system, all threads) per event.
#
#   bench/compare.sh OLD_OCIRELAYD NEW_OCIRELAYD [RUNS] [EVENTS]
#
# RUNS defaults to 5, EVENTS to 60000. Build each binary first (for the old
# one, e.g. a git worktree of the old commit and scripts/build.sh there).
# Uses build/bench/ocirelay-bench of this tree; every server listens on
# 127.0.0.1 on a free port.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OLD="${1:?usage: bench/compare.sh OLD_OCIRELAYD NEW_OCIRELAYD [RUNS] [EVENTS]}"
NEW="${2:?usage: bench/compare.sh OLD_OCIRELAYD NEW_OCIRELAYD [RUNS] [EVENTS]}"
RUNS="${3:-5}"
COUNT="${4:-60000}"
BENCH="$ROOT/build/bench/ocirelay-bench"
EVENT="$ROOT/tests/data/events/createobject.json"
[ -x "$BENCH" ] || scripts/build.sh --target ocirelay-bench >/dev/null
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# one BUILD_LABEL BINARY RUN: prints "label accepted_per_s p50_us p99_us cpu_us".
one() {
  local label="$1" binary="$2" run="$3" dir="$WORK/$1-$3" pid port="" i t0 t1
  mkdir -p "$dir"
  cat >"$dir/c.yaml" <<YAML
server:
  listen: "127.0.0.1:0"
management:
  listen: ""
storage:
  path: $dir/queue.db
log:
  level: info
  file: $dir/ocirelay.log
admin:
  socket: $dir/admin.sock
destinations:
  - name: sink
    url: http://127.0.0.1:$("$BENCH" free-port)/ic/api/integration/v1/flows/rest/BENCH/1.0/event
    auth: { type: none }
    timeout: 10s
    retry: { initial_backoff: 1s, max_backoff: 2s, max_age: 24h }
routes:
  - name: objects
    match: { eventType: ["com.oraclecloud.objectstorage.*"] }
    destinations: [sink]
YAML
  "$binary" --config "$dir/c.yaml" >"$dir/stdout.log" 2>&1 &
  pid=$!
  for i in $(seq 1 200); do
    port="$(grep -ho 'listening on 127.0.0.1:[0-9]*' "$dir/ocirelay.log" 2>/dev/null |
      head -1 | sed 's/.*://')" || true
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "compare: $binary did not start:" >&2; cat "$dir/stdout.log" >&2; exit 1; }
  t0="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  "$BENCH" post --target "$port" --count "$COUNT" --connections 64 --run "$label-$run" \
    --event "$EVENT" >"$dir/post.out"
  t1="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  kill -TERM "$pid"; wait "$pid" || true
  awk -v l="$label" -v c="$((t1 - t0))" -v u="$TICK_US" -v n="$COUNT" -F= '
    $1 == "accepted_per_s" {a = $2} $1 == "latency_p50_us" {p = $2} $1 == "latency_p99_us" {q = $2}
    END {printf "%s %s %s %s %.1f\n", l, a, p, q, c * u / n}' "$dir/post.out"
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
