#!/usr/bin/env bash
# bench/run.sh: measures ocirelay on this machine and, in the same run, the
# references that show the machine's limit (nginx answering 202 to the same
# POSTs, the disk's raw fsync rate). Writes the figures and plots to
# docs/benchmarks.md and docs/benchmarks/*.png.
#
#   bench/run.sh                 full run (about 15 minutes on 2 cores)
#   bench/run.sh --quick         smoke run for CI: every step, tiny sizes,
#                                output under build/bench-quick/ (docs untouched)
#   bench/run.sh --runs 5        more runs per figure (default 3; medians quoted)
#   bench/run.sh --only postgresql,batch-input
#                                only these steps (fsync, accept, e2e, batching,
#                                sustained, backlog, idle, connections,
#                                postgresql, batch-input, ids, engines, log); the
#                                report goes to build/bench-only/ (docs untouched)
#   PERF_OUT=DIR bench/run.sh --only postgresql
#                                also profiles each PostgreSQL accept run with
#                                `perf record -a -g` (the whole machine: relays,
#                                database, generator) into DIR/<label>-<run>.data
#                                and a per-process and per-symbol summary
#                                DIR/<label>-<run>.txt; the figures of a
#                                profiled run are lower (perf's own cost)
#   OCIRELAY_BENCH_DAEMON=PATH bench/run.sh --only connections
#                                measures another build's ocirelayd (an older
#                                one, to set beside this one's figures)
#
# Every server listens on 127.0.0.1 on a free port. Nothing is downloaded:
# wrk, nginx and gnuplot come from Debian (scripts/install-extra-deps.sh); the
# PostgreSQL step uses the postgresql-15 server of scripts/install-deps.sh and
# is skipped, with a message, where it is not installed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

QUICK=0
RUNS=3
ONLY=""
STEPS="fsync accept e2e batching sustained backlog idle connections postgresql batch-input ids engines log"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS="$2"; shift ;;
    --only) ONLY="$(echo "$2" | tr ',' ' ')"; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--runs N] [--only STEP[,STEP...]]" >&2; exit 2 ;;
  esac
  shift
done
for step in $ONLY; do
  case " $STEPS " in
    *" $step "*) ;;
    *) echo "bench/run.sh: unknown step '$step'; steps: $STEPS" >&2; exit 2 ;;
  esac
done
# want STEP: whether this run takes that step.
want() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) true ;; *) false ;; esac; }

# Outbound batching (section 5): events posted at a steady rate.
BATCH_RATE=100
# Sustained end to end (section 2c): steady rates tried in turn, each for
# SUSTAINED_SECONDS; a rate is kept when its added p99 stays under 1 s.
SUSTAINED_RATES="6000 8000 10000 12000 14000 16000 18000 20000 22000 24000"
SUSTAINED_SECONDS=60
if [ "$QUICK" = 1 ]; then
  HOLD_CONNECTIONS=(16 64); HOLD_AFTER=1
  RUNS=1; WRK_SECONDS=2; E2E_COUNT=3000; E2E_SERIAL_COUNT=200; BACKLOG=5000; IDLE_SECONDS=3; FSYNC_SECONDS=1
  BATCH_COUNT=300; SUSTAINED_RATES="500 1000"; SUSTAINED_SECONDS=2
  PG_COUNT=2000; PG_E2E_COUNT=1000; BATCH_INPUT_COUNT=2000; LOG_COUNT=2000; IDS_COUNT=2000
  ENGINES_COUNT=2000
  OUT="$ROOT/build/bench-quick"; DOC="$OUT/benchmarks.md"; PLOTS="$OUT"
else
  HOLD_CONNECTIONS=(256 1000); HOLD_AFTER=5,30,60
  WRK_SECONDS=10; E2E_COUNT=100000; E2E_SERIAL_COUNT=2000; BACKLOG=1000000; IDLE_SECONDS=30; FSYNC_SECONDS=5
  BATCH_COUNT=3000
  PG_COUNT=40000; PG_E2E_COUNT=20000; BATCH_INPUT_COUNT=40000; LOG_COUNT=40000; IDS_COUNT=60000
  ENGINES_COUNT=60000
  OUT="$ROOT/build/bench-full"; DOC="$ROOT/docs/benchmarks.md"; PLOTS="$ROOT/docs/benchmarks"
  if [ -n "$ONLY" ]; then  # a partial run never rewrites the page
    OUT="$ROOT/build/bench-only"; DOC="$OUT/benchmarks.md"; PLOTS="$OUT"
  fi
fi
CONNECTIONS=(1 16 64)

scripts/install-extra-deps.sh
scripts/build.sh --target ocirelayd ocirelay-bench >/dev/null
# ocirelay-storeprobe exists only where RocksDB and LMDB are installed
# (bench/CMakeLists.txt); the engines step says so when it does not.
STOREPROBE="$ROOT/build/bench/ocirelay-storeprobe"
if want engines && cmake --build build --target help | grep -w ocirelay-storeprobe >/dev/null; then
  scripts/build.sh --target ocirelay-storeprobe >/dev/null
fi
OCIRELAYD="${OCIRELAY_BENCH_DAEMON:-$ROOT/build/daemon/ocirelayd}"
BENCH="$ROOT/build/bench/ocirelay-bench"
EVENT="$ROOT/tests/data/events/createobject.json"
CLOUDEVENT="$ROOT/tests/data/events/cloudevents-1.0-structured.json"
RSS_LOG="$OUT/backlog-rss.tsv"

