#!/usr/bin/env bash
# Checks that a native library is fit to ship in the gem:
#   - it references no glibc symbol version newer than MAX_GLIBC (objdump -T), or no glibc
#     symbol at all when MAX_GLIBC is "none" (a musl build);
#   - it is stripped: no static symbol table, no debug sections.
# Usage: check-portable-library.sh LIBRARY MAX_GLIBC
set -euo pipefail

library=$1
max_glibc=$2

[[ -f "$library" ]] || { echo "no library at $library" >&2; exit 1; }

dynamic_symbols=$(objdump -T "$library")
versions=$(grep -o 'GLIBC_[0-9][0-9.]*' <<<"$dynamic_symbols" | sed 's/^GLIBC_//' | sort -u -V || true)
if [[ "$max_glibc" == none ]]; then
    if [[ -n "$versions" ]]; then
        echo "$library references glibc (versions: $(echo $versions)) but must not" >&2
        exit 1
    fi
else
    [[ -n "$versions" ]] || { echo "$library references no glibc symbol version at all" >&2; exit 1; }
    newest=$(tail -n 1 <<<"$versions")
    if [[ "$(printf '%s\n%s\n' "$max_glibc" "$newest" | sort -V | tail -n 1)" != "$max_glibc" ]]; then
        echo "$library needs glibc $newest, newer than $max_glibc; symbols of newer versions:" >&2
        while read -r version; do
            [[ "$(printf '%s\n%s\n' "$max_glibc" "$version" | sort -V | tail -n 1)" == "$max_glibc" ]] && continue
            grep -E "[( ]GLIBC_${version//./\\.}[) ]" <<<"$dynamic_symbols" | awk -v v="$version" '{print "  " $NF " (GLIBC_" v ")"}' >&2
        done <<<"$versions"
        exit 1
    fi
fi

sections=$(readelf -S -W "$library")
if grep -qE '[[:space:]]\.(symtab|debug_[a-z_]+)[[:space:]]' <<<"$sections"; then
    echo "$library is not stripped: $(grep -oE '\.(symtab|debug_[a-z_]+)' <<<"$sections" | sort -u | tr '\n' ' ')" >&2
    exit 1
fi

if [[ "$max_glibc" == none ]]; then
    echo "portable: $library uses no glibc symbol and is stripped"
else
    echo "portable: $library needs glibc $newest at most (limit $max_glibc) and is stripped"
fi
