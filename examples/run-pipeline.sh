#!/usr/bin/env bash
# The main job: builds the plugin gem, starts a local Kinesis (kinesis-mock), runs the pipeline
# examples/pipelines/kinesis-local.conf through the plugin, then reads the stream back,
# deaggregated, with counts per shard. Installs what it needs on first use.
#
#   examples/run-pipeline.sh [PIPELINE.conf]
#
# With LOGSTASH_HOME set (a Logstash 7.17 to 9.x installation), the gem is installed there
# with bin/logstash-plugin and the pipeline runs in that Logstash. Otherwise it runs in the
# project's own JRuby runner (tests/e2e/pipeline_runner.rb): the kinesis output block of the
# file is used as written; the runner generates the events itself (as many as the file's
# generator input count), 4 workers x 125-event batches.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
pipeline=${1:-examples/pipelines/kinesis-local.conf}
python=$repo/.tools/venv/bin/python

tests/tools/setup.sh system node python

echo "== building the gem (gradle gem)"
gradle -p "$repo" --no-daemon -q --console=plain gem
version=$(sed -n 's/^ *s\.version *= *"\([^"]*\)".*/\1/p' ruby/logstash-output-kinesis.gemspec)
gem_file=$repo/build/logstash-output-kinesis-$version-java.gem

work=$(mktemp -d)
trap 'tests/peers/kinesis-mock.sh stop --state "$work/kinesis-mock" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The stream the pipeline writes to, with 4 shards.
stream=$(KINESIS_ENDPOINT=unused "$python" tests/tools/kinesis_block.py "$pipeline" |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["kinesis"]["stream_name"])')
echo "== starting kinesis-mock with stream $stream (4 shards)"
KINESIS_ENDPOINT=$(tests/peers/kinesis-mock.sh start --state "$work/kinesis-mock" --streams "$stream:4" |
  sed -n 's/^KINESIS_MOCK_ENDPOINT=//p')
export KINESIS_ENDPOINT
block=$("$python" tests/tools/kinesis_block.py "$pipeline")
events=$(echo "$block" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["generator_count"] or 10000)')

started=$(date +%s.%N)
if [[ -n "${LOGSTASH_HOME:-}" ]]; then
  echo "== installing the gem into $LOGSTASH_HOME and running $pipeline there"
  "$LOGSTASH_HOME/bin/logstash-plugin" install --no-verify --local "$gem_file"
  "$LOGSTASH_HOME/bin/logstash" -f "$repo/$pipeline" --path.data "$work/logstash-data" --log.level warn
else
  echo "== no LOGSTASH_HOME: running the kinesis block of $pipeline in the project's JRuby runner ($events events)"
  jruby -S gem install --local --ignore-dependencies --no-document --install-dir "$work/gems" "$gem_file" >/dev/null
  echo "$block" | "$python" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["kinesis"]))' >"$work/kinesis.json"
  GEM_PATH=$work/gems:/usr/share/rubygems-integration/all jruby tests/e2e/pipeline_runner.rb \
    --config "$work/kinesis.json" --events "$events" --workers 4 --batch 125 --run demo |
    sed -n 's/^RESULT /plugin counts: /p'
fi
printf '== pipeline done in %.1f s\n' "$(echo "$(date +%s.%N) - $started" | bc)"

echo "== reading $stream back from $KINESIS_ENDPOINT"
"$python" tests/tools/read_stream.py "$KINESIS_ENDPOINT" "$stream" "$events"
