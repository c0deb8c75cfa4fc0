#!/usr/bin/env bash
# Holds the code to the dependency graph of lib/CMakeLists.txt (shown in
# docs/architecture.md). Static archives do not fail a link when one area
# uses another it is not linked to (the executables link everything), so
# this test does it, for each library of the manifest that CMake writes
# (build/ocirelay-libraries.txt: name|archive|area|uses|public deps|private deps):
#
#   symbols   every symbol the library's objects use that another ocirelay
#             library defines must come from the library itself or from one
#             it uses, directly or through the libraries it uses; SQLite,
#             libpq, yaml-cpp and OpenSSL functions only from libraries linked to
#             them (the library's own deps, and the public deps of the
#             libraries it uses).
#   includes  the sources and public headers of an area (lib/src/<area>,
#             lib/include/ocirelay/<area>) include headers only of the areas
#             its libraries use, and third-party headers only of the
#             libraries they are linked to.
#
#   check_dependencies.sh MANIFEST SOURCE_DIR [NM]
#
# Prints each violation (library, symbol or file:line, what it belongs to)
# and exits 1; exits 0 when there is none.
set -euo pipefail
export LC_ALL=C

manifest=$1
src=$2
nm=${3:-nm}

declare -A archive area uses public private
libraries=()
while IFS='|' read -r name file dir used public_deps private_deps; do
  [[ -n $name ]] || continue
  libraries+=("$name")
  archive[$name]=$file
  area[$name]=$dir
  uses[$name]=$used
  public[$name]=$public_deps
  private[$name]=$private_deps