# The storage lives on the disk the project is on (not a tmpfs), so that
# fsync costs what it costs in production.
rm -rf "$OUT"
mkdir -p "$OUT" "$PLOTS"
WORK="$OUT/work"
mkdir -p "$WORK"
RESULTS="$OUT/results.tsv"
: >"$RESULTS"

PIDS=()
PG_RUNNING=0
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$PG_RUNNING" = 1 ]; then pg_stop; fi
}
trap cleanup EXIT

say() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }

# record SECTION LABEL RUN KEY=VALUE... : one line per figure in results.tsv.
record() {
  local section="$1" label="$2" run="$3"; shift 3
  local kv
  for kv in "$@"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$section" "$label" "$run" "${kv%%=*}" "${kv#*=}" >>"$RESULTS"
  done
}

# median SECTION LABEL KEY: the median over runs (lower middle for even counts).
median() {
  awk -F'\t' -v s="$1" -v l="$2" -v k="$3" '$1==s && $2==l && $4==k {print $5}' "$RESULTS" |
    sort -g | awk '{v[NR]=$1} END {if (NR==0) print "n/a"; else print v[int((NR+1)/2)]}'
}

free_port() { "$BENCH" free-port; }

# A certificate for 127.0.0.1, for the TLS runs of ocirelay and nginx alike.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$WORK/server.key" -out "$WORK/server.crt" 2>/dev/null
chmod 600 "$WORK/server.key"

# write_config, start_daemon, stop_daemon: one relay under test.
# shellcheck source=bench/relay.sh
source "$ROOT/bench/relay.sh"

# metric PORT SCHEME NAME: the sum of a metric's samples on /metrics.
metric() {
  curl -sk "$2://127.0.0.1:$1/metrics" | awk -v n="$3" 'index($1, n) == 1 {s+=$2} END {printf "%.0f\n", s}'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

kv_lines() { grep -E '^[a-z0-9_]+=' "$1" | tr '\n' ' '; }

# children_cpu_ms VAR: sets VAR to the CPU time (ms, user + system) of this
# shell's finished children, read around a foreground wrk run for the load
# generator's share. Not in $(...): a subshell starts with no children's time.
children_cpu_ms() {
  times >"$WORK/times.txt"
  printf -v "$1" '%s' "$(sed -n 2p "$WORK/times.txt" | awk '{
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
    printf "%.0f", t * 1000 }')"
}
# cpu_per_event TICKS_OR_MS UNIT_US WRK_OUT: microseconds of CPU per request
# answered 2xx in that wrk run.
cpu_per_event() {
  local answered
  answered=$(awk -F= '$1 == "requests" {r = $2} $1 == "non_2xx" {n = $2} END {print r - n}' "$3")
  awk -v c="$1" -v u="$2" -v a="$answered" 'BEGIN {if (a > 0) printf "%.1f\n", c * u / a; else print "n/a"}'
}
# Clock ticks of a process and its children (nginx: master and workers),
# from /proc alone (a fresh Debian 12 may have no procps, hence no pgrep).
# Through cat: a process that exits during the scan is skipped, where mawk
# would stop at its vanished file; cat then exits 1, which must not end the
# run (pipefail): a busy machine has processes exiting all the time.
tree_cpu_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v p="$1" '$1 == p || $4 == p {t += $14 + $15} END {print t + 0}'
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# pids_cpu_ticks PID...: the sum of tree_cpu_ticks over the processes.
pids_cpu_ticks() {
  local p t=0
  for p in "$@"; do t=$((t + $(tree_cpu_ticks "$p"))); done
  echo "$t"
}
# pids_written PID...: bytes the processes have written to files so far
# (write_bytes of /proc/PID/io: what they made dirty for the disk, the WAL's
# frames and the checkpoints' pages).
pids_written() {
  local p t=0
  for p in "$@"; do
    t=$((t + $({ cat "/proc/$p/io" 2>/dev/null || true; } | awk '$1 == "write_bytes:" {b = $2} END {print b + 0}')))
  done
  echo "$t"
}
# cpu_stat: "TOTAL IDLE" clock ticks of the whole machine (/proc/stat; idle
# includes iowait).
cpu_stat() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6}' /proc/stat; }
# per_event_us AMOUNT UNIT_US EVENTS: microseconds per event, one decimal.
per_event_us() {
  awk -v c="$1" -v u="$2" -v n="$3" 'BEGIN {if (n > 0) printf "%.1f\n", c * u / n; else print "n/a"}'
}

# Whatever else runs on the machine shows in the figures: note the load.
record machine load start "load1=$(cut -d' ' -f1 /proc/loadavg)"

# --- 0. The disk -------------------------------------------------------------
if want fsync; then
  say "raw fsync rate of the disk under $WORK"
  for run in $(seq 1 "$RUNS"); do
    "$BENCH" fsync --dir "$WORK" --seconds "$FSYNC_SECONDS" >"$WORK/fsync.out"
    # shellcheck disable=SC2046
    record fsync disk "$run" $(kv_lines "$WORK/fsync.out")
  done
fi

