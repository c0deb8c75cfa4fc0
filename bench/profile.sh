#!/usr/bin/env bash
# bench/profile.sh: where each build's CPU per durable event goes, by thread
# and category, turn about, as a table and a stacked bar chart (PNG).
#
#   bench/profile.sh OUT_DIR LABEL=OCIRELAYD [LABEL=OCIRELAYD...]
#
# Each run starts a fresh relay of each build (SQLite, the destination down,
# log.level info), posts EVENTS (default 60000) events over 64 connections
# with ocirelay-bench under `perf record -F 1999` (no call graphs, so the
# profiler's own cost stays small), and measures the relay's CPU per event
# from /proc. bench/profile_categories.py sorts the samples (event loop or
# storage thread; kernel network, kernel files and disk, SQLite, malloc,
# JSON, Asio, Beast...), each counting for its share of the measured CPU.
# RUNS (default 3) runs per build; the figures are the means over the runs.
# Writes OUT_DIR/profile.tsv (label, thread, category, µs per event, mean),
# OUT_DIR/profile.png and prints the table. Needs perf, python3 and gnuplot
# (Debian: linux-perf, python3, gnuplot-nox); run as root or with
# kernel.perf_event_paranoid <= 1. Builds that predate the `management:`
# section are driven without it, as in bench/compare.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:?usage: bench/profile.sh OUT_DIR LABEL=OCIRELAYD [LABEL=OCIRELAYD...]}"
shift
[ $# -ge 1 ] || { echo "usage: bench/profile.sh OUT_DIR LABEL=OCIRELAYD..." >&2; exit 2; }
RUNS="${RUNS:-3}"
COUNT="${EVENTS:-60000}"
BENCH="$ROOT/build/bench/ocirelay-bench"
EVENT="$ROOT/tests/data/events/createobject.json"
[ -x "$BENCH" ] || (cd "$ROOT" && scripts/build.sh --target ocirelay-bench >/dev/null)
mkdir -p "$OUT"
WORK="$(mktemp -d)"
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
say() { printf '%s profile: %s\n' "$(date +%T)" "$*" >&2; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# shellcheck source=bench/relay.sh
source "$ROOT/bench/relay.sh"

management_key() {
  RELAY_MANAGEMENT=1 write_config "$WORK/probe.yaml" "$WORK/probe" 9 0
  local out
  out="$("$1" --check-config --config "$WORK/probe.yaml" 2>&1)" || true
  case "$out" in *"unknown key 'management'"*) echo 0 ;; *) echo 1 ;; esac
}

: >"$WORK/samples.tsv"
for run in $(seq 1 "$RUNS"); do
  for spec in "$@"; do
    label="${spec%%=*}"
    OCIRELAYD="${spec#*=}"
    RELAY_MANAGEMENT="$(management_key "$OCIRELAYD")"
    dir="$WORK/$label-$run"
    write_config "$dir.yaml" "$dir" "$("$BENCH" free-port)" 0
    start_daemon "$dir.yaml" "$dir"
    perf record -q -F 1999 -p "$DAEMON_PID" -o "$dir/perf.data" 2>/dev/null &
    perf_pid=$!
    sleep 0.5
    t0="$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")"
    "$BENCH" post --target "$DAEMON_PORT" --count "$COUNT" --connections 64 \
      --run "$label-$run" --event "$EVENT" >"$dir/post.out"
    t1="$(awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat")"
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    stop_daemon
    cpu="$(awk -v c="$((t1 - t0))" -v u="$TICK_US" -v n="$COUNT" 'BEGIN {printf "%.2f", c * u / n}')"
    say "$label run $run: $(sed -n 's/^accepted_per_s=//p' "$dir/post.out") events/s, $cpu us of relay CPU per event"
    perf script -i "$dir/perf.data" -F tid,ip,sym,dso 2>/dev/null >"$dir/perf.txt"
    python3 "$ROOT/bench/profile_categories.py" "$label" "$dir/perf.txt" "$cpu" >>"$WORK/samples.tsv"
    rm -rf "$dir"
  done
done

# Means over the runs (a category missing from a run counts 0 there).
awk -F'\t' -v runs="$RUNS" '{s[$1 "\t" $2 "\t" $3] += $4}
  END {for (k in s) printf "%s\t%.2f\n", k, s[k] / runs}' "$WORK/samples.tsv" |
  sort -t"$(printf '\t')" -k2,2 -k3,3 -k1,1 >"$OUT/profile.tsv"

# One bar per (thread, build), stacked by category.
labels=()
for spec in "$@"; do labels+=("${spec%%=*}"); done
categories="$(cut -f3 "$OUT/profile.tsv" | sort -u)"
{
  printf 'bar'
  while IFS= read -r c; do printf '\t"%s"' "$c"; done <<<"$categories"
  printf '\n'
  for thread in "event loop" "storage"; do
    for label in "${labels[@]}"; do
      printf '"%s: %s"' "$thread" "$label"
      while IFS= read -r c; do
        awk -F'\t' -v l="$label" -v t="$thread" -v c="$c" \
          '$1 == l && $2 == t && $3 == c {v = $4} END {printf "\t%s", v ? v : 0}' "$OUT/profile.tsv"
      done <<<"$categories"
      printf '\n'
    done
  done
} >"$WORK/bars.dat"
columns="$(awk -F'\t' 'NR == 1 {print NF}' "$WORK/bars.dat")"
gnuplot <<GNUPLOT
set terminal pngcairo size 1000,560 font "sans,10"
set output "$OUT/profile.png"
set title "Relay CPU per durable event, by thread and category (µs; perf, 64 connections, mean of $RUNS runs)"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
set key outside right top vertical font ",9"
set ylabel "µs of CPU per event"
set grid ytics
set yrange [0:*]
set xtics rotate by -25 font ",9"
colors = "#9467bd #2ca02c #17becf #ff7f0e #bcbd22 #1f77b4 #d62728 #7f7f7f #e377c2 #8c564b #aec7e8 #c7c7c7 #ffbb78 #98df8a"
plot for [i=2:$columns] "$WORK/bars.dat" using i:xtic(1) title columnheader(i) lc rgb word(colors, i - 1)
GNUPLOT

printf '%-12s %-42s' thread category
for label in "${labels[@]}"; do printf ' %10s' "$label"; done
printf '\n'
while IFS=$'\t' read -r thread cat; do
  printf '%-12s %-42s' "$thread" "$cat"
  for label in "${labels[@]}"; do
    awk -F'\t' -v l="$label" -v t="$thread" -v c="$cat" \
      '$1 == l && $2 == t && $3 == c {v = $4} END {printf " %10.2f", v}' "$OUT/profile.tsv"
  done
  printf '\n'
done < <(cut -f2,3 "$OUT/profile.tsv" | sort -u)
for thread in "event loop" "storage" "other"; do
  printf '%-12s %-42s' "$thread" "total"
  for label in "${labels[@]}"; do
    awk -F'\t' -v l="$label" -v t="$thread" '$1 == l && $2 == t {s += $4} END {printf " %10.2f", s}' \
      "$OUT/profile.tsv"
  done
  printf '\n'
done
say "wrote $OUT/profile.tsv and $OUT/profile.png"
