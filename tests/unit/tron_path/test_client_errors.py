"""What `connect` says when the URL is not a TRON node's HTTP API (a real local HTTP server)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from payout.exceptions import TronNodeError
from payout.tron.client import connect


class _NotTron(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def not_tron_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotTron)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_error_names_the_status_and_says_what_to_check(not_tron_url: str) -> None:
    with pytest.raises(TronNodeError) as info:
        connect(not_tron_url, timeout=5)
    assert "HTTP 404" in str(info.value)
    assert info.value.hint is not None and "PAYOUT_TRON_NODE_URL" in info.value.hint
