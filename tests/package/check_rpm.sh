#!/usr/bin/env bash
# Inspects an ocirelay RPM (scripts/package.sh) and runs its scriptlets for
# real against a scratch root (rpm --root, which chroots into it):
#   - requirements: only glibc, systemd and shadow-utils (no library sonames:
#     the binaries are static but for glibc);
#   - the file list, exactly; the configuration %config(noreplace);
#   - the scriptlets enable and start nothing;
#   - install: %pre creates the system user and group, files and directories
#     get their owners and modes; reinstall keeps a changed configuration;
#     erase (%preun, %postun) removes the files and saves the changed
#     configuration as .rpmsave.
#
#   tests/package/check_rpm.sh RPM ARCH ROOT
#
# ROOT: a minimal root file system with sh, getent, groupadd and useradd
# (tests/package/make_bare_root.sh); it is used up. Needs root (chroot).
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
note() { echo "-- $*"; }

[ $# -eq 3 ] || fail "usage: $0 RPM ARCH ROOT"
rpm_file=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
arch=$2
root=$(cd "$3" && pwd)
[ "$(id -u)" -eq 0 ] || fail "needs root (rpm --root chroots to run the scriptlets)"
name=$(basename "$rpm_file")
q() { rpm -qp "$@" "$rpm_file" 2>/dev/null; }

[ "$(q --qf '%{NAME} %{ARCH}')" = "ocirelay $arch" ] || fail "$name is '$(q --qf '%{NAME} %{ARCH}')', not 'ocirelay $arch'"
case "$(q --qf '%{RELEASE}')" in
  *.el9) ;;
  *) fail "$name: release $(q --qf '%{RELEASE}') is not for el9" ;;
esac

# --- Requirements ---------------------------------------------------------------
requires=$(q -R)
while read -r req; do
  case "$req" in
    "glibc >= 2.34"|glibc-common|systemd|shadow-utils|/bin/sh) ;;
    rpmlib\(*\)*) ;;  # rpm's own feature markers
    *) echo "$requires" >&2; fail "$name requires '$req' (all requirements above)" ;;
  esac
done <<<"$requires"
grep -qx 'glibc >= 2.34' <<<"$requires" || fail "$name does not require glibc >= 2.34"
grep -qx 'shadow-utils' <<<"$requires" || fail "$name does not require shadow-utils for useradd"
note "requires: $(grep -v rpmlib <<<"$requires" | tr '\n' ' ')"

# --- Files ------------------------------------------------------------------------
expected=(
  /etc/ocirelay
  /etc/ocirelay/ocirelay.yaml
  /usr/lib/systemd/system/ocirelay.service
  /usr/lib/sysusers.d/ocirelay.conf
  /usr/sbin/ocirelayctl
  /usr/sbin/ocirelayd
  /usr/share/doc/ocirelay
  /usr/share/doc/ocirelay/LICENSE
  /usr/share/doc/ocirelay/README.md
  /usr/share/doc/ocirelay/copyright
  /usr/share/doc/ocirelay/examples
  /usr/share/doc/ocirelay/examples/dev.yaml
  /usr/share/doc/ocirelay/examples/production.yaml
  /usr/share/ocirelay
  /usr/share/ocirelay/events
  /usr/share/ocirelay/events/cloudevents-1.0-structured.json
  /usr/share/ocirelay/events/createbucket.json
  /usr/share/ocirelay/events/createobject.json
  /usr/share/ocirelay/events/deleteobject.json
  /usr/share/ocirelay/events/updateobject.json
  /var/lib/ocirelay
  /var/log/ocirelay
)
docs='^/usr/share/doc/ocirelay/[A-Za-z-]*\.md$'
q -l | grep -v "$docs" | sort >"$root.files.actual"
printf '%s\n' "${expected[@]}" | grep -v "$docs" | sort >"$root.files.expected"
if ! diff -u "$root.files.expected" "$root.files.actual" >&2; then
  rm -f "$root.files.actual" "$root.files.expected"
  fail "$name: unexpected file list (diff above: - expected, + packaged; *.md docs not listed)"
