#!/usr/bin/env bash
# Builds the bridge (gradle assemble: jar, native library, test server) and runs the JRuby
# benchmark. Needs Debian's jruby and gradle. Extra arguments go to bench.rb (seconds per run).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
gradle -q --no-daemon -p "$root" assemble
exec jruby "$root/tests/jni/bench.rb" "$root/build/libs/kinesis-producer-bridge.jar" \
    "$target/release/libkinesis_producer_jni.so" "$target/release/kinesis-test-server" "$@"