# --- 1. Durable accept: ocirelay and nginx under wrk -------------------------
if want accept; then
  run_wrk() {  # run_wrk URL CONNECTIONS RUN_ID OUTFILE
    local threads=2
    [ "$2" -lt 2 ] && threads=1
    wrk -t"$threads" -c"$2" -d"${WRK_SECONDS}s" --timeout 10s -s "$ROOT/bench/post_event.lua" \
      "$1" -- "$EVENT" "$3" >"$4" 2>&1
  }

  say "durable accept: ocirelay, ${WRK_SECONDS}s per run, connections ${CONNECTIONS[*]}"
  for scheme in http https; do
    tls=0; [ "$scheme" = https ] && tls=1
    for c in "${CONNECTIONS[@]}"; do
      for run in $(seq 1 "$RUNS"); do
        dir="$WORK/accept-$scheme-$c-$run"
        write_config "$dir.yaml" "$dir" "$(free_port)" "$tls"  # the sink stays down: accept only
        start_daemon "$dir.yaml" "$dir"
        url="$scheme://127.0.0.1:$DAEMON_PORT/v1/events"
        commits0="$(metric "$DAEMON_PORT" "$scheme" ocirelay_storage_commit_seconds_count)"
        queued0="$(metric "$DAEMON_PORT" "$scheme" 'ocirelay_events_received_total{result="queued"')"
        daemon_ticks0="$(cpu_ticks "$DAEMON_PID")"; children_cpu_ms load_ms0
        run_wrk "$url" "$c" "r$run" "$dir/wrk.out"
        daemon_ticks1="$(cpu_ticks "$DAEMON_PID")"; children_cpu_ms load_ms1
        commits1="$(metric "$DAEMON_PORT" "$scheme" ocirelay_storage_commit_seconds_count)"
        queued1="$(metric "$DAEMON_PORT" "$scheme" 'ocirelay_events_received_total{result="queued"')"
        seconds="$(sed -n 's/^seconds=//p' "$dir/wrk.out")"
        stop_daemon
        # shellcheck disable=SC2046
        record accept "ocirelay-$scheme-$c" "$run" $(kv_lines "$dir/wrk.out") \
          "commits_per_s=$(awk -v a="$commits0" -v b="$commits1" -v s="$seconds" 'BEGIN {printf "%.0f", (b-a)/s}')" \
          "queued=$((queued1 - queued0))" \
          "server_cpu_us=$(cpu_per_event "$((daemon_ticks1 - daemon_ticks0))" "$TICK_US" "$dir/wrk.out")" \
          "load_cpu_us=$(cpu_per_event "$((load_ms1 - load_ms0))" 1000 "$dir/wrk.out")" \
          "events_per_commit=$(awk -v a="$commits0" -v b="$commits1" -v q="$((queued1 - queued0))" 'BEGIN {printf "%.1f", (b>a) ? q/(b-a) : 0}')"
        say "  ocirelay $scheme c=$c run $run: $(sed -n 's/^accepted_per_s=//p' "$dir/wrk.out") ev/s"
        rm -rf "$dir"
      done
    done
  done

  say "durable accept reference: nginx answering 202 to the same POSTs"
  NGINX="$WORK/nginx"
  mkdir -p "$NGINX/logs"
  NGINX_HTTP="$(free_port)"
  NGINX_HTTPS="$(free_port)"
  cat >"$NGINX/nginx.conf" <<EOF
worker_processes auto;
pid $NGINX/nginx.pid;
error_log $NGINX/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $NGINX/body;
  client_max_body_size 1m;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:$NGINX_HTTP;
    listen 127.0.0.1:$NGINX_HTTPS ssl;
    ssl_certificate $WORK/server.crt;
    ssl_certificate_key $WORK/server.key;
    location / {
      default_type application/json;
      return 202 '{"status":"queued"}';
    }
  }
}
EOF
  nginx -p "$NGINX" -c "$NGINX/nginx.conf" -g 'daemon off; user root;' &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_HTTP/" && break; sleep 0.05; done
  for scheme in http https; do
    port="$NGINX_HTTP"; [ "$scheme" = https ] && port="$NGINX_HTTPS"
    for c in "${CONNECTIONS[@]}"; do
      for run in $(seq 1 "$RUNS"); do
        nginx_ticks0="$(tree_cpu_ticks "$NGINX_PID")"; children_cpu_ms load_ms0
        run_wrk "$scheme://127.0.0.1:$port/v1/events" "$c" "n$run" "$WORK/nginx-wrk.out"
        nginx_ticks1="$(tree_cpu_ticks "$NGINX_PID")"; children_cpu_ms load_ms1
        # shellcheck disable=SC2046
        record accept "nginx-$scheme-$c" "$run" $(kv_lines "$WORK/nginx-wrk.out") \
          "server_cpu_us=$(cpu_per_event "$((nginx_ticks1 - nginx_ticks0))" "$TICK_US" "$WORK/nginx-wrk.out")" \
          "load_cpu_us=$(cpu_per_event "$((load_ms1 - load_ms0))" 1000 "$WORK/nginx-wrk.out")"
        say "  nginx $scheme c=$c run $run: $(sed -n 's/^accepted_per_s=//p' "$WORK/nginx-wrk.out") req/s"
      done
    done
  done
  kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
fi

