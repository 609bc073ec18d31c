#!/usr/bin/env python3
"""End-to-end check of the test peer tooling and of the kinesis-mock
behaviour the integration tests rely on.

Starts kinesis-mock through tests/peers/kinesis-mock.sh, puts plain and
aggregated records with boto3, reads them back with GetRecords, checks them
with tests/tools/deaggregate.py, exercises the quirks the Rust tests depend
on, and stops the peer again.

Run with the tools venv: .tools/venv/bin/python tests/peers/kinesis_mock_smoke.py
(after tests/tools/setup.sh). Prints "N passed, N failed"; exit 1 on failure.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from aws_kinesis_agg.aggregator import AggRecord
from botocore.config import Config

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER_SCRIPT = os.path.join(REPO_ROOT, "tests", "peers", "kinesis-mock.sh")
DEAGGREGATE = os.path.join(REPO_ROOT, "tests", "tools", "deaggregate.py")
sys.path.insert(0, os.path.dirname(DEAGGREGATE))
from deaggregate import TEST_VECTOR_HEX, partition_key_hash  # noqa: E402

STREAM = "smoke"
BULK_STREAM = "bulk"
RESHARD_STREAM = "reshard"
RESULTS = []


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    suffix = f" ({detail})" if detail and not condition else ""
    print(f"{'ok  ' if condition else 'FAIL'} {name}{suffix}", flush=True)


def start_peer(state_dir):
    started = time.monotonic()
    out = subprocess.run(
        [PEER_SCRIPT, "start", "--state", state_dir, "--streams", f"{STREAM}:4,{BULK_STREAM}:1,{RESHARD_STREAM}:1"],
        check=True, stdout=subprocess.PIPE, text=True, timeout=60,
    ).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    print(f"info kinesis-mock ready in {time.monotonic() - started:.2f} s: {env}", flush=True)
    return env


def kinesis_client(env):
    # Any credentials do; a 12-digit access key id would select another account.
    return boto3.client(
        "kinesis", endpoint_url=env["KINESIS_MOCK_ENDPOINT"], region_name=env["KINESIS_MOCK_REGION"],
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def list_shards(kinesis, stream, shard_filter=None, page_size=1000):
    """All shards, paging with NextToken alone (StreamName must not come with it)."""
    request = {"StreamName": stream, "MaxResults": page_size}
    if shard_filter:
        request["ShardFilter"] = {"Type": shard_filter}
    shards, pages = [], 0
    while True:
        answer = kinesis.list_shards(**request)
        shards += answer["Shards"]
        pages += 1
        if "NextToken" not in answer:
            return shards, pages
        request = {"NextToken": answer["NextToken"], "MaxResults": page_size}


def shard_for(shards, hash_key):
    return next(s for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key
                <= int(s["HashKeyRange"]["EndingHashKey"]))


def partition_keys_in(shard, count):
    """Deterministic partition keys whose MD5 hash lies in the shard's range."""
    low, high = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
    keys, n = [], 0
    while len(keys) < count:
        key = f"key-{n}"
        if low <= partition_key_hash(key) <= high:
            keys.append(key)
        n += 1
    return keys


def read_back(kinesis, stream, shards):
    """GetRecords from TRIM_HORIZON of every shard, as deaggregate.py input."""
    records = []
    for shard in shards:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            for record in answer["Records"]:
                records.append({
                    "shard_id": shard["ShardId"],
                    "starting_hash_key": shard["HashKeyRange"]["StartingHashKey"],
                    "ending_hash_key": shard["HashKeyRange"]["EndingHashKey"],
                    "partition_key": record["PartitionKey"],
                    "explicit_hash_key": None,
                    "sequence_number": record["SequenceNumber"],
                    "data_b64": base64.b64encode(record["Data"]).decode("ascii"),
                })
            if not answer["Records"] or answer.get("MillisBehindLatest", 0) == 0:
                break
            iterator = answer.get("NextShardIterator")
    return records


def deaggregate(records):
    run = subprocess.run([sys.executable, DEAGGREGATE], input=json.dumps({"records": records}),
                         stdout=subprocess.PIPE, text=True, timeout=60)
    return run.returncode, json.loads(run.stdout)


