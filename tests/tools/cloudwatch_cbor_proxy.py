#!/usr/bin/env python3
"""CloudWatch protocol translation for tests: Smithy RPC v2 CBOR in, moto's JSON protocol out.

aws-sdk-cloudwatch (Rust) and current botocore speak only RPC v2 CBOR to CloudWatch:
    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    smithy-protocol: rpc-v2-cbor, Content-Type: application/cbor, body maybe gzip-encoded
moto server's CloudWatch speaks the query and JSON protocols only. This proxy decodes each
CBOR request, forwards it to moto as awsJson1.0 (X-Amz-Target:
GraniteServiceVersion20100801.<Operation>, with the caller's Authorization header so moto
picks the region) and encodes moto's answer back into CBOR, with timestamps as CBOR tag 1
where the service model says so (botocore's model of CloudWatch).

Usage:
    cloudwatch_cbor_proxy.py --moto http://127.0.0.1:PORT [--port 0]

Binds 127.0.0.1 and prints one line, CLOUDWATCH_PROXY_ENDPOINT=http://127.0.0.1:PORT, once it
listens. GET /_proxy/stats answers counters as JSON: requests by operation, gzip-encoded
requests, metric data received (PutMetricData). Stop it by PID (SIGTERM or SIGINT).
"""

import argparse
import base64
import datetime
import gzip
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import cbor2

PATH_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
TARGET_PREFIX = "GraniteServiceVersion20100801."
UTC = datetime.timezone.utc


def to_json_value(value):
    """A decoded CBOR value as awsJson1.0 writes it: epoch-second timestamps, base64 blobs."""
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


def to_cbor_value(shape, value):
    """A JSON value of `shape` as RPC v2 CBOR carries it: timestamps as datetimes (tag 1)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {key: to_cbor_value(shape.members.get(key), item) for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [to_cbor_value(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_cbor_value(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, tz=UTC)
    if kind == "timestamp" and isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in ("double", "float") and isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return value


class Stats:
    """Counters of what went through, for the tests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}
        self.gzip_requests = 0
        self.metric_data = 0

    def count(self, operation, gzipped, params):
        with self.lock:
            self.requests[operation] = self.requests.get(operation, 0) + 1
            self.gzip_requests += 1 if gzipped else 0
            if operation == "PutMetricData":
                self.metric_data += len(params.get("MetricData", []))

    def as_json(self):
        with self.lock:
            return {
                "requests": dict(self.requests),
                "gzip_requests": self.gzip_requests,
                "metric_data": self.metric_data,
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Set by main().
    moto = ""
    model = None
    stats = Stats()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        if self.path == "/_proxy/stats":
            self.answer(200, json.dumps(self.stats.as_json()).encode(), "application/json")
        else:
            self.answer(404, b"not found", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(PATH_PREFIX):
            return self.error(404, "UnknownOperationException", f"no such path {self.path}")
        if self.headers.get("smithy-protocol") != "rpc-v2-cbor":
            return self.error(400, "ValidationException", "smithy-protocol: rpc-v2-cbor is required")
        operation = self.path[len(PATH_PREFIX):]
        gzipped = self.headers.get("Content-Encoding", "").lower() == "gzip"
        try:
            if gzipped:
                body = gzip.decompress(body)
            params = cbor2.loads(body) if body else {}
        except Exception as e:  # noqa: BLE001 - any decoding failure is the client's fault
            return self.error(400, "SerializationException", f"cannot decode the request: {e}")
        if not isinstance(params, dict):
            return self.error(400, "SerializationException", "the request body is not a CBOR map")
        self.stats.count(operation, gzipped, params)
        status, answer = self.forward(operation, to_json_value(params))
        if status >= 300:
            return self.error(status, answer.get("__type", "InternalFailure"), answer.get("message", ""))
        try:
            output = self.model.operation_model(operation).output_shape
        except Exception:  # noqa: BLE001 - an operation botocore does not know
            output = None
        self.answer(200, cbor2.dumps(to_cbor_value(output, answer), datetime_as_timestamp=True))

    def forward(self, operation, params):
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": TARGET_PREFIX + operation,
        }
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if self.headers.get(name):
                headers[name] = self.headers[name]
        request = urllib.request.Request(self.moto + "/", data=json.dumps(params).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        except OSError as e:
            return 502, {"__type": "InternalFailure", "message": f"moto unreachable: {e}"}
        try:
            answer = json.loads(text) if text.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": text[:200].decode(errors="replace")}
        if status >= 300 and isinstance(answer, dict):
            # moto may spell it Message, and may prefix the type with a namespace.
            kind = str(answer.get("__type", "InternalFailure")).rsplit("#", 1)[-1]
            answer = {"__type": kind, "message": answer.get("message") or answer.get("Message", "")}
        return status, answer if isinstance(answer, dict) else {}

    def error(self, status, kind, message):
        self.answer(status, cbor2.dumps({"__type": kind, "message": message}))

    def answer(self, status, body, content_type="application/cbor"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if content_type == "application/cbor":
            self.send_header("smithy-protocol", "rpc-v2-cbor")
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moto", required=True, help="moto server endpoint, http://127.0.0.1:PORT")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free one)")
    args = parser.parse_args()
    Handler.moto = args.moto.rstrip("/")
    Handler.model = botocore.session.get_session().get_service_model("cloudwatch")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"CLOUDWATCH_PROXY_ENDPOINT=http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