# --- 2. End to end: post N events while a sink takes the deliveries ---------
# e2e_runs LABEL CONNECTIONS COUNT [SECTION RATE BATCH]: RUNS runs, each on a
# fresh daemon; RATE events/s (0: as fast as answered), BATCH as write_config.
e2e_runs() {
  local label="$1" connections="$2" count="$3" section="${4:-e2e}" rate="${5:-0}" batch="${6:-}"
  local run dir sink_port
  for run in $(seq 1 "$RUNS"); do
    dir="$WORK/e2e-$label-$run"
    sink_port="$(free_port)"
    write_config "$dir.yaml" "$dir" "$sink_port" 0 "$batch"
    start_daemon "$dir.yaml" "$dir"
    "$BENCH" e2e --target "$DAEMON_PORT" --sink-port "$sink_port" --count "$count" \
      --connections "$connections" --event "$EVENT" --run "e2e-$label-$run" --timeout 300 \
      --rate "$rate" >"$dir/e2e.out"
    stop_daemon
    # shellcheck disable=SC2046
    record "$section" "$label" "$run" $(kv_lines "$dir/e2e.out")
    say "  run $run: $(sed -n 's/^delivered_per_s=//p' "$dir/e2e.out") delivered/s," \
      "added p50 $(sed -n 's/^added_p50_us=//p' "$dir/e2e.out") us"
    rm -rf "$dir"
  done
}
if want e2e; then
  say "end to end: $E2E_COUNT events, 64 connections, sink healthy"
  e2e_runs ocirelay 64 "$E2E_COUNT"
  # At 64 connections the relay accepts faster than it delivers, so the added
  # latency there is mostly time in the queue. One connection posting one
  # event at a time stays below the delivery rate: the latency of the path.
  say "end to end, one connection: $E2E_SERIAL_COUNT events"
  e2e_runs ocirelay-c1 1 "$E2E_SERIAL_COUNT"
fi

# --- 2b. Outbound batching: a steady rate to a batching destination ----------
if want batching; then
  # Events per billed OIC message (ceil(body / 51,200) per request, counted by
  # the sink) and the latency batching adds, against the same rate unbatched.
  say "batching: $BATCH_COUNT events at $BATCH_RATE/s, batch max_events 100, 50KiB, max_wait 1s"
  e2e_runs batched 4 "$BATCH_COUNT" batching "$BATCH_RATE" \
    "{ max_events: 100, max_bytes: 50KiB, max_wait: 1s, envelope: events }"
  say "batching reference: the same rate, no batching"
  e2e_runs unbatched 4 "$BATCH_COUNT" batching "$BATCH_RATE"
fi

# --- 2c. Sustained end to end: the highest steady rate also delivered --------
# 64 connections post at a steady rate for SUSTAINED_SECONDS while the sink
# takes the deliveries. The rate is kept when the generator held it (97%),
# every event arrived once, and the added latency's p99 stayed under 1 s: a
# backlog growing by even 2% of the rate would hold the last events of a
# 60 s run longer than that. Rates are tried upwards; a rate missed is tried
# once more (one noisy minute), and the search stops at the second miss.
# Two destinations: unbatched with 32 requests in flight (the default of 4
# caps deliveries at 4 per sink round trip), and batched (100 events, 50 KiB,
# max_wait 1 s) with the default 4 in flight.
sustained_run() {
  local label="$1" rate="$2" attempt="$3" batch="$4" concurrency="$5" dir sink_port
  dir="$WORK/sustained-$label-$rate-$attempt"
  sink_port="$(free_port)"
  RELAY_CONCURRENCY="$concurrency" write_config "$dir.yaml" "$dir" "$sink_port" 0 "$batch"
  start_daemon "$dir.yaml" "$dir"
  "$BENCH" e2e --target "$DAEMON_PORT" --sink-port "$sink_port" \
    --count "$((rate * SUSTAINED_SECONDS))" --connections 64 --event "$EVENT" \
    --run "sustained-$label-$rate-$attempt" --timeout 300 --rate "$rate" >"$dir/e2e.out" || true
  stop_daemon
  local kept
  kept="$(awk -F= -v r="$rate" '{v[$1] = $2} END {
    print (v["accepted_per_s"] >= 0.97 * r && v["not_delivered"] == 0 && v["duplicates"] == 0 &&
           v["added_p99_us"] != "" && v["added_p99_us"] < 1000000) ? 1 : 0}' "$dir/e2e.out")"
  # shellcheck disable=SC2046
  record sustained "$label-$rate" "$attempt" $(kv_lines "$dir/e2e.out") "kept=$kept"
  say "  $label $rate/s (try $attempt): $(sed -n 's/^accepted_per_s=//p' "$dir/e2e.out") accepted/s," \
    "added p99 $(sed -n 's/^added_p99_us=//p' "$dir/e2e.out") us: $([ "$kept" = 1 ] && echo kept || echo missed)"
  rm -rf "$dir"*
  [ "$kept" = 1 ]
}
sustained_search() {
  local label="$1" batch="$2" concurrency="$3" rate best=0
  for rate in $SUSTAINED_RATES; do
    if sustained_run "$label" "$rate" 1 "$batch" "$concurrency" ||
      sustained_run "$label" "$rate" 2 "$batch" "$concurrency"; then
      best="$rate"
    else
      break
    fi
  done
  record sustained "$label" 1 "best_rate=$best" "concurrency=$concurrency" "seconds=$SUSTAINED_SECONDS"
  say "  $label: highest rate kept $best/s"
}
if want sustained; then
  say "sustained end to end: steady rates ($SUSTAINED_RATES) for ${SUSTAINED_SECONDS}s each, 64 connections"
  sustained_search unbatched "" 32
  sustained_search batched "{ max_events: 100, max_bytes: 50KiB, max_wait: 1s, envelope: events }" 4
fi

