#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need first (npm, pip, apt),
# so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "test tools"
tests/tools/setup.sh

step "format"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets -- -D warnings

step "unit and component tests"
cargo test --workspace

step "aggregation checker self-test"
.tools/venv/bin/python tests/tools/deaggregate.py --self-test

step "process sampler self-check (used by the end-to-end and reliability runners)"
jruby tests/e2e/runner/process_sampler_check.rb

step "end-to-end against kinesis-mock"
# --workspace keeps the feature set of the step above, so nothing is rebuilt.
cargo test --workspace --test kinesis_mock -- --ignored

step "CloudWatch metrics read back from moto (CBOR proxy), after a throttled workload"
cargo test --workspace --test cloudwatch_metrics -- --ignored

step "JNI bridge: jar, release library, JNI symbol check, JUnit tests (gradle)"
gradle -p . --no-daemon --console=plain build

step "gem specs on JRuby 9.3 (Debian's jruby)"
ruby/run-specs.sh

# JRuby 10 needs Java 21 or newer: take the newest JDK installed. 9.2 is Logstash 7.17's (Ruby 2.5).
newest_java=$(ls -d /usr/lib/jvm/*/bin/java | sort -V | tail -n 1)
for version in 9.2.21.0 9.4.13.0 10.0.2.0; do
  step "gem specs on JRuby $version"
  JRUBY="$newest_java -jar $PWD/.tools/jruby/jruby-complete-$version.jar" ruby/run-specs.sh
done

step "end-to-end: the built gem in a 4-worker pipeline against kinesis-mock"
tests/e2e/run.sh

step "reliability suite: the built gem under faults, crashes and bad input (tests/reliability/run.sh)"
# The step above built the gem: test that one.
RELIABILITY_GEM=$(ls -t build/logstash-output-kinesis-*-java.gem | head -n 1) tests/reliability/run.sh

step "secrets: the plugin at DEBUG with every secret option set prints none of them (tests/secrets/run.sh)"
SECRETS_GEM=$(ls -t build/logstash-output-kinesis-*-java.gem | head -n 1) tests/secrets/run.sh

step "the README's main job: the example pipeline through the plugin into kinesis-mock"
examples/run-pipeline.sh

step "credentials: STS roles and web identity against moto"
cargo test --workspace --test credentials_moto --test credentials_web_identity -- --ignored

step "all tests passed"
