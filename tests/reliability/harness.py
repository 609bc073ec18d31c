"""Processes of the reliability suite: the fault-injecting test server (with its control API)
and the pipeline runner (the installed gem in a multi-worker pipeline on JRuby).

Every process is started here, bound to 127.0.0.1, and stopped by its PID."""

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RUNNER = os.path.join(REPO, "tests", "e2e", "pipeline_runner.rb")


def wait_for(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it returns something true; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop_process(process, grace=10.0):
    """SIGTERM, then SIGKILL after `grace` seconds; by PID only."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class TestServer:
    """The kinesis-test-server binary as a separate process."""

    def __init__(self, work, binary, streams, tls=False, args=(), name="server"):
        self.work = work
        self.binary = binary
        self.streams = streams
        self.tls = tls
        self.args = list(args)
        self.name = name
        self.process = None
        self.endpoint = None
        self.cert_file = os.path.join(work, f"{name}.pem")
        self._context = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_):
        self.stop()

    def start(self):
        port_file = os.path.join(self.work, f"{self.name}.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        command = [self.binary, "--port-file", port_file]
        for stream, shards in self.streams:
            command += ["--stream", f"{stream}:{shards}"]
        if self.tls:
            command += ["--tls", "--cert-file", self.cert_file]
        command += self.args
        with open(os.path.join(self.work, f"{self.name}.log"), "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        port = wait_for(lambda: self._read(port_file), 20, "the test server's port file")
        scheme = "https" if self.tls else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{port}"
        if self.tls:
            # The control API is ours: trust the server's own certificate for it.
            self._context = ssl.create_default_context(cafile=self.cert_file)
        return self

    @staticmethod
    def _read(path):
        try:
            with open(path, encoding="ascii") as file:
                return file.read().strip() or None
        except FileNotFoundError:
            return None

    def stop(self):
        if self.process is not None:
            stop_process(self.process)

    def control(self, method, path, body=None, timeout=120):
        """A control API call; the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}/_control/{path}", data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout, context=self._context) as answer:
            return json.loads(answer.read())

    def set_faults(self, **faults):
        return self.control("POST", "faults", faults)

    def stats(self):
        return self.control("GET", "stats")

    def records(self, stream):
        return self.control("GET", f"records?stream={stream}")

    def create_stream(self, name, shards):
        return self.control("POST", "streams", {"name": name, "shards": shards})

    def split(self, stream, shard):
        return self.control("POST", "split", {"stream": stream, "shard": shard})["children"]

    def merge(self, stream, shard, adjacent):
        return self.control("POST", "merge", {"stream": stream, "shard": shard, "adjacent_shard": adjacent})["child"]

    def outage(self, duration_ms):
        return self.control("POST", "outage", {"duration_ms": duration_ms})


