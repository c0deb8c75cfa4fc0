#!/usr/bin/env bash
# The portable tarball, installed and run as a new user would, in a root that
# has nothing but glibc (tests/package/make_bare_root.sh):
#   1. install.sh creates the user and directories and installs the files;
#      run again over a changed configuration, it keeps that configuration;
#   2. ocirelayd --check-config passes on a real configuration;
#   3. the relay, started in the root as the ocirelay user, accepts a POST
#      from this host and delivers it over HTTPS to a sink on this host (the
#      project's fake OIC), verifying the sink's certificate against the only
#      CA bundle in the root, at the Oracle Linux path;
#   4. SIGTERM stops it with exit status 0.
#
#   tests/package/smoke_bare_root.sh ROOT TARBALL FAKE_OIC
#
# ROOT is used up (files are installed into it). Needs root (chroot).
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  [ -n "${relay_log:-}" ] && [ -f "$relay_log" ] && { echo "--- relay log:" >&2; tail -n 40 "$relay_log" >&2; }
  [ -n "${sink_log:-}" ] && [ -f "$sink_log" ] && { echo "--- sink log:" >&2; tail -n 20 "$sink_log" >&2; }
  exit 1
}
note() { echo "-- $*"; }

[ $# -eq 3 ] || fail "usage: $0 ROOT TARBALL FAKE_OIC"
root=$(cd "$1" && pwd)
tarball=$2
fake_oic=$3
[ "$(id -u)" -eq 0 ] || fail "needs root (chroot)"
[ -f "$tarball" ] || fail "no tarball $tarball"
[ -x "$fake_oic" ] || fail "no fake OIC program $fake_oic (built with the tests)"
[ ! -e "$root/etc/ssl/certs/ca-certificates.crt" ] || fail "$root has a Debian CA store; make it with make_bare_root.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/ocirelay-smoke.XXXXXX")
relay_log=$work/relay.log
sink_log=$work/sink.log
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

in_root() { chroot "$root" "$@"; }

# --- 1. install.sh ------------------------------------------------------------
name=$(basename "$tarball" .tar.gz)
mkdir -p "$root/tmp/pkg"
tar -C "$root/tmp/pkg" -xzf "$tarball"
[ -x "$root/tmp/pkg/$name/install.sh" ] || fail "$name/install.sh missing from the tarball"
in_root "/tmp/pkg/$name/install.sh" >"$work/install.out" 2>&1 \
  || { cat "$work/install.out" >&2; fail "install.sh failed"; }
cat "$work/install.out"
for f in /usr/local/sbin/ocirelayd /usr/local/sbin/ocirelayctl /etc/systemd/system/ocirelay.service \
         /etc/ocirelay/ocirelay.yaml /usr/local/share/ocirelay/events/createobject.json \
         /usr/local/share/doc/ocirelay/README.md /usr/local/share/doc/ocirelay/LICENSE \
         /usr/local/share/doc/ocirelay/copyright; do
  [ -f "$root$f" ] || fail "install.sh did not install $f"
done
grep -q '^ocirelay:' "$root/etc/passwd" || fail "install.sh did not create the ocirelay user"
grep -q '^ocirelay:' "$root/etc/group" || fail "install.sh did not create the ocirelay group"
for d in /var/lib/ocirelay /var/log/ocirelay; do
  [ "$(in_root stat -c '%U:%G %a' "$d")" = "ocirelay:ocirelay 750" ] \
    || fail "$d is $(in_root stat -c '%U:%G %a' "$d"), not ocirelay:ocirelay 750"
done
[ "$(in_root stat -c '%U:%G %a' /etc/ocirelay/ocirelay.yaml)" = "root:ocirelay 640" ] \
  || fail "/etc/ocirelay/ocirelay.yaml is $(in_root stat -c '%U:%G %a' /etc/ocirelay/ocirelay.yaml), not root:ocirelay 640"
[ "$(in_root stat -c '%U:%G %a' /etc/ocirelay)" = "root:ocirelay 750" ] \
  || fail "/etc/ocirelay is $(in_root stat -c '%U:%G %a' /etc/ocirelay), not root:ocirelay 750"
grep -q '^ExecStart=/usr/local/sbin/ocirelayd ' "$root/etc/systemd/system/ocirelay.service" \
  || fail "the installed unit does not start /usr/local/sbin/ocirelayd: $(grep ExecStart "$root/etc/systemd/system/ocirelay.service")"
grep -q '/usr/sbin/ocirelayd' "$root/etc/systemd/system/ocirelay.service" \
  && fail "the installed unit still names /usr/sbin/ocirelayd"
note "install.sh installed the files, the user and the directories"

# Again, over a configuration the administrator changed: kept, example beside it.
echo "# changed by the administrator" >>"$root/etc/ocirelay/ocirelay.yaml"
cp "$root/etc/ocirelay/ocirelay.yaml" "$work/changed.yaml"
in_root "/tmp/pkg/$name/install.sh" >"$work/install2.out" 2>&1 \
  || { cat "$work/install2.out" >&2; fail "install.sh failed the second time"; }
cmp -s "$work/changed.yaml" "$root/etc/ocirelay/ocirelay.yaml" || fail "install.sh overwrote a changed configuration"
[ -f "$root/etc/ocirelay/ocirelay.yaml.dist" ] || fail "install.sh did not write the new example as ocirelay.yaml.dist"
grep -q 'kept /etc/ocirelay/ocirelay.yaml' "$work/install2.out" || fail "install.sh did not say it kept the configuration: $(cat "$work/install2.out")"
note "a second install.sh kept the changed configuration"

