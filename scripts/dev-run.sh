#!/usr/bin/env bash
# Installs the dependencies, builds, starts a local stand-in for OIC on
# 127.0.0.1:8081 and runs ocirelayd in the foreground on config/dev.yaml
# (plain HTTP on 127.0.0.1:8080, storage in ./var). Ctrl-C stops both.
#
# In another terminal:
#   curl -i -H 'Content-Type: application/json' \
#        --data-binary @tests/data/events/createobject.json http://127.0.0.1:8080/v1/events
#   build/daemon/ocirelayctl --config config/dev.yaml queue stats
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --target ocirelayd ocirelayctl ocirelay-fake-oic

FAKE_OIC_PORT=8081 build/tests/ocirelay-fake-oic &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null || true' EXIT
sleep 0.3
build/daemon/ocirelayd --config config/dev.yaml
