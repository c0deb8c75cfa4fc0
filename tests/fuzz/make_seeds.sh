#!/usr/bin/env bash
# Builds the fuzzers' seed corpora from the fixtures:
#   tests/fuzz/make_seeds.sh OUT_DIR
# OUT_DIR/<target>/ gets the committed seeds of tests/fuzz/seeds/<target>
# (regression inputs among them)
# plus inputs made from tests/data and /work/shared/fixtures (when present):
#   event, filter: the fixture events and other JSON fixtures;
#   config:        config/*.yaml;
#   http:          the fixture events as authenticated POSTs (OCI Functions
#                  style and as ONS notifications), the ONS confirmation,
#                  GET/HEAD of the other endpoints, chunked, Expect and
#                  pipelined requests, Transfer-Encoding and Host framing
#                  cases.
set -euo pipefail

out=${1:?usage: make_seeds.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fixture_dirs=("$root/tests/data")
[[ -d /work/shared/fixtures ]] && fixture_dirs+=(/work/shared/fixtures)

rm -rf "$out"
mkdir -p "$out"/{event,filter,config,http}
for target in event filter config http; do
  cp "$here/seeds/$target/"* "$out/$target/"
done

crlf() { sed 's/$/\r/'; }
auth='Authorization: Basic b25zOmNoYW5nZS1tZQ=='   # ons:change-me, as fuzz_http.cpp configures
n=0
for dir in "${fixture_dirs[@]}"; do
  n=$((n + 1))
  for f in "$dir"/events/*.json "$dir"/oic/*.json; do
    [[ -f $f ]] || continue
    base=$n-$(basename "$f" .json)
    cp "$f" "$out/event/$base.json"
    cp "$f" "$out/filter/$base.json"
  done
  for f in "$dir"/events/*.json; do
    [[ -f $f ]] || continue
    base=$n-$(basename "$f" .json)
    len=$(stat -c %s "$f")
    { printf 'POST /v1/events HTTP/1.1\r\nHost: relay\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n' "$auth" "$len"
      cat "$f"; } > "$out/http/$base-post.http"
    # The ONS capture, with its placeholder body replaced by this event.
    if [[ -f $dir/ons/notification.http ]]; then
      { sed '/^$/,$d' "$dir/ons/notification.http" | crlf
        printf 'Content-Length: %s\r\n\r\n' "$len"
        cat "$f"; } > "$out/http/$base-ons.http"
    fi
  done
  if [[ -f $dir/ons/subscription-confirmation.http ]]; then
    body=$(sed '1,/^$/d' "$dir/ons/subscription-confirmation.http")
    { sed '/^$/,$d' "$dir/ons/subscription-confirmation.http" | crlf
      printf '%s\r\nContent-Length: %s\r\n\r\n%s' "$auth" "${#body}" "$body"; } \
      > "$out/http/$n-ons-confirmation.http"
  fi
done
cp "$root"/config/*.yaml "$out/config/"

event='{"specversion":"1.0","type":"com.example.x","source":"/s","id":"ce-1","data":{}}'
printf 'GET /health HTTP/1.1\r\nHost: r\r\n\r\nHEAD /ready HTTP/1.1\r\nHost: r\r\n\r\nGET /metrics?x=1 HTTP/1.0\r\n\r\n' \
  > "$out/http/endpoints.http"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer fuzz-bearer-0b7e1d\r\nContent-Type: application/cloudevents+json; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' \
  "${#event}" "$event" > "$out/http/chunked.http"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nExpect: 100-continue\r\nContent-Length: %s\r\n\r\n%s' \
  "$auth" "${#event}" "$event" > "$out/http/expect.http"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nContent-Length: %s\r\n\r\n%sPOST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
  "$auth" "${#event}" "$event" "$auth" "${#event}" "$event" > "$out/http/pipelined-duplicate.http"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}' \
  > "$out/http/unauthenticated.http"
# The other input forms: CloudEvents binary mode (ce-* headers, any
# Content-Type) and batch mode, and an array of OCI events.
data='{"orderId": 42}'
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nContent-Type: application/json\r\nce-specversion: 1.0\r\nce-id: b-1\r\nce-source: /s\r\nce-type: com.example.x\r\nce-subject: a%%20b\r\nContent-Length: %s\r\n\r\n%s' \
  "$auth" "${#data}" "$data" > "$out/http/cloudevents-binary.http"
batch="[$event,$event]"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nContent-Type: application/cloudevents-batch+json\r\nContent-Length: %s\r\n\r\n%s' \
  "$auth" "${#batch}" "$batch" > "$out/http/cloudevents-batch.http"
# RFC 9112 framing: Transfer-Encoding variants, pipelined; HTTP/1.0 with
# Expect; no Host; HEAD then GET on one connection.
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: r\r\n\r\n' \
  "$auth" > "$out/http/te-gzip-chunked.http"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}GET /health HTTP/1.1\r\nHost: r\r\n\r\n' \
  "$auth" > "$out/http/te-identity-length.http"
printf 'POST /v1/events HTTP/1.0\r\n%s\r\nExpect: 100-continue\r\nContent-Length: %s\r\n\r\n%s' \
  "$auth" "${#event}" "$event" > "$out/http/expect-http10.http"
printf 'GET /health HTTP/1.1\r\n\r\nHEAD /health HTTP/1.1\r\nHost: r\r\n\r\n' > "$out/http/no-host.http"
printf 'HEAD /health HTTP/1.1\r\nHost: r\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: r\r\n\r\nGET /ready HTTP/1.1\r\nHost: r\r\n\r\n' \
  > "$out/http/head-keep-alive.http"
printf 'POST /v1/events HTTP/1.1\r\nHost: r\r\n%s\r\nX-OCI-NS-MessageType: UnsubscribeConfirmation\r\nContent-Length: 2\r\n\r\n{}' \
  "$auth" > "$out/http/unsubscribe.http"
