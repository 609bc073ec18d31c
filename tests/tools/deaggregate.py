#!/usr/bin/env python3
"""Independent checker of KPL-aggregated Kinesis records, for integration tests.

Reads, on stdin, the Kinesis records read back with GetRecords, each with the
hash key range of the shard it was read from:

    {"records": [{"shard_id": "shardId-000000000000",
                  "starting_hash_key": "0", "ending_hash_key": "...",
                  "partition_key": "a", "explicit_hash_key": null,
                  "sequence_number": "...", "data_b64": "..."}]}

and writes, on stdout:

    {"records": [...one report per Kinesis record...],
     "user_records": [...one entry per user record...],
     "kinesis_records": N, "aggregated": N, "out_of_range": N, "errors": [...]}

Each record is deaggregated twice: by the PyPI library aws-kinesis-agg (the
reference consumers use) and by the small protobuf reader below. Two
independent readings are needed because the library passes corrupt or
non-aggregated records through silently, and reports the explicit hash key
of table entry 0 for sub-records that carry none. The reader decides what is
reported; any disagreement with the library is an error.

Run it with the tools venv (tests/tools/setup.sh): .tools/venv/bin/python.
Exit status: 0 when "errors" is empty, 1 when not (the JSON is still
written), 2 on unusable input. `--self-test` checks the reader and the
library against a known aggregated record instead.
"""

import base64
import binascii
import contextlib
import hashlib
import io
import json
import sys

from aws_kinesis_agg.deaggregator import iter_deaggregate_records

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_SIZE = 16
MAX_HASH_KEY = 2**128 - 1

WIRE_VARINT = 0
WIRE_64BIT = 1
WIRE_LENGTH_DELIMITED = 2
WIRE_32BIT = 5


class DecodeError(Exception):
    """The protobuf bytes do not form a valid AggregatedRecord."""


# --- protobuf reader for the KPL aggregation schema ------------------------


def read_varint(buf, pos):
    """Returns (value, next position) of the varint at pos (at most 10 bytes)."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value >= 2**64:
                raise DecodeError("varint exceeds 64 bits")
            return value, pos
    raise DecodeError("varint longer than 10 bytes")


def read_fields(buf):
    """Yields (field number, wire type, value) of a protobuf message.

    Length-delimited values are bytes, varints ints; fixed-width values are
    returned as raw bytes (the schema has none; they are skipped as unknown).
    """
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == WIRE_VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == WIRE_LENGTH_DELIMITED:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise DecodeError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire in (WIRE_64BIT, WIRE_32BIT):
            width = 8 if wire == WIRE_64BIT else 4
            if pos + width > len(buf):
                raise DecodeError("truncated fixed-width field")
            value, pos = buf[pos : pos + width], pos + width
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        yield number, wire, value


def expect_wire(number, wire, expected):
    if wire != expected:
        raise DecodeError(f"field {number} has wire type {wire}, expected {expected}")


def decode_string(raw, what):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"{what} is not UTF-8: {err}") from err


def parse_sub_record(buf):
    """Parses one `Record`: (partition_key_index, explicit_hash_key_index or None, data)."""
    pk_index = ehk_index = data = None
    for number, wire, value in read_fields(buf):
        if number == 1:
            expect_wire(number, wire, WIRE_VARINT)
            pk_index = value
        elif number == 2:
            expect_wire(number, wire, WIRE_VARINT)
            ehk_index = value
        elif number == 3:
            expect_wire(number, wire, WIRE_LENGTH_DELIMITED)
            data = bytes(value)
        elif number == 4:
            expect_wire(number, wire, WIRE_LENGTH_DELIMITED)  # tags: never used
    if pk_index is None or data is None:
        raise DecodeError("record lacks a required field (partition_key_index or data)")
    return pk_index, ehk_index, data


def parse_aggregated_record(buf):
    """Parses an `AggregatedRecord` into (partition keys, explicit hash keys, records)."""
    partition_keys, explicit_hash_keys, records = [], [], []
    for number, wire, value in read_fields(buf):
        if number == 1:
            expect_wire(number, wire, WIRE_LENGTH_DELIMITED)
            partition_keys.append(decode_string(value, "partition key"))
        elif number == 2:
            expect_wire(number, wire, WIRE_LENGTH_DELIMITED)
            explicit_hash_keys.append(decode_string(value, "explicit hash key"))
        elif number == 3:
            expect_wire(number, wire, WIRE_LENGTH_DELIMITED)
            records.append(parse_sub_record(value))
    return partition_keys, explicit_hash_keys, records


def inspect_aggregate(data):
    """Applies the consumers' rule: aggregated iff the magic matches, more than
    16 bytes follow it, the MD5 matches and the protobuf parses.

    Returns a dict with "magic", "md5_ok" and, when aggregated, "tables".
    """
    result = {"magic": data.startswith(MAGIC), "md5_ok": None, "tables": None, "decode_error": None}
    body = data[len(MAGIC) :]
    if not result["magic"] or len(body) <= DIGEST_SIZE:
        return result
    message, digest = body[:-DIGEST_SIZE], body[-DIGEST_SIZE:]
    result["md5_ok"] = hashlib.md5(message).digest() == digest
    if not result["md5_ok"]:
        return result
    try:
        result["tables"] = parse_aggregated_record(message)
    except DecodeError as err:
        result["decode_error"] = str(err)
    return result


# --- hash keys -------------------------------------------------------------


def partition_key_hash(partition_key):
    """Kinesis routing: MD5 of the UTF-8 partition key as a big-endian integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def parse_hash_key(text, what):
    """Parses a decimal hash key in 0..2^128-1; raises ValueError otherwise."""
    if not isinstance(text, str) or not text.isdigit():
        raise ValueError(f"{what} {text!r} is not a decimal number")
    value = int(text)
    if value > MAX_HASH_KEY:
        raise ValueError(f"{what} {text} exceeds 2^128-1")
    return value


