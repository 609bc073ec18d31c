#!/usr/bin/env python3
"""Reads every record of a stream (all shards) and prints per-shard counts after
deaggregation with tests/tools/deaggregate.py.

Usage: read_stream.py ENDPOINT STREAM   (run with .tools/venv/bin/python)
"""

import base64
import json
import os
import subprocess
import sys

import boto3


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    client = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    shards, token = [], None
    while True:
        page = client.list_shards(NextToken=token) if token else client.list_shards(StreamName=stream)
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            break
    records = []
    for shard in shards:
        iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            for r in page["Records"]:
                records.append({
                    "shard_id": shard["ShardId"],
                    "starting_hash_key": shard["HashKeyRange"]["StartingHashKey"],
                    "ending_hash_key": shard["HashKeyRange"]["EndingHashKey"],
                    "partition_key": r["PartitionKey"],
                    "explicit_hash_key": None,
                    "sequence_number": r["SequenceNumber"],
                    "data_b64": base64.b64encode(r["Data"]).decode("ascii"),
                })
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    checker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deaggregate.py")
    result = subprocess.run([sys.executable, checker], input=json.dumps({"records": records}),
                            capture_output=True, text=True, check=False)
    report = json.loads(result.stdout)
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