# --- 3. Backlog: queue while the sink is down, then drain -------------------
if want backlog; then
  say "backlog: $BACKLOG events queued with the sink down"
  dir="$WORK/backlog"
  sink_port="$(free_port)"
  write_config "$dir.yaml" "$dir" "$sink_port" 0
  start_daemon "$dir.yaml" "$dir"
  T0="$(date +%s.%N)"
  # Samples whichever daemon is current (the file follows restarts) until the
  # file is removed.
  PID_FILE="$WORK/backlog.pid"
  echo "$DAEMON_PID" >"$PID_FILE"
  (
    while [ -f "$PID_FILE" ]; do
      pid="$(cat "$PID_FILE" 2>/dev/null)"
      rss="$(rss_kb "$pid" 2>/dev/null)" || rss=""
      if [ -n "$rss" ]; then
        printf '%s\t%s\n' "$(awk -v t0="$T0" -v t="$(date +%s.%N)" 'BEGIN {printf "%.1f", t-t0}')" "$rss"
      fi
      sleep 0.5
    done
  ) >"$RSS_LOG" 2>/dev/null &
  SAMPLER_PID=$!
  PIDS+=("$SAMPLER_PID")
  "$BENCH" post --target "$DAEMON_PORT" --count "$BACKLOG" --connections 64 --event "$EVENT" \
    --run backlog >"$dir/post.out"
  queue_end="$(awk -v t0="$T0" -v t="$(date +%s.%N)" 'BEGIN {printf "%.1f", t-t0}')"
  peak_queueing="$(hwm_kb "$DAEMON_PID")"
  stop_daemon
  db_bytes="$(du -cb "$dir"/queue.db* | tail -1 | cut -f1)"
  # shellcheck disable=SC2046
  record backlog fill 1 $(kv_lines "$dir/post.out") "peak_rss_kb=$peak_queueing" \
    "storage_bytes=$db_bytes" "bytes_per_event=$((db_bytes / BACKLOG))"

  say "backlog: start-up time with $BACKLOG events queued"
  for run in $(seq 1 5); do
    t_start="$(date +%s%N)"
    start_daemon "$dir.yaml" "$dir"
    echo "$DAEMON_PID" >"$PID_FILE"
    for _ in $(seq 1 2000); do
      curl -s -o /dev/null "http://127.0.0.1:$DAEMON_PORT/health" && break
      sleep 0.005
    done
    t_up="$(date +%s%N)"
    record startup backlog "$run" "startup_ms=$(((t_up - t_start) / 1000000))"
    [ "$run" -lt 5 ] && stop_daemon
  done
  say "backlog: draining to the sink"
  echo 5 >"/proc/$DAEMON_PID/clear_refs"  # resets VmHWM: the next peak is the drain's
  drain_start_rss="$(rss_kb "$DAEMON_PID")"
  "$BENCH" sink --port "$sink_port" --expect 0 >"$dir/sink.out" &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  for _ in $(seq 1 20000); do
    received="$(curl -s "http://127.0.0.1:$sink_port/stats" | sed -n 's/.*"received":\([0-9]*\).*/\1/p')"
    [ "${received:-0}" -ge "$BACKLOG" ] && break
    sleep 0.2
  done
  stats="$(curl -s "http://127.0.0.1:$sink_port/stats")"
  first_ns="$(echo "$stats" | sed -n 's/.*"first_ns":\([0-9]*\).*/\1/p')"
  last_ns="$(echo "$stats" | sed -n 's/.*"last_ns":\([0-9]*\).*/\1/p')"
  peak_draining="$(hwm_kb "$DAEMON_PID")"
  stop_daemon
  kill "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
  record backlog drain 1 "received=$received" "peak_rss_kb=$peak_draining" \
    "rss_at_drain_start_kb=$drain_start_rss" \
    "drain_seconds=$(awk -v a="$first_ns" -v b="$last_ns" 'BEGIN {printf "%.1f", (b-a)/1e9}')" \
    "drain_per_s=$(awk -v n="$received" -v a="$first_ns" -v b="$last_ns" 'BEGIN {printf "%.0f", (b>a) ? n/((b-a)/1e9) : 0}')"
  rm -f "$PID_FILE"
  wait "$SAMPLER_PID" 2>/dev/null || true
  rm -rf "$dir"
fi

# --- 4. Idle footprint --------------------------------------------------------
if want idle; then
  say "idle: ${IDLE_SECONDS}s with no traffic"
  dir="$WORK/idle"
  sink_port="$(free_port)"
  "$BENCH" sink --port "$sink_port" >/dev/null &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  write_config "$dir.yaml" "$dir" "$sink_port" 1
  start_daemon "$dir.yaml" "$dir"
  sleep 2
  ticks0="$(cpu_ticks "$DAEMON_PID")"
  sleep "$IDLE_SECONDS"
  ticks1="$(cpu_ticks "$DAEMON_PID")"
  hz="$(getconf CLK_TCK)"
  record idle ocirelay 1 "rss_kb=$(rss_kb "$DAEMON_PID")" \
    "cpu_ms=$(((ticks1 - ticks0) * 1000 / hz))" "seconds=$IDLE_SECONDS"
  stop_daemon
  kill "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
fi