# --- the library's view ----------------------------------------------------


def library_view(partition_key, sequence_number, data):
    """Deaggregates one record with aws-kinesis-agg.

    Returns (user records as dicts, whatever the library printed to stderr:
    it reports broken aggregates there instead of raising).
    """
    boto3_record = {
        "SequenceNumber": sequence_number,
        "PartitionKey": partition_key,
        "ApproximateArrivalTimestamp": None,
        "Data": data,
    }
    printed = io.StringIO()
    with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
        out = list(iter_deaggregate_records([boto3_record], data_format="Boto3"))
    return [r["kinesis"] for r in out], printed.getvalue().strip()


def compare_with_library(index, sub_records, library_records, library_output, aggregated, errors):
    """Records an error wherever the library saw the record differently."""
    where = f"record {index}"
    if library_output:
        errors.append(f"{where}: aws-kinesis-agg reported: {library_output}")
    if len(library_records) != len(sub_records):
        errors.append(f"{where}: aws-kinesis-agg returned {len(library_records)} user records, expected {len(sub_records)}")
        return
    for sub_index, (mine, theirs) in enumerate(zip(sub_records, library_records)):
        their_data = theirs["data"]
        their_data = base64.b64decode(their_data) if aggregated else their_data
        if bool(theirs.get("aggregated")) != aggregated:
            errors.append(f"{where}.{sub_index}: aws-kinesis-agg disagrees on aggregation")
        if theirs["partitionKey"] != mine["partition_key"] or their_data != mine["data"]:
            errors.append(f"{where}.{sub_index}: aws-kinesis-agg read another partition key or data")


# --- checking the input ----------------------------------------------------


def require_str(record, key, index):
    value = record.get(key)
    if not isinstance(value, str):
        raise ValueError(f"record {index}: '{key}' must be a string")
    return value


