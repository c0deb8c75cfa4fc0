#!/usr/bin/env bash
# Installs the tools that the benchmarks, the fuzzers and the sanitizer builds
# need on top of what scripts/install-deps.sh installs, from Debian 12
# packages only: wrk and nginx (load generator and reference server),
# gnuplot (plots), clang with its runtime (libFuzzer), RocksDB and LMDB
# (ocirelay-storeprobe, the engine comparison; never linked into the relay).
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/install-deps.sh wrk nginx-light gnuplot-nox clang-14 libclang-rt-14-dev \
  librocksdb-dev liblmdb-dev
