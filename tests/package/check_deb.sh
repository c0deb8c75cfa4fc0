#!/usr/bin/env bash
# Builds the Debian package from a build tree with CPack and inspects it:
# control fields, file list, conffiles, maintainer scripts (run against stub
# commands, so nothing on this machine changes), and the packaged ocirelayd.
#
#   tests/package/check_deb.sh BUILD_DIR SOURCE_DIR [CPACK]
#   tests/package/check_deb.sh --deb FILE.deb SOURCE_DIR
#
# The second form inspects a package already built (scripts/package.sh's
# dist/, any architecture); its programs are run only when the package is of
# this machine's architecture.
#
# Registered in ctest as package.deb. The binaries must already be built: the
# package is made from the installed build tree through its cmake_install.cmake,
# without CPack's "preinstall" build step, so nothing is compiled or relinked
# while other tests run. Everything happens in a temporary directory.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
note() { echo "-- $*"; }

[ $# -ge 2 ] || fail "usage: $0 BUILD_DIR SOURCE_DIR [CPACK] | $0 --deb FILE SOURCE_DIR"
prebuilt=""
if [ "$1" = --deb ]; then
  [ $# -ge 3 ] || fail "usage: $0 --deb FILE SOURCE_DIR"
  [ -f "$2" ] || fail "no package $2"
  prebuilt=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
  source=$(cd "$3" && pwd) || fail "no source directory $3"
else
  build=$(cd "$1" && pwd) || fail "no build directory $1"
  source=$(cd "$2" && pwd) || fail "no source directory $2"
  cpack=${3:-cpack}
fi

for tool in ${cpack:-} dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null 2>&1 \
    || fail "'$tool' not found (dpkg-dev and file are in scripts/install-deps.sh)"
done
if [ -z "$prebuilt" ]; then
  [ -f "$build/CPackConfig.cmake" ] || fail "$build/CPackConfig.cmake missing: configure the build first"
  [ -x "$build/daemon/ocirelayd" ] || fail "$build/daemon/ocirelayd not built"
fi

version=$(sed -n 's/^project(ocirelay VERSION \([0-9.]*\).*/\1/p' "$source/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in $source/CMakeLists.txt"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocirelay-deb.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

# --- Build the package ------------------------------------------------------
# The project's CPack configuration, installing through the build tree's
# install script (no preinstall build) into this temporary directory.
if [ -n "$prebuilt" ]; then
  deb=$prebuilt
  note "inspecting $(basename "$deb")"
else
cat >"$tmp/CPackConfig.cmake" <<EOF
include("$build/CPackConfig.cmake")
set(CPACK_GENERATOR DEB)
set(CPACK_INSTALL_CMAKE_PROJECTS "")
set(CPACK_INSTALL_SCRIPTS "$build/cmake_install.cmake")
set(CPACK_INSTALL_PREFIX "\${CPACK_PACKAGING_INSTALL_PREFIX}")
set(CPACK_PACKAGE_DIRECTORY "$tmp/out")
EOF
  note "cpack -G DEB (version $version)"
  if ! (cd "$tmp" && "$cpack" -G DEB --config "$tmp/CPackConfig.cmake") >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log" >&2
    fail "cpack -G DEB failed (log above)"
  fi
  shopt -s nullglob
  debs=("$tmp"/out/*.deb)
  shopt -u nullglob
  [ ${#debs[@]} -eq 1 ] || { cat "$tmp/cpack.log" >&2; fail "expected one .deb in $tmp/out, found ${#debs[@]}"; }
  deb=${debs[0]}
  note "built $(basename "$deb")"
fi

# --- Control fields -----------------------------------------------------------
info=$(dpkg-deb -I "$deb") || fail "dpkg-deb -I $deb failed"
echo "$info"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = ocirelay ] || fail "Package is '$(field Package)', not ocirelay"
case "$(field Version)" in
  "$version"|"$version"-*) ;;
  *) fail "Version '$(field Version)' is not the project's $version" ;;
esac
[ "$(field Section)" = net ] || fail "Section is '$(field Section)', not net"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
[ -n "$depends" ] || fail "Depends is empty (is dpkg-shlibdeps working?)"
grep -Eq '(^|, )libc6( |,|$)' <<<"$depends" || fail "Depends lacks libc6 (from dpkg-shlibdeps): $depends"
grep -Eq '(^|, )passwd( |,|$)' <<<"$depends" || fail "Depends lacks passwd (useradd, used by postinst): $depends"
case "$depends" in
  "libc6 (>= 2.34), passwd") note "Depends: $depends (portable: glibc only)" ;;
  *) note "Depends: $depends (shared libraries, from dpkg-shlibdeps)" ;;
esac

# --- Files ----------------------------------------------------------------------
dpkg-deb -c "$deb" >"$tmp/contents" || fail "dpkg-deb -c failed"
awk '{print $NF}' "$tmp/contents" | sed 's,/$,,' >"$tmp/paths"
has() { grep -qxF "$1" "$tmp/paths"; }
required=(
  ./usr/sbin/ocirelayd
  ./lib/systemd/system/ocirelay.service
  ./etc/ocirelay/ocirelay.yaml
  ./usr/share/doc/ocirelay/README.md
  ./usr/share/doc/ocirelay/LICENSE
  ./usr/share/doc/ocirelay/examples/production.yaml
  ./usr/share/doc/ocirelay/examples/dev.yaml
  ./usr/share/ocirelay/events/createobject.json
  ./usr/share/doc/ocirelay/copyright
  ./usr/share/doc/ocirelay/changelog.Debian.gz
)
if [ -n "$prebuilt" ] || [ -x "$build/daemon/ocirelayctl" ]; then
  required+=(./usr/sbin/ocirelayctl)
fi
for doc in "$source"/docs/*.md; do
  [ -e "$doc" ] && required+=("./usr/share/doc/ocirelay/$(basename "$doc")")
done
for f in "${required[@]}"; do
  has "$f" || { cat "$tmp/contents" >&2; fail "package lacks $f (contents above)"; }
done
# Nothing else: no headers, static libraries, test programs or /usr/local.
while read -r p; do
  case "$p" in
    .|./etc|./etc/ocirelay|./etc/ocirelay/*) ;;
    ./lib|./lib/systemd|./lib/systemd/system|./lib/systemd/system/ocirelay.service) ;;
    ./usr|./usr/sbin|./usr/sbin/ocirelayd|./usr/sbin/ocirelayctl) ;;
    ./usr/share|./usr/share/doc|./usr/share/doc/ocirelay|./usr/share/doc/ocirelay/*) ;;
    ./usr/share/ocirelay|./usr/share/ocirelay/events|./usr/share/ocirelay/events/*.json) ;;
    *) cat "$tmp/contents" >&2; fail "unexpected file in the package: $p" ;;
  esac
done <"$tmp/paths"
grep -E ' \./usr/sbin/ocirelayd$' "$tmp/contents" | grep -q '^-rwxr-xr-x root/root ' \
  || fail "ocirelayd is not -rwxr-xr-x root/root: $(grep ' ./usr/sbin/ocirelayd$' "$tmp/contents")"
note "$(wc -l <"$tmp/paths") entries, all expected"

# --- Control files --------------------------------------------------------------
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control" || fail "dpkg-deb -e failed"
[ -f "$tmp/control/conffiles" ] || fail "no conffiles"
grep -qxF /etc/ocirelay/ocirelay.yaml "$tmp/control/conffiles" \
  || fail "conffiles does not list /etc/ocirelay/ocirelay.yaml: $(cat "$tmp/control/conffiles")"
while read -r conffile; do
  [ -z "$conffile" ] || has ".$conffile" || fail "conffile $conffile is not in the package"
done <"$tmp/control/conffiles"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "$script missing or not executable"
  sh -n "$tmp/control/$script" || fail "$script is not valid sh"
done
postinst=$tmp/control/postinst
# Nothing surprising: the service is neither enabled nor started.
code=$(sed 's/#.*//' "$postinst")
starter='(^|[[:space:]])(systemctl|deb-systemd-helper|deb-systemd-invoke|invoke-rc\.d|service)[[:space:]][^;&|]*(enable|start|restart|reload-or-restart|try-restart|--now)([[:space:]]|$)'
if grep -Eq "$starter" <<<"$code"; then
  fail "postinst enables, starts or restarts the service: $(grep -En "$starter" <<<"$code")"
fi
grep -q 'daemon-reload' <<<"$code" || fail "postinst does not run systemctl daemon-reload"
grep -q '/run/systemd/system' <<<"$code" || fail "postinst does not check /run/systemd/system before calling systemctl"

# --- Maintainer scripts against stub commands -----------------------------------
# Every external command the scripts may call is a stub logging its arguments;
# the real system is not touched. getent reports the user as missing first.
stubs=$tmp/stubs
mkdir "$stubs"
for cmd in getent addgroup adduser groupadd useradd dpkg-statoverride mkdir chown chmod \
           systemctl rm rmdir deb-systemd-helper deb-systemd-invoke invoke-rc.d service; do
  cat >"$stubs/$cmd" <<EOF
#!/bin/sh
echo "$cmd \$*" >>"$tmp/calls"
case "$cmd" in
  getent) [ -f "$tmp/user-exists" ] && exit 0; exit 2 ;;
  dpkg-statoverride) exit 1 ;;
  systemctl) case "\$*" in *is-active*) [ -f "$tmp/active" ] && exit 0; exit 3 ;; esac ;;
