#!/usr/bin/env bash
# Sends records through the producer into a local Kinesis (kinesis-mock) and reads them
# back, deaggregated, with counts per shard. Installs what it needs on first use.
#   examples/run-local.sh [RECORDS] [BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-20000}
bytes=${2:-200}
stream=demo

tests/tools/setup.sh
cargo build --release -p kinesis-producer --example send

state=$(mktemp -d)
trap 'tests/peers/kinesis-mock.sh stop --state "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
endpoint=$(tests/peers/kinesis-mock.sh start --state "$state" --streams "$stream:4" |
  sed -n 's/^KINESIS_MOCK_ENDPOINT=//p')

config=$(printf '{"region":"us-east-1","access_key":"test","secret_key":"test","kinesis_endpoint":"%s"}' "$endpoint")
echo "== sending $records records of $bytes bytes to $stream at $endpoint"
target/release/examples/send "$config" "$stream" "$records" "$bytes"
echo "== reading $stream back"
.tools/venv/bin/python tests/tools/read_stream.py "$endpoint" "$stream"