done <"$manifest"
[[ ${#libraries[@]} -gt 0 ]] || { echo "no libraries in $manifest" >&2; exit 2; }

violations=0
violation() {
  echo "FORBIDDEN: $*"
  violations=$((violations + 1))
}

# The libraries `lib` may use: itself and everything it uses, transitively.
declare -A allowed
for lib in "${libraries[@]}"; do
  declare -A seen=([$lib]=1)
  todo=("$lib")
  while [[ ${#todo[@]} -gt 0 ]]; do
    current=${todo[-1]}
    unset 'todo[-1]'
    for dep in ${uses[$current]}; do
      if [[ -z ${archive[$dep]:-} ]]; then
        echo "$current uses $dep, which is not an ocirelay library" >&2
        exit 2
      fi
      if [[ -z ${seen[$dep]:-} ]]; then
        seen[$dep]=1
        todo+=("$dep")
      fi
    done
  done
  allowed[$lib]=" ${!seen[*]} "
  unset seen
done

# The third-party libraries `lib` may use.
declare -A third_party
for lib in "${libraries[@]}"; do
  list=" ${public[$lib]} ${private[$lib]} "
  for dep in ${allowed[$lib]}; do
    list+="${public[$dep]} "
  done
  third_party[$lib]=$list
done

# Third-party libraries by the names of their functions (mangled), and by
# their headers: "<imported target regex> <symbol or header regex>".
symbol_rules=(
  'ocirelay::sqlite3 ^sqlite3_'
  'ocirelay::pq ^(PQ|pg_encoding|lo_)'
  'ocirelay::yaml-cpp 4YAML'
  'OpenSSL::(SSL|Crypto) ^(SSL|SSL_CTX|TLS|EVP|CRYPTO|OPENSSL|ERR|X509|PEM|BIO|RAND|OBJ|ASN1|BN)_'
)
header_rules=(
  'ocirelay::sqlite3 ^sqlite3\.h$'
  'ocirelay::pq ^(libpq-fe|libpq/|postgres_ext|pg_config)'
  'ocirelay::yaml-cpp ^yaml-cpp/'
  'ocirelay::spdlog ^(spdlog|fmt)/'
  'OpenSSL::(SSL|Crypto) ^openssl/'
  'Boost::headers ^boost/'
  'RapidJSON::RapidJSON ^rapidjson/'
)

may_use_third_party() {  # lib-or-area-list target-regex
  local target
  for target in $1; do
    [[ $target =~ ^($2)$ ]] && return 0
  done
  return 1
}

# --- symbols -----------------------------------------------------------------

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for lib in "${libraries[@]}"; do
  if [[ ! -f ${archive[$lib]} ]]; then
    echo "${archive[$lib]} is missing: build the libraries first" >&2
    exit 2
  fi
  "$nm" -P -g --defined-only "${archive[$lib]}" |
    awk 'NF >= 2 && $2 ~ /^[A-Za-z]$/ {print $1, $2}' | sort -u >"$tmp/$lib.defined"
  # Strong definitions: the library that provides the symbol.
  awk -v lib="$lib" '$2 ~ /^[TDBR]$/ {print $1, lib}' "$tmp/$lib.defined" >>"$tmp/owners"
  "$nm" -P -g --undefined-only "${archive[$lib]}" |
    awk 'NF >= 2 && $2 == "U" {print $1}' | sort -u |
    comm -23 - <(cut -d' ' -f1 "$tmp/$lib.defined") >"$tmp/$lib.undefined"
done
sort -u -k1,1 "$tmp/owners" >"$tmp/owners.sorted"

demangle() { if command -v c++filt >/dev/null; then c++filt; else cat; fi; }

for lib in "${libraries[@]}"; do
  while read -r symbol owner; do
    if [[ ${allowed[$lib]} != *" $owner "* ]]; then
      violation "$lib uses $(demangle <<<"$symbol") from $owner," \
        "which it does not use (lib/CMakeLists.txt)"
    fi
  done < <(join "$tmp/$lib.undefined" "$tmp/owners.sorted")
  # Undefined symbols that no ocirelay library provides: third-party or system.
  join -v1 "$tmp/$lib.undefined" "$tmp/owners.sorted" >"$tmp/$lib.external"
  for rule in "${symbol_rules[@]}"; do
    target=${rule%% *}
    pattern=${rule#* }
    if ! may_use_third_party "${third_party[$lib]}" "$target"; then
      while read -r symbol; do
        violation "$lib uses $(demangle <<<"$symbol") of $target, which it is not linked to"
      done < <(grep -E -- "$pattern" "$tmp/$lib.external" | head -5)
    fi
  done
done

# --- includes ----------------------------------------------------------------

declare -A area_allowed area_third_party
for lib in "${libraries[@]}"; do
  a=${area[$lib]}
  for dep in ${allowed[$lib]}; do
    area_allowed[$a]+=" ${area[$dep]} "
  done
  area_third_party[$a]+=" ${third_party[$lib]} "
done
areas=" ${!area_allowed[*]} "

for a in ${!area_allowed[*]}; do
  dirs=()
  for dir in "$src/lib/src/$a" "$src/lib/include/ocirelay/$a"; do
    [[ -d $dir ]] && dirs+=("$dir")
  done
  while IFS= read -r hit; do
    location=${hit%%:#*}
    location=${location#"$src"/}
    if [[ $hit =~ \#[[:space:]]*include[[:space:]]*\"(ocirelay/)?([a-z_]+)/ ]]; then
      other=${BASH_REMATCH[2]}
      if [[ $areas == *" $other "* && ${area_allowed[$a]} != *" $other "* ]]; then
        violation "$location: $a includes a header of $other, which it does not use"
      fi
    elif [[ $hit =~ \#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]; then
      header=${BASH_REMATCH[1]}
      for rule in "${header_rules[@]}"; do
        target=${rule%% *}
        pattern=${rule#* }
        if [[ $header =~ $pattern ]] &&
          ! may_use_third_party "${area_third_party[$a]}" "$target"; then
          violation "$location: $a includes <$header> of $target, which it is not linked to"
        fi
      done
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include' "${dirs[@]}")
done

if [[ $violations -gt 0 ]]; then
  echo "$violations forbidden dependencies; the allowed ones are the USES of lib/CMakeLists.txt"
  exit 1
fi
echo "${#libraries[@]} libraries, $(wc -w <<<"$areas") areas: no forbidden dependency"
