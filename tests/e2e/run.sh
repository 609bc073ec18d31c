#!/usr/bin/env bash
# End-to-end test of the packaged plugin: builds the gem (gradle gem), installs it into a
# temporary directory, runs it in the logstash-core stand-in against kinesis-mock with 4
# pipeline workers, once with aggregation on and once with it off, reads both streams back
# and fails unless every event arrived exactly once and inside its shard's hash key range.
#
#   tests/e2e/run.sh
#
# Environment: E2E_EVENTS (default 20000, aggregation on), E2E_EVENTS_NO_AGG (default 2000:
# kinesis-mock stores only ~300 records/s), E2E_GEM=path to test a built gem without building.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$(pwd)
events_agg=${E2E_EVENTS:-20000}
events_no_agg=${E2E_EVENTS_NO_AGG:-2000}
workers=4
batch=125
python=$repo/.tools/venv/bin/python
seconds() { date +%s.%N; }
elapsed() { printf '%.1f' "$(echo "$(seconds) - $1" | bc)"; }

tests/tools/setup.sh system node python

work=$(mktemp -d)
state=$work/kinesis-mock
trap 'tests/peers/kinesis-mock.sh stop --state "$state" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

t0=$(seconds)
if [[ -n "${E2E_GEM:-}" ]]; then
  gem_file=$E2E_GEM
else
  gradle -p "$repo" --no-daemon -q gem
  version=$(sed -n 's/^ *s\.version *= *"\([^"]*\)".*/\1/p' ruby/logstash-output-kinesis.gemspec)
  gem_file=build/logstash-output-kinesis-$version-java.gem
fi
echo "== gem $gem_file built in $(elapsed "$t0")s"

gem_home=$work/gems
jruby -S gem install --local --ignore-dependencies --no-document --install-dir "$gem_home" "$gem_file" >/dev/null
export GEM_PATH=$gem_home:/usr/share/rubygems-integration/all
unset GEM_HOME

t0=$(seconds)
endpoint=$(tests/peers/kinesis-mock.sh start --state "$state" --streams "e2e:4,e2e-noagg:4" |
  sed -n 's/^KINESIS_MOCK_ENDPOINT=//p')
[[ -n "$endpoint" ]] || { echo "kinesis-mock did not start" >&2; exit 1; }
echo "== kinesis-mock at $endpoint (started in $(elapsed "$t0")s)"

failures=0

# run_case NAME STREAM EVENTS AGGREGATION
run_case() {
  local name=$1 stream=$2 events=$3 aggregation=$4
  local config=$work/$name.json
  cat >"$config" <<EOF
{"stream_name": "$stream", "region": "us-east-1", "access_key": "test", "secret_key": "test",
 "kinesis_endpoint": "$endpoint", "verify_certificate": false, "metrics_level": "none",
 "event_partition_keys": ["id"], "aggregation_enabled": $aggregation}
EOF
  echo "== $name: $events events, $workers workers x $batch-event batches, aggregation $aggregation"
  local t0 status=0 result
  t0=$(seconds)
  timeout 150 jruby tests/e2e/pipeline_runner.rb --config "$config" --events "$events" \
    --workers "$workers" --batch "$batch" --run "$name" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  local run_s
  run_s=$(elapsed "$t0")
  result=$(sed -n 's/^RESULT //p' "$work/$name.out" | tail -n1)
  if [[ $status -ne 0 || -z "$result" ]]; then
    echo "   pipeline runner failed (exit $status) after ${run_s}s:"
    tail -n 20 "$work/$name.err" | sed 's/^/   /'
    failures=$((failures + 1))
    return
  fi
  grep -v '^pipeline_runner: ' "$work/$name.err" | head -n 10 | sed 's/^/   stderr: /' || true
  echo "   runner (${run_s}s incl. JVM start): $result"
  # The plugin's own counts: every event delivered, none failed.
  if ! "$python" - "$result" "$events" <<'PY'
import json, sys
r, n = json.loads(sys.argv[1]), int(sys.argv[2])
bad = [k for k, want in (("events_in", n), ("delivered", n), ("failed", 0), ("dead_lettered", 0),
                          ("dropped", 0), ("dlq_entries", 0), ("worker_errors", 0)) if r[k] != want]
print("   plugin metrics: " + ("OK" if not bad else "FAIL: " + ", ".join(f"{k}={r[k]}" for k in bad)))
sys.exit(1 if bad else 0)
PY
  then
    failures=$((failures + 1))
  fi
  t0=$(seconds)
  echo "   read back from $stream:"
  if ! "$python" tests/e2e/verify_stream.py "$endpoint" "$stream" "$name" "$events"; then
    failures=$((failures + 1))
  fi
  echo "   (read and checked in $(elapsed "$t0")s)"
}

run_case agg e2e "$events_agg" true
run_case noagg e2e-noagg "$events_no_agg" false

if [[ $failures -ne 0 ]]; then
  echo "== FAILED: $failures check(s)"
  exit 1
fi
echo "== all checks passed"
