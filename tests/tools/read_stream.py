#!/usr/bin/env python3
"""Reads every record of a stream (all shards) and prints per-shard counts after
deaggregation with tests/tools/deaggregate.py, and the first few user records.

Usage: read_stream.py ENDPOINT STREAM [EXPECTED]   (run with .tools/venv/bin/python)
With EXPECTED, exits 1 unless exactly that many user records were read back.
"""

import base64
import sys

from stream_reader import deaggregated_report

SAMPLES = 3


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    expected = int(sys.argv[3]) if len(sys.argv) > 3 else None
    report = deaggregated_report(endpoint, stream)
    users = report["user_records"]
    per_shard = {}
    for u in users:
        per_shard[u["shard_id"]] = per_shard.get(u["shard_id"], 0) + 1
    print(f"read back {report['kinesis_records']} Kinesis records ({report['aggregated']} aggregated) "
          f"holding {len(users)} user records; "
          f"{report['out_of_range']} outside their shard's range")
    for shard_id in sorted(per_shard):
        print(f"  {shard_id}: {per_shard[shard_id]} user records")
    for u in users[:SAMPLES]:
        data = base64.b64decode(u["data_b64"]).decode("utf-8", "replace")
        print(f"  e.g. key {u['partition_key']!r}: {data[:100]}")
    failed = bool(report["errors"]) or report["out_of_range"] > 0
    if report["errors"]:
        print("errors:", report["errors"])
    if expected is not None and len(users) != expected:
        print(f"expected {expected} user records, read {len(users)}")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
