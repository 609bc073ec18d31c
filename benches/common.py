"""Shared helpers of the benchmark scripts: paths, the test server, load, medians, results."""

import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / ".tools"
RESULTS_DIR = REPO / "docs" / "benchmarks" / "results"
CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
# Built by `gradle nativeLibraries` (gradle/native.gradle).
TEST_SERVER = CARGO_TARGET / "x86_64-unknown-linux-gnu" / "release" / "kinesis-test-server"
NATIVE_LIBRARY = REPO / "build" / "native" / "linux-x86_64" / "libkinesis_producer_jni.so"
BRIDGE_JAR = REPO / "build" / "libs" / "kinesis-producer-bridge.jar"


def load() -> str:
    """The 1/5/15-minute load averages, as `uptime` shows them."""
    return "%.2f %.2f %.2f" % os.getloadavg()


def say(text: str) -> None:
    print(text, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def result_lines(output: str):
    """The `RESULT {...}` lines of a benchmark program's output, parsed."""
    return [json.loads(line[len("RESULT "):]) for line in output.splitlines() if line.startswith("RESULT ")]


def run_program(command, env=None, timeout=900):
    """Runs a benchmark program; returns its RESULT rows. Fails loudly with its output otherwise."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    rows = result_lines(done.stdout)
    if done.returncode != 0 or not rows:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"benchmark program failed (exit {done.returncode}): {' '.join(map(str, command))}")
    return rows


class TestServer:
    """The Kinesis test server as a child process on 127.0.0.1, stopped by its PID."""

    def __init__(self, *args: str):
        if not TEST_SERVER.exists():
            raise SystemExit(f"{TEST_SERVER} missing: gradle -p . --no-daemon nativeLibraries")
        self.dir = tempfile.TemporaryDirectory(prefix="bench-server-")
        self.cert = Path(self.dir.name) / "cert.pem"
        command = [str(TEST_SERVER), "--port", "0", "--blackhole", *args]
        if "--tls" in args:
            command += ["--cert-file", str(self.cert)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        banner = self.process.stdout.readline().strip()
        match = re.search(r"(https?)://127\.0\.0\.1:(\d+)", banner)
        if not match:
            self.stop()
            raise SystemExit(f"test server did not start: {banner!r}")
        self.endpoint = match.group(0)
        self.port = int(match.group(2))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.stop()


def machine() -> dict:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def save(name: str, command: str, data: dict) -> Path:
    """Writes docs/benchmarks/results/NAME.json with the machine, the command and the date."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    say(f"results: {path.relative_to(REPO)}")
    return path


def pause_until_calm(max_load: float, max_wait_s: float = 0) -> None:
    """Waits up to max_wait_s for the 1-minute load to drop below max_load (shared machines)."""
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(5)
