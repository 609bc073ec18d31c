#!/usr/bin/env python3
"""Reads every record of a stream (all shards) and prints per-shard counts after
deaggregation with tests/tools/deaggregate.py.

Usage: read_stream.py ENDPOINT STREAM   (run with .tools/venv/bin/python)
"""

import sys

from stream_reader import deaggregated_report


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    report = deaggregated_report(endpoint, stream)
    per_shard = {}
    for u in report["user_records"]:
        per_shard[u["shard_id"]] = per_shard.get(u["shard_id"], 0) + 1
    print(f"read back {report['kinesis_records']} Kinesis records ({report['aggregated']} aggregated) "
          f"holding {len(report['user_records'])} user records; "
          f"{report['out_of_range']} outside their shard's range")
    for shard_id in sorted(per_shard):
        print(f"  {shard_id}: {per_shard[shard_id]} user records")
    if report["errors"]:
        print("errors:", report["errors"])
        sys.exit(1)


if __name__ == "__main__":
    main()
