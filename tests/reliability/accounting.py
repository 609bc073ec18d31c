"""Where every event went: the test server's store read the way a KCL consumer reads it,
the dead letter queue and the plugin's counts, against the events that went in.

events in = delivered + dead-lettered + dropped (logged and counted); duplicates are counted
apart and allowed only after an ambiguous outcome (a request that may have succeeded)."""

import base64
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import deaggregate  # noqa: E402


class StoreView:
    """User records in the store as a consumer sees them: aggregates deaggregated, and
    aggregates holding a record outside their shard's hash key range left out whole (KCL
    drops them)."""

    def __init__(self):
        self.ids = collections.Counter()
        self.kinesis_records = 0
        self.user_records = 0
        self.misrouted_aggregates = 0
        self.misrouted_plain = 0
        self.unreadable = 0
        self.errors = []
        # Partition key of each event id's (last) user record.
        self.keys = {}
        # (arrival_ms, shard_id, user records, bytes) per Kinesis record, for rates.
        self.arrivals = []
        self.empty_payloads = 0

    def add_stream(self, snapshot):
        records, arrivals = [], []
        for shard in snapshot["shards"]:
            for record in shard["records"]:
                records.append({
                    "shard_id": shard["shard_id"],
                    "starting_hash_key": shard["starting_hash_key"],
                    "ending_hash_key": shard["ending_hash_key"],
                    "partition_key": record["partition_key"],
                    "explicit_hash_key": record["explicit_hash_key"],
                    "sequence_number": record["sequence_number"],
                    "data_b64": record["data"],
                })
                arrivals.append(record["arrival_ms"])
        if not records:
            return
        report = deaggregate.check_records(records)
        self.errors += report["errors"]
        self.kinesis_records += report["kinesis_records"]
        users_by_record = collections.defaultdict(list)
        for user in report["user_records"]:
            users_by_record[user["record_index"]].append(user)
        for index, summary in enumerate(report["records"]):
            users = users_by_record[index]
            self.arrivals.append((arrivals[index], summary["shard_id"], len(users),
                                  summary["size"] + len(records[index]["partition_key"])))
            if not summary["all_in_shard_range"]:
                if summary["aggregated"]:
                    self.misrouted_aggregates += 1
                else:
                    self.misrouted_plain += 1
                continue
            for user in users:
                self.user_records += 1
                event_id = self.event_id(user)
                if event_id is None:
                    self.unreadable += 1
                else:
                    self.ids[event_id] += 1
                    self.keys[event_id] = user["partition_key"]

    def event_id(self, user):
        """The "id" of the JSON payload; for an empty payload the partition key "-<id>"."""
        data = base64.b64decode(user["data_b64"])
        if not data:
            self.empty_payloads += 1
            key = user["partition_key"]
            return key[1:] if key.startswith("-") and len(key) > 1 else None
        try:
            return json.loads(data)["id"]
        except (ValueError, KeyError, TypeError):
            return None


def read_store(server, streams):
    view = StoreView()
    for stream in streams:
        view.add_stream(server.records(stream))
    return view


class Account:
    """The accounting of one run (or of several runs of one scenario)."""

    COLUMNS = ("events in", "delivered", "dead-lettered", "dropped", "duplicates", "unaccounted", "peak RSS")

    def __init__(self, name, expected_ids, store, dead_letters, dropped, peak_rss_kb, ambiguous):
        """expected_ids: every event id that went in; dead_letters: DLQ entries (dicts with
        "id"); dropped: the plugin's events_dropped count; ambiguous: why duplicates may
        exist (a non-empty string), or "" when they may not."""
        self.name = name
        self.checks = []
        self.notes = []
        expected = set(expected_ids)
        dlq = collections.Counter(entry.get("id") for entry in dead_letters)
        delivered = expected & set(store.ids)
        dead_lettered = (expected & set(dlq)) - delivered
        missing = expected - delivered - dead_lettered
        copies = sum(store.ids[i] + dlq[i] for i in expected) - len(delivered | dead_lettered)
        unexpected = (set(store.ids) | set(dlq)) - expected
        self.values = {
            "events in": len(expected),
            "delivered": len(delivered),
            "dead-lettered": len(dead_lettered),
            "dropped": dropped,
            "duplicates": copies,
            "unaccounted": len(missing) - dropped,
            "peak RSS": f"{peak_rss_kb / 1024:.0f} MiB",
        }
        self.missing = sorted(missing)
        self.check("every event accounted for (in = delivered + dead-lettered + dropped)",
                   len(missing) == dropped, f"{len(missing)} events neither delivered nor dead-lettered, "
                   f"{dropped} counted as dropped; first missing: {self.missing[:5]}")
        self.check("no event that never went in", not unexpected, f"{len(unexpected)}: {sorted(unexpected)[:5]}")
        self.check("duplicates only after an ambiguous outcome", copies == 0 or bool(ambiguous),
                   f"{copies} duplicates without an ambiguous outcome")
        if copies and ambiguous:
            self.notes.append(f"duplicates allowed: {ambiguous}")
        self.check("store readable", not store.errors and not store.unreadable and not store.misrouted_plain,
                   f"{len(store.errors)} checker errors {store.errors[:3]}, {store.unreadable} unreadable, "
                   f"{store.misrouted_plain} plain records outside their shard")
        if store.misrouted_aggregates:
            self.notes.append(f"{store.misrouted_aggregates} aggregates landed in a shard not holding all their "
                              "records (a consumer drops them; their records were sent again and counted elsewhere)")

    @classmethod
    def checks_only(cls, name):
        """An account without events (e.g. for configuration checks): its checks decide."""
        account = cls.__new__(cls)
        account.name = name
        account.checks = []
        account.notes = []
        account.missing = []
        account.values = {column: "-" for column in cls.COLUMNS}
        return account

    def check(self, what, ok, detail=""):
        self.checks.append((what, bool(ok), "" if ok else detail))
        return ok

    def note(self, text):
        self.notes.append(text)

    @property
    def ok(self):
        return all(ok for _, ok, _ in self.checks)

    def table(self):
        widths = [max(len(column), len(str(self.values[column]))) for column in self.COLUMNS]
        header = " | ".join(c.rjust(w) for c, w in zip(self.COLUMNS, widths))
        row = " | ".join(str(self.values[c]).rjust(w) for c, w in zip(self.COLUMNS, widths))
        lines = [f"  {header}", f"  {'-' * len(header)}", f"  {row}"]
        for what, ok, detail in self.checks:
            lines.append(f"  [{'ok' if ok else 'FAIL'}] {what}" + (f": {detail}" if detail else ""))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def summary_table(accounts):
    """One line per scenario."""
    columns = ("scenario",) + Account.COLUMNS + ("result",)
    rows = [(a.name,) + tuple(str(a.values[c]) for c in Account.COLUMNS) + ("ok" if a.ok else "FAIL",)
            for a in accounts]
    widths = [max(len(str(r[i])) for r in rows + [columns]) for i in range(len(columns))]
    line = lambda r: "| " + " | ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)  # noqa: E731
                                       for i, (v, w) in enumerate(zip(r, widths))) + " |"
    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(columns), separator] + [line(r) for r in rows])
