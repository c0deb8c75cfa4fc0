#!/usr/bin/env bash
# bench/report.sh RESULTS RSS_LOG DOC PLOTS RUNS QUICK: turns the figures that
# bench/run.sh collected into DOC (markdown) and PNG plots under PLOTS
# (gnuplot). Medians over the runs; ratios against the references.
set -euo pipefail
RESULTS="$1" RSS_LOG="$2" DOC="$3" PLOTS="$4" RUNS="$5" QUICK="$6"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONNECTIONS=(1 16 64)

median() {
  awk -F'\t' -v s="$1" -v l="$2" -v k="$3" '$1==s && $2==l && $4==k {print $5}' "$RESULTS" |
    sort -g | awk '{v[NR]=$1} END {if (NR==0) print "n/a"; else print v[int((NR+1)/2)]}'
}
# range SECTION LABEL KEY: "min-max" over the runs.
range() {
  awk -F'\t' -v s="$1" -v l="$2" -v k="$3" '$1==s && $2==l && $4==k {print $5}' "$RESULTS" |
    sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {if (NR==0) print "n/a"; else print lo "-" hi}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 > 0) printf "%.0f%%", 100*a/b; else print "n/a"}'; }
ms() { awk -v u="$1" 'BEGIN {if (u == "n/a") print u; else printf "%.2f", u/1000}'; }
mb() { awk -v k="$1" 'BEGIN {if (k == "n/a") print k; else printf "%.1f", k/1024}'; }
# verdict OK [VALUE...]: "met" or "**missed**" as OK is 1 or not, or "not
# measured" when one of the figures it was decided on is n/a (a step left
# out with --only, or one that failed).
verdict() {
  local v
  for v in "${@:2}"; do
    if [ "$v" = n/a ] || [ -z "$v" ]; then echo "not measured"; return; fi
  done
  awk -v ok="$1" 'BEGIN {print (ok == 1) ? "met" : "**missed**"}'
}
# pair_rows SECTION LABEL_A LABEL_B KEY...: a table row per KEY, each
# label's median and range side by side.
pair_rows() {
  local section="$1" a="$2" b="$3" k
  shift 3
  for k in "$@"; do
    echo "| $k | $(median "$section" "$a" "$k") | $(range "$section" "$a" "$k")" \
      "| $(median "$section" "$b" "$k") | $(range "$section" "$b" "$k") |"
  done
}
# pg_verdict OK: as verdict, or "not measured" when the PostgreSQL step was
# skipped (no server installed).
pg_verdict() { if [ "$(median postgresql pg-1node accepted_per_s)" = n/a ]; then echo "not measured"; else verdict "$1"; fi; }

mkdir -p "$PLOTS"

# --- Data files for the plots ---
ACCEPT_DAT="$PLOTS/accept.dat"
{
  echo "# connections ocirelay-http nginx-http ocirelay-https nginx-https (events/s, medians)"
  for c in "${CONNECTIONS[@]}"; do
    echo "$c $(median accept "ocirelay-http-$c" accepted_per_s) $(median accept "nginx-http-$c" accepted_per_s)" \
      "$(median accept "ocirelay-https-$c" accepted_per_s) $(median accept "nginx-https-$c" accepted_per_s)"
  done
} >"$ACCEPT_DAT"
LAT_DAT="$PLOTS/latency.dat"
{
  echo "# connections ocirelay-http p50 p99 p99.9 (ms) nginx-http p50 p99 p99.9"
  for c in "${CONNECTIONS[@]}"; do
    echo "$c $(ms "$(median accept "ocirelay-http-$c" latency_p50_us)") $(ms "$(median accept "ocirelay-http-$c" latency_p99_us)")" \
      "$(ms "$(median accept "ocirelay-http-$c" latency_p999_us)") $(ms "$(median accept "nginx-http-$c" latency_p50_us)")" \
      "$(ms "$(median accept "nginx-http-$c" latency_p99_us)") $(ms "$(median accept "nginx-http-$c" latency_p999_us)")"
  done
} >"$LAT_DAT"

