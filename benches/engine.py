"""Engine benchmark (crates/kinesis-producer/benches/engine.rs) with the load recorded, and its
profile: where the producer's CPU time goes, from `perf record` of one aggregated run.

  engine:  cargo bench ... --runs 3: records/s, CPU per million records against the floor of
           unavoidable work, aggregate and request fill, batch latency, peak RSS; then the
           aggregated case with a longer buffering time, a sustained run, and 2 KB records.
  profile: perf (Debian package linux-perf) samples the benchmark process (the test server runs
           apart) for 200-byte records with aggregation, without the floor computation; the
           summary (self time by component, top functions, inclusive time of the engine's
           stages) goes to docs/benchmarks/engine-profile.txt.

Run through benches/run.sh engine / benches/run.sh profile.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, load, result_lines, save, say

PROFILE_SUMMARY = REPO / "docs" / "benchmarks" / "engine-profile.txt"

# Self time is grouped by the first pattern that matches "symbol [dso]".
COMPONENTS = [
    ("MD5 (hash keys, aggregate checksums)", r"md5|Md5|md_5"),
    ("SHA-256 (SigV4 payload hash)", r"sha2|sha256|Sha256|sha_256|aws_lc.*SHA|sha256_block"),
    ("base64 (PutRecords JSON)", r"base64"),
    ("JSON writing (request body)", r"aws_smithy_json|serde_json|json"),
    ("aggregation / protobuf", r"kinesis_producer::aggregation|kinesis_record|prost"),
    ("engine: batching, routing, outcomes", r"kinesis_producer"),
    ("TLS / crypto", r"rustls|aws_lc|ring::"),
    ("HTTP (hyper)", r"hyper|h2::|http::"),
    ("AWS SDK request pipeline", r"aws_smithy|aws_sdk|aws_sigv4|aws_runtime|aws_types|aws_credential"),
    ("tokio runtime and sync", r"tokio|parking_lot|crossbeam|futex|std::sync|std::thread"),
    ("memory (malloc, free, memcpy)", r"malloc|free|realloc|memcpy|memmove|memset|alloc::|_int_|cfree|calloc"),
    ("kernel (syscalls, network, scheduling)", r"\[k\]|\[kernel"),
]


SUSTAINED_RECORDS = 5_000_000
TWO_KB_RECORDS = 300_000


def run_bench(command) -> list:
    """Runs the engine benchmark; prints its table and returns its RESULT rows."""
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    sys.stdout.write("\n".join(l for l in done.stdout.splitlines() if not l.startswith("RESULT ")) + "\n")
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit("engine benchmark failed")
    say(f"load after: {load()}")
    return result_lines(done.stdout)


def run_engine(records: int, runs: int) -> None:
    say(f"load before: {load()}")
    subprocess.run(["cargo", "build", "--release", "-p", "kinesis-test-server"], cwd=REPO, check=True)
    command = ["cargo", "bench", "-p", "kinesis-producer", "--bench", "engine", "--",
               "--records", str(records), "--runs", str(runs), "--json"]
    rows = run_bench(command)
    after = load()
    # Request fill is bounded by the time left after aggregation within record_max_buffered_time:
    # the same aggregated run with a longer buffering time shows what the collector does then.
    buffered_500 = run_bench(command[:-1] + ["--case", "on:0", "--option", "record_max_buffered_time=500", "--json"])
    # Fill under sustained load: a run long enough (about 10 s here) that the start, before the
    # shards' rate limits engage, and the last partial request weigh little.
    sustained = run_bench(command[:-1] + ["--records", str(SUSTAINED_RECORDS), "--case", "on:0", "--json"])
    load_after_sustained = load()
    # 2 KB records: what the engine and its floor take per record for the pipeline benchmark's
    # larger events, with and without aggregation.
    two_kb = run_bench(command[:-1] + ["--records", str(TWO_KB_RECORDS), "--size", "2048",
                                       "--case", "on:0", "--case", "off:0", "--json"])
    save("engine", "benches/run.sh engine  (= " + " ".join(command) + ")",
         {"records": records, "runs": runs, "rows": rows, "load_after": after,
          "buffered_500": buffered_500, "sustained": sustained, "load_after_sustained": load_after_sustained,
          "two_kb": two_kb, "load_after_two_kb": load()})


def bench_binary() -> Path:
    """Builds the engine benchmark and returns its executable."""
    done = subprocess.run(["cargo", "bench", "-p", "kinesis-producer", "--bench", "engine", "--no-run",
                           "--message-format=json"], cwd=REPO, check=True, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "engine" \
                and message.get("executable"):
            return Path(message["executable"])
    raise SystemExit("cargo did not report the engine benchmark executable")


def perf_report(data: Path, *args: str) -> str:
    return subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-header", *args],
                          check=True, capture_output=True, text=True).stdout


def bench_pid(data: Path, binary: Path) -> str:
    """The process ID of the benchmark in a recording (its main thread has the binary's name)."""
    script = subprocess.run(["perf", "script", "-i", str(data), "-F", "pid,comm"], check=True, capture_output=True,
                            text=True).stdout
    name = binary.name[:15]
    for line in script.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == name:
            return fields[1]
    raise SystemExit(f"no sample of {name} in the recording")


def parse_rows(report: str):
    """(percent, symbol line) of each `perf report -g none` row."""
    rows = []
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(.*\S)", line)
        if match:
            rows.append((float(match.group(1)), match.group(2)))
    return rows


def short(symbol: str) -> str:
    """A symbol without its hash suffix and generic noise, cut to a readable width."""
    symbol = re.sub(r"::h[0-9a-f]{16}", "", symbol)
    symbol = re.sub(r"\s+", " ", symbol)
    return symbol if len(symbol) <= 110 else symbol[:107] + "..."


def run_profile(records: int) -> None:
    if shutil.which("perf") is None:
        raise SystemExit("perf not found: apt-get install -y linux-perf")
    subprocess.run(["cargo", "build", "--release", "-p", "kinesis-test-server"], cwd=REPO, check=True)
    binary = bench_binary()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as work:
        data = Path(work) / "perf.data"
        load_before = load()
        command = [str(binary), "--bench", "--records", str(records), "--case", "on:0", "--no-floor", "--json"]
        record = subprocess.run(["perf", "record", "-F", "1999", "-g", "--call-graph", "dwarf,16384", "-o", str(data),
                                 "--", *command], cwd=REPO, capture_output=True, text=True)
        if record.returncode != 0:
            sys.stderr.write(record.stdout + record.stderr)
            raise SystemExit("perf record failed")
        bench_rows = result_lines(record.stdout)
        load_after = load()
        # Only the benchmark process: perf also followed the test server it starts.
        only = ["--pid", bench_pid(data, binary)]
        flat = parse_rows(perf_report(data, *only, "--no-children", "--sort", "dso,symbol", "-g", "none",
                                      "--percent-limit", "0"))
        inclusive = parse_rows(perf_report(data, *only, "--children", "--sort", "symbol", "-g", "none",
                                           "--percent-limit", "1"))
    components = {name: 0.0 for name, _ in COMPONENTS}
    components["other"] = 0.0
    for percent, line in flat:
        name = next((n for n, pattern in COMPONENTS if re.search(pattern, line)), "other")
        components[name] += percent
    stages = [(p, l) for p, l in inclusive if "kinesis_producer::" in l or "aws_sigv4" in l
              or "aws_smithy_runtime::client::orchestrator" in l or "hyper::proto" in l]
    row = bench_rows[0] if bench_rows else {}
    lines = [
        "Engine profile: where the producer's CPU time goes",
        "",
        f"command:  benches/run.sh profile  (perf record -F 1999 --call-graph dwarf of the engine benchmark:",
        f"          --records {records} --case on:0 --no-floor; the test server runs as a separate process)",
        f"workload: {records} records of 200 bytes, random partition keys, aggregation on, 64 shards, no added RTT",
        f"result:   {row.get('records_per_sec', 0):.0f} records/s, {row.get('cpu_s_per_million', 0):.2f} CPU s per million "
        f"records (under perf), aggregate fill {row.get('aggregate_fill', 0):.3f}",
        f"load:     {load_before} before, {load_after} after (1/5/15-minute load averages, 2 cores shared)",
        "",
        "Self time by component (% of the benchmark process's samples):",
    ]
    for name, percent in sorted(components.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {percent:6.1f}%  {name}")
    lines += ["", "Top functions by self time (dso, symbol):"]
    for percent, line in flat[:30]:
        lines.append(f"  {percent:6.2f}%  {short(line)}")
    lines += ["", "Inclusive time of engine stages and of the request pipeline (>= 1%):"]
    for percent, line in stages[:30]:
        lines.append(f"  {percent:6.2f}%  {short(line)}")
    PROFILE_SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    PROFILE_SUMMARY.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    say(f"profile summary: {PROFILE_SUMMARY.relative_to(REPO)}")


def main() -> None:
    which = sys.argv[1]
    if which == "engine":
        run_engine(int(os.environ.get("BENCH_RECORDS", "2000000")), int(os.environ.get("BENCH_RUNS", "3")))
    elif which == "profile":
        run_profile(int(os.environ.get("BENCH_RECORDS", "500000")))
    else:
        raise SystemExit(f"unknown benchmark {which}")


if __name__ == "__main__":
    main()
