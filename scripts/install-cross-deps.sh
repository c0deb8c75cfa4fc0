#!/usr/bin/env bash
# Installs what scripts/package.sh needs on top of scripts/install-deps.sh,
# from Debian 12 packages only:
#   - the arm64 cross toolchain and the arm64 static libraries the portable
#     binaries link (Debian's multiarch: dpkg --add-architecture arm64);
#   - qemu-user-static, to run arm64 binaries in the checks;
#   - rpm (rpmbuild), lintian, devscripts (hardening-check), debootstrap.
# libyaml-cpp-dev cannot be installed for two architectures at once, so its
# arm64 archive is unpacked under build-deps/aarch64/ instead of installed.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
fi

scripts/install-deps.sh \
  crossbuild-essential-arm64 libssl-dev:arm64 libsqlite3-dev:arm64 libboost1.81-dev:arm64 \
  qemu-user-static rpm lintian devscripts debootstrap binutils

sysroot=build-deps/aarch64
if [ ! -f "$sysroot/usr/lib/aarch64-linux-gnu/libyaml-cpp.a" ]; then
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  # apt's download sandbox user must be able to write there.
  chmod 0777 "$download"
  (cd "$download" && apt-get download -qq libyaml-cpp-dev:arm64)
  mkdir -p "$sysroot"
  dpkg-deb -x "$download"/libyaml-cpp-dev_*_arm64.deb "$sysroot"
fi
