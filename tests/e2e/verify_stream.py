#!/usr/bin/env python3
"""Reads a whole stream back (every shard, from TRIM_HORIZON), deaggregates it with
tests/tools/deaggregate.py and checks that the events "<run>-0" .. "<run>-<N-1>" (field "id"
of each JSON user record) are each there exactly once, and that no user record lies outside
its shard's hash key range.

Usage: verify_stream.py ENDPOINT STREAM RUN EVENTS [--json]   (run with .tools/venv/bin/python)

Prints a table (or, with --json, one JSON object); exits 1 when a check fails.
"""

import base64
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from stream_reader import deaggregated_report  # noqa: E402


def check(report, run, events):
    """Counts and problems of the deaggregated user records against the expected ids."""
    seen = collections.Counter()
    unreadable = 0
    per_shard = collections.Counter()
    for user in report["user_records"]:
        per_shard[user["shard_id"]] += 1
        try:
            seen[json.loads(base64.b64decode(user["data_b64"]))["id"]] += 1
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    expected = {f"{run}-{n}" for n in range(events)}
    summary = {
        "kinesis_records": report["kinesis_records"],
        "aggregated": report["aggregated"],
        "user_records": len(report["user_records"]),
        "unique_ids": len(seen),
        "missing": len(expected - seen.keys()),
        "duplicated": sum(1 for event_id, count in seen.items() if count > 1 and event_id in expected),
        "unexpected": sum(1 for event_id in seen if event_id not in expected),
        "unreadable": unreadable,
        "out_of_range": report["out_of_range"],
        "checker_errors": len(report["errors"]),
        "per_shard": dict(sorted(per_shard.items())),
    }
    problems = [key for key in ("missing", "duplicated", "unexpected", "unreadable", "out_of_range",
                                "checker_errors") if summary[key]]
    if summary["user_records"] != events:
        problems.append("user_records")
    summary["ok"] = not problems
    summary["problems"] = problems
    return summary


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    endpoint, stream, run, events = args[0], args[1], args[2], int(args[3])
    try:
        report = deaggregated_report(endpoint, stream)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    summary = check(report, run, events)
    summary["stream"] = stream
    summary["expected"] = events
    if "--json" in sys.argv:
        print(json.dumps(summary))
    else:
        for key in ("stream", "expected", "kinesis_records", "aggregated", "user_records", "unique_ids",
                    "missing", "duplicated", "unexpected", "unreadable", "out_of_range", "checker_errors"):
            print(f"  {key:<16} {summary[key]}")
        for shard_id, count in summary["per_shard"].items():
            print(f"  {shard_id:<16} {count} user records")
        print(f"  {'result':<16} {'OK' if summary['ok'] else 'FAIL: ' + ', '.join(summary['problems'])}")
        for error in report["errors"][:5]:
            print(f"  checker error: {error}")
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
