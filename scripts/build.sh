#!/usr/bin/env bash
# Configures and builds ocirelay into ./build (Release, tests included).
# Extra arguments go to `cmake --build` (e.g. --target ocirelayd).
set -euo pipefail
cd "$(dirname "$0")/.."
# OCIRELAY_WERROR=ON (what CI sets) makes every warning an error.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DOCIRELAY_WERROR="${OCIRELAY_WERROR:-OFF}" >/dev/null
cmake --build build -j"$(nproc)" "$@"