fi
rm -f "$root.files.actual" "$root.files.expected"
listed=$(q -l)
grep -qx /usr/share/doc/ocirelay/README.md <<<"$listed" || fail "$name lacks README.md"
grep -qx /usr/share/doc/ocirelay/quickstart.md <<<"$listed" || fail "$name lacks the docs (quickstart.md)"
flags=$(q --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' | sed -n 's|^/etc/ocirelay/ocirelay.yaml ||p')
case "$flags" in
  *c*n*|*n*c*) ;;
  *) fail "/etc/ocirelay/ocirelay.yaml is not %config(noreplace) (flags '$flags')" ;;
esac
note "file list as expected; the configuration is %config(noreplace)"

# --- Scriptlets, read -------------------------------------------------------------
scripts=$(q --scripts)
if grep -Eq 'systemctl[^;&|]*[[:space:]](enable|start|restart)([[:space:]]|$)' <<<"$scripts"; then
  echo "$scripts" >&2
  fail "$name's scriptlets enable or start the service"
fi
grep -q 'useradd --system' <<<"$scripts" || fail "%pre does not create a system user"

# --- Scriptlets, run in the scratch root --------------------------------------------
rpm --root "$root" --initdb
rpm --root "$root" -i --nodeps --ignorearch "$rpm_file" >"$root.rpm.log" 2>&1 \
  || { cat "$root.rpm.log" >&2; fail "rpm -i $name in the scratch root failed"; }
in_root() { chroot "$root" "$@"; }
in_root getent passwd ocirelay | grep -q ':/var/lib/ocirelay:/sbin/nologin$' \
  || fail "%pre did not create the ocirelay user as expected: $(in_root getent passwd ocirelay)"
uid=$(in_root id -u ocirelay)
[ "$uid" -lt 1000 ] || fail "the ocirelay user is not a system user (uid $uid)"
for d in /var/lib/ocirelay /var/log/ocirelay; do
  [ "$(in_root stat -c '%U:%G %a' "$d")" = "ocirelay:ocirelay 750" ] \
    || fail "$d is $(in_root stat -c '%U:%G %a' "$d"), not ocirelay:ocirelay 750"
done
[ "$(in_root stat -c '%U:%G %a' /etc/ocirelay/ocirelay.yaml)" = "root:ocirelay 640" ] \
  || fail "/etc/ocirelay/ocirelay.yaml is $(in_root stat -c '%U:%G %a' /etc/ocirelay/ocirelay.yaml)"
[ "$(in_root stat -c '%U:%G %a' /etc/ocirelay)" = "root:ocirelay 750" ] \
  || fail "/etc/ocirelay is $(in_root stat -c '%U:%G %a' /etc/ocirelay), not root:ocirelay 750"
[ -x "$root/usr/sbin/ocirelayd" ] || fail "ocirelayd not installed"
note "installed in the scratch root: user, directories, configuration modes"

echo "# changed by the administrator" >>"$root/etc/ocirelay/ocirelay.yaml"
cp "$root/etc/ocirelay/ocirelay.yaml" "$root.changed"
rpm --root "$root" -U --replacepkgs --nodeps --ignorearch "$rpm_file" >"$root.rpm.log" 2>&1 \
  || { cat "$root.rpm.log" >&2; fail "rpm -U --replacepkgs $name failed"; }
cmp -s "$root.changed" "$root/etc/ocirelay/ocirelay.yaml" || fail "reinstalling replaced a changed configuration"
[ "$(in_root getent passwd ocirelay | cut -d: -f3)" = "$uid" ] || fail "reinstalling changed the user"

rpm --root "$root" -e ocirelay >"$root.rpm.log" 2>&1 \
  || { cat "$root.rpm.log" >&2; fail "rpm -e ocirelay failed"; }
[ ! -e "$root/usr/sbin/ocirelayd" ] || fail "rpm -e left /usr/sbin/ocirelayd"
[ -f "$root/etc/ocirelay/ocirelay.yaml.rpmsave" ] || fail "rpm -e did not keep the changed configuration as .rpmsave"
cmp -s "$root.changed" "$root/etc/ocirelay/ocirelay.yaml.rpmsave" || fail "the .rpmsave is not the changed configuration"
in_root getent passwd ocirelay >/dev/null || fail "rpm -e deleted the ocirelay user (ids must not be reused)"
rm -f "$root.changed" "$root.rpm.log"
note "reinstall kept the changed configuration; erase saved it as .rpmsave"
echo "PASS: $name"
