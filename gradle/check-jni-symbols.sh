#!/usr/bin/env bash
# Checks that each native library exports exactly the JNI functions that `javac -h` declared.
# Usage: check-jni-symbols.sh HEADER_DIR LIBRARY...
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: check-jni-symbols.sh HEADER_DIR LIBRARY..." >&2; exit 2; }
header_dir=$1
shift

declared=$(grep -ho 'Java_[A-Za-z0-9_]*' "$header_dir"/*.h | sort -u)
if [[ -z "$declared" ]]; then
    echo "no JNI function declared in $header_dir" >&2
    exit 1
fi
for library in "$@"; do
    exported=$(nm -D --defined-only "$library" | awk '{print $NF}' | grep '^Java_' | sort -u || true)
    if [[ "$declared" != "$exported" ]]; then
        echo "JNI symbols of $library do not match the headers in $header_dir:" >&2
        diff <(echo "$declared") <(echo "$exported") | sed -n 's/^< /  missing from the library: /p; s/^> /  exported but not declared: /p' >&2
        exit 1
    fi
    echo "JNI symbols match: $(echo "$declared" | wc -l) functions in $library"
done