# --- 4b. Memory per connection ----------------------------------------------
# N TLS keep-alive connections, one event posted on each, held open and idle
# (well within idle_timeout); the relay's RSS before, while they are idle
# (10 s after the last answer) and after they close (ocirelay-bench hold).
# One fresh relay per figure; the sink stays down, so nothing is delivered
# meanwhile.
if want connections; then
  want_files=$((${HOLD_CONNECTIONS[-1]} + 256))
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_files" ]; then
    ulimit -n "$want_files" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  fi
  for c in "${HOLD_CONNECTIONS[@]}"; do
    for run in $(seq 1 "$RUNS"); do
      say "memory per connection: $c TLS connections held idle, then closed (run $run)"
      dir="$WORK/hold-$c-$run"
      write_config "$dir.yaml" "$dir" "$(free_port)" 1
      start_daemon "$dir.yaml" "$dir"
      "$BENCH" hold --target "$DAEMON_PORT" --pid "$DAEMON_PID" --connections "$c" \
        --event "$EVENT" --run "hold-$c-$run" --after "$HOLD_AFTER" >"$dir/hold.out" || true
      stop_daemon
      # shellcheck disable=SC2046
      record connections "tls-$c" "$run" $(kv_lines "$dir/hold.out")
      say "  $(kv_lines "$dir/hold.out")"
      rm -rf "$dir"
    done
  done
fi

# --- 5. PostgreSQL: the same relay on a shared database ----------------------
# A throwaway cluster in the work dir (the same disk as the SQLite runs),
# default settings: fsync and synchronous_commit on, so a 202 is as durable
# as SQLite's. Each figure is taken on a fresh database. SQLite is measured
# in the same runs with the same load generator, for the ratios.
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$WORK/pg"
pg_available() {
  local b
  for b in initdb pg_ctl psql postgres; do [ -x "$PG_BIN/$b" ] || return 1; done
  [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1
}
# As the `postgres` user when root (the server refuses to run as root).
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  mkdir -p "$PG_DIR/socket"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PG_DIR"
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 \
    --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
    { say "initdb failed:"; cat "$PG_DIR/initdb.log" >&2; exit 1; }
  PG_PORT="$(free_port)"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR/socket -c max_connections=200" \
    start >"$PG_DIR/pg_ctl.log" 2>&1 ||
    { say "pg_ctl start failed:"; cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2; exit 1; }
  PG_RUNNING=1
}
pg_stop() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  PG_RUNNING=0
}
# pg_database NAME: a new, empty database; prints its URL.
pg_database() {
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE $1" >/dev/null
  echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
}

