"""An OTLP/HTTP receiver for schemagate's tests (issue 16): decodes what it is sent strictly, with
the OpenTelemetry project's own protobuf classes (PyPI `opentelemetry-proto`), and keeps it for
the test to read back.

  python receiver.py            listens on 127.0.0.1, on a port of its own choosing, and
                                prints `listening <port>` once it accepts connections.

POST /v1/metrics and /v1/traces: the body must be `application/json` and parse with
`google.protobuf.json_format.Parse` as an ExportMetricsServiceRequest or
ExportTraceServiceRequest, unknown fields refused (a mistyped key fails). OTLP's JSON writes
trace and span ids as hex where protobuf's JSON mapping has base64: they are checked for
length and turned into base64 before parsing, as the OpenTelemetry Collector does. A body that
does not decode is answered 400 and recorded with its error.

GET /received: every request so far as JSON — path, headers, the decoded message (ids back in
hex, enums by name, 64-bit integers as strings) or the error.
"""

import base64
import binascii
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

MESSAGES = {
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
}
ID_LENGTHS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}

received = []
lock = threading.Lock()


def spans_of(body):
    for rs in body.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            yield from ss.get("spans", [])


def ids(span, convert):
    for key, length in ID_LENGTHS.items():
        if key in span:
            span[key] = convert(key, span[key], length)


def hex_to_base64(key, value, length):
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, TypeError) as e:
        raise ValueError(f"{key} {value!r} is not hex: {e}") from None
    if len(raw) != length:
        raise ValueError(f"{key} {value!r} is {len(raw)} bytes, not {length}")
    return base64.b64encode(raw).decode()


def base64_to_hex(_key, value, _length):
    return base64.b64decode(value).hex()


def decode(path, text):
    request_type, _ = MESSAGES[path]
    body = json.loads(text)
    if path == "/v1/traces":
        for span in spans_of(body):
            ids(span, hex_to_base64)
    message = json_format.Parse(json.dumps(body), request_type(), ignore_unknown_fields=False)
    decoded = json_format.MessageToDict(message)
    if path == "/v1/traces":
        for span in spans_of(decoded):
            ids(span, base64_to_hex)
    return decoded


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload, content_type="application/json"):
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/received":
            return self.answer(404, "{}")
        with lock:
            payload = json.dumps(received)
        self.answer(200, payload)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(length).decode("utf-8", errors="replace")
        entry = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "decoded": None,
            "error": None,
        }
        status = 200
        if self.path not in MESSAGES:
            entry["error"] = f"no OTLP signal at {self.path}"
            status = 404
        elif self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            entry["error"] = f"Content-Type {self.headers.get('Content-Type')!r}, not application/json"
            status = 415
        else:
            try:
                entry["decoded"] = decode(self.path, text)
            except Exception as e:  # every way a body can be wrong is the test's answer
                entry["error"] = f"{type(e).__name__}: {e}"
                status = 400
        with lock:
            received.append(entry)
        if status == 200:
            response = MESSAGES[self.path][1]()
            self.answer(200, json_format.MessageToJson(response))
        else:
            self.answer(status, json.dumps({"message": entry["error"]}))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