# A run of some steps only (--only) may have no accept figures to plot.
if [ "$(median accept ocirelay-http-64 accepted_per_s)" != n/a ]; then
gnuplot <<EOF
set terminal pngcairo size 900,520 font "sans,11"
set output "$PLOTS/accept.png"
set title "Durable accept: events/s answered 2xx (median of $RUNS runs)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set ylabel "events/s"
set xlabel "keep-alive connections"
set grid ytics
set yrange [0:*]
plot "$ACCEPT_DAT" using 2:xtic(1) title "ocirelay http" lc rgb "#1f77b4", \
     "" using 4 title "ocirelay https" lc rgb "#aec7e8", \
     "" using 3 title "nginx 202 http (reference)" lc rgb "#7f7f7f", \
     "" using 5 title "nginx 202 https (reference)" lc rgb "#c7c7c7"
EOF

gnuplot <<EOF
set terminal pngcairo size 900,520 font "sans,11"
set output "$PLOTS/latency.png"
set title "Durable accept latency, plain HTTP (median of $RUNS runs)"
set logscale y
set xlabel "keep-alive connections"
set ylabel "ms (log scale)"
set key top left
set grid
set xtics ("1" 0, "16" 1, "64" 2)
plot "$LAT_DAT" using 0:2 with linespoints lw 2 title "ocirelay p50", \
     "" using 0:3 with linespoints lw 2 title "ocirelay p99", \
     "" using 0:4 with linespoints lw 2 title "ocirelay p99.9", \
     "" using 0:6 with linespoints dt 2 title "nginx p99"
EOF
fi

if [ -s "$RSS_LOG" ]; then
  gnuplot <<EOF
set terminal pngcairo size 900,420 font "sans,11"
set output "$PLOTS/backlog-rss.png"
set title "ocirelayd resident memory: queueing the backlog, 5 restarts, draining"
set xlabel "seconds"
set ylabel "RSS (MiB)"
set grid
set yrange [0:*]
plot "$RSS_LOG" using 1:(\$2/1024) with lines lw 2 title "ocirelayd RSS"
EOF
fi

# --- The markdown -------------------------------------------------------------
h64="$(median accept ocirelay-http-64 accepted_per_s)"
n64="$(median accept nginx-http-64 accepted_per_s)"
p99_64="$(median accept ocirelay-http-64 latency_p99_us)"
e2e_rate="$(median e2e ocirelay delivered_per_s)"
e2e_p50="$(median e2e ocirelay-c1 added_p50_us)"
per_message="$(median batching batched events_per_billed_message)"
sus_unbatched="$(median sustained unbatched best_rate)"
sus_batched="$(median sustained batched best_rate)"
fill_rss="$(median backlog fill peak_rss_kb)"
drain_rss="$(median backlog drain peak_rss_kb)"
startup="$(median startup backlog startup_ms)"
idle_rss="$(median idle ocirelay rss_kb)"
idle_cpu="$(median idle ocirelay cpu_ms)"
idle_seconds="$(median idle ocirelay seconds)"
backlog_n="$(median backlog fill accepted)"
peak_rss="$(awk -v a="$fill_rss" -v b="$drain_rss" 'BEGIN {print (a > b) ? a : b}')"
# The memory-per-connection labels (tls-N, by N) and figures; the targets
# are checked on the largest N.
mapfile -t HOLD_LABELS < <(awk -F'\t' '$1=="connections" && !seen[$2]++ {print $2}' "$RESULTS" |
  sort -t- -k2,2n)
hold_keys="$(awk -F'\t' '$1=="connections" && !seen[$4]++ {print $4}' "$RESULTS" | tr '\n' ' ')"
hold_big=none  # (no connections step in a run with --only)
[ "${#HOLD_LABELS[@]}" -gt 0 ] && hold_big="${HOLD_LABELS[${#HOLD_LABELS[@]}-1]}"
hold_idle="$(median connections "$hold_big" rss_idle_kb)"
hold_after="$(awk -F'\t' -v l="$hold_big" '$1=="connections" && $2==l && $4 ~ /^rss_closed_/ {k=$4} END {print k}' "$RESULTS")"
hold_closed="$(median connections "$hold_big" "${hold_after:-none}")"
pg_sqlite="$(median postgresql sqlite accepted_per_s)"
pg_1="$(median postgresql pg-1node accepted_per_s)"
pg_2="$(median postgresql pg-2nodes accepted_per_s)"
plot_dir="$(basename "$PLOTS")"
[ "$QUICK" = 1 ] && plot_dir="."

