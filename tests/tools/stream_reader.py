"""Reads a whole stream back from a local Kinesis (every shard, from TRIM_HORIZON) and
deaggregates it with deaggregate.py. Shared by read_stream.py and the end-to-end checks."""

import base64
import json
import os
import subprocess
import sys

import boto3

DEAGGREGATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deaggregate.py")


def client_for(endpoint):
    """A boto3 Kinesis client for a local endpoint (dummy credentials)."""
    return boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def list_shards(client, stream):
    shards, token = [], None
    while True:
        page = client.list_shards(NextToken=token) if token else client.list_shards(StreamName=stream)
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            return shards


def read_records(client, stream):
    """Every Kinesis record of every shard, in the input format of deaggregate.py."""
    records = []
    for shard in list_shards(client, stream):
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
    return records


def deaggregated_report(endpoint, stream):
    """deaggregate.py's report on everything in the stream."""
    records = read_records(client_for(endpoint), stream)
    result = subprocess.run([sys.executable, DEAGGREGATE], input=json.dumps({"records": records}),
                            capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"deaggregate.py failed: {result.stderr}")
    return json.loads(result.stdout)
