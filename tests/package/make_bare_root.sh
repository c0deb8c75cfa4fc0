#!/usr/bin/env bash
# Makes the "bare" root file systems the package checks install into: a
# minimal Debian 12 (debootstrap --variant=minbase, from the Debian mirror
# apt is configured with), then stripped of every library the relay ever
# linked dynamically (libstdc++, libgcc_s, OpenSSL, SQLite, yaml-cpp, spdlog,
# fmt, libsystemd, Boost) and of every CA store, so that:
#   - a binary that still needs one of them fails to start in it;
#   - outbound TLS works only if the relay finds the CA bundle at the
#     Oracle Linux path, /etc/pki/tls/certs/ca-bundle.crt, where the smoke
#     test puts its own CA.
#
#   tests/package/make_bare_root.sh DIR
#
# tests/package/add_arm64_glibc.sh makes a copy of it fit for arm64 programs.
# Needs root (debootstrap). DIR must not exist.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
note() { echo "-- $*"; }

[ $# -eq 1 ] || fail "usage: $0 DIR"
root=$1
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and chroot)"
[ ! -e "$root" ] || fail "$root exists already"

# The mirror apt uses on this machine (deb822 or one-line sources).
# The first source that carries the bookworm suite.
mirror=""
shopt -s nullglob
for sources in /etc/apt/sources.list.d/*.sources; do
  # deb822 stanzas: URIs and Suites in any order, stanzas apart by a blank line.
  mirror=$(awk 'function done() { if (uri != "" && suites ~ / bookworm( |$)/) { print uri; uri = ""; exit } uri = ""; suites = "" }
                /^URIs:/ {uri = $2} /^Suites:/ {suites = $0} /^[[:space:]]*$/ {done()} END {done()}' \
             "$sources" || true)
  [ -n "$mirror" ] && break
done
shopt -u nullglob
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list || true)
fi
[ -n "$mirror" ] || fail "no Debian mirror found in apt's sources"

note "debootstrap --variant=minbase bookworm $root"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1; then
  tail -n 30 "$root.debootstrap.log" >&2
  fail "debootstrap failed (log: $root.debootstrap.log)"
fi
rm -f "$root.debootstrap.log"

# Libraries the relay once needed, and every CA store.
gone=(libstdc++.so libgcc_s.so libssl.so libcrypto.so libsqlite3.so libyaml-cpp.so
      libspdlog.so libfmt.so libsystemd.so libboost)
for lib in "${gone[@]}"; do
  find "$root/usr/lib" "$root/usr/local" -name "$lib*" \( -type f -o -type l \) -delete
done
rm -rf "$root/etc/ssl/certs" "$root/usr/share/ca-certificates" "$root/etc/pki" \
  "$root/usr/lib/ssl"
for lib in "${gone[@]}"; do
  if found=$(find "$root/usr/lib" "$root/usr/local" -name "$lib*" -print -quit) && [ -n "$found" ]; then
    fail "$found is still in the bare root"
  fi
done
note "removed ${gone[*]} and the CA stores"

echo "bare root ready: $root"
