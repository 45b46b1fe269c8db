#!/usr/bin/env python3
"""recommendations: a mesh service in Python (standard library only), run behind `switchyard sidecar`.

The sidecar serves the endpoints of contract.json on the mesh, checks every input against its JSON
Schema, applies deadlines, access rules, quotas and concurrency limits, and forwards what passes
here as `POST /<endpoint>`. Calls to other services go out through the sidecar's
`POST /v1/call/<service>/<endpoint>`, with the trace and request headers this request came with,
so they inherit its tenant, its deadline and its trace. docs/SIDECAR.md is the reference.

Environment: APP_PORT (default 8701), SIDECAR_URL (default http://127.0.0.1:3500).
"""

import hashlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_PORT = int(os.environ.get("APP_PORT", "8701"))
SIDECAR_URL = os.environ.get("SIDECAR_URL", "http://127.0.0.1:3500")
CATALOGUE = ["WIDGET-1", "GADGET-2", "GIZMO-3"]
# what a call out passes on from the request being handled: the sidecar ties the call to it
FORWARDED = ["traceparent", "tracestate", "baggage", "Mesh-Request-Id", "Mesh-Tenant", "Mesh-Tenant-Token"]

requests_seen = 0
seen_lock = threading.Lock()


class MeshCallError(Exception):
    """A call out failed: the sidecar's status, headers and JSON error body, passed on as they are."""

    def __init__(self, status, body, retry_after):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


def call(service, endpoint, payload, incoming):
    """Calls service.endpoint through the sidecar, within the request whose headers are `incoming`."""
    headers = {"Content-Type": "application/json"}
    for name in FORWARDED:
        value = incoming.get(name)
        if value is not None:
            headers[name] = value
    request = urllib.request.Request(
        f"{SIDECAR_URL}/v1/call/{service}/{endpoint}",
        data=json.dumps(payload).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise MeshCallError(error.code, error.read(), error.headers.get("Retry-After")) from None


def suggest(payload, headers):
    """The customer's picks from the catalogue (a stable order per customer), those in stock only."""
    customer = payload["customerId"]
    limit = payload.get("limit", 2)
    start = hashlib.sha256(customer.encode()).digest()[0] % len(CATALOGUE)
    picks = CATALOGUE[start:] + CATALOGUE[:start]
    items = []
    for sku in picks:
        stock = call("inventory", "stock", {"sku": sku}, headers)
        if stock["available"] > 0:
            items.append({"sku": sku, "available": stock["available"]})
        if len(items) == limit:
            break
    return {"customerId": customer, "items": items}


class Handler(BaseHTTPRequestHandler):
    # keep-alive: the sidecar reuses its connections
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            self.answer(200, {"status": "ok"})
        elif self.path == "/stats":
            self.answer(200, {"requestsSeen": requests_seen})
        else:
            self.answer(404, {"error": {"code": "NOT_FOUND", "message": f"no route for GET {self.path}"}})

    def do_POST(self):
        global requests_seen
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"null")
        with seen_lock:
            requests_seen += 1
        if self.path != "/suggest":
            self.answer(404, {"error": {"code": "NOT_FOUND", "message": f"no route for POST {self.path}"}})
            return
        try:
            self.answer(200, suggest(payload, self.headers))
        except MeshCallError as error:
            # a downstream refusal keeps its code (and Retry-After) on the way back
            self.answer_raw(error.status, error.body, error.retry_after)
        except Exception as error:  # the sidecar turns a 500 into INTERNAL
            self.answer(500, {"error": {"code": "INTERNAL", "message": str(error)}})

    def answer(self, status, body):
        self.answer_raw(status, json.dumps(body).encode(), None)

    def answer_raw(self, status, data, retry_after):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # the sidecar logs and traces every request


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", APP_PORT), Handler)
    server.daemon_threads = True
    print(f"recommendations listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