# accept_runs SECTION LABEL RUN NODES COUNT PG_URL POST_ARGS...: NODES relays
# (SQLite when PG_URL is empty: NODES must be 1) take COUNT events over 64
# connections, split evenly; the sink stays down. Records the accept figures
# and the relays' peak RSS.
accept_runs() {
  local section="$1" label="$2" run="$3" nodes="$4" count="$5" url="$6"; shift 6
  local dir="$WORK/pg-$label-$run" ports="" pids=() i port queued=0
  for i in $(seq 1 "$nodes"); do
    write_config "$dir-$i.yaml" "$dir-$i" "$(free_port)" 0 "" "$url" "bench-$i"
    start_daemon "$dir-$i.yaml" "$dir-$i"
    ports="${ports:+$ports,}$DAEMON_PORT"; pids+=("$DAEMON_PID")
  done
  # CPU of the relays, of the database server (postmaster and backends), of
  # the load generator, and how busy the machine was: where the time went.
  local relay0 relay1 db0=0 db1=0 load0 load1 stat0 stat1 db_pid=""
  [ -n "$url" ] && db_pid="$(head -n1 "$PG_DIR/data/postmaster.pid")"
  relay0="$(pids_cpu_ticks "${pids[@]}")"; children_cpu_ms load0; stat0="$(cpu_stat)"
  [ -n "$db_pid" ] && db0="$(tree_cpu_ticks "$db_pid")"
  local written0 written1
  written0="$(pids_written "${pids[@]}")"
  local perf=()
  if [ -n "${PERF_OUT:-}" ]; then
    mkdir -p "$PERF_OUT"
    perf=(perf record -q -a -g -F 499 -o "$PERF_OUT/$label-$run.data" --)
    [ -n "$url" ] && pg_waits_start "$url" "$PERF_OUT/$label-$run.waits"
  fi
  "${perf[@]}" "$BENCH" post --target "$ports" --count "$count" --connections 64 \
    --run "$label-$run" "$@" >"$dir.out" || true
  if [ -n "${PERF_OUT:-}" ] && [ -n "$url" ]; then pg_waits_stop; fi
  relay1="$(pids_cpu_ticks "${pids[@]}")"; children_cpu_ms load1; stat1="$(cpu_stat)"
  written1="$(pids_written "${pids[@]}")"
  [ -n "$db_pid" ] && db1="$(tree_cpu_ticks "$db_pid")"
  for port in ${ports//,/ }; do  # stored, not filtered nor refused
    queued=$((queued + $(metric "$port" http 'ocirelay_events_received_total{result="queued"')))
  done
  local relay_us db_us load_us busy
  relay_us="$(per_event_us "$((relay1 - relay0))" "$TICK_US" "$queued")"
  db_us="$(per_event_us "$((db1 - db0))" "$TICK_US" "$queued")"
  load_us="$(per_event_us "$((load1 - load0))" 1000 "$queued")"
  busy="$(awk -v a="$stat0" -v b="$stat1" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    if (y[1] > x[1]) printf "%.0f", 100 * (1 - (y[2] - x[2]) / (y[1] - x[1])); else print "n/a" }')"
  local hwm=0 rss=0
  for i in "${pids[@]}"; do
    hwm=$(($(hwm_kb "$i") > hwm ? $(hwm_kb "$i") : hwm))
    rss=$(($(rss_kb "$i") > rss ? $(rss_kb "$i") : rss))
    DAEMON_PID="$i"; stop_daemon
  done
  # shellcheck disable=SC2046
  record "$section" "$label" "$run" $(kv_lines "$dir.out") "queued=$queued" \
    "peak_rss_kb=$hwm" "rss_kb=$rss" "relay_cpu_us=$relay_us" "db_cpu_us=$db_us" \
    "load_cpu_us=$load_us" "machine_busy_pct=$busy" \
    "written_bytes_per_event=$(per_event_us "$((written1 - written0))" 1 "$queued")"
  say "  $label run $run: $(sed -n 's/^accepted_per_s=//p' "$dir.out") ev/s, $queued queued," \
    "peak RSS $hwm kB; CPU per event: relays $relay_us us, database $db_us us," \
    "generator $load_us us; machine $busy% busy"
  if [ -n "${PERF_OUT:-}" ]; then perf_summary "$PERF_OUT/$label-$run"; fi
  rm -rf "$dir"*
}
# pg_waits_start URL FILE: samples what the database's sessions of URL wait
# for, every 10 ms from one psql session, until pg_waits_stop; FILE gets the
# count of each wait_event_type:wait_event (CPU:running: not waiting), the
# PostgreSQL view of where a commit's time goes.
pg_waits_start() {
  local url="$1" file="$2"
  rm -f "$file.stop"
  (
    while [ ! -e "$file.stop" ]; do
      echo "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, 'running')" \
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid();"
      sleep 0.01
    done | "$PG_BIN/psql" "$url" -X -A -t -q 2>/dev/null |
      sed '/^$/d' | sort | uniq -c | sort -rn >"$file"
  ) &
  PG_WAITS_PID=$!
  PG_WAITS_FILE="$file"
}
pg_waits_stop() {
  touch "$PG_WAITS_FILE.stop"
  wait "$PG_WAITS_PID" || true
  rm -f "$PG_WAITS_FILE.stop"
}
# perf_summary BASE: BASE.txt from BASE.data: CPU samples per process, then
# the hottest symbols of each of the relay and the database.
perf_summary() {
  {
    echo "# samples per process (perf record -a -g -F 499; swapper: idle)"
    perf report -q -i "$1.data" --no-children --sort comm --stdio -g none 2>/dev/null |
      awk 'NF && n++ < 12' || true
    local comm
    for comm in ocirelayd postgres; do
      echo "# $comm: hottest symbols (self)"
      perf report -q -i "$1.data" --no-children --comms "$comm" --sort dso,sym --stdio \
        -g none 2>/dev/null | awk 'NF && n++ < 25' || true
    done
    if [ -s "$1.waits" ]; then
      echo "# database sessions: wait events sampled every 10 ms (pg_stat_activity)"
      cat "$1.waits"
    fi
  } >"$1.txt"
}
# pg_e2e LABEL RUN CONNECTIONS COUNT [PG_URL]: as e2e_runs, on PostgreSQL.
pg_e2e() {
  local label="$1" run="$2" connections="$3" count="$4" url="${5:-}"
  local dir="$WORK/pg-$label-$run" sink_port
  sink_port="$(free_port)"
  write_config "$dir.yaml" "$dir" "$sink_port" 0 "" "$url" bench-1
  start_daemon "$dir.yaml" "$dir"
  "$BENCH" e2e --target "$DAEMON_PORT" --sink-port "$sink_port" --count "$count" \
    --connections "$connections" --event "$EVENT" --run "$label-$run" --timeout 300 \
    >"$dir/e2e.out" || true
  local hwm
  hwm="$(hwm_kb "$DAEMON_PID")"
  stop_daemon
  # shellcheck disable=SC2046
  record postgresql "$label" "$run" $(kv_lines "$dir/e2e.out") "peak_rss_kb=$hwm"
  say "  $label run $run: $(sed -n 's/^delivered_per_s=//p' "$dir/e2e.out") delivered/s," \
    "added p50 $(sed -n 's/^added_p50_us=//p' "$dir/e2e.out") us"
  rm -rf "$dir"
}

if want postgresql; then
  if ! pg_available; then
    say "postgresql: SKIPPED: no PostgreSQL 15 server in $PG_BIN (or, as root, no postgres user);"
    say "  scripts/install-deps.sh installs it"
  else
    pg_start
    say "postgresql: cluster on 127.0.0.1:$PG_PORT under $PG_DIR; $PG_COUNT events per accept run"
    for run in $(seq 1 "$RUNS"); do
      accept_runs postgresql sqlite "$run" 1 "$PG_COUNT" "" --event "$EVENT"
      accept_runs postgresql pg-1node "$run" 1 "$PG_COUNT" "$(pg_database "accept1_$run")" \
        --event "$EVENT"
      accept_runs postgresql pg-2nodes "$run" 2 "$PG_COUNT" "$(pg_database "accept2_$run")" \
        --event "$EVENT"
      pg_e2e pg-e2e "$run" 64 "$PG_E2E_COUNT" "$(pg_database "e2e_$run")"
      pg_e2e pg-e2e-c1 "$run" 1 "$E2E_SERIAL_COUNT" "$(pg_database "e2ec1_$run")"
    done
    pg_stop
  fi
fi

# --- 6. Batch input: 100-event CloudEvents batches vs single POSTs ----------
# The same structured CloudEvent, alone per POST or 100 to a POST as
# application/cloudevents-batch+json; each batch is stored in one
# transaction. 64 connections, the sink down: the accept path alone.
if want batch-input; then
  say "batch input: $BATCH_INPUT_COUNT CloudEvents, single POSTs vs 100-event batches"
  for run in $(seq 1 "$RUNS"); do
    accept_runs batch_input single "$run" 1 "$BATCH_INPUT_COUNT" "" --event "$CLOUDEVENT"
    accept_runs batch_input batch100 "$run" 1 "$BATCH_INPUT_COUNT" "" --event "$CLOUDEVENT" \
      --batch 100
  done
fi

# --- 6b. Real-shaped eventIDs: OCI's UUIDs against "<run>-<seq>" -----------
# OCI's eventIDs are UUIDs in no order; the other steps' IDs sort nearly in
# the order they are posted. The dedupe key begins with the event's time,
# which ocirelay-bench sets to when it posts, so each commit's new dedupe
# rows share a few pages of the index either way; with one fixed time for
# every event (--times fixed: events without a time are keyed the same way)
# UUIDs land each on a page of its own. The same accept run with each, turn
# about (64 connections, the sink down, an empty database).
if want ids; then
  say "eventIDs: $IDS_COUNT events, sequential against random (UUID-shaped), with and without times"
  for run in $(seq 1 "$RUNS"); do
    accept_runs ids sequential "$run" 1 "$IDS_COUNT" "" --event "$EVENT" --ids sequential
    accept_runs ids random "$run" 1 "$IDS_COUNT" "" --event "$EVENT" --ids random
    accept_runs ids random-fixed "$run" 1 "$IDS_COUNT" "" --event "$EVENT" --ids random \
      --times fixed
  done
fi

# --- 6c. Other engines for the same work -----------------------------------
# The storage work of the relay's rounds (a durable transaction per round of
# 20 events: dedupe, body, delivery; end to end also the claims and the
# results) run alone on one thread by ocirelay-storeprobe, with the relay's
# own SQLite store and with RocksDB and LMDB doing the same, turn about.
if want engines; then
  if [ -x "$STOREPROBE" ]; then
    say "other engines: $ENGINES_COUNT events per run, sqlite against rocksdb and lmdb"
    for run in $(seq 1 "$RUNS"); do
      for mode in accept e2e; do
        for ids in sequential random; do
          for engine in sqlite rocksdb lmdb; do
            dir="$WORK/engine-$engine"
            rm -rf "$dir"
            "$STOREPROBE" --engine "$engine" --dir "$dir" --event "$EVENT" --mode "$mode" \
              --ids "$ids" --events "$ENGINES_COUNT" --batch 20 --run "engines-$run" >"$dir.out"
            # shellcheck disable=SC2046
            record engines "$engine-$mode-$ids" "$run" $(kv_lines "$dir.out")
            rm -rf "$dir" "$dir.out"
          done
        done
      done
      say "  run $run: $(awk -F'\t' -v r="$run" '$1 == "engines" && $3 == r && $4 == "cpu_us_per_event" {
        printf "%s %s us ", $2, $5}' "$RESULTS")"
    done
  else
    say "other engines: skipped, ocirelay-storeprobe is not built (needs librocksdb-dev and liblmdb-dev)"
  fi
