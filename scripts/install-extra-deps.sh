#!/usr/bin/env bash
# Installs the tools that the benchmarks, the fuzzers and the sanitizer builds
# need on top of scripts/install-deps.sh, from Debian 12 packages only:
# wrk and nginx (load generator and reference server), gnuplot (plots),
# clang with its runtime (libFuzzer, sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

packages=(
  wrk nginx-light gnuplot-nox
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# nginx's package starts a service where systemd runs; the benchmarks start
# their own nginx on a loopback port and need nothing of it.
