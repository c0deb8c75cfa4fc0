#!/usr/bin/env bash
# Adds glibc for arm64 to a bare root (tests/package/make_bare_root.sh):
# libc6:arm64, unpacked from its Debian package, and nothing else of arm64.
# arm64 programs then run in the root through qemu-user-static's binfmt_misc
# entry, which this registers when missing (mounting binfmt_misc if needed).
#
#   tests/package/add_arm64_glibc.sh ROOT
#
# Needs root.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
note() { echo "-- $*"; }

[ $# -eq 1 ] || fail "usage: $0 ROOT"
root=$1
[ "$(id -u)" -eq 0 ] || fail "needs root (binfmt_misc)"
[ -x "$root/bin/sh" ] || fail "$root is not a root file system"

download=$(mktemp -d)
chmod 0777 "$download"
(cd "$download" && apt-get download -qq libc6:arm64) || fail "apt-get download libc6:arm64 failed"
dpkg-deb -x "$download"/libc6_*_arm64.deb "$download/x"
# The root has a merged /usr (/lib -> usr/lib): copy into it, not over it.
cp -a "$download/x/lib/." "$root/usr/lib/"
cp -a "$download/x/usr/." "$root/usr/"
rm -rf "$download"
[ -e "$root/lib/ld-linux-aarch64.so.1" ] || fail "no arm64 dynamic loader in $root"

# qemu-user-static's binfmt_misc entry, with the F flag (the interpreter is
# opened now, so it need not exist inside the root).
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || fail "cannot mount binfmt_misc (needed to run arm64 programs in a root)"
  fi
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || fail "$conf missing (package qemu-user-static)"
  cat "$conf" >/proc/sys/fs/binfmt_misc/register || fail "cannot register $conf with binfmt_misc"
fi
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || fail "the qemu-aarch64 binfmt entry lacks the F flag: $(cat /proc/sys/fs/binfmt_misc/qemu-aarch64)"
note "glibc for arm64 added; arm64 programs run through qemu-aarch64 (binfmt_misc)"