def check_round_trip(kinesis):
    shards, _ = list_shards(kinesis, STREAM, "AT_LATEST")
    check("ListShards AT_LATEST lists the 4 shards", len(shards) == 4, str(len(shards)))
    paged, pages = list_shards(kinesis, STREAM, page_size=1)
    check("ListShards pages with NextToken alone", [s["ShardId"] for s in paged] == [s["ShardId"] for s in shards]
          and pages == 4, f"{pages} pages")
    check("the last shard ends at 2^128-1", shards[-1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1))

    plain = [{"PartitionKey": f"plain-{i}", "Data": f"plain record {i}".encode()} for i in range(8)]
    # The facts' test vector, sent like KPL would: hash key of its first
    # record ("pk1"); its sub-record with explicit hash key 123 then lies
    # outside that shard unless the first shard is that shard.
    vector = bytes.fromhex(TEST_VECTOR_HEX)
    vector_entry = {"PartitionKey": "a", "ExplicitHashKey": str(partition_key_hash("pk1")), "Data": vector}
    # A correct aggregate built by the reference library: 5 records of shard 1.
    aggregate = AggRecord()
    for key in partition_keys_in(shards[1], 5):
        aggregate.add_user_record(key, f"aggregated {key}".encode())
    agg_pk, agg_ehk, agg_data = aggregate.get_contents()
    check("the reference library sends its aggregate with the first partition key, no explicit hash key",
          agg_pk == partition_keys_in(shards[1], 1)[0] and agg_ehk is None)
    agg_entry = {"PartitionKey": agg_pk, "Data": agg_data}

    answer = kinesis.put_records(StreamName=STREAM, Records=plain + [vector_entry, agg_entry])
    check("PutRecords accepted all 10 entries", answer["FailedRecordCount"] == 0)
    routed = [r["ShardId"] for r in answer["Records"]]
    expected = [shard_for(shards, partition_key_hash(e["PartitionKey"]))["ShardId"] for e in plain]
    expected += [shard_for(shards, int(vector_entry["ExplicitHashKey"]))["ShardId"],
                 shard_for(shards, partition_key_hash(agg_pk))["ShardId"]]
    check("records land in the shard their hash key predicts", routed == expected, f"{routed} != {expected}")

    records = read_back(kinesis, STREAM, shards)
    status, out = deaggregate(records)
    check("GetRecords returns the 10 Kinesis records", out["kinesis_records"] == 10, str(out["kinesis_records"]))
    check("deaggregate.py finds 2 aggregates", out["aggregated"] == 2, str(out["aggregated"]))
    check("deaggregate.py yields 8 + 3 + 5 user records", len(out["user_records"]) == 16, str(len(out["user_records"])))
    check("deaggregate.py reports no errors", status == 0 and out["errors"] == [], str(out["errors"]))
    out_of_range = [(u["partition_key"], u["explicit_hash_key"]) for u in out["user_records"] if not u["in_shard_range"]]
    check("only the test vector's explicit-hash-key record is out of range", out_of_range == [("pk2", "123")],
          str(out_of_range))
    data = sorted(base64.b64decode(u["data_b64"]) for u in out["user_records"])
    sent = sorted([e["Data"] for e in plain] + [b"hello", b"world", b"!"]
                  + [f"aggregated {k}".encode() for k in partition_keys_in(shards[1], 5)])
    check("every user record comes back once", data == sent)


def check_quirks(kinesis, env):
    summary = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
    arn = f"arn:aws:kinesis:{env['KINESIS_MOCK_REGION']}:{env['KINESIS_MOCK_ACCOUNT_ID']}:stream/{STREAM}"
    check("StreamARN uses the printed region and account", summary["StreamARN"] == arn, summary["StreamARN"])
    answer = kinesis.put_records(StreamARN=arn, Records=[{"PartitionKey": "by-arn", "Data": b"x"}])
    check("PutRecords by StreamARN works", answer["FailedRecordCount"] == 0)

    started = time.monotonic()
    entries = [{"PartitionKey": f"bulk-{i}", "Data": b"b" * 100} for i in range(501)]
    answer = kinesis.put_records(StreamName=BULK_STREAM, Records=entries)
    elapsed = time.monotonic() - started
    check("quirk: a 501-entry PutRecords is accepted (limit not enforced)",
          answer["FailedRecordCount"] == 0 and len(answer["Records"]) == 501)
    print(f"info 501 records in one PutRecords took {elapsed:.2f} s", flush=True)

    # Real Kinesis fails the whole request and counts the partition key too.
    answer = kinesis.put_records(StreamName=BULK_STREAM, Records=[
        {"PartitionKey": "fits", "Data": b"x" * (1024 * 1024)},
        {"PartitionKey": "big", "Data": b"x" * (1024 * 1024 + 1)},
    ])
    codes = [r.get("ErrorCode") for r in answer["Records"]]
    check("quirk: data over 1 MiB fails only its entry; the partition key is not counted",
          answer["FailedRecordCount"] == 1 and codes == [None, "InvalidArgumentException"], str(codes))

    other_region = boto3.client("kinesis", endpoint_url=env["KINESIS_MOCK_ENDPOINT"], region_name="eu-west-1",
                                aws_access_key_id="test", aws_secret_access_key="test")
    check("streams are per region (eu-west-1 sees none)", other_region.list_streams()["StreamNames"] == [])

    kinesis.update_shard_count(StreamName=RESHARD_STREAM, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    deadline = time.monotonic() + 30
    while kinesis.describe_stream_summary(StreamName=RESHARD_STREAM)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    everything, _ = list_shards(kinesis, RESHARD_STREAM)
    open_shards, _ = list_shards(kinesis, RESHARD_STREAM, "AT_LATEST")
    check("after UpdateShardCount 1->2, ListShards lists parent and children", len(everything) == 3, str(len(everything)))
    check("ListShards AT_LATEST lists only the 2 open children", len(open_shards) == 2
          and all("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in open_shards))
    answer = kinesis.put_records(StreamName=RESHARD_STREAM,
                                 Records=[{"PartitionKey": "a", "ExplicitHashKey": "0", "Data": b"x"}])
    check("after a resharding records go to the open child", answer["Records"][0]["ShardId"] == open_shards[0]["ShardId"])


def port_open(endpoint):
    host, port = endpoint.rsplit("/", 1)[-1].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def pid_alive(pid):
    """True unless the process is gone or is a zombie with no threads left."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            zombie = stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        return not zombie or len(os.listdir(f"/proc/{pid}/task")) > 1
    except (ProcessLookupError, FileNotFoundError):
        return False


def main():
    with tempfile.TemporaryDirectory(prefix="kinesis-mock-smoke-") as state_dir:
        env = start_peer(state_dir)
        pid = int(env["KINESIS_MOCK_PID"])
        try:
            kinesis = kinesis_client(env)
            check_round_trip(kinesis)
            check_quirks(kinesis, env)
        finally:
            subprocess.run([PEER_SCRIPT, "stop", "--state", state_dir], check=False, timeout=30)
        check("stop ends the peer's process", not pid_alive(pid))
        check("stop closes the peer's port", not port_open(env["KINESIS_MOCK_ENDPOINT"]))
    failed = RESULTS.count(False)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
