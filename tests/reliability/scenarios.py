"""The scenarios of the reliability suite. Each takes the suite's Context and
returns a list of Accounts. Durations are seconds, not minutes, so that the whole
suite fits a CI run; each docstring's first line says what was kept."""

import concurrent.futures
import json
import os
import subprocess
import threading
import time

from accounting import Account, read_store
from harness import REPO, Runner, TestServer, wait_for

MIB = 1024 * 1024
# Distinctive credentials: the suite fails if either shows up in any output.
ACCESS_KEY = "AKIDRELIABILITYSENTINEL"
SECRET_KEY = "reliability/secret+SENTINEL/0123456789abcdef"
MIXES = os.path.join(REPO, "tests", "reliability", "mixes")
BLOCKING_MESSAGE = "Kinesis is too busy - blocking until things have cleared up"


def config(server, stream, **options):
    """Kinesis options for a runner against `server` (string keys, as in a pipeline config)."""
    base = {"stream_name": stream, "region": "us-east-1", "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
            "kinesis_endpoint": server.endpoint, "metrics_level": "none", "event_partition_keys": ["id"]}
    base.update(options)
    return base


def ids(run, seqs):
    return {f"{run}-{seq}" for seq in seqs}


def server(ctx, name, streams, **kwargs):
    return TestServer(ctx.work, ctx.server_binary, streams, name=name, **kwargs)


class Schedule:
    """Runs (seconds, action) pairs in a thread, counted from start(); errors are kept."""

    def __init__(self, actions):
        self.actions = sorted(actions, key=lambda a: a[0])
        self.errors = []
        self.done = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.started = time.monotonic()
        self.started_ms = time.time() * 1000
        self.thread.start()
        return self

    def _run(self):
        for at, action in self.actions:
            delay = self.started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.done.append((round(time.monotonic() - self.started, 1), action()))
            except Exception as error:  # noqa: BLE001 -- reported as a failed check
                self.errors.append(f"at {at}s: {error}")

    def join(self):
        self.thread.join()


def window(samples, start, end):
    return [s for s in samples if start <= s["t"] <= end]


def cpu_cores(samples, start, end, key="cpu_s"):
    """Average CPU cores used between two sample times (key engine_cpu_s: the native producer's threads)."""
    inside = window(samples, start, end)
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    return (last[key] - first[key]) / max(last["t"] - first["t"], 0.001)


def check_kinesis_records(account, result, store):
    """The plugin's kinesis_records metric (read at close) against what the server stored."""
    account.check("kinesis_records metric = Kinesis records stored", result["kinesis_records"] == store.kinesis_records,
                  f"metric {result['kinesis_records']}, stored {store.kinesis_records}")


def log_messages(runner, level=None):
    return [line for line in runner.logs() if level is None or line["level"] == level]


def scan_for_secrets(paths):
    """Files (of the given paths) that contain either sentinel credential."""
    leaks = []
    for path in paths:
        try:
            with open(path, "rb") as file:
                content = file.read()
        except FileNotFoundError:
            continue
        if SECRET_KEY.encode() in content or ACCESS_KEY.encode() in content:
            leaks.append(os.path.basename(path))
    return leaks


# ---- 1. throttling -----------------------------------------------------------------------------

