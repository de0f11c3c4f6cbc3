"""A JSON-RPC proxy on 127.0.0.1 that fails a seeded share of the requests it forwards to a real
node (anvil), the ways a flaky provider or load balancer does.

Fault kinds (chosen per request, reproducible from the seed):

* ``502``: answers HTTP 502 without forwarding (the node never sees the request);
* ``drop-before``: closes the connection without forwarding;
* ``drop-after``: forwards the request (the node PROCESSES it: a broadcast is broadcast) and closes
  the connection without answering;
* ``502-after``: forwards the request, then answers HTTP 502 instead of the node's reply.

The proxy counts requests per JSON-RPC method and faults per kind, so a test can show that
broadcasts themselves were hit.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULT_KINDS = ("502", "drop-before", "drop-after", "502-after")


class FlakyProxy:
    """Forwards POSTs to ``upstream``; ``rate`` of them (0..1) fail with one of ``kinds``."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float,
        seed: int = 0,
        kinds: Sequence[str] = FAULT_KINDS,
        path: str = "/",
        methods: Sequence[str] | None = None,
    ) -> None:
        target = urlsplit(upstream)
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 80
        self.rate = rate
        self.kinds = tuple(kinds)
        self.path = path
        #: Only these JSON-RPC methods are failed (None: every method).
        self.methods = frozenset(methods) if methods is not None else None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        #: Faults on eth_sendRawTransaction, per kind (the dangerous ones).
        self.broadcast_faults: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def start(self) -> FlakyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, method: str, path: str) -> str | None:
        with self._lock:
            self.requests[method] += 1
            self.paths[path] += 1
            if self.methods is not None and method not in self.methods:
                return None
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            self.faults[kind] += 1
            if method == "eth_sendRawTransaction":
                self.broadcast_faults[kind] += 1
            return kind

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            conn.request("POST", "/", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm and
            # delayed ACKs add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    method = str(json.loads(body).get("method", "?"))
                except (ValueError, AttributeError):
                    method = "?"
                fault = proxy._decide(method, self.path)
                if fault in ("drop-before", "drop-after"):
                    if fault == "drop-after":
                        proxy._forward(body)
                    self.close_connection = True
                    return
                if fault == "502-after":
                    proxy._forward(body)
                if fault in ("502", "502-after"):
                    self._reply(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                    return
                status, reply = proxy._forward(body)
                self._reply(status, reply, "application/json")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@contextmanager
def flaky_proxy(
    upstream: str,
    *,
    rate: float,
    seed: int = 0,
    kinds: Sequence[str] = FAULT_KINDS,
    path: str = "/",
    methods: Sequence[str] | None = None,
) -> Iterator[FlakyProxy]:
    """A started :class:`FlakyProxy`, stopped on exit."""
    proxy = FlakyProxy(
        upstream, rate=rate, seed=seed, kinds=kinds, path=path, methods=methods
    ).start()
    try:
        yield proxy
    finally:
        proxy.stop()
