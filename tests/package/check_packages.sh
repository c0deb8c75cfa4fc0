#!/usr/bin/env bash
# Checks everything scripts/package.sh put in dist/, for x86_64 and aarch64;
# any failure fails the run (CI: .ci/run):
#   1. the binaries need only glibc <= 2.34 and are hardened (check_binaries.sh),
#      those of the Release build in build/ too;
#   2. the .debs: contents and maintainer scripts (check_deb.sh --deb), lintian;
#   3. the .rpms: requirements, files, scriptlets in a scratch root (check_rpm.sh);
#   4. each tarball installs and relays over HTTPS in a root with nothing but
#      glibc, the aarch64 one under qemu-user-static (smoke_bare_root.sh).
#
#   tests/package/check_packages.sh [DIST] [FAKE_OIC]
#     DIST      default dist/
#     FAKE_OIC  the HTTPS sink, default build/tests/ocirelay-fake-oic
#
# Needs root (debootstrap, chroot) and the packages of
# scripts/install-cross-deps.sh. Roots are made in a temporary directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dist=$(cd "${1:-$top/dist}" && pwd)
fake_oic=${2:-$top/build/tests/ocirelay-fake-oic}
version=$(sed -n 's/^project(ocirelay VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")

step() { printf '\n=== %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ocirelay-packages.XXXXXX")
trap 'rm -rf "$work"' EXIT

declare -A deb_arch=([x86_64]=amd64 [aarch64]=arm64)
for arch in x86_64 aarch64; do
  for f in "ocirelay-$version-linux-$arch.tar.gz" "ocirelay-$version-1.el9.$arch.rpm" \
           "ocirelay_$version-1_${deb_arch[$arch]}.deb"; do
    [ -f "$dist/$f" ] || fail "$dist/$f missing (scripts/package.sh)"
  done
done

# The plain `cmake -DCMAKE_BUILD_TYPE=Release` build the test suite ran
# (scripts/build.sh), unstripped, as well as what the packages ship.
if [ -x "$top/build/daemon/ocirelayd" ]; then
  step "x86_64: binaries of the Release build in build/"
  bash "$here/check_binaries.sh" "$top/build/daemon/ocirelayd" "$top/build/daemon/ocirelayctl"
fi

for arch in x86_64 aarch64; do
  step "$arch: binaries"
  mkdir -p "$work/$arch"
  tar -C "$work/$arch" -xzf "$dist/ocirelay-$version-linux-$arch.tar.gz"
  bash "$here/check_binaries.sh" "$work/$arch/ocirelay-$version-linux-$arch/bin/ocirelayd" \
    "$work/$arch/ocirelay-$version-linux-$arch/bin/ocirelayctl"
  file "$work/$arch/ocirelay-$version-linux-$arch/bin/ocirelayd" | grep -q "$( [ $arch = x86_64 ] && echo x86-64 || echo aarch64 )" \
    || fail "the $arch tarball's ocirelayd is not an $arch program: $(file "$work/$arch/ocirelay-$version-linux-$arch/bin/ocirelayd")"

  step "$arch: .deb"
  deb=$dist/ocirelay_$version-1_${deb_arch[$arch]}.deb
  bash "$here/check_deb.sh" --deb "$deb" "$top"
  [ "$(dpkg-deb -f "$deb" Depends)" = "libc6 (>= 2.34), passwd" ] \
    || fail "$(basename "$deb") Depends is '$(dpkg-deb -f "$deb" Depends)', not 'libc6 (>= 2.34), passwd'"
  # lintian: no errors (warnings are listed in docs/development.md).
  lintian --fail-on error --no-tag-display-limit "$deb" | tee "$work/lintian.out" || {
    fail "lintian reports errors for $(basename "$deb") (above)"
  }
  echo "lintian: no errors ($(grep -c '^W:' "$work/lintian.out" || true) warnings)"
done

step "bare roots (debootstrap minbase, only glibc left)"
bash "$here/make_bare_root.sh" "$work/root"
for use in rpm-x86_64 rpm-aarch64 smoke-x86_64 smoke-aarch64; do
  cp -a "$work/root" "$work/root-$use"
done
# The aarch64 smoke root: no arm64 library but glibc.
bash "$here/add_arm64_glibc.sh" "$work/root-smoke-aarch64"

for arch in x86_64 aarch64; do
  step "$arch: .rpm"
  bash "$here/check_rpm.sh" "$dist/ocirelay-$version-1.el9.$arch.rpm" "$arch" "$work/root-rpm-$arch"
  step "$arch: tarball in a bare root$( [ $arch = aarch64 ] && echo ', under qemu-user-static')"
  bash "$here/smoke_bare_root.sh" "$work/root-smoke-$arch" \
    "$dist/ocirelay-$version-linux-$arch.tar.gz" "$fake_oic"
done

echo
echo "PASS: every package in $dist"