esac
exit 0
EOF
  chmod +x "$stubs/$cmd"
done
# The scripts look for /run/systemd/system; their copies look at a directory
# here instead, absent (systemd not running) or present (running).
mkdir "$tmp/systemd-running"
run_script() {  # script with-systemd|without-systemd args...
  local script=$1 run=$tmp/systemd-absent
  [ "$2" = with-systemd ] && run=$tmp/systemd-running
  shift 2
  sed "s,/run/systemd/system,$run,g" "$tmp/control/$script" >"$tmp/script"
  : >"$tmp/calls"
  PATH=$stubs /bin/sh "$tmp/script" "$@" >"$tmp/script.out" 2>&1 \
    || { cat "$tmp/script.out" >&2; fail "$script $* exited with an error"; }
}
calls_have() { grep -Eq "$1" "$tmp/calls" || { cat "$tmp/calls" >&2; fail "$2"; }; }
calls_lack() { ! grep -Eq "$1" "$tmp/calls" || { cat "$tmp/calls" >&2; fail "$2"; }; }

run_script postinst without-systemd configure
calls_have '^groupadd .*--system.* ocirelay$' \
  "postinst configure does not create the ocirelay system group"
calls_have '^useradd .*--system' "postinst configure does not create a system user"
user_call=$(grep -E '^useradd ' "$tmp/calls")
# Options every useradd has (Debian 12, Ubuntu 22.04 and 24.04): no adduser.
calls_lack '^(adduser|addgroup) ' "postinst uses adduser, whose options differ between releases"
grep -q -- '--shell /usr/sbin/nologin' <<<"$user_call" || fail "the ocirelay user gets a login shell: $user_call"
grep -Eq -- '--home(-dir)? /var/lib/ocirelay' <<<"$user_call" || fail "the ocirelay user's home is not /var/lib/ocirelay: $user_call"
grep -Eq ' ocirelay$' <<<"$user_call" || fail "the user created is not ocirelay: $user_call"
calls_have '^chown ocirelay:ocirelay /var/lib/ocirelay$' "postinst does not give /var/lib/ocirelay to ocirelay"
calls_have '^chown ocirelay:ocirelay /var/log/ocirelay$' "postinst does not give /var/log/ocirelay to ocirelay"
calls_lack '^chown .*-R' "postinst changes owners recursively"
calls_lack '^systemctl .*(enable|start|restart|--now)' "postinst enables or starts the service"
calls_lack '^(deb-systemd-helper|deb-systemd-invoke|invoke-rc.d|service) ' "postinst enables or starts the service"
calls_lack '^systemctl' "postinst calls systemctl although systemd is not running"
run_script postinst with-systemd configure
calls_have '^systemctl .*daemon-reload' "postinst does not reload systemd while systemd runs"
calls_lack '^systemctl .*(enable|start|restart|--now)' "postinst enables or starts the service"

