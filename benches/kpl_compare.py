"""Side by side with the real KPL: the same workload (200-byte records, random partition keys,
aggregation on, 64 shards) through KPL 1.0.x (addUserRecord; Java library + native daemon) and
through this project's producer (the JNI bridge), into the same test server over TLS.
Runs alternate, three each; both are measured as whole processes (JVM + daemon) from /proc.
A third driver run generates the same records without sending them: the driver's own CPU and
memory, shown as the baseline (the producer's part is the difference).

KPL and its dependencies are fetched from Maven Central into .tools/kpl/ by Maven
(benches/kpl/pom.xml): benchmark-only, never shipped, never committed.
Run through benches/run.sh kpl.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BRIDGE_JAR, NATIVE_LIBRARY, REPO, TOOLS, TestServer, load, median, run_program, save, say

POM = REPO / "benches" / "kpl" / "pom.xml"
SOURCE = REPO / "benches" / "kpl" / "ProducerComparison.java"
KPL_VERSION = "1.0.9"
SHARDS = 64
# The same JVM settings for both.
JVM_OPTIONS = ["-Xmx128m", "-XX:+UseSerialGC"]
PRODUCERS = ("none", "native", "kpl")
# Records of the footprint runs: this producer's memory when it holds next to nothing.
FOOTPRINT_RECORDS = 1000
KEY_BYTES = 16
# A full PutRecords request (collection_max_size, 5 MiB of records) as the base64 body it is signed as.
FULL_BODY_MIB = 5 * 4 / 3


def fetch_kpl() -> Path:
    """KPL and its dependencies in .tools/kpl/<version>/ (Maven, once)."""
    lib = TOOLS / "kpl" / KPL_VERSION
    if not (lib / f"amazon-kinesis-producer-{KPL_VERSION}.jar").exists():
        say(f"fetching KPL {KPL_VERSION} and its dependencies into {lib} (Maven Central)")
        subprocess.run(["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                        f"-DoutputDirectory={lib}"], check=True)
    return lib


def compile_driver(lib: Path, out: Path) -> str:
    """Compiles ProducerComparison.java; returns the class path to run it with."""
    if not BRIDGE_JAR.exists():
        raise SystemExit(f"{BRIDGE_JAR} missing: gradle -p . --no-daemon assemble")
    classpath = os.pathsep.join([str(BRIDGE_JAR), *sorted(str(j) for j in lib.glob("*.jar"))])
    subprocess.run(["javac", "--release", "11", "-nowarn", "-d", str(out), "-cp", classpath, str(SOURCE)], check=True)
    return os.pathsep.join([str(out), classpath])


def main() -> None:
    records = int(os.environ.get("BENCH_RECORDS", "1000000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    # Records without an outcome the driver allows (both producers): the engine's default bound.
    outstanding = int(os.environ.get("BENCH_OUTSTANDING", "100000"))
    name = "kpl" if outstanding == 100000 else f"kpl-outstanding-{outstanding}"
    lib = fetch_kpl()
    say(f"KPL {KPL_VERSION} vs this producer: {records} records of 200 bytes, random partition keys, "
        f"aggregation on, {SHARDS} shards, TLS, at most {outstanding} without an outcome, {runs} runs each "
        f"(median); load {load()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-kpl-") as work, \
            TestServer("--stream", f"bench:{SHARDS}", "--tls") as server:
        classpath = compile_driver(lib, Path(work) / "classes")
        java = ["java", *JVM_OPTIONS, f"-Dbench.outstanding={outstanding}", "-cp", classpath, "ProducerComparison"]
        for run in range(runs):
            pair = {"run": run + 1}
            for producer in PRODUCERS:
                command = [*java, producer, str(server.port), "bench", str(records), "200"]
                if producer == "native":
                    command.append(str(NATIVE_LIBRARY))
                row = run_program(command, env={**os.environ, "TMPDIR": work})[0]
                row["load"] = load()
                pair[producer] = row
                say(f"  run {run + 1} {producer:<6} {row['records_per_sec']:>9.0f} records/s "
                    f"{row['cpu_s_per_million']:7.2f} CPU s/M  peak RSS {row['peak_rss_mib']:7.1f} MiB "
                    f"({row['processes']} process(es))  load {row['load']}")
            native, kpl, none = pair["native"], pair["kpl"], pair["none"]
            pair["cpu_ratio"] = round(native["cpu_s_per_million"] / kpl["cpu_s_per_million"], 3)
            pair["rss_ratio"] = round(native["peak_rss_mib"] / kpl["peak_rss_mib"], 3)
            pair["producer_rss_ratio"] = round((native["peak_rss_mib"] - none["peak_rss_mib"])
                                               / (kpl["peak_rss_mib"] - none["peak_rss_mib"]), 3)
            pair["throughput_ratio"] = round(native["records_per_sec"] / kpl["records_per_sec"], 3)
            rows.append(pair)
        footprints = []
        for run in range(runs):
            small = {producer: run_program([*java, producer, str(server.port), "bench", str(FOOTPRINT_RECORDS), "200",
                                            *([str(NATIVE_LIBRARY)] if producer == "native" else [])],
                                           env={**os.environ, "TMPDIR": work})[0]
                     for producer in ("none", "native")}
            footprints.append(small["native"]["peak_rss_mib"] - small["none"]["peak_rss_mib"])
            say(f"  footprint run {run + 1}: {FOOTPRINT_RECORDS} records, this producer {footprints[-1]:.1f} MiB above "
                f"the driver alone")
    summary = {}
    say(f"{'producer':<8} {'records/s':>10} {'CPU s/M':>8} {'peak RSS MiB':>13}")
    for producer in PRODUCERS:
        summary[producer] = {
            "records_per_sec": median([p[producer]["records_per_sec"] for p in rows]),
            "cpu_s_per_million": median([p[producer]["cpu_s_per_million"] for p in rows]),
            "peak_rss_mib": median([p[producer]["peak_rss_mib"] for p in rows]),
        }
        s = summary[producer]
        say(f"{producer:<8} {s['records_per_sec']:>10.0f} {s['cpu_s_per_million']:>8.2f} {s['peak_rss_mib']:>13.1f}")
    for key in ("cpu_ratio", "rss_ratio", "producer_rss_ratio", "throughput_ratio"):
        summary[key] = median([p[key] for p in rows])
    # What this producer holds at the least: its footprint with next to no records, the bytes
    # (data and key) of every record it may hold, and one full request body while it is signed.
    summary["footprint_records"] = FOOTPRINT_RECORDS
    summary["footprint_mib"] = median(footprints)
    summary["held_records_mib"] = round(outstanding * (200 + KEY_BYTES) / 2**20, 1)
    summary["full_body_mib"] = round(min(FULL_BODY_MIB, summary["held_records_mib"] * 4 / 3), 1)
    say(f"this producer's footprint with {FOOTPRINT_RECORDS} records: {summary['footprint_mib']:.1f} MiB above the "
        f"driver; the records it may hold: {summary['held_records_mib']} MiB; their largest request body: "
        f"{summary['full_body_mib']} MiB")
    say(f"this producer / KPL (median of per-run ratios): CPU per record {summary['cpu_ratio']:.3f}, "
        f"peak RSS {summary['rss_ratio']:.3f} (above the driver's baseline: {summary['producer_rss_ratio']:.3f}), "
        f"records/s {summary['throughput_ratio']:.2f}")
    save(name, "benches/run.sh kpl", {"kpl_version": KPL_VERSION, "records": records, "shards": SHARDS,
                                      "max_outstanding": outstanding,
                                      "jvm_options": JVM_OPTIONS, "summary": summary, "runs": rows,
                                        "load_after": load()})


if __name__ == "__main__":
    sys.exit(main())
