# bench/relay.sh: starting one ocirelayd under test, for bench/run.sh and
# bench/compare.sh (sourced). Uses from the caller: OCIRELAYD (the binary),
# WORK (server.crt and server.key for TLS), the array PIDS (every process
# started, for the caller's cleanup) and say (a message to stderr).

# write_config FILE DIR SINK_PORT TLS(0|1) [BATCH] [PG_URL NODE_ID]: BATCH is
# the destination's batch: mapping (flow style), none when empty; with PG_URL
# the queue is in that PostgreSQL database, this relay being NODE_ID. With
# RELAY_CONCURRENCY set, the destination's requests in flight (default 4).
write_config() {
  local file="$1" dir="$2" sink_port="$3" tls="$4" batch="${5:-}" pg_url="${6:-}" node="${7:-}"
  mkdir -p "$dir"
  {
    echo "server:"
    echo "  listen: \"127.0.0.1:0\""
    if [ "$tls" = 1 ]; then
      echo "  tls: { cert_file: $WORK/server.crt, key_file: $WORK/server.key }"
    fi
    # /metrics on the ingress port, as the figures were always taken (and no
    # second listener on a fixed port). RELAY_MANAGEMENT=0: a build older
    # than the management listener, which serves it there anyway.
    if [ "${RELAY_MANAGEMENT:-1}" = 1 ]; then
      echo "management:"
      echo "  listen: \"\""
    fi
    echo "storage:"
    if [ -n "$pg_url" ]; then
      echo "  backend: postgresql"
      echo "  postgresql: { url: \"$pg_url\", node_id: $node }"
    else
      echo "  path: $dir/queue.db"
    fi
    echo "log:"
    echo "  level: info"
    echo "  file: $dir/ocirelay.log"
    echo "admin:"
    echo "  socket: $dir/admin.sock"
    echo "destinations:"
    echo "  - name: sink"
    echo "    url: http://127.0.0.1:$sink_port/ic/api/integration/v1/flows/rest/BENCH/1.0/event"
    echo "    auth: { type: none }"
    echo "    timeout: 10s"
    if [ -n "${RELAY_CONCURRENCY:-}" ]; then
      echo "    concurrency: $RELAY_CONCURRENCY"
    fi
    echo "    retry: { initial_backoff: 1s, max_backoff: 2s, max_age: 24h }"
    if [ -n "$batch" ]; then
      echo "    batch: $batch"
    fi
    echo "routes:"
    echo "  - name: objects"
    echo "    match: { eventType: [\"com.oraclecloud.objectstorage.*\"] }"
    echo "    destinations: [sink]"
    echo "  - name: cloudevents"  # the batch-input step's CloudEvents
    echo "    match: { type: [\"com.oraclecloud.objectstorage.*\"] }"
    echo "    destinations: [sink]"
  } >"$file"
}

# start_daemon CONFIG LOGDIR: sets DAEMON_PID and DAEMON_PORT.
start_daemon() {
  local config="$1" dir="$2"
  : >"$dir/ocirelay.log"
  "$OCIRELAYD" --config "$config" >"$dir/stdout.log" 2>&1 &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  local i
  for i in $(seq 1 600); do
    DAEMON_PORT="$(grep -ho 'listening on 127.0.0.1:[0-9]*' "$dir/ocirelay.log" "$dir/stdout.log" 2>/dev/null |
      head -1 | sed 's/.*://')" || true
    [ -n "$DAEMON_PORT" ] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.05
  done
  say "ocirelayd did not start; its output:"; cat "$dir/stdout.log" >&2; exit 1
}

stop_daemon() {
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
}
