#!/usr/bin/env bash
# Builds the bridge (gradle assemble: jar, native library, test server) and runs the JRuby
# benchmark. Needs Debian's jruby and gradle. Extra arguments go to bench.rb (seconds per run).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
gradle -q --no-daemon -p "$root" assemble
# The shipped library (gradle/native.gradle) and the test server built with it.
exec jruby "$root/tests/jni/bench.rb" "$root/build/libs/kinesis-producer-bridge.jar" \
    "$root/build/native/linux-x86_64/libkinesis_producer_jni.so" \
    "$target/x86_64-unknown-linux-gnu/release/kinesis-test-server" "$@"
