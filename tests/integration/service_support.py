"""Helpers of the payout service tests: a payout.toml, a real `payout serve` subprocess on a free
port, a webhook receiver that checks Standard Webhooks signatures."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from payout.devnet import free_port

from .conftest import PASSWORD, PAYOUT_BIN

SECRET = "whsec_" + base64.b64encode(b"service-test-webhook-secret-32b!").decode()


@dataclass
class Receiver:
    """A webhook endpoint; fails the requests ``fail(n)`` says (n = request number from 1)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    bad_signatures: int = 0
    fail_every: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.received if kind is None or e["type"] == kind]

    def lifecycle(self, payout_id: str) -> list[str]:
        """The event types received for one payout, in the order the service wrote them (its
        ``timestamp``): deliveries run concurrently and are retried, so arrival order is not the
        service's order (docs/service.md, Webhooks)."""
        mine = [e for e in self.events() if e["data"].get("id") == payout_id]
        mine.sort(key=lambda e: datetime.fromisoformat(e["timestamp"]))
        return [e["type"] for e in mine]


@contextmanager
def webhook_receiver(fail_ratio: float = 0.0) -> Iterator[Receiver]:
    """An HTTP server on a free port collecting verified webhooks; a seeded ``fail_ratio`` of the
    requests get a 500 (and are not counted as received)."""
    receiver = Receiver()
    verifier = Webhook(SECRET)
    import random

    rng = random.Random(1234)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with receiver.lock:
                receiver.attempts += 1
                failing = rng.random() < fail_ratio
            if failing:
                self.send_response(500)
                self.end_headers()
                return
            try:
                payload = verifier.verify(body, dict(self.headers.items()))
            except Exception:
                with receiver.lock:
                    receiver.bad_signatures += 1
                self.send_response(400)
                self.end_headers()
                return
            with receiver.lock:
                receiver.received.append({**payload, "_id": self.headers["webhook-id"]})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def write_config(
    path: Path,
    *,
    rpc_url: str,
    token: str,
    disburser: str,
    keystore: Path,
    ledger_url: str,
    webhook_url: str | None = None,
    flush_seconds: float = 0.3,
    flush_rows: int = 500,
    alerts: dict[str, str] | None = None,
    extra_networks: str = "",
) -> Path:
    hooks = (
        f'[[service.webhooks]]\nurl = "{webhook_url}"\nsecret_env = "PAYOUT_TEST_WEBHOOK_SECRET"\n'
        if webhook_url
        else ""
    )
    alert_lines = "".join(f'{k} = "{v}"\n' for k, v in (alerts or {}).items())
    path.write_text(
        f"""[service]
ledger = "{ledger_url}"
flush_seconds = {flush_seconds}
flush_rows = {flush_rows}
webhook_backoff_seconds = 0.05
webhook_backoff_cap_seconds = 0.5
rate_limit = 1000
{hooks}
[networks.anvil]
kind = "evm"
rpc_url = "{rpc_url}"
executor = "wallet"
keystore = "{keystore}"
disburser = "{disburser}"
[networks.anvil.tokens.USDC]
address = "{token}"
decimals = 6
[networks.anvil.alerts]
{alert_lines}
{extra_networks}
"""
    )
    return path


def service_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PAYOUT_KEYSTORE_PASSWORD"] = PASSWORD
    env["PAYOUT_TEST_WEBHOOK_SECRET"] = SECRET
    env.pop("PAYOUT_FAULT", None)
    env.update(extra or {})
    return env


def create_key(config: Path, *scopes: str, rate_limit: int | None = None) -> str:
    args = [PAYOUT_BIN, "service", "keys", "create", "--name", "test", "--config", str(config)]
    for s in scopes:
        args += ["--scope", s]
    if rate_limit:
        args += ["--rate-limit", str(rate_limit)]
    done = subprocess.run(
        [*args, "--json"], env=service_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["key"])


@dataclass
class Server:
    """A `payout serve` subprocess."""

    url: str
    process: subprocess.Popen[str]
    log: Path

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(
    config: Path, log: Path, *, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Server:
    port = free_port()
    fh = log.open("a")
    process = subprocess.Popen(
        [PAYOUT_BIN, "serve", "--config", str(config), "--port", str(port), *args],
        env=service_env(extra_env),
        stdout=fh,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"payout serve exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"payout serve did not answer within 60 s:\n{log.read_text()}")


def wait_until(predicate: Any, timeout: float = 90.0, what: str = "condition") -> Any:
    """Poll ``predicate`` (an external process is working) until truthy or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def random_id() -> str:
    return secrets.token_hex(6)


def replay_word_bits(ledger_url: str, payer: str) -> int:
    """Bits of ``payer``'s rolling replay word the ledger handed out so far (0: none)."""
    from sqlalchemy import select

    from payout.ledger import Ledger, replay_words

    with Ledger.open(ledger_url) as ledger, ledger.engine.connect() as conn:
        found = conn.execute(
            select(replay_words.c.next_bit).where(replay_words.c.payer == payer)
        ).scalar_one_or_none()
    return int(found or 0)