class Runner:
    """One pipeline_runner.rb process: the installed gem in a pipeline of worker threads."""

    def __init__(self, ctx, name, config, events=None, duration=None, rate=0, workers=4, batch=125,
                 message_bytes=200, run=None, mix=None, dlq=True, replay=False, hand_back=False,
                 sample_ms=500, extra=(), env=None, engine_log=False):
        self.ctx = ctx
        self.name = name
        self.files = {key: os.path.join(ctx.work, f"{name}.{key}") for key in
                      ("config", "out", "err", "log", "samples", "ready", "dlq", "acked", "engine")}
        # A new runner starts afresh; restarts of this one (start() again) append.
        for path in self.files.values():
            if os.path.exists(path):
                os.remove(path)
        with open(self.files["config"], "w", encoding="utf-8") as file:
            json.dump(config, file)
        self.args = ["--config", self.files["config"], "--workers", str(workers), "--batch", str(batch),
                     "--run", run or name, "--message-bytes", str(message_bytes), "--rate", str(rate),
                     "--log", self.files["log"], "--samples", self.files["samples"], "--sample-ms", str(sample_ms),
                     "--ready-file", self.files["ready"], "--acked-log", self.files["acked"]]
        self.args += ["--duration", str(duration)] if duration else ["--events", str(events)]
        self.args += ["--dlq", self.files["dlq"] if dlq else "off"]
        if mix:
            self.args += ["--mix", mix]
        if replay:
            self.args.append("--replay")
        if hand_back:
            self.args.append("--hand-back")
        if engine_log:
            self.args += ["--engine-log", self.files["engine"]]
        self.args += list(extra)
        self.env = dict(env or {})
        self.process = None
        self.started = None

    def start(self):
        if os.path.exists(self.files["ready"]):
            os.remove(self.files["ready"])
        env = dict(os.environ, GEM_PATH=self.ctx.gem_path, JRUBY_OPTS=self.ctx.jruby_opts, **self.env)
        env.pop("GEM_HOME", None)
        with open(self.files["out"], "ab") as out, open(self.files["err"], "ab") as err:
            self.process = subprocess.Popen(["jruby", RUNNER] + self.args, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, env=env, cwd=REPO)
        self.started = time.monotonic()
        return self

    def wait_ready(self, timeout=120):
        """Waits until register returned and SIGTERM shuts the runner down (it wrote its ready file)."""
        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: runner exited ({self.process.returncode}) before it was ready:\n"
                                   + self.tail("err"))
            return os.path.exists(self.files["ready"])
        wait_for(ready, timeout, f"{self.name} to register")
        # Its samples count time from about now.
        self.ready_at = time.monotonic()

    def wait_flowing(self, timeout=120):
        """Waits until register returned and a first batch came back (the JVM is warm)."""
        self.wait_ready(timeout)

        def flowing():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: runner exited ({self.process.returncode}):\n" + self.tail("err"))
            return self.acked()
        wait_for(flowing, timeout, f"{self.name}'s first batch")

    def wait(self, timeout=300):
        """Waits for the runner to finish; its RESULT (a dict) or None."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.name}: runner still running after {timeout}s; killed:\n" + self.tail("err"))
        return self.result()

    def run(self, timeout=300):
        """Starts, waits; the RESULT, raising when the runner failed."""
        self.start()
        result = self.wait(timeout)
        if self.process.returncode != 0 or result is None:
            raise RuntimeError(f"{self.name}: runner failed (exit {self.process.returncode}):\n" + self.tail("err"))
        return result

    def kill(self):
        """SIGKILL: no shutdown, no close, nothing flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self):
        """SIGTERM: the runner shuts the pipeline down the way Logstash does."""
        self.process.send_signal(signal.SIGTERM)

    def result(self):
        try:
            with open(self.files["out"], encoding="utf-8") as file:
                lines = [line[len("RESULT "):] for line in file if line.startswith("RESULT ")]
        except FileNotFoundError:
            return None
        return json.loads(lines[-1]) if lines else None

    def tail(self, key, lines=25):
        try:
            with open(self.files[key], encoding="utf-8", errors="replace") as file:
                return "".join(file.readlines()[-lines:])
        except FileNotFoundError:
            return ""

    def json_lines(self, key):
        """The JSON lines of one of the runner's files (complete lines only)."""
        try:
            with open(self.files[key], encoding="utf-8") as file:
                return [json.loads(line) for line in file if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def samples(self):
        return self.json_lines("samples")

    def logs(self):
        return self.json_lines("log")

    def dead_letters(self):
        return self.json_lines("dlq")

    def acked(self):
        """The sequence numbers whose batch returned (complete lines only)."""
        acked = set()
        try:
            with open(self.files["acked"], encoding="ascii") as file:
                for line in file:
                    if not line.endswith("\n"):
                        continue
                    for part in line.strip().split(","):
                        first, _, last = part.partition("-")
                        acked.update(range(int(first), int(last or first) + 1))
        except FileNotFoundError:
            pass
        return acked

    def peak_rss_kb(self):
        result = self.result()
        peaks = [s["peak_rss_kb"] for s in self.samples()]
        if result:
            peaks.append(result["peak_rss_kb"])
        return max(peaks, default=0)
