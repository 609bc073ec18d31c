"""Pipeline benchmarks of the built gem (benches/pipeline/pipeline_bench.rb, one JVM per case).

  pipeline: events/s and CPU per event of the plugin in a 4-worker pipeline with the json codec
            into the test server, next to the same pipeline with only the codec; 200 B and 2 KB
            events. The plugin's own CPU per event is the difference (JVM process CPU: Ruby
            workers, the native engine's threads, JIT and GC). A third output does only the
            Ruby work any output has to do with these options (pipeline_bench.rb, "least"):
            its CPU above the codec's is part of the lower bound on the plugin's own.
  rtt:      20 ms added round-trip time; default delivery (at_least_once) vs at_most_once for
            pipeline.workers 2, 8, 32 and batch sizes 125, 1000.

All cases of a benchmark run in one JVM after a JIT warm-up (see pipeline_bench.rb), the two
sides of each comparison next to each other. Run through benches/run.sh (it builds and installs
the gem first).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, TestServer, load, median, run_program, save, say

RUNNER = REPO / "benches" / "pipeline" / "pipeline_bench.rb"
SHARDS = 16


def install_gem(gem_home: Path) -> dict:
    """Installs build/logstash-output-kinesis-*.gem into gem_home; returns the runner's environment."""
    gems = sorted((REPO / "build").glob("logstash-output-kinesis-*-java.gem"))
    if not gems:
        raise SystemExit("no gem in build/: gradle -p . --no-daemon gem")
    jruby = os.environ.get("JRUBY", "jruby").split()
    subprocess.run([*jruby, "-S", "gem", "install", "--local", "--ignore-dependencies", "--no-document",
                    "--install-dir", str(gem_home), str(gems[-1])], check=True, capture_output=True)
    env = dict(os.environ)
    env["GEM_PATH"] = f"{gem_home}:/usr/share/rubygems-integration/all"
    env.pop("GEM_HOME", None)
    return env


def kinesis_options(endpoint: str) -> dict:
    return {
        "stream_name": "bench", "region": "us-east-1", "access_key": "bench", "secret_key": "bench",
        "kinesis_endpoint": endpoint, "metrics_level": "none", "event_partition_keys": ["id"],
    }


