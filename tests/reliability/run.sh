#!/usr/bin/env bash
# The reliability suite: the built gem in a 4-worker pipeline against the
# fault-injecting test server, scenario by scenario, each ending with an accounting table.
# Fails on any unaccounted event or failed check. The soak is separate: soak.sh.
#
#   tests/reliability/run.sh [--only NAME,...] [--list]
#
# Environment: RELIABILITY_GEM=path to test a built gem without building it,
# RELIABILITY_SEED=N to repeat the random choices of a run (kill moments, soak faults),
# RELIABILITY_WORK=dir to keep the logs there (default: a temporary directory, removed).
# RELIABILITY_THROTTLE_SECONDS=N for the throttling phase per case (default 16; 60 for a full minute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$(pwd)
python=$repo/.tools/venv/bin/python

tests/tools/setup.sh system python

if [[ -n "${RELIABILITY_WORK:-}" ]]; then
  work=$RELIABILITY_WORK
  mkdir -p "$work"
  trap '' EXIT
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

if [[ -n "${RELIABILITY_GEM:-}" ]]; then
  gem_file=$RELIABILITY_GEM
else
  gradle -p "$repo" --no-daemon -q gem
  version=$(sed -n 's/^ *s\.version *= *"\([^"]*\)".*/\1/p' ruby/logstash-output-kinesis.gemspec)
  gem_file=build/logstash-output-kinesis-$version-java.gem
fi
cargo build --release -q -p kinesis-test-server
server=${CARGO_TARGET_DIR:-$repo/target}/release/kinesis-test-server

gem_home=$work/gems
jruby -S gem install --local --ignore-dependencies --no-document --install-dir "$gem_home" "$gem_file" >/dev/null
echo "== gem $gem_file installed in $gem_home; logs in $work"

"$python" tests/reliability/suite.py --gem-path "$gem_home:/usr/share/rubygems-integration/all" \
  --server "$server" --work "$work" "$@"
