#!/usr/bin/env bash
# Installs what ocirelay needs to build, test and run, from Debian 12 packages
# only, and any further packages named as arguments. Safe to run again; skips
# apt when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libboost1.81-dev rapidjson-dev libssl-dev libspdlog-dev catch2
  libyaml-cpp-dev libsqlite3-dev
  libpq-dev postgresql-15  # storage.backend postgresql; the tests start a throwaway server
  openssl curl ca-certificates systemd
  dpkg-dev file  # cpack -G DEB: dpkg-shlibdeps computes Depends, file finds the ELF files
  "$@"
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