def run_cases(env, workdir: Path, endpoint: str, cases, seconds: float, warmup: float):
    """Runs the cases in one warmed-up JVM; returns their RESULT rows in order, with the load."""
    config = workdir / "config.json"
    config.write_text(json.dumps(kinesis_options(endpoint)))
    command = [*os.environ.get("JRUBY", "jruby").split(), str(RUNNER), "--config", str(config),
               "--cases", json.dumps(cases), "--seconds", str(seconds), "--warmup", str(warmup)]
    rows = []
    errors = workdir / "stderr.log"
    with open(errors, "w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        for line in process.stdout:
            if line.startswith("RESULT "):
                row = json.loads(line[len("RESULT "):])
                row["load"] = load()
                rows.append(row)
                yield row
    if process.wait() != 0 or len(rows) != len(cases):
        sys.stderr.write(errors.read_text()[-4000:])
        raise SystemExit(f"pipeline benchmark failed (exit {process.returncode}, {len(rows)}/{len(cases)} cases)")


def pipeline_benchmark(runs: int, seconds: float, warmup: float) -> None:
    say(f"pipeline benchmark: 4 workers x 125-event batches, json codec, {SHARDS}-shard test server, "
        f"{runs} runs (median), {seconds:.0f} s per case after a {warmup:.0f} s JIT warm-up; load {load()}")
    sizes = (200, 2048)
    cases = [{"output": output, "workers": 4, "batch": 125, "event_bytes": size}
             for _ in range(runs) for size in sizes for output in ("codec", "least", "kinesis")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as work, TestServer("--stream", f"bench:{SHARDS}") as server:
        env = install_gem(Path(work) / "gems")
        results = run_cases(env, Path(work), server.endpoint, cases, seconds, warmup)
        for index, codec in enumerate(results):
            least = next(results)
            plugin = next(results)
            own = plugin["cpu_us_per_event"] - codec["cpu_us_per_event"]
            least_own = least["cpu_us_per_event"] - codec["cpu_us_per_event"]
            pair = {"event_bytes": codec["event_bytes"], "run": index // len(sizes) + 1, "codec": codec,
                    "least": least, "plugin": plugin,
                    "plugin_own_cpu_us_per_event": round(own, 3),
                    "plugin_own_over_codec": round(own / codec["cpu_us_per_event"], 3),
                    "least_own_cpu_us_per_event": round(least_own, 3)}
            rows.append(pair)
            say(f"  {pair['event_bytes']:>5} B: codec only {codec['events_per_sec']:>7} ev/s "
                f"{codec['cpu_us_per_event']:6.2f} us/ev | least output +{least_own:5.2f} us/ev | "
                f"with plugin {plugin['events_per_sec']:>7} ev/s "
                f"{plugin['cpu_us_per_event']:6.2f} us/ev (workers {plugin['worker_cpu_us_per_event']:.2f}) | "
                f"plugin own {own:5.2f} us/ev = {pair['plugin_own_over_codec']:.2f} x codec | load {plugin['load']}")
    summary = []
    say(f"{'event':>6} {'codec ev/s':>11} {'plugin ev/s':>12} {'codec us/ev':>12} {'plugin+codec us/ev':>19} "
        f"{'plugin own us/ev':>17} {'own/codec':>10} {'least own us/ev':>16}")
    for size in sizes:
        pairs = [p for p in rows if p["event_bytes"] == size]
        line = {
            "event_bytes": size,
            "codec_events_per_sec": median([p["codec"]["events_per_sec"] for p in pairs]),
            "plugin_events_per_sec": median([p["plugin"]["events_per_sec"] for p in pairs]),
            "codec_cpu_us_per_event": median([p["codec"]["cpu_us_per_event"] for p in pairs]),
            "plugin_cpu_us_per_event": median([p["plugin"]["cpu_us_per_event"] for p in pairs]),
            "plugin_worker_cpu_us_per_event": median([p["plugin"]["worker_cpu_us_per_event"] for p in pairs]),
            "codec_worker_cpu_us_per_event": median([p["codec"]["worker_cpu_us_per_event"] for p in pairs]),
            "plugin_own_cpu_us_per_event": median([p["plugin_own_cpu_us_per_event"] for p in pairs]),
            "plugin_own_over_codec": median([p["plugin_own_over_codec"] for p in pairs]),
            "least_own_cpu_us_per_event": median([p["least_own_cpu_us_per_event"] for p in pairs]),
            "loads": [p["plugin"]["load"] for p in pairs],
        }
        summary.append(line)
        say(f"{size:>6} {line['codec_events_per_sec']:>11.0f} {line['plugin_events_per_sec']:>12.0f} "
            f"{line['codec_cpu_us_per_event']:>12.2f} {line['plugin_cpu_us_per_event']:>19.2f} "
            f"{line['plugin_own_cpu_us_per_event']:>17.2f} {line['plugin_own_over_codec']:>10.2f} "
            f"{line['least_own_cpu_us_per_event']:>16.2f}")
    save("pipeline", "benches/run.sh pipeline", {"shards": SHARDS, "workers": 4, "batch": 125, "seconds": seconds,
                                                  "warmup": warmup, "summary": summary, "runs": rows,
                                                  "load_after": load()})


def rtt_benchmark(runs: int, seconds: float, warmup: float) -> None:
    say(f"20 ms RTT benchmark: 200-byte events, {SHARDS}-shard test server with --latency-ms 20, "
        f"{runs} runs (median), {seconds:.0f} s per case after a {warmup:.0f} s JIT warm-up; load {load()}")
    grid = [(w, b) for w in (2, 8, 32) for b in (125, 1000)]
    deliveries = ("at_least_once", "at_most_once")
    cases = [{"output": "kinesis", "workers": w, "batch": b, "event_bytes": 200, "delivery": d}
             for _ in range(runs) for w, b in grid for d in deliveries]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-rtt-") as work, \
            TestServer("--stream", f"bench:{SHARDS}", "--latency-ms", "20") as server:
        env = install_gem(Path(work) / "gems")
        results = run_cases(env, Path(work), server.endpoint, cases, seconds, warmup)
        for index, default in enumerate(results):
            fast = next(results)
            pair = {"workers": default["workers"], "batch": default["batch"], "run": index // len(grid) + 1,
                    "at_least_once": default, "at_most_once": fast,
                    "default_over_at_most_once": round(default["events_per_sec"] / fast["events_per_sec"], 3)}
            rows.append(pair)
            for delivery in deliveries:
                r = pair[delivery]
                say(f"  workers {r['workers']:>2} batch {r['batch']:>4} {delivery:<13} "
                    f"{r['events_per_sec']:>7} ev/s  kin_rec/rec {r['kinesis_records_per_user_record']}  "
                    f"fill {r['aggregate_fill']}  p99 {r['p99_batch_ms']} ms  load {r['load']}")
    summary = []
    say(f"{'workers':>7} {'batch':>5} {'delivery':<13} {'events/s':>9} {'kin_rec/rec':>11} {'fill':>6} "
        f"{'p99_ms':>8} {'vs at_most_once':>15}")
    for workers, batch in grid:
        pairs = [p for p in rows if p["workers"] == workers and p["batch"] == batch]
        for delivery in deliveries:
            line = {
                "workers": workers, "batch": batch, "delivery": delivery,
                "events_per_sec": median([p[delivery]["events_per_sec"] for p in pairs]),
                "kinesis_records_per_user_record": median([p[delivery]["kinesis_records_per_user_record"] for p in pairs]),
                "aggregate_fill": median([p[delivery]["aggregate_fill"] for p in pairs]),
                "p99_batch_ms": median([p[delivery]["p99_batch_ms"] for p in pairs]),
                "cpu_us_per_event": median([p[delivery]["cpu_us_per_event"] for p in pairs]),
                "default_over_at_most_once": median([p["default_over_at_most_once"] for p in pairs]),
                "loads": [p[delivery]["load"] for p in pairs],
            }
            summary.append(line)
            ratio = f"{line['default_over_at_most_once']:.2f}" if delivery == "at_least_once" else ""
            say(f"{workers:>7} {batch:>5} {delivery:<13} {line['events_per_sec']:>9.0f} "
                f"{line['kinesis_records_per_user_record']:>11.4f} {line['aggregate_fill']:>6.3f} "
                f"{line['p99_batch_ms']:>8.1f} {ratio:>15}")
    save("rtt", "benches/run.sh rtt", {"shards": SHARDS, "latency_ms": 20, "seconds": seconds, "warmup": warmup,
                                        "summary": summary, "runs": rows, "load_after": load()})


def main() -> None:
    which = sys.argv[1]
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "8"))
    warmup = float(os.environ.get("BENCH_WARMUP", "120"))
    {"pipeline": pipeline_benchmark, "rtt": rtt_benchmark}[which](runs, seconds, warmup)


if __name__ == "__main__":
    main()
