#!/usr/bin/env bash
# Checks that built ocirelay binaries are portable and hardened:
#   - NEEDED lists only glibc's libraries (libc, libm, the dynamic loader, and
#     the libpthread/libdl/librt stubs): libstdc++, libgcc, OpenSSL, yaml-cpp,
#     SQLite, spdlog and fmt are linked in;
#   - no symbol needs a GLIBC version newer than 2.34 (Oracle Linux 9 has
#     2.34, Ubuntu 22.04 2.35, Debian 12 2.36);
#   - the hardening of the build (PIE, full RELRO, stack protector, fortify,
#     stack clash protection) as Debian's hardening-check sees it.
#
#   tests/package/check_binaries.sh [--max-glibc 2.34] BINARY...
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
note() { echo "-- $*"; }

max_glibc=2.34
if [ "${1:-}" = --max-glibc ]; then
  max_glibc=$2
  shift 2
fi
[ $# -ge 1 ] || fail "usage: $0 [--max-glibc X.Y] BINARY..."

# objdump must know the binary's architecture: the host's for x86_64, the
# cross binutils' for aarch64.
objdump_for() {
  case "$(readelf -h "$1" | sed -n 's/^ *Machine: *//p')" in
    *AArch64*) echo aarch64-linux-gnu-objdump ;;
    *X86-64*|*x86-64*) echo objdump ;;
    *) fail "$1: unexpected machine: $(readelf -h "$1" | grep Machine)" ;;
  esac
}

version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; }

for bin in "$@"; do
  [ -f "$bin" ] || fail "$bin: no such file"
  name=$(basename "$bin")

  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [ -n "$needed" ] || fail "$name: no NEEDED entries (not a dynamic executable?)"
  while read -r lib; do
    case "$lib" in
      libc.so.6|libm.so.6|ld-linux-x86-64.so.2|ld-linux-aarch64.so.1) ;;
      libpthread.so.0|libdl.so.2|librt.so.1) ;;
      *) fail "$name needs $lib; only glibc's libraries may be linked dynamically (NEEDED: $(echo $needed))" ;;
    esac
  done <<<"$needed"
  note "$name NEEDED: $(echo $needed)"

  objdump=$(objdump_for "$bin")
  command -v "$objdump" >/dev/null || fail "$objdump not found (scripts/install-cross-deps.sh)"
  dynsyms=$("$objdump" -T "$bin")
  versions=$(grep -Eo 'GLIBC_[0-9]+(\.[0-9]+)+' <<<"$dynsyms" | sed 's/GLIBC_//' | sort -uV || true)
  [ -n "$versions" ] || fail "$name: no GLIBC symbol versions found by $objdump -T"
  newest=$(tail -n 1 <<<"$versions")
  if ! version_le "$newest" "$max_glibc"; then
    "$objdump" -T "$bin" | grep -E "GLIBC_$newest( |$)" >&2 || true
    fail "$name needs GLIBC_$newest (symbols above); at most GLIBC_$max_glibc may be needed"
  fi
  note "$name newest GLIBC symbol version: $newest (<= $max_glibc)"

  # Hardening, from the ELF file itself.
  elf_header=$(readelf -h "$bin")
  segments=$(readelf -lW "$bin")
  dynamic=$(readelf -d "$bin")
  grep -q 'Type: *DYN' <<<"$elf_header" || fail "$name is not PIE (ELF type $(sed -n 's/^ *Type: *//p' <<<"$elf_header"))"
  grep -q GNU_RELRO <<<"$segments" || fail "$name has no RELRO segment"
  grep -Eq 'BIND_NOW|FLAGS.*NOW' <<<"$dynamic" || fail "$name is not linked with -z now"
  grep GNU_STACK <<<"$segments" | grep -q 'RWE' && fail "$name has an executable stack"
  if command -v hardening-check >/dev/null && [ "$objdump" = objdump ]; then
    # Control-flow protection is left out: the code is compiled with
    # -fcf-protection, but Debian builds libssl.a, libsqlite3.a and
    # libyaml-cpp.a without it, so the linker cannot mark a binary that
    # contains them as CET-compatible (docs/development.md).
    if ! report=$(hardening-check --nocfprotection "$bin" 2>&1); then
      echo "$report" >&2
      fail "hardening-check $name failed (report above)"
    fi
    note "hardening-check $name: PIE, stack protector, fortify, RELRO, BIND_NOW, stack clash"
  else
    # hardening-check reads x86 binaries only; the same facts from the symbols.
    # (dynsyms captured above: grep -q stopping early would fail a pipe.)
    grep -q '__stack_chk_fail' <<<"$dynsyms" || fail "$name: no stack protector (__stack_chk_fail)"
    grep -Eq '__[a-z]+_chk' <<<"$dynsyms" || fail "$name: not fortified (no __*_chk functions)"
    note "$name: PIE, RELRO, BIND_NOW, stack protector, fortify"
  fi
done
echo "PASS: $# binaries portable (glibc <= $max_glibc only) and hardened"
