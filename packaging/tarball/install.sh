#!/bin/sh
# Installs ocirelay from this portable tarball onto any Linux with glibc 2.34
# or newer (Oracle Linux 9, Ubuntu 22.04 and 24.04, Debian 12, ...), as root:
#
#   sudo ./install.sh [--prefix DIR]          (default prefix: /usr/local)
#
#   PREFIX/sbin/ocirelayd, PREFIX/sbin/ocirelayctl
#   /etc/systemd/system/ocirelay.service       paths rewritten to PREFIX
#   /etc/ocirelay/ocirelay.yaml                 the commented example
#   PREFIX/share/ocirelay/events/*.json         sample events
#   PREFIX/share/doc/ocirelay/                  README, LICENSE, copyright (the
#                                               licences of what is linked in), docs
#   the system user and group ocirelay; /var/lib/ocirelay, /var/log/ocirelay
#
# A configuration file that differs from the shipped example is never
# overwritten: the new example goes next to it as ocirelay.yaml.dist.
# Neither enables nor starts the service. Safe to run again (an upgrade).
set -eu

prefix=/usr/local
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
              prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path, not '$prefix'" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it creates a system user and writes to /etc)" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
user=ocirelay
group=ocirelay
home=/var/lib/ocirelay
logs=/var/log/ocirelay
confdir=/etc/ocirelay
unitdir=/etc/systemd/system

# The binaries must run here before anything is changed: a wrong
# architecture or a too-old glibc stops the install with the loader's reason.
# (Nothing is written next to the tarball's files, which may be read-only.)
if ! version_output=$("$here/bin/ocirelayd" --version 2>&1); then
  echo "install.sh: bin/ocirelayd does not run on this machine ($(uname -m)):" >&2
  echo "$version_output" >&2
  exit 1
fi

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
if ! getent group "$group" >/dev/null; then
  groupadd --system "$group"
  echo "created group $group"
fi
if ! getent passwd "$user" >/dev/null; then
  useradd --system --gid "$group" --home-dir "$home" --no-create-home \
    --shell "$nologin" --comment "ocirelay daemon" "$user"
  echo "created user $user"
fi

# The directories themselves only, never recursively.
for dir in "$home" "$logs"; do
  mkdir -p "$dir"
  chown "$user:$group" "$dir"
  chmod 0750 "$dir"
done

install -d -m 0755 "$prefix/sbin" "$prefix/share/ocirelay/events" \
  "$prefix/share/doc/ocirelay/examples" "$unitdir"
install -m 0755 "$here/bin/ocirelayd" "$here/bin/ocirelayctl" "$prefix/sbin/"
install -m 0644 "$here"/share/events/*.json "$prefix/share/ocirelay/events/"
install -m 0644 "$here"/share/doc/*.md "$here/share/doc/copyright" "$here/LICENSE" \
  "$prefix/share/doc/ocirelay/"
install -m 0644 "$here"/share/config/*.yaml "$prefix/share/doc/ocirelay/examples/"

sed -e "s|/usr/sbin/ocirelayd|$prefix/sbin/ocirelayd|g" \
    -e "s|/usr/share/doc/ocirelay/|$prefix/share/doc/ocirelay/|g" \
    "$here/share/systemd/ocirelay.service" >"$unitdir/ocirelay.service.tmp"
chmod 0644 "$unitdir/ocirelay.service.tmp"
mv "$unitdir/ocirelay.service.tmp" "$unitdir/ocirelay.service"

# Group-readable by the daemon, not by other users: it names the secrets'
# files and may hold an ingress password hash.
example="$here/share/config/production.yaml"
# Made root:ocirelay 0750 when new; an existing one keeps its owner and mode.
[ -d "$confdir" ] || install -d -m 0750 -g "$group" "$confdir"
if [ -e "$confdir/ocirelay.yaml" ] && ! cmp -s "$example" "$confdir/ocirelay.yaml"; then
  install -m 0640 -g "$group" "$example" "$confdir/ocirelay.yaml.dist"
  echo "kept $confdir/ocirelay.yaml (changed locally); the new example is $confdir/ocirelay.yaml.dist"
else
  install -m 0640 -g "$group" "$example" "$confdir/ocirelay.yaml"
fi

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi

echo "installed $("$prefix/sbin/ocirelayd" --version | head -n 1) in $prefix"
echo "next: edit $confdir/ocirelay.yaml, then"
echo "  $prefix/sbin/ocirelayd --check-config --config $confdir/ocirelay.yaml && systemctl enable --now ocirelay"