for prog in ocirelayd ocirelayctl; do
  out=$(in_root /usr/local/sbin/$prog --version 2>&1) || fail "$prog --version failed in the bare root: $out"
  note "$prog --version: $out"
done

# A configuration error: yaml-cpp throws, so this runs the statically linked
# unwinder (and its _dl_find_object stand-in, lib/src/common/glibc_compat.cpp)
# on a glibc that may lack the real one. Exit 2, the error named.
printf 'server: [unclosed\n' >"$root/tmp/bad.yaml"
code=0
out=$(in_root /usr/local/sbin/ocirelayd --check-config --config /tmp/bad.yaml 2>&1) || code=$?
[ "$code" -eq 2 ] || fail "--check-config on a bad file exited $code, not 2: $out"
grep -q '/tmp/bad.yaml:.*YAML syntax error' <<<"$out" || fail "--check-config did not name the YAML error: $out"
note "a bad configuration: exit 2, $(head -n 1 <<<"$out")"

# --- 2. A CA at the Oracle Linux path only, a sink certificate from it ----------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ocirelay smoke CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/sink.key" -out "$work/sink.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$work/sink.ext"
openssl x509 -req -in "$work/sink.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/sink.ext" -out "$work/sink.pem" 2>/dev/null
chmod 0600 "$work/sink.key"
mkdir -p "$root/etc/pki/tls/certs"
cp "$work/ca.pem" "$root/etc/pki/tls/certs/ca-bundle.crt"

FAKE_OIC_PORT=0 FAKE_OIC_TLS_CERT=$work/sink.pem FAKE_OIC_TLS_KEY=$work/sink.key \
  "$fake_oic" >"$sink_log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  sink_port=$(sed -n 's/^fake OIC listening on 127\.0\.0\.1:\([0-9]*\) (https).*/\1/p' "$sink_log")
  [ -n "$sink_port" ] && break
  sleep 0.1
done
[ -n "${sink_port:-}" ] || fail "the HTTPS sink did not start"

cat >"$root/etc/ocirelay/smoke.yaml" <<YAML
server:
  listen: "127.0.0.1:0"
management:
  listen: "127.0.0.1:0"
storage:
  path: /var/lib/ocirelay/queue.db
log:
  level: info
  flush_interval: 0s
destinations:
  - name: sink
    url: https://127.0.0.1:$sink_port/ic/api/integration/v1/flows/rest/SMOKE/1.0/event
    auth: { type: none }
    timeout: 10s
    retry: { initial_backoff: 1s, max_backoff: 2s, max_age: 1h }
routes:
  - name: objects
    match:
      eventType: ["com.oraclecloud.objectstorage.*"]
    destinations: [sink]
YAML
chmod 0640 "$root/etc/ocirelay/smoke.yaml"
in_root chgrp ocirelay /etc/ocirelay/smoke.yaml

# --- 3. --check-config, then the relay as the ocirelay user ---------------------
in_root /usr/local/sbin/ocirelayd --check-config --config /etc/ocirelay/smoke.yaml >"$work/check.out" 2>&1 \
  || { cat "$work/check.out" >&2; fail "ocirelayd --check-config failed in the bare root"; }
note "--check-config: $(tail -n 1 "$work/check.out")"

chroot --userspec=ocirelay:ocirelay "$root" /usr/local/sbin/ocirelayd --config /etc/ocirelay/smoke.yaml \
  >"$relay_log" 2>&1 &
relay_pid=$!
pids+=($relay_pid)
port=""
for _ in $(seq 300); do  # under qemu the start takes longer
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$relay_log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$relay_pid" 2>/dev/null || fail "the relay exited at start"
  sleep 0.1
done
[ -n "$port" ] || fail "the relay did not start listening"
grep -q 'system CA bundle: /etc/pki/tls/certs/ca-bundle.crt' "$relay_log" \
  || fail "the relay did not report the CA bundle at the Oracle Linux path"
note "relay listening on 127.0.0.1:$port, as user ocirelay, in the bare root"

status=$(curl -sS -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$root/usr/local/share/ocirelay/events/createobject.json" \
  "http://127.0.0.1:$port/v1/events") || fail "POST to the relay failed"
[ "$status" = 202 ] || fail "POST /v1/events answered $status: $(cat "$work/answer")"
event_id=$(sed -n 's/.*"eventID":"\([^"]*\)".*/\1/p' "$work/answer")
[ -n "$event_id" ] || fail "no eventID in the answer: $(cat "$work/answer")"
note "202 for event $event_id"

delivered=""
for _ in $(seq 300); do
  if grep -q 'fake OIC: POST /ic/api/integration/v1/flows/rest/SMOKE/1.0/event .* -> 202' "$sink_log"; then
    delivered=yes
    break
  fi
  sleep 0.1
done
[ -n "$delivered" ] || fail "the event was not delivered to the HTTPS sink"
note "delivered over HTTPS, certificate verified against /etc/pki/tls/certs/ca-bundle.crt"

# --- 4. SIGTERM -----------------------------------------------------------------
kill -TERM "$relay_pid"
code=0
wait "$relay_pid" || code=$?
[ "$code" -eq 0 ] || fail "the relay exited with $code after SIGTERM"
echo "PASS: $name installs and relays in a root with nothing but glibc"