{
  echo "# Benchmarks"
  echo
  echo "Made by \`bench/run.sh\` on $(date -u +%Y-%m-%d); re-run it to refresh this page"
  echo "(it rewrites it). Every figure is the median of $RUNS runs unless it says"
  echo "otherwise; ranges are min-max over the runs. Figures are for this machine"
  echo "only: compare the ratios to the references, measured in the same run."
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r),"
  echo "storage on $(df -T "$ROOT" | awk 'NR==2 {print $2}'). Sample event: tests/data/events/createobject.json"
  echo "($(wc -c <"$ROOT/tests/data/events/createobject.json") bytes), a distinct eventID per request."
  echo "Load from wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') and ocirelay-bench (bench/src), both on the same 2 cores as the"
  echo "server: the figures include the load generator's share of the CPU."
  echo "Load average (1 min) when the run started: $(awk -F'\t' '$1=="machine" && $3=="start" {print $5}' "$RESULTS"),"
  echo "when it ended: $(awk -F'\t' '$1=="machine" && $3=="end" {print $5}' "$RESULTS");"
  echo "anything above about 2 means other work shared the cores and the absolute"
  echo "figures are low; the references in the same run shared them too."
  echo
  echo "## Targets"
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  echo "| durable accept, 64 connections, HTTP: >= 20,000 events/s | $h64 events/s | $(verdict "$(awk -v a="$h64" 'BEGIN {print (a >= 20000)}')" "$h64") |"
  echo "| ... and >= 40% of nginx in the same run | $(ratio "$h64" "$n64") of $n64 | $(verdict "$(awk -v a="$h64" -v b="$n64" 'BEGIN {print (b > 0 && a/b >= 0.4)}')" "$h64" "$n64") |"
  echo "| ... p99 < 10 ms | $(ms "$p99_64") ms | $(verdict "$(awk -v a="$p99_64" 'BEGIN {print (a < 10000)}')" "$p99_64") |"
  echo "| end to end >= 10,000 events/s | $e2e_rate events/s | $(verdict "$(awk -v a="$e2e_rate" 'BEGIN {print (a >= 10000)}')" "$e2e_rate") |"
  echo "| added p50 latency < 2 ms, sink healthy (1 connection) | $(ms "$e2e_p50") ms | $(verdict "$(awk -v a="$e2e_p50" 'BEGIN {print (a < 2000)}')" "$e2e_p50") |"
  echo "| end to end, sustained (a steady rate also delivered, $(median sustained unbatched seconds) s): >= 25% of nginx | $(ratio "$sus_unbatched" "$n64") ($sus_unbatched events/s unbatched; batched $sus_batched events/s, $(ratio "$sus_batched" "$n64")) | $(verdict "$(awk -v a="$sus_unbatched" -v b="$n64" 'BEGIN {print (b + 0 > 0 && a / b >= 0.25)}')" "$sus_unbatched" "$n64") |"
  echo "| batching: events per billed OIC message, createobject at a steady rate, >= 35 | $per_message | $(verdict "$(awk -v a="$per_message" 'BEGIN {print (a >= 35)}')" "$per_message") |"
  echo "| backlog: RSS < 64 MB throughout | peak $(mb "$peak_rss") MiB | $(verdict "$(awk -v a="$peak_rss" 'BEGIN {print (a < 65536)}')" "$peak_rss") |"
  echo "| start-up with $backlog_n queued < 1 s | $startup ms | $(verdict "$(awk -v a="$startup" 'BEGIN {print (a < 1000)}')" "$startup") |"
  echo "| idle RSS < 20 MB | $(mb "$idle_rss") MiB | $(verdict "$(awk -v a="$idle_rss" 'BEGIN {print (a < 20480)}')" "$idle_rss") |"
  echo "| idle CPU: timers only | $idle_cpu ms CPU in $idle_seconds s | $(verdict "$(awk -v a="$idle_cpu" -v s="$idle_seconds" 'BEGIN {print (a <= 10 * s)}')" "$idle_cpu" "$idle_seconds") |"
  echo "| RSS < 100 MB with ${hold_big#tls-} open TLS keep-alive connections | $(mb "$hold_idle") MiB | $(verdict "$(awk -v a="$hold_idle" 'BEGIN {print (a != "n/a" && a < 102400)}')" "$hold_idle") |"
  echo "| ... back under 64 MB within a minute of closing them | $(mb "$hold_closed") MiB (${hold_after:-n/a}) | $(verdict "$(awk -v a="$hold_closed" 'BEGIN {print (a != "n/a" && a < 65536)}')" "$hold_closed") |"
  echo "| PostgreSQL, 1 relay: durable accept >= half of SQLite's in the same run | $pg_1 events/s, $(ratio "$pg_1" "$pg_sqlite") of $pg_sqlite | $(pg_verdict "$(awk -v a="$pg_1" -v b="$pg_sqlite" 'BEGIN {print (b > 0 && a >= b / 2)}')") |"
  echo "| PostgreSQL, 2 relays on one database accept more than 1 | $pg_2 events/s, $(ratio "$pg_2" "$pg_1") of 1 relay | $(pg_verdict "$(awk -v a="$pg_2" -v b="$pg_1" 'BEGIN {print (b > 0 && a > b)}')") |"
  echo
  echo "## 1. Durable accept"
  echo
  echo "wrk POSTs the event over keep-alive connections for the run's length;"
  echo "ocirelay answers 202 only after the event is committed to SQLite"
  echo "(WAL, synchronous=FULL). The destination is down during these runs, so"
  echo "the figures are the accept path alone. The reference is nginx $(nginx -v 2>&1 | sed 's/.*\///')"
  echo "(2 workers, no access log) answering 202 from memory to the same requests:"
  echo "the cost of an HTTP hop on this machine, with no disk."
  echo
  echo "Raw fsync rate of this disk (append 4 KiB + fdatasync, one process):"
  echo "$(median fsync disk fsync_per_s)/s (range $(range fsync disk fsync_per_s)). Without group"
  echo "commit, that would be the ceiling of durable accepts."
  echo
  echo "![durable accept](${plot_dir}/accept.png)"
  echo
  echo "CPU columns: microseconds of CPU (user + system, all threads) per request"
  echo "answered, for the server and for wrk; with both on the same 2 cores, their"
  echo "sum bounds the rate: 2,000,000 / (server + wrk) requests/s at most."
  echo
  echo "| server | conns | events/s | range | p50 ms | p99 ms | p99.9 ms | commits/s | events/commit | server CPU µs | wrk CPU µs | vs nginx |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for scheme in http https; do
    for c in "${CONNECTIONS[@]}"; do
      r="$(median accept "ocirelay-$scheme-$c" accepted_per_s)"
      n="$(median accept "nginx-$scheme-$c" accepted_per_s)"
      echo "| ocirelay $scheme | $c | $r | $(range accept "ocirelay-$scheme-$c" accepted_per_s) |" \
        "$(ms "$(median accept "ocirelay-$scheme-$c" latency_p50_us)") | $(ms "$(median accept "ocirelay-$scheme-$c" latency_p99_us)") |" \
        "$(ms "$(median accept "ocirelay-$scheme-$c" latency_p999_us)") | $(median accept "ocirelay-$scheme-$c" commits_per_s) |" \
        "$(median accept "ocirelay-$scheme-$c" events_per_commit) | $(median accept "ocirelay-$scheme-$c" server_cpu_us) |" \
        "$(median accept "ocirelay-$scheme-$c" load_cpu_us) | $(ratio "$r" "$n") |"
    done
  done
  for scheme in http https; do
    for c in "${CONNECTIONS[@]}"; do
      echo "| nginx $scheme | $c | $(median accept "nginx-$scheme-$c" accepted_per_s) | $(range accept "nginx-$scheme-$c" accepted_per_s) |" \
        "$(ms "$(median accept "nginx-$scheme-$c" latency_p50_us)") | $(ms "$(median accept "nginx-$scheme-$c" latency_p99_us)") |" \
        "$(ms "$(median accept "nginx-$scheme-$c" latency_p999_us)") | - | - |" \
        "$(median accept "nginx-$scheme-$c" server_cpu_us) | $(median accept "nginx-$scheme-$c" load_cpu_us) | - |"
    done
  done
  echo
  echo "![latency](${plot_dir}/latency.png)"
  echo
  echo "## 2. End to end"
  echo
  echo "ocirelay-bench posts $(median e2e ocirelay accepted) events over 64 connections while its own"
  echo "sink (a 202 server on 127.0.0.1) takes the deliveries; one process, one"
  echo "monotonic clock. \"Added latency\" is from the relay's 2xx reaching the"
  echo "client to the event reaching the sink (negative values, delivered before"
  echo "the 2xx arrived, count as 0)."
  echo
  echo "At 64 connections the relay accepts faster than it delivers, so the"
  echo "added latency there is mostly time spent queued; with one connection"
  echo "($(median e2e ocirelay-c1 accepted) events, one at a time) it is the latency of the path itself."
  echo
  echo "| figure | 64 connections | range | 1 connection | range |"
  echo "|---|---|---|---|---|"
  pair_rows e2e ocirelay ocirelay-c1 accepted_per_s delivered_per_s added_p50_us added_p99_us \
    post_to_delivery_p50_us post_to_delivery_p99_us latency_p99_us not_delivered duplicates
  echo
  echo "## Outbound batching"
  echo
  echo "ocirelay-bench posts $(median batching batched accepted) createobject events at a steady"
  echo "$(median batching batched accepted_per_s) events/s (4 connections) to a relay whose destination"
  echo "batches (\`batch: { max_events: 100, max_bytes: 50KiB, max_wait: 1s }\`, see"
  echo "[oic-batching.md](oic-batching.md)); its sink counts the requests and the OIC"
  echo "messages they would be billed as, ceil(body bytes / 51,200) each. The"
  echo "reference is the same rate to the same destination without \`batch:\`."
  echo "Added latency as in section 2: from the relay's 2xx to the event's arrival"
  echo "at the sink. A batch goes when full (46 createobject events fill 50 KiB) or"
  echo "when its oldest event has waited max_wait, so at this rate batches fill by"
  echo "size in under half a second."
  echo
  echo "| figure | batched | range | unbatched | range |"
  echo "|---|---|---|---|---|"
  pair_rows batching batched unbatched events_per_billed_message events_per_request \
    sink_requests billed_messages added_p50_us added_p90_us added_p99_us added_max_us \
    not_delivered duplicates
  echo
  echo "## 2c. Sustained end to end"
  echo
  echo "ocirelay-bench posts at a steady rate over 64 connections for the run's"
  echo "length while its sink takes the deliveries. A rate is kept when the"
  echo "generator held it (97%), every event arrived once, and the added latency's"
  echo "p99 stayed under 1 s, which a backlog growing by 2% of the rate would pass"
  echo "in a run of 60 s (these runs: $(median sustained unbatched seconds) s). Rates are tried upwards; a missed rate is tried once more,"
  echo "and the search stops at the second miss. Unbatched: \`concurrency: 32\`"
  echo "(the default 4 caps deliveries at 4 per sink round trip). Batched:"
  echo "\`batch: { max_events: 100, max_bytes: 50KiB, max_wait: 1s }\`, 4 in flight."
  echo "Highest rate kept: unbatched $sus_unbatched events/s ($(ratio "$sus_unbatched" "$n64") of nginx),"
  echo "batched $sus_batched events/s ($(ratio "$sus_batched" "$n64"))."
  echo
  echo "| destination | rate | try | accepted/s | delivered/s | added p50 ms | added p99 ms | latency p99 ms | kept |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '$1 == "sustained" && $2 ~ /-[0-9]+$/ {
      key = $2 SUBSEP $3
      if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      v[key, $4] = $5
    } END {
      for (i = 1; i <= n; i++) {
        split(order[i], k, SUBSEP); label = k[1]; rate = label; sub(/^.*-/, "", rate); sub(/-[0-9]+$/, "", label)
        printf "| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |\n", label, rate, k[2],
          v[order[i], "accepted_per_s"], v[order[i], "delivered_per_s"], v[order[i], "added_p50_us"] / 1000,
          v[order[i], "added_p99_us"] / 1000, v[order[i], "latency_p99_us"] / 1000,
          (v[order[i], "kept"] == 1) ? "yes" : "no"
      }
    }' "$RESULTS"
  echo
  echo "## 3. Backlog"
  echo
  echo "$backlog_n events posted (64 connections) while the destination is down;"
  echo "then the daemon is restarted 5 times on that storage (start-up = spawn to"
  echo "the first /health answer, median of 5), and the sink is brought up to drain."
  echo "One run: the backlog takes minutes to build."
  echo
  echo "| figure | value |"
  echo "|---|---|"
  echo "| queueing rate | $(median backlog fill accepted_per_s) events/s |"
  echo "| peak RSS while queueing | $(mb "$fill_rss") MiB |"
  echo "| storage on disk | $(awk -v b="$(median backlog fill storage_bytes)" 'BEGIN {printf "%.0f MiB", b/1048576}') ($(median backlog fill bytes_per_event) bytes/event, database + WAL) |"
  echo "| start-up with the backlog | $startup ms (range $(range startup backlog startup_ms)) |"
  echo "| drain rate | $(median backlog drain drain_per_s) events/s ($(median backlog drain drain_seconds) s) |"
  echo "| peak RSS while draining | $(mb "$drain_rss") MiB |"
  echo
  echo "![backlog RSS](${plot_dir}/backlog-rss.png)"
  echo
  echo "## 4. Idle"
  echo
  echo "A daemon with TLS, one healthy destination and no traffic, for $idle_seconds s:"
  echo "RSS $(mb "$idle_rss") MiB, $idle_cpu ms of CPU."
  echo
  echo "## 4b. Memory per connection"
  echo
  echo "\`ocirelay-bench hold\`: N TLS keep-alive connections to a relay with TLS, one"
  echo "event posted and answered on each, then all held open and idle (within"
  echo "\`idle_timeout\`); the relay's RSS (VmRSS) before, while they are idle (10 s"
  echo "after the last answer), and after the client closes them all (without"
  echo "close_notify, as most clients do). A fresh relay per figure, the destination down."
  echo
  echo "| figure | $(for c in "${HOLD_LABELS[@]}"; do printf '%s | range | ' "$c"; done)"
  echo "|---|$(for _ in "${HOLD_LABELS[@]}"; do printf -- '---|---|'; done)"
  for k in $hold_keys; do
    echo "| $k | $(for c in "${HOLD_LABELS[@]}"; do printf '%s | %s | ' "$(median connections "$c" "$k")" "$(range connections "$c" "$k")"; done)"
  done
  echo
  echo "## 5. PostgreSQL backend"
  echo
  echo "A throwaway PostgreSQL $("/usr/lib/postgresql/15/bin/postgres" --version 2>/dev/null | awk '{print $3}') cluster on the same host and disk"
  echo "(initdb, default settings: fsync and synchronous_commit on, so a 202 is"
  echo "committed in PostgreSQL as durably as in SQLite), a fresh database per"
  echo "figure. ocirelay-bench posts $(median postgresql pg-1node accepted) createobject events over 64"
  echo "connections, the destination down (accept only); with 2 relays on one"
  echo "database, 32 connections go to each. SQLite is measured in the same runs"
  echo "with the same generator (its figure differs from section 1's, taken with"
  echo "wrk). End to end as in section 2 ($(median postgresql pg-e2e accepted) events over 64"
  echo "connections, and $(median postgresql pg-e2e-c1 accepted) over one for the added latency of the path)."
  echo
  echo "| figure | SQLite | PostgreSQL, 1 relay | range | 2 relays, one database | range |"
  echo "|---|---|---|---|---|---|"
  for k in accepted_per_s queued latency_p50_us latency_p99_us peak_rss_kb relay_cpu_us db_cpu_us \
    load_cpu_us machine_busy_pct; do
    echo "| $k | $(median postgresql sqlite "$k") | $(median postgresql pg-1node "$k") | $(range postgresql pg-1node "$k") |" \
      "$(median postgresql pg-2nodes "$k") | $(range postgresql pg-2nodes "$k") |"
  done
  echo
  echo "| end to end, PostgreSQL | 64 connections | range | 1 connection | range |"
  echo "|---|---|---|---|---|"
  pair_rows postgresql pg-e2e pg-e2e-c1 accepted_per_s delivered_per_s added_p50_us added_p99_us \
    not_delivered duplicates peak_rss_kb
  echo
  echo "## 6. Batch input"
  echo
  echo "The structured CloudEvent of tests/data/events/cloudevents-1.0-structured.json,"
  echo "$(median batch_input single accepted) events per run over 64 connections to a SQLite relay, the"
  echo "destination down: one event per POST, against 100 events per POST as"
  echo "\`application/cloudevents-batch+json\` (each batch stored in one transaction)."
  echo
  echo "| figure | single POSTs | range | 100-event batches | range |"
  echo "|---|---|---|---|---|"
  pair_rows batch_input single batch100 accepted_per_s queued requests latency_p50_us \
    latency_p99_us peak_rss_kb
  echo
  echo "## 6b. Real-shaped eventIDs"
  echo
  echo "OCI's eventIDs are UUIDs, in no order. The IDs of the other steps, \`<run>-<seq>\`,"
  echo "sort nearly in the order they are posted. The dedupe key begins with the"
  echo "event's time, which ocirelay-bench sets to when it posts, so the dedupe rows a"
  echo "commit adds share a few pages of the index either way; with one fixed time"
  echo "for every event (as events without a time are keyed), random IDs land each"
  echo "on a page of its own, which the commit writes to the WAL and a checkpoint"
  echo "later copies. The same accept run with each (ocirelay-bench, $(median ids sequential accepted) events, 64"
  echo "connections, the destination down, an empty database), turn about. Written"
  echo "bytes: what the relay made dirty for the disk per event (\`write_bytes\` of"
  echo "/proc/PID/io)."
  echo
  echo "| figure | sequential IDs | range | UUIDs | range | UUIDs, one fixed time | range |"
  echo "|---|---|---|---|---|---|---|"
  for k in accepted_per_s latency_p50_us latency_p99_us relay_cpu_us written_bytes_per_event \
    load_cpu_us; do
    echo "| $k | $(median ids sequential "$k") | $(range ids sequential "$k")" \
      "| $(median ids random "$k") | $(range ids random "$k")" \
      "| $(median ids random-fixed "$k") | $(range ids random-fixed "$k") |"
  done
  echo
  echo "## 6c. Other engines for the same work"
  echo
  echo "The storage work of the relay's rounds, alone on one thread"
  echo "(\`ocirelay-storeprobe\`, $(median engines sqlite-accept-sequential events) createobject events per run, rounds of 20"
  echo "events, each round one durable transaction): accept stores each event (its"
  echo "dedupe key, the round's time then its ID; its body; its delivery); e2e also takes 20 due deliveries per"
  echo "round and removes the previous round's as delivered. sqlite is the relay's"
  echo "own store (SqliteStore, grouped as the storage thread groups it); rocksdb"
  echo "and lmdb do the same work in RocksDB 7.8 and LMDB 0.9 from Debian. CPU:"
  echo "the process's, every thread and the kernel, per event; written: bytes"
  echo "sent to the disk per event (\`write_bytes\`)."
  echo
  echo "| work | IDs | engine | events/s | CPU µs per event | range | user | system | written bytes per event |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for mode in accept e2e; do
    for ids in sequential random; do
      for engine in sqlite rocksdb lmdb; do
        label="$engine-$mode-$ids"
        echo "| $mode | $ids | $engine | $(median engines "$label" events_per_s)" \
          "| $(median engines "$label" cpu_us_per_event) | $(range engines "$label" cpu_us_per_event)" \
          "| $(median engines "$label" user_us_per_event) | $(median engines "$label" system_us_per_event)" \
          "| $(median engines "$label" written_bytes_per_event) |"
      done
    done
  done
  echo
  echo "## 7. The per-event log"
  echo
  echo "A SQLite relay takes $(median log info queued) createobject events over 64 connections, the"
  echo "destination down, once at \`log.level: info\` (one line per accepted event)"
  echo "and once switched to \`warn\` by a reload (no line per event), turn about."
  echo
  echo "| figure | info | range | warn | range |"
  echo "|---|---|---|---|---|"
  pair_rows log info warn accepted_per_s latency_p50_us latency_p99_us relay_cpu_us \
    log_bytes_per_event
  echo
  if [ -f "$ROOT/bench/analysis.md" ]; then
    cat "$ROOT/bench/analysis.md"
  fi
  echo
  echo "## Raw figures"
  echo
  echo "Every run's figures are in \`build/bench-full/results.tsv\` after a run"
  echo "(section, label, run, key, value)."
} >"$DOC"
