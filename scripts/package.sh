#!/usr/bin/env bash
# Builds the portable binaries and every package of ocirelay into dist/, on a
# Debian 12 x86_64 machine (it installs what it needs from Debian packages):
#
#   dist/ocirelay-<version>-linux-x86_64.tar.gz    any Linux with glibc >= 2.34:
#   dist/ocirelay-<version>-linux-aarch64.tar.gz   bin/, install.sh, unit, configs, samples
#   dist/ocirelay-<version>-1.el9.x86_64.rpm       Oracle Linux 9 / RHEL 9 family
#   dist/ocirelay-<version>-1.el9.aarch64.rpm
#   dist/ocirelay_<version>-1_amd64.deb            Debian 12, Ubuntu 22.04 / 24.04
#   dist/ocirelay_<version>-1_arm64.deb
#
#   scripts/package.sh [x86_64] [aarch64]          (default: both)
#
# The binaries link everything but glibc statically (OCIRELAY_PORTABLE) and
# are hardened (OCIRELAY_HARDENING). x86_64 is built in ./build, the tree the
# test suite uses, so what is tested is what is shipped; aarch64 is
# cross-compiled in ./build-aarch64 (cmake/toolchains/aarch64-linux-gnu.cmake).
# tests/package/check_packages.sh checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64)
for arch in "${arches[@]}"; do
  case "$arch" in
    x86_64|aarch64) ;;
    *) echo "package.sh: unknown architecture '$arch' (x86_64 or aarch64)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
scripts/install-cross-deps.sh

version=$(sed -n 's/^project(ocirelay VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "package.sh: no version in CMakeLists.txt" >&2; exit 1; }
dist=$top/dist
mkdir -p "$dist"
jobs=$(nproc)

for arch in "${arches[@]}"; do
  echo "=== ocirelay $version for $arch"
  if [ "$arch" = x86_64 ]; then
    build=$top/build
    strip=strip
    configure=()
  else
    build=$top/build-aarch64
    strip=aarch64-linux-gnu-strip
    configure=(-DCMAKE_TOOLCHAIN_FILE="$top/cmake/toolchains/aarch64-linux-gnu.cmake"
               -DOCIRELAY_BUILD_TESTS=OFF -DOCIRELAY_BUILD_BENCH=OFF
               "-DOCIRELAY_yaml-cpp_ARCHIVE=$top/build-deps/aarch64/usr/lib/aarch64-linux-gnu/libyaml-cpp.a")
  fi
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCIRELAY_PORTABLE=ON -DOCIRELAY_HARDENING=ON \
    -DOCIRELAY_WERROR="${OCIRELAY_WERROR:-OFF}" "${configure[@]}" >/dev/null
  cmake --build "$build" -j"$jobs" --target ocirelayd ocirelayctl

  # The /usr layout, staged: the .deb, the .rpm and the tarball are made from it.
  stage=$build/stage
  rm -rf "$stage"
  DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
  "$strip" "$stage/usr/sbin/ocirelayd" "$stage/usr/sbin/ocirelayctl"

  # --- .deb (CPack, the project's Debian package) ---------------------------
  out=$build/packages
  rm -rf "$out"
  (cd "$build" && cpack -G DEB -B "$out" >/dev/null)
  cp "$out"/ocirelay_"$version"-1_*.deb "$dist/"

  # --- tarball --------------------------------------------------------------
  name=ocirelay-$version-linux-$arch
  tree=$build/tarball/$name
  rm -rf "$build/tarball"
  mkdir -p "$tree/bin" "$tree/share/systemd" "$tree/share/config" "$tree/share/events" "$tree/share/doc"
  cp "$stage/usr/sbin/ocirelayd" "$stage/usr/sbin/ocirelayctl" "$tree/bin/"
  cp systemd/ocirelay.service "$tree/share/systemd/"
  cp config/production.yaml config/dev.yaml "$tree/share/config/"
  cp "$stage"/usr/share/ocirelay/events/*.json "$tree/share/events/"
  cp README.md docs/*.md "$tree/share/doc/"
  cp LICENSE "$tree/"
  cp packaging/deb/copyright "$tree/share/doc/copyright"
  install -m 0755 packaging/tarball/install.sh "$tree/install.sh"
  tar -C "$build/tarball" --owner=0 --group=0 --numeric-owner --sort=name \
    -czf "$dist/$name.tar.gz" "$name"

  # --- .rpm (rpmbuild from the staged tree) ---------------------------------
  rpmroot=$build/rpmstage
  rm -rf "$rpmroot" "$build/rpmbuild"
  cp -a "$stage" "$rpmroot"
  mkdir -p "$rpmroot/usr/lib/systemd/system" "$rpmroot/usr/lib/sysusers.d" \
    "$rpmroot/var/lib/ocirelay" "$rpmroot/var/log/ocirelay"
  # RHEL's unit directory is /usr/lib/systemd/system.
  if [ -d "$rpmroot/lib/systemd/system" ]; then
    mv "$rpmroot/lib/systemd/system/ocirelay.service" "$rpmroot/usr/lib/systemd/system/"
    rm -rf "$rpmroot/lib"
  fi
  install -m 0644 packaging/rpm/ocirelay.sysusers "$rpmroot/usr/lib/sysusers.d/ocirelay.conf"
  rpmbuild -bb --quiet --target "$arch-linux" \
    --define "_topdir $build/rpmbuild" \
    --define "_rpmdir $dist" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "ocirelay_version $version" \
    --define "ocirelay_stage $rpmroot" \
    packaging/rpm/ocirelay.spec
done

echo "=== dist/"
ls -l "$dist"