def sub_records_of(tables, index, errors):
    """Resolves the table indices of an aggregate's sub-records."""
    partition_keys, explicit_hash_keys, records = tables
    resolved = []
    for sub_index, (pk_index, ehk_index, data) in enumerate(records):
        where = f"record {index}.{sub_index}"
        if pk_index >= len(partition_keys):
            errors.append(f"{where}: partition_key_index {pk_index} outside a table of {len(partition_keys)}")
            continue
        explicit_hash_key = None
        if ehk_index is not None:
            if ehk_index >= len(explicit_hash_keys):
                errors.append(f"{where}: explicit_hash_key_index {ehk_index} outside a table of {len(explicit_hash_keys)}")
                continue
            explicit_hash_key = explicit_hash_keys[ehk_index]
        resolved.append({"partition_key": partition_keys[pk_index], "explicit_hash_key": explicit_hash_key, "data": data})
    return resolved


def check_records(records):
    """Deaggregates and checks all records; returns the output document."""
    reports, user_records, errors = [], [], []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"record {index} is not an object")
        shard_id = require_str(record, "shard_id", index)
        start = parse_hash_key(require_str(record, "starting_hash_key", index), f"record {index}: starting_hash_key")
        end = parse_hash_key(require_str(record, "ending_hash_key", index), f"record {index}: ending_hash_key")
        partition_key = require_str(record, "partition_key", index)
        sequence_number = record.get("sequence_number")
        outer_ehk = record.get("explicit_hash_key")
        if outer_ehk is not None:
            parse_hash_key(outer_ehk, f"record {index}: explicit_hash_key")
        try:
            data = base64.b64decode(require_str(record, "data_b64", index), validate=True)
        except binascii.Error as err:
            raise ValueError(f"record {index}: data_b64 is not base64: {err}") from err

        inspection = inspect_aggregate(data)
        aggregated = inspection["tables"] is not None
        if inspection["decode_error"]:
            # Magic and MD5 match, so it was meant as an aggregate, yet
            # consumers will hand it over raw.
            errors.append(f"record {index}: aggregate does not parse: {inspection['decode_error']}")
        if aggregated:
            subs = sub_records_of(inspection["tables"], index, errors)
        else:
            subs = [{"partition_key": partition_key, "explicit_hash_key": outer_ehk, "data": data}]

        library_records, library_output = library_view(partition_key, sequence_number, data)
        compare_with_library(index, subs, library_records, library_output, aggregated, errors)

        all_in_range = True
        for sub_index, sub in enumerate(subs):
            try:
                if sub["explicit_hash_key"] is not None:
                    hash_key = parse_hash_key(sub["explicit_hash_key"], "explicit hash key")
                else:
                    hash_key = partition_key_hash(sub["partition_key"])
            except ValueError as err:
                errors.append(f"record {index}.{sub_index}: {err}")
                hash_key = None
            in_range = hash_key is not None and start <= hash_key <= end
            all_in_range = all_in_range and in_range
            user_records.append(
                {
                    "record_index": index,
                    "sub_index": sub_index,
                    "shard_id": shard_id,
                    "sequence_number": sequence_number,
                    "aggregated": aggregated,
                    "partition_key": sub["partition_key"],
                    "explicit_hash_key": sub["explicit_hash_key"],
                    "data_b64": base64.b64encode(sub["data"]).decode("ascii"),
                    "hash_key": None if hash_key is None else str(hash_key),
                    "in_shard_range": in_range,
                }
            )
        reports.append(
            {
                "record_index": index,
                "shard_id": shard_id,
                "sequence_number": sequence_number,
                "aggregated": aggregated,
                "sub_records": len(subs),
                "magic": inspection["magic"],
                "md5_ok": inspection["md5_ok"],
                "decode_error": inspection["decode_error"],
                "all_in_shard_range": all_in_range,
                "size": len(data),
            }
        )
    return {
        "records": reports,
        "user_records": user_records,
        "kinesis_records": len(reports),
        "aggregated": sum(1 for r in reports if r["aggregated"]),
        "out_of_range": sum(1 for u in user_records if not u["in_shard_range"]),
        "errors": errors,
    }