fi

# --- 7. The per-event log: log.level info against warn ----------------------
# What the info line per accepted event costs: the same SQLite relay, the
# sink down, once at info (a line per event) and once switched to warn by a
# reload (no line per event), turn about in each run.
if want log; then
  say "per-event log: $LOG_COUNT events over 64 connections, log.level info against warn"
  for run in $(seq 1 "$RUNS"); do
    for level in info warn; do
      dir="$WORK/log-$level-$run"
      write_config "$dir.yaml" "$dir" "$(free_port)" 0
      start_daemon "$dir.yaml" "$dir"
      if [ "$level" != info ]; then
        sed -i "s/^  level: info\$/  level: $level/" "$dir.yaml"
        kill -HUP "$DAEMON_PID"
        sleep 1  # applied at once; nothing at warn says so
      fi
      relay0="$(tree_cpu_ticks "$DAEMON_PID")"; log0="$(stat -c %s "$dir/ocirelay.log")"
      "$BENCH" post --target "$DAEMON_PORT" --count "$LOG_COUNT" --connections 64 \
        --run "log-$level-$run" --event "$EVENT" >"$dir/post.out" || true
      relay1="$(tree_cpu_ticks "$DAEMON_PID")"
      queued="$(metric "$DAEMON_PORT" http 'ocirelay_events_received_total{result="queued"')"
      stop_daemon
      # After the stop: lines are written once per log.flush_interval.
      log1="$(stat -c %s "$dir/ocirelay.log")"
      # shellcheck disable=SC2046
      record log "$level" "$run" $(kv_lines "$dir/post.out") "queued=$queued" \
        "relay_cpu_us=$(per_event_us "$((relay1 - relay0))" "$TICK_US" "$queued")" \
        "log_bytes_per_event=$(per_event_us "$((log1 - log0))" 1 "$queued")"
      say "  $level run $run: $(sed -n 's/^accepted_per_s=//p' "$dir/post.out") ev/s," \
        "relay CPU $(per_event_us "$((relay1 - relay0))" "$TICK_US" "$queued") us per event"
      rm -rf "$dir"*
    done
  done
fi

record machine load end "load1=$(cut -d' ' -f1 /proc/loadavg)"

# --- Report -------------------------------------------------------------------
bash "$ROOT/bench/report.sh" "$RESULTS" "$RSS_LOG" "$DOC" "$PLOTS" "$RUNS" "$QUICK"
say "figures: $RESULTS; report: $DOC"