# Upgrade with the service running: no new user, no restart.
touch "$tmp/user-exists" "$tmp/active"
run_script postinst with-systemd configure "$version"
calls_lack '^(addgroup|adduser|groupadd|useradd) ' "postinst creates the user or group again on upgrade"
calls_have '^systemctl .*daemon-reload' "postinst does not reload systemd on upgrade"
calls_lack '^systemctl .*(enable|start|restart|--now)' "postinst restarts the service on upgrade"

run_script postrm with-systemd remove
calls_lack '^rm ' "postrm remove deletes files (data and logs must stay until purge)"
run_script postrm with-systemd purge
calls_have '^rm -rf .*/var/lib/ocirelay' "postrm purge does not delete /var/lib/ocirelay"
calls_have '^rm -rf .*/var/log/ocirelay' "postrm purge does not delete /var/log/ocirelay"
calls_lack '^(deluser|userdel|delgroup|groupdel) ' "postrm purge deletes the system user"
run_script prerm with-systemd upgrade
calls_lack '^systemctl' "prerm upgrade stops the service"
run_script prerm with-systemd remove
calls_have '^systemctl stop ocirelay.service' "prerm remove does not stop the service"
note "maintainer scripts behave (postinst, prerm, postrm against stubs)"

# --- The packaged programs ------------------------------------------------------
dpkg-deb -x "$deb" "$tmp/root" || fail "dpkg-deb -x failed"
if [ "$(field Architecture)" != "$(dpkg --print-architecture)" ]; then
  note "$(field Architecture) package: its programs are run by the bare-root smoke test, not here"