# --- self-test -------------------------------------------------------------

# Tables ["pk1","pk2"], ["123"]; records (pk 0, "hello"), (pk 1, ehk 0, "world"), (pk 0, "!").
TEST_VECTOR_HEX = (
    "f3899ac20a03706b310a03706b3212033132331a0908001a0568656c6c6f1a0b080110001a05"
    "776f726c641a0508001a0121adb0e9722c84524d925abfbb4aee29c8"
)
PK1_HASH = 329398341438914906102347661116985167824


def input_record(data, start=0, end=MAX_HASH_KEY, partition_key="a", explicit_hash_key=None):
    return {
        "shard_id": "shardId-000000000000",
        "starting_hash_key": str(start),
        "ending_hash_key": str(end),
        "partition_key": partition_key,
        "explicit_hash_key": explicit_hash_key,
        "sequence_number": "1",
        "data_b64": base64.b64encode(data).decode("ascii"),
    }


def self_test():
    """Checks the reader, the library cross-check and the range logic on known inputs."""
    vector = bytes.fromhex(TEST_VECTOR_HEX)
    checks = []

    def check(name, condition):
        checks.append((name, bool(condition)))
        print(f"{'ok  ' if condition else 'FAIL'} {name}")

    out = check_records([input_record(vector)])
    users = [(u["partition_key"], u["explicit_hash_key"], base64.b64decode(u["data_b64"])) for u in out["user_records"]]
    check("test vector is 66 bytes", len(vector) == 66)
    check("test vector deaggregates without errors", out["errors"] == [])
    check("test vector is one aggregated record", out["kinesis_records"] == 1 and out["aggregated"] == 1)
    check("test vector holds the 3 expected user records",
          users == [("pk1", None, b"hello"), ("pk2", "123", b"world"), ("pk1", None, b"!")])
    check("test vector tables are as expected",
          inspect_aggregate(vector)["tables"][:2] == (["pk1", "pk2"], ["123"]))
    check("hash key of pk1 is the MD5 as big-endian integer", out["user_records"][0]["hash_key"] == str(PK1_HASH))
    check("explicit hash key overrides the partition key", out["user_records"][1]["hash_key"] == "123")

    narrow = check_records([input_record(vector, start=0, end=partition_key_hash("pk1") - 1)])
    check("sub-records outside the shard's range are counted",
          narrow["out_of_range"] == 2 and not narrow["records"][0]["all_in_shard_range"])

    corrupt = bytearray(vector)
    corrupt[-1] ^= 1
    out = check_records([input_record(bytes(corrupt), partition_key="raw")])
    check("a bad MD5 makes a plain record",
          out["aggregated"] == 0 and out["records"][0]["magic"] and out["records"][0]["md5_ok"] is False
          and len(out["user_records"]) == 1 and out["errors"] == [])

    out = check_records([input_record(b"plain data", partition_key="pk1", explicit_hash_key="5")])
    check("a plain record keeps its partition key and explicit hash key",
          out["aggregated"] == 0 and out["user_records"][0]["hash_key"] == "5" and out["errors"] == [])

    # A record whose explicit_hash_key_index points past the table: an error.
    message = bytes.fromhex("0a03706b31") + bytes.fromhex("1a07080010011a0178")
    bad = MAGIC + message + hashlib.md5(message).digest()
    out = check_records([input_record(bad)])
    check("an index outside the tables is an error", any("outside a table" in e for e in out["errors"]))

    failed = sum(1 for _, ok in checks if not ok)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 1:
        print(f"usage: {argv[0]} [--self-test] < records.json", file=sys.stderr)
        return 2
    try:
        document = json.load(sys.stdin)
        records = document["records"] if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise ValueError("input must be an object with a 'records' list")
        out = check_records(records)
    except (ValueError, KeyError) as err:
        print(f"deaggregate: bad input: {err}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