def throttling(ctx):
    """1. Sustained throttling: per-shard limits 1000 records/s and 1 MiB/s, 3x that offered, 16 s per case."""
    # 16 s keeps the suite within the test command; RELIABILITY_THROTTLE_SECONDS=60 runs a full minute.
    duration = int(os.environ.get("RELIABILITY_THROTTLE_SECONDS", "16"))
    cases = [
        # name, shards, aggregation, payload bytes, events/s the limits let through: 3x that is offered
        ("1a throttling, aggregated (byte limit)", "throttle-agg", 2, True, 8 * 1024, 2 * MIB / (8 * 1024)),
        # 1 KiB records: the record and byte limits bind together
        ("1b throttling, not aggregated (record limit)", "throttle-plain", 1, False, 1000, 1000),
    ]
    accounts = []
    for title, name, shards, aggregation, size, limit in cases:
        rate = 3 * limit
        with server(ctx, name, [("throttled", shards)], args=["--shard-limits"]) as srv:
            # 8 x 250 events in flight: more than max_pending_records, so backpressure takes part.
            runner = Runner(ctx, name, config(srv, "throttled", aggregation_enabled=aggregation),
                            duration=duration, rate=rate, message_bytes=size, workers=8, batch=250)
            result = runner.run(timeout=duration + 180)
            store = read_store(srv, ["throttled"])
            stats = srv.stats()
        account = Account(title, ids(name, range(result["sent"])), store, runner.dead_letters(), result["dropped"],
                          runner.peak_rss_kb(), ambiguous="")
        account.check("nothing dead-lettered", result["dead_lettered"] == 0, f"{result['dead_lettered']}")
        check_kinesis_records(account, result, store)
        # Without more input than the limits take, nothing here would test them.
        account.check("the limits were hit (throttled entries)", stats["faults"]["shard_throttled"] > 0,
                      f"no entry was throttled: {result['sent'] / duration:.0f} events/s went in, the limits take "
                      f"{limit:.0f}/s (is the machine too busy?)")
        offered = rate * duration
        account.check("the input was held back to the limit (less than half of the offered events went in)",
                      result["sent"] < offered / 2, f"{result['sent']} of {offered:.0f}")
        first = min(a[0] for a in store.arrivals)
        start_ms, end_ms = first + 5000, first + (duration - 1) * 1000
        seconds = (end_ms - start_ms) / 1000
        usage = []
        for shard in sorted({a[1] for a in store.arrivals}):
            inside = [a for a in store.arrivals if a[1] == shard and start_ms <= a[0] < end_ms]
            records_rate = len(inside) / seconds
            bytes_rate = sum(a[3] for a in inside) / seconds
            usage.append(max(records_rate / 1000, bytes_rate / MIB))
            per_second = [0] * duration
            for a in store.arrivals:
                if a[1] == shard and 0 <= (a[0] - first) // 1000 < duration:
                    per_second[(a[0] - first) // 1000] += a[3] if aggregation else 1
            unit = "KiB" if aggregation else "records"
            series = " ".join(str(v // 1024 if aggregation else v) for v in per_second)
            account.note(f"{shard}: {records_rate:.0f} Kinesis records/s, {bytes_rate / MIB:.2f} MiB/s "
                         f"from {start_ms - first} to {end_ms - first} ms; {unit} per second: {series}")
        account.check("throughput converges near the limit (75-105% on every shard)",
                      all(0.75 <= u <= 1.05 for u in usage), f"use of the limit per shard: {usage}")
        puts = stats["requests_by_operation"].get("PutRecords", 0)
        account.check("no hot retry loop: at most 40 PutRecords/s per shard", puts / duration <= 40 * shards,
                      f"{puts / duration:.0f} requests/s")
        cores = cpu_cores(runner.samples(), 5, duration - 1)
        engine_cores = cpu_cores(runner.samples(), 5, duration - 1, "engine_cpu_s")
        account.check("the producer's threads stay below 0.25 core while throttled (a hot loop would take 1)",
                      engine_cores is not None and engine_cores < 0.25, f"{engine_cores} cores")
        account.check("backpressure took part (the blocking WARN was logged)",
                      any(line["message"] == BLOCKING_MESSAGE for line in log_messages(runner, "warn")),
                      "no blocking WARN")
        pending = max((s["pending"] for s in runner.samples()), default=0)
        account.check("pending records bounded by max_pending_records (1000)", pending <= 1000, f"{pending}")
        account.check("memory bounded (peak RSS < 1.2 GiB with a 512 MiB heap)", runner.peak_rss_kb() < 1.2 * 1024 * 1024)
        account.note(f"offered {rate:.0f} events/s of {size} bytes for {duration}s; {result['sent']} went in; "
                     f"{puts} PutRecords ({puts / duration:.1f}/s), {stats['faults']['shard_throttled']} entries "
                     f"throttled; CPU {cores:.2f} cores (producer threads {engine_cores:.2f}); peak pending {pending}")
        accounts.append(account)
    return accounts


# ---- 2. transient faults -----------------------------------------------------------------------

def transient_faults(ctx):
    """2. 30% InternalFailure, then 5xx bursts, then answers slower than request_timeout, then resets (5 s each)."""
    name, phase = "faults", 5
    steps = [
        (0, {"entry_internal_failure": 0.3}),
        (phase, {"http_500": 0.7}), (phase + 1, {}), (phase + 2, {"http_503": 0.7}), (phase + 3, {}),
        (phase + 4, {"http_500": 0.4, "http_503": 0.4}),
        (2 * phase, {"latency_ms": 1500}),
        (3 * phase, {"reset": 0.3}),
        (4 * phase, {"commit_then_drop": 0.1}),
        (5 * phase, {}),
    ]
    # The phases start with the first batch back; generation runs a little past the last one.
    duration = 5 * phase + 4
    with server(ctx, name, [("faults", 4)]) as srv:
        runner = Runner(ctx, name, config(srv, "faults", request_timeout=1000, record_ttl=120000),
                        duration=duration, rate=1500)
        runner.start()
        runner.wait_flowing()
        schedule = Schedule([(at, lambda f=f: srv.set_faults(**f)) for at, f in steps]).start()
        result = runner.wait(timeout=duration + 240)
        schedule.join()
        store = read_store(srv, ["faults"])
        stats = srv.stats()
    faults = stats["faults"]
    account = Account("2 transient faults", ids(name, range(result["sent"])), store, runner.dead_letters(),
                      result["dropped"], runner.peak_rss_kb(),
                      ambiguous="answers lost after commit, and answers slower than request_timeout")
    account.check("runner finished cleanly", result["worker_errors"] == 0)
    account.check("schedule ran", not schedule.errors, "; ".join(schedule.errors))
    account.check("nothing dead-lettered: every fault was transient", result["dead_lettered"] == 0,
                  f"{result['dead_lettered']}")
    injected = {key: faults[key] for key in ("entry_internal_failure", "http_500", "http_503", "delayed", "reset",
                                             "commit_then_drop")}
    account.check("every fault was injected", all(injected.values()), f"{injected}")
    account.check("records were retried", result["retried"] > 0)
    account.note(f"faults injected: {injected}; {result['retried']} events needed more than one attempt")
    return [account]


# ---- 3. outage longer than record_ttl ------------------------------------------------------------

def outage(ctx):
    """3. Endpoint down 6 s with record_ttl 3 s: records fail for good into the DLQ; new events flow again after."""
    name, rate, down_at, down_s, duration = "outage", 800, 3, 6, 14
    with server(ctx, name, [("outage", 2)]) as srv:
        runner = Runner(ctx, name, config(srv, "outage", record_ttl=3000, request_timeout=1000),
                        duration=duration, rate=rate)
        runner.start()
        runner.wait_flowing()
        schedule = Schedule([(down_at, lambda: srv.outage(down_s * 1000))]).start()
        result = runner.wait(timeout=duration + 120)
        schedule.join()
        store = read_store(srv, ["outage"])
    dead = runner.dead_letters()
    account = Account("3 outage > record_ttl", ids(name, range(result["sent"])), store, dead, result["dropped"],
                      runner.peak_rss_kb(), ambiguous="open connections dropped when the outage began")
    account.check("schedule ran", not schedule.errors, "; ".join(schedule.errors))
    account.check("records failed for good and were dead-lettered", len(dead) > 0, "no dead letter")
    unclear = [d["reason"] for d in dead if "Expired" not in d["reason"] or "record_ttl" not in d["reason"]]
    account.check("every dead letter names the cause (Expired, record_ttl, last error)", not unclear,
                  f"{len(unclear)} unclear, e.g. {unclear[:1]}")
    # Batches are handed out in sequence order: the last one went in at the end of the run,
    # long after the endpoint was back.
    last_batch = {f"{name}-{seq}" for seq in range(max(0, result["sent"] - 125), result["sent"])}
    late_failed = [i for i in last_batch if i not in store.ids]
    back_ms = schedule.started_ms + (down_at + down_s) * 1000
    arrived_after = sum(1 for a in store.arrivals if a[0] > back_ms)
    account.check("events flow again after the outage without a restart (the last batch delivered, records "
                  "stored after the endpoint came back)", not late_failed and arrived_after > 0,
                  f"{len(late_failed)} of the last batch not delivered; {arrived_after} records stored after")
    if dead:
        account.note(f"dead letter reason: {dead[0]['reason']}")
    return [account]


# ---- 4. resharding -------------------------------------------------------------------------------

def resharding(ctx):
    """4. Shard splits and merges under load: no record where a consumer would drop it, nothing lost."""
    name, duration = "reshard", 16
    with server(ctx, name, [("reshard", 4)]) as srv:
        runner = Runner(ctx, name, config(srv, "reshard"), duration=duration, rate=2000)
        runner.start()
        runner.wait_flowing()
        topology = {}

        def split():
            topology["a"] = srv.split("reshard", "shardId-000000000000")
            topology["b"] = srv.split("reshard", "shardId-000000000002")
            return topology

        def merge_first():
            # The upper child of shard 0 and shard 1 are adjacent.
            topology["c"] = srv.merge("reshard", topology["a"][1], "shardId-000000000001")
            return topology["c"]

        def merge_second():
            # That merged shard and the lower child of shard 2 are adjacent.
            topology["d"] = srv.merge("reshard", topology["c"], topology["b"][0])
            return topology["d"]

        schedule = Schedule([(4, split), (8, merge_first), (12, merge_second)]).start()
        result = runner.wait(timeout=duration + 120)
        schedule.join()
        store = read_store(srv, ["reshard"])
    account = Account("4 split and merge", ids(name, range(result["sent"])), store, runner.dead_letters(),
                      result["dropped"], runner.peak_rss_kb(), ambiguous="")
    account.check("schedule ran", not schedule.errors, "; ".join(schedule.errors))
    account.check("nothing dead-lettered", result["dead_lettered"] == 0, f"{result['dead_lettered']}")
    check_kinesis_records(account, result, store)
    account.note(f"topology changes: {schedule.done}")
    return [account]


# ---- 5. crashes and shutdown ---------------------------------------------------------------------

def crash(ctx):
    """5. SIGKILL at random moments (3 times), resuming like a persistent queue: every acked event is in the stream."""
    name, events, kills = "crash", 18000, 3
    faults = {"entry_internal_failure": 0.05, "commit_then_drop": 0.02, "latency_ms": 20}
    accounts = []
    with server(ctx, name, [("crash", 4)]) as srv:
        srv.set_faults(**faults)
        cfg = config(srv, "crash", request_timeout=1000)
        runner = Runner(ctx, name, cfg, events=events, rate=3000)
        in_flight_delivered = 0
        kill_notes, broken = [], []
        for kill in range(1, kills + 1):
            runner.args = [a for a in runner.args if a != "--replay"] + (["--replay"] if kill > 1 else [])
            acked_before = len(runner.acked())
            runner.start()
            runner.wait_ready()
            # Kill once batches are flowing: after a random number of them returned, at a random moment.
            target = acked_before + ctx.rng.randrange(250, 4000)
            started = time.monotonic()
            wait_for(lambda: len(runner.acked()) >= target or runner.process.poll() is not None, 120,
                     f"{target} events acked")
            time.sleep(ctx.rng.uniform(0, 0.3))
            delay = time.monotonic() - started
            runner.kill()
            time.sleep(0.5)  # requests already at the server finish
            acked = runner.acked()
            store = read_store(srv, ["crash"])
            dead = {entry["id"] for entry in runner.dead_letters()}
            lost = [seq for seq in acked if f"{name}-{seq}" not in store.ids and f"{name}-{seq}" not in dead]
            unacked_delivered = sum(1 for i in store.ids if int(i.rsplit("-", 1)[1]) not in acked)
            in_flight_delivered += unacked_delivered
            kill_notes.append(f"kill {kill} {delay:.1f}s after register: {len(acked)} acked so far, {len(lost)} of "
                              f"them missing, {unacked_delivered} delivered but not acked")
            if lost:
                broken.append(f"kill {kill}: acked but not in the stream nor the DLQ: {lost[:5]}")
        runner.args = [a for a in runner.args if a != "--replay"] + ["--replay"]
        srv.set_faults()
        result = runner.run(timeout=300)
        store = read_store(srv, ["crash"])
    account = Account(f"5a SIGKILL x{kills} + replay", ids(name, range(events)), store, runner.dead_letters(),
                      result["dropped"], runner.peak_rss_kb(),
                      ambiguous="batches in flight at SIGKILL are replayed; answers lost after commit")
    account.check("every event whose batch returned was in the stream (or DLQ) at each kill", not broken,
                  "; ".join(broken))
    account.check("the last run acked the rest", len(runner.acked()) == events,
                  f"{len(runner.acked())} of {events} acked")
    for note in kill_notes:
        account.note(note)
    accounts.append(account)
    accounts += shutdown_while_retrying(ctx)
    return accounts


def shutdown_while_retrying(ctx):
    """Graceful shutdown while every request fails: handed back (8.8+) or held until delivered (older)."""
    variants = [("5b shutdown while retrying, Logstash 8.8+", "handback", True),
                ("5c shutdown while retrying, Logstash < 8.8", "holdon", False)]
    # The two wait on failing requests most of the time: run them side by side.
    with concurrent.futures.ThreadPoolExecutor(len(variants)) as pool:
        return list(pool.map(lambda v: shutdown_variant(ctx, *v), variants))


def shutdown_variant(ctx, title, name, hand_back):
    events = 3000
    with server(ctx, name, [("shutdown", 2)]) as srv:
        srv.set_faults(http_503=1.0)
        cfg = config(srv, "shutdown", request_timeout=1000, record_ttl=120000)
        runner = Runner(ctx, name, cfg, events=events, rate=1000, hand_back=hand_back)
        runner.start()
        runner.wait_ready()
        time.sleep(2)
        runner.terminate()
        if not hand_back:
            # Older Logstash waits for the batch: let the endpoint recover meanwhile.
            time.sleep(2)
            srv.set_faults()
        first = runner.wait(timeout=120)
        acked_at_shutdown = runner.acked()
        store_at_shutdown = read_store(srv, ["shutdown"])
        dead = {entry["id"] for entry in runner.dead_letters()}
        acked_lost = [s for s in acked_at_shutdown
                      if f"{name}-{s}" not in store_at_shutdown.ids and f"{name}-{s}" not in dead]
        srv.set_faults()
        runner.args.append("--replay")
        result = runner.run(timeout=180)
        store = read_store(srv, ["shutdown"])
    account = Account(title, ids(name, range(events)), store, runner.dead_letters(), result["dropped"],
                      runner.peak_rss_kb(), ambiguous="")
    account.check("shutdown finished cleanly", first is not None and first["worker_errors"] == 0, f"{first}")
    account.check("never acked and dropped", not acked_lost, f"{len(acked_lost)} acked but neither delivered "
                  "nor dead-lettered")
    if hand_back:
        account.check("batches still retrying were handed back, none acked",
                      first and first["aborted"] > 0 and first["handed_back"] == first["aborted"]
                      and not acked_at_shutdown, f"{first}")
    else:
        account.check("batches were held until delivered, then acked",
                      first and first["aborted"] == 0 and first["acked"] == first["sent"] > 0
                      and first["delivered"] == first["acked"], f"{first}")
    if first:
        account.note(f"at shutdown: {first['sent']} events sent, {first['acked']} acked, {first['aborted']} handed "
                     f"back; the replay sent the rest")
    return account


# ---- 6. bad input --------------------------------------------------------------------------------

# Expected fate of each case of mixes/bad_input.rb: ("delivered", partition key) or
# ("dead_letter", words its reason must contain).
BAD_INPUT = {
    "good": ("delivered", None),
    "empty_payload": ("delivered", None),
    "key_missing": ("delivered", lambda seq: "-"),
    "key_empty": ("delivered", lambda seq: "-"),
    "key_integer": ("delivered", lambda seq: f"-{seq}"),
    "key_float": ("delivered", lambda seq: f"-{seq}.5"),
    "key_boolean": ("delivered", lambda seq: "-true"),
    "key_hash": ("delivered", lambda seq: '-{"n":%d}' % seq),
    "key_array": ("delivered", lambda seq: f"-{seq},x"),
    "key_invalid_utf8": ("delivered", lambda seq: f"-k\ufffd\ufffd{seq}"),
    "too_large": ("dead_letter", ["max_record_size"]),
    "key_300_chars": ("dead_letter", ["partition key", "301 characters", "256"]),
    "hash_key_too_big": ("dead_letter", ["explicit hash key", "InvalidExplicitHashKey"]),
    "hash_key_not_a_number": ("dead_letter", ["explicit hash key", "InvalidExplicitHashKey"]),
    "stream_unresolved": ("dead_letter", ["stream_name", "%{target}"]),
    "stream_missing": ("dead_letter", ["ResourceNotFoundException", "no-such-stream"]),
    "stream_denied": ("dead_letter", ["AccessDeniedException", "denied-stream"]),
}


def bad_input(ctx):
    """6. Bad input (oversized, empty, bad keys, bad hash keys, bad streams) next to good events; 10,000 streams."""
    name, events = "bad-input", 5000
    with server(ctx, name, [("bad-input", 4), ("denied-stream", 1)]) as srv:
        srv.set_faults(denied_streams=["denied-stream"])
        cfg = config(srv, "%{target}", event_partition_keys=["pk"], explicit_hash_key="%{ehk}",
                     codec={"plain": {"format": "%{body}"}})
        runner = Runner(ctx, name, cfg, events=events, mix=os.path.join(MIXES, "bad_input.rb"), engine_log=True)
        result = runner.run(timeout=300)
        store = read_store(srv, ["bad-input", "denied-stream"])
    dead = runner.dead_letters()
    account = Account("6a bad input", ids(name, range(events)), store, dead, result["dropped"], runner.peak_rss_kb(),
                      ambiguous="")
    account.check("runner finished cleanly", result["worker_errors"] == 0)
    check_kinesis_records(account, result, store)
    cases = {}
    for seq in range(events):
        cases.setdefault(bad_input_case(seq), []).append(seq)
    dead_by_id = {entry["id"]: entry for entry in dead}
    for case, seqs in sorted(cases.items()):
        fate, detail = BAD_INPUT[case]
        wrong = []
        for seq in seqs:
            event_id = f"{name}-{seq}"
            if fate == "delivered":
                if event_id not in store.ids:
                    wrong.append(f"{event_id} not delivered ({dead_by_id.get(event_id, {}).get('reason')})")
                elif detail and store.keys[event_id] != detail(seq):
                    wrong.append(f"{event_id} has key {store.keys[event_id]!r}, not {detail(seq)!r}")
            elif event_id not in dead_by_id:
                wrong.append(f"{event_id} not dead-lettered")
            elif not all(word in dead_by_id[event_id]["reason"] for word in detail):
                wrong.append(f"{event_id}: reason {dead_by_id[event_id]['reason']!r} lacks {detail}")
        shown = f"{fate}" + (f" with a reason naming {detail}" if fate == "dead_letter" else "")
        account.check(f"{case} ({len(seqs)}): {shown}", not wrong, "; ".join(wrong[:2]))
    examples = {}
    for entry in dead:
        examples.setdefault(entry["case"], entry["reason"])
    for case, reason in sorted(examples.items()):
        account.note(f"{case}: {reason}")
    return [account, bad_input_without_dlq(ctx), fan_out(ctx)]


def bad_input_without_dlq(ctx):
    """The same bad input with the dead letter queue off: failures are logged at ERROR and counted."""
    name, events = "no-dlq", 1000
    with server(ctx, name, [("bad-input", 4), ("denied-stream", 1)]) as srv:
        srv.set_faults(denied_streams=["denied-stream"])
        cfg = config(srv, "%{target}", event_partition_keys=["pk"], explicit_hash_key="%{ehk}",
                     codec={"plain": {"format": "%{body}"}})
        runner = Runner(ctx, name, cfg, events=events, mix=os.path.join(MIXES, "bad_input.rb"), dlq=False)
        result = runner.run(timeout=300)
        store = read_store(srv, ["bad-input", "denied-stream"])
    account = Account("6c bad input, DLQ off", ids(name, range(events)), store, [], result["dropped"],
                      runner.peak_rss_kb(), ambiguous="")
    should_fail = sum(1 for seq in range(events) if BAD_INPUT[bad_input_case(seq)][0] == "dead_letter")
    errors = [line for line in log_messages(runner, "error") if "dropping it" in line["message"]]
    account.check(f"every failed event logged at ERROR with its reason and counted ({should_fail})",
                  result["dropped"] == should_fail == len(errors) and all(line["data"].get("reason") for line in errors),
                  f"dropped {result['dropped']}, ERROR lines {len(errors)}")
    if errors:
        account.note(f"ERROR: {errors[0]['message']} reason={errors[0]['data'].get('reason')}")
    return account


def bad_input_case(seq):
    """The case of mixes/bad_input.rb for `seq` (the same rule as the Ruby mix)."""
    cases = {1: "empty_payload", 3: "key_missing", 5: "key_empty", 7: "key_300_chars", 9: "key_integer",
             11: "key_float", 13: "key_boolean", 15: "key_hash", 17: "key_array", 19: "key_invalid_utf8",
             21: "hash_key_too_big", 23: "hash_key_not_a_number", 25: "stream_unresolved", 27: "stream_missing",
             29: "stream_denied"}
    if seq % 500 == 33:
        return "too_large"
    return cases.get(seq % 50, "good")


def fan_out(ctx, streams=10000):
    """10,000 distinct stream names, one event each: bounded memory and threads."""
    name = "fan-out"
    names = [f"fan-{i:05d}" for i in range(streams)]
    with server(ctx, name, [(n, 1) for n in names]) as srv:
        runner = Runner(ctx, name, config(srv, "%{target}"), events=streams, mix=os.path.join(MIXES, "fan_out.rb"),
                        env={"FAN_OUT_STREAMS": str(streams)})
        result = runner.run(timeout=600)
        store = read_store(srv, names)
    samples = runner.samples()
    threads = max(s["threads"] for s in samples)
    start_rss = samples[0]["rss_kb"]
    sending = [s for s in samples if s["t"] <= result["send_seconds"]]
    account = Account("6b 10,000 streams", ids(name, range(streams)), store, runner.dead_letters(),
                      result["dropped"], runner.peak_rss_kb(), ambiguous="")
    account.check("nothing dead-lettered", result["dead_lettered"] == 0, f"{result['dead_lettered']}")
    check_kinesis_records(account, result, store)
    account.check("threads bounded (no thread per stream: at most 40)", threads <= 40, f"{threads} threads")
    growth = (max(s["rss_kb"] for s in sending) - start_rss) / 1024
    bound = streams * 16 / 1024 + 64
    account.check(f"memory bounded while sending: RSS at most 16 KiB per stream + 64 MiB = {bound:.0f} MiB above "
                  "the start", growth <= bound, f"+{growth:.0f} MiB")
    account.note(f"{streams} streams in {result['send_seconds']}s; at most {threads} threads; RSS +{growth:.0f} MiB "
                 f"while sending, +{(runner.peak_rss_kb() - start_rss) / 1024:.0f} MiB at the peak (close reads the "
                 f"engine's metrics of every stream); {result['kinesis_requests']} requests")
    return account


# ---- 7. bad configuration ------------------------------------------------------------------------

def bad_config(ctx):
    """7. Bad configuration: every wrong type, out-of-range value and conflict fails register naming the option."""
    with server(ctx, "bad-config", [("bad-config", 1)]) as srv:
        output = os.path.join(ctx.work, "bad-config.json")
        env = dict(os.environ, GEM_PATH=ctx.gem_path, JRUBY_OPTS=ctx.jruby_opts, KINESIS_ENDPOINT=srv.endpoint,
                   SENTINEL_ACCESS_KEY=ACCESS_KEY, SENTINEL_SECRET_KEY=SECRET_KEY)
        env.pop("GEM_HOME", None)
        with open(os.path.join(ctx.work, "bad-config.err"), "wb") as err:
            status = subprocess.run(["jruby", os.path.join(REPO, "tests", "reliability", "bad_config.rb"), output],
                                    env=env, stdout=err, stderr=subprocess.STDOUT, timeout=300, check=False).returncode
        stats = srv.stats()
    account = Account.checks_only("7 bad configuration")
    try:
        with open(output, encoding="utf-8") as file:
            report = json.load(file)
    except (FileNotFoundError, ValueError):
        account.check("bad_config.rb wrote its report", False, f"exit {status}")
        return [account]
    failed = [case for case in report["cases"] if not case["ok"]]
    account.check(f"{len(report['cases'])} bad configurations refused, each naming its option", not failed,
                  "; ".join(f"{c['case']}: {c['problem']}" for c in failed[:4]))
    account.check("nothing started half-way: no producer thread, no request to Kinesis",
                  report["producer_threads"] == 0 and stats["requests"] == 0,
                  f"{report['producer_threads']} producer threads, {stats['requests']} requests")
    account.check("the good configuration still registers", report["good_registered"], "")
    account.check("no secret in any message", not report["secret_leaks"], f"{report['secret_leaks']}")
    account.values["events in"] = f"{len(report['cases'])} configs"
    for case in report["cases"][:: max(1, len(report["cases"]) // 6)]:
        account.note(f"{case['case']}: {case['message'][:150]}")
    return [account]


# ---- 8. memory and threads with a stalled endpoint ---------------------------------------------

def stalled(ctx):
    """8. Stalled endpoint: RSS and threads stay within the bound from max_pending_*, and come back after."""
    name, rate, phase = "stalled", 600, 10
    pending_records, pending_bytes, size = 1000, 8 * MIB, 16 * 1024
    with server(ctx, name, [("stalled", 2)]) as srv:
        cfg = config(srv, "stalled", request_timeout=2000, record_ttl=120000, max_pending_records=pending_records,
                     max_pending_bytes=pending_bytes)
        # 8 workers x 100 events of 16 KiB want 12.5 MiB in flight: max_pending_bytes holds them back.
        runner = Runner(ctx, name, cfg, duration=3 * phase + 4, rate=rate, message_bytes=size, workers=8,
                        batch=100)
        runner.start()
        runner.wait_flowing()
        schedule = Schedule([(phase, lambda: srv.set_faults(hang=1.0)), (2 * phase, lambda: srv.set_faults())]).start()
        result = runner.wait(timeout=3 * phase + 240)
        schedule.join()
        store = read_store(srv, ["stalled"])
        stats = srv.stats()
    # Sample times count from register; the phases from the first batch back.
    samples = runner.samples()
    lag = schedule.started - runner.ready_at
    base = window(samples, lag + phase - 5, lag + phase)
    stall = window(samples, lag + phase + 2, lag + 2 * phase)
    after = window(samples, lag + 3 * phase - 4, lag + 3 * phase)
    account = Account("8 stalled endpoint", ids(name, range(result["sent"])), store, runner.dead_letters(),
                      result["dropped"], runner.peak_rss_kb(), ambiguous="")
    account.check("schedule ran", not schedule.errors, "; ".join(schedule.errors))
    account.check("the endpoint stalled (hung requests)", stats["faults"]["hang"] > 0)
    check_kinesis_records(account, result, store)
    if not (base and stall and after):
        account.check("samples cover every phase", False, f"{len(base)}, {len(stall)}, {len(after)}")
        return [account]
    mib = lambda kb: kb / 1024  # noqa: E731
    peak = lambda w, key: max(s[key] for s in w)  # noqa: E731
    base_rss, stall_rss, after_rss = (peak(w, "rss_kb") for w in (base, stall, after))
    base_threads, stall_threads, after_threads = (peak(w, "threads") for w in (base, stall, after))
    base_fds, stall_fds, after_fds = (peak(w, "fds") for w in (base, stall, after))
    held, held_bytes = peak(stall, "pending"), peak(stall, "pending_bytes")
    # Held records are copied once into the engine and once into aggregates; the JVM holds
    # the blocked batches (workers x batch events).
    bound_kb = base_rss + (2 * pending_bytes + 8 * 100 * size) / 1024 + 64 * 1024
    account.check(f"held records within max_pending_records ({pending_records})", held <= pending_records, f"{held}")
    account.check(f"held bytes reach, but stay within, max_pending_bytes ({pending_bytes})",
                  pending_bytes / 2 < held_bytes <= pending_bytes, f"{held_bytes}")
    account.check("RSS while stalled <= baseline + 2 x max_pending_bytes + blocked batches + 64 MiB",
                  stall_rss <= bound_kb, f"{mib(stall_rss):.0f} MiB > {mib(bound_kb):.0f} MiB")
    account.check("threads while stalled <= baseline + 2", stall_threads <= base_threads + 2,
                  f"{stall_threads} vs {base_threads}")
    account.check("descriptors while stalled <= baseline + max_connections + 4", stall_fds <= base_fds + 4 + 4,
                  f"{stall_fds} vs {base_fds}")
    account.check("after recovery: threads and descriptors back near baseline",
                  after_threads <= base_threads + 2 and after_fds <= base_fds + 4,
                  f"threads {after_threads} vs {base_threads}, fds {after_fds} vs {base_fds}")
    account.check("after recovery: RSS within 64 MiB of baseline", after_rss <= base_rss + 64 * 1024,
                  f"{mib(after_rss):.0f} MiB vs {mib(base_rss):.0f} MiB")
    account.note(f"RSS baseline {mib(base_rss):.0f} MiB, stalled {mib(stall_rss):.0f} MiB (bound "
                 f"{mib(bound_kb):.0f}), after {mib(after_rss):.0f} MiB; threads {base_threads} / {stall_threads} / "
                 f"{after_threads}; fds {base_fds} / {stall_fds} / {after_fds}; held while stalled: {held} records, "
                 f"{held_bytes / MIB:.1f} MiB")
    return [account]


# ---- 10. TLS and secrets -------------------------------------------------------------------------

def tls(ctx):
    """10. TLS verification on by default (self-signed endpoint refused), off with a WARN; no secret anywhere."""
    accounts = []
    with server(ctx, "tls", [("tls-strict", 2), ("tls-lax", 2)], tls=True) as srv:
        strict = Runner(ctx, "tls-strict", config(srv, "tls-strict", record_ttl=2000), events=200, engine_log=True)
        strict_result = strict.run(timeout=180)
        lax = Runner(ctx, "tls-lax", config(srv, "tls-lax", verify_certificate=False), events=200, engine_log=True)
        lax_result = lax.run(timeout=180)
        strict_store = read_store(srv, ["tls-strict"])
        store = read_store(srv, ["tls-lax"])
    account = Account("10a TLS verified by default", ids("tls-strict", range(200)), strict_store, strict.dead_letters(),
                      strict_result["dropped"], strict.peak_rss_kb(), ambiguous="")
    reasons = [entry["reason"] for entry in strict.dead_letters()]
    account.check("self-signed endpoint refused: every event dead-lettered", len(reasons) == 200,
                  f"{len(reasons)} dead letters")
    account.check("the reason names the certificate problem", reasons and all("certificate" in r for r in reasons),
                  f"{reasons[:1]}")
    if reasons:
        account.note(f"reason: {reasons[0]}")
    accounts.append(account)

    account = Account("10b verify_certificate => false", ids("tls-lax", range(200)), store, lax.dead_letters(),
                      lax_result["dropped"], lax.peak_rss_kb(), ambiguous="")
    warns = [line for line in log_messages(lax, "warn") if "certificate" in line["message"].lower()]
    account.check("WARN at register that certificates are not verified", bool(warns), "no such WARN")
    account.check("every event delivered", lax_result["delivered"] == 200, f"{lax_result['delivered']}")
    check_kinesis_records(account, lax_result, store)
    strict_warns = [line for line in log_messages(strict, "warn") if "certificate" in line["message"].lower()
                    and "verif" in line["message"].lower()]
    account.check("no such WARN when verification is on", not strict_warns, f"{strict_warns[:1]}")
    if warns:
        account.note(f"WARN: {warns[0]['message']}")
    accounts.append(account)

    secrets = Account.checks_only("10c no secret in logs, errors, metrics")
    outputs = [os.path.join(ctx.work, f) for f in sorted(os.listdir(ctx.work))
               if not f.endswith(".config") and os.path.isfile(os.path.join(ctx.work, f))]
    engine_logs = [f for f in outputs if f.endswith(".engine") and os.path.getsize(f) > 0]
    secrets.check("the native producer's DEBUG log was captured (log4j2)", engine_logs, "no engine log written")
    leaks = scan_for_secrets(outputs)
    secrets.check(f"the sentinel credentials appear in none of {len(outputs)} output files (plugin and engine "
                  "logs, dead letters, metrics, stdout, stderr)", not leaks, f"{leaks}")
    accounts.append(secrets)
    return accounts


# ---- 9. soak -------------------------------------------------------------------------------------

def soak(ctx):
    """9. Soak: mixed traffic with random faults (default 10 minutes): no growth in RSS, threads or descriptors."""
    name = "soak"
    seconds = int(ctx.soak_minutes * 60)
    streams = [("soak-a", 4), ("soak-b", 2), ("soak-c", 1)]
    menu = [
        {"entry_internal_failure": 0.1}, {"entry_throughput_exceeded": 0.2}, {"http_503": 0.2},
        {"http_500": 0.1, "reset": 0.1}, {"commit_then_drop": 0.05}, {"latency_ms": 300},
        {"shard_throughput": {"records_per_sec": 1000, "bytes_per_sec": MIB}}, {}, {},
    ]
    with server(ctx, name, streams) as srv:
        cfg = config(srv, "%{target}", event_partition_keys=["pk"], request_timeout=2000)
        # 400 events/s: the whole run stays in the test server's memory for the accounting.
        runner = Runner(ctx, name, cfg, duration=seconds, rate=400, mix=os.path.join(MIXES, "soak.rb"),
                        sample_ms=5000)
        runner.start()
        runner.wait_flowing()
        actions, chosen = [], []
        for at in range(20, seconds - 20, 20):
            if ctx.rng.random() < 0.1:
                actions.append((at, lambda: srv.outage(1500)))
                chosen.append("outage 1.5 s")
            else:
                faults = ctx.rng.choice(menu)
                actions.append((at, lambda f=faults: srv.set_faults(**f)))
                chosen.append(json.dumps(faults))
        actions.append((seconds - 20, lambda: srv.set_faults()))
        schedule = Schedule(actions).start()
        result = runner.wait(timeout=seconds + 600)
        schedule.join()
        store = read_store(srv, [s for s, _ in streams])
    samples = runner.samples()
    account = Account(f"9 soak {ctx.soak_minutes:g} min", ids(name, range(result["sent"])), store,
                      runner.dead_letters(), result["dropped"], runner.peak_rss_kb(),
                      ambiguous="answers lost after commit; outages")
    early = window(samples, 60, 120)
    late = window(samples, seconds - 60, seconds)
    if early and late:
        avg = lambda w, key: sum(s[key] for s in w) / len(w)  # noqa: E731
        rss_growth = avg(late, "rss_kb") / avg(early, "rss_kb") - 1
        account.check("RSS: last minute within 15% of the second minute", rss_growth < 0.15,
                      f"{rss_growth:+.1%}")
        account.check("threads: no growth (+2 at most)", max(s["threads"] for s in late)
                      <= max(s["threads"] for s in early) + 2)
        account.check("file descriptors: no growth (+4 at most)", max(s["fds"] for s in late)
                      <= max(s["fds"] for s in early) + 4)
        account.note(f"RSS {avg(early, 'rss_kb') / 1024:.0f} -> {avg(late, 'rss_kb') / 1024:.0f} MiB "
                     f"({rss_growth:+.1%}), threads {max(s['threads'] for s in early)} -> "
                     f"{max(s['threads'] for s in late)}, fds {max(s['fds'] for s in early)} -> "
                     f"{max(s['fds'] for s in late)}, CPU {samples[-1]['cpu_s']:.0f} s")
    else:
        account.check("samples cover the run", False, "too short for the growth checks")
    account.check("schedule ran", not schedule.errors, "; ".join(schedule.errors[:3]))
    account.note(f"{result['sent']} events in {seconds}s; faults in turn: {', '.join(chosen[:12])}"
                 + (" ..." if len(chosen) > 12 else ""))
    return [account]


# name, function, run in CI
ALL = [
    ("throttling", throttling, True),
    ("faults", transient_faults, True),
    ("outage", outage, True),
    ("resharding", resharding, True),
    ("crash", crash, True),
    ("bad-input", bad_input, True),
    ("bad-config", bad_config, True),
    ("stalled", stalled, True),
    ("tls", tls, True),
    ("soak", soak, False),
]