else
out=$("$tmp/root/usr/sbin/ocirelayd" --version 2>&1) \
  || fail "packaged ocirelayd --version failed: $out"
grep -qF "$version" <<<"$out" || fail "packaged ocirelayd --version does not print $version: $out"
note "ocirelayd --version: $out"
fi
if [ -e "$tmp/root/usr/sbin/ocirelayctl" ] && [ "$(field Architecture)" = "$(dpkg --print-architecture)" ]; then
  out=$("$tmp/root/usr/sbin/ocirelayctl" --version 2>&1) \
    || fail "packaged ocirelayctl --version failed: $out"
  grep -qF "$version" <<<"$out" || fail "packaged ocirelayctl --version does not print $version: $out"
fi
cmp -s "$tmp/root/etc/ocirelay/ocirelay.yaml" "$source/config/production.yaml" \
  || fail "/etc/ocirelay/ocirelay.yaml is not config/production.yaml"
unit=$tmp/root/lib/systemd/system/ocirelay.service
cmp -s "$unit" "$source/systemd/ocirelay.service" || fail "the packaged unit differs from systemd/ocirelay.service"
# The unit runs what the package installs.
while read -r path; do
  case "$path" in
    /etc/ocirelay/secrets/*|/etc/ocirelay/tls/*) continue ;;
  esac
  has ".$path" || fail "the unit refers to $path, which the package does not install"
done < <(grep -Eo '/(usr/sbin|etc/ocirelay)/[A-Za-z0-9_./-]+' "$unit" | sort -u)

echo "PASS: $(basename "$deb")"
