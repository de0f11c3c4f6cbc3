"""Benchmarks of `payout serve`, written to build/bench/service.json.

Usage: ``python scripts/bench_service.py [--withdrawals 10000] [--accept 4000] [--clients 32]
[--flush-seconds 1] [--flush-rows 500] [--ledger URL]``

1. Requests accepted per second on one core: single-payout POST /v1/payouts to a `payout serve
   --no-worker` pinned to one CPU (the clients on the other): ``--clients`` concurrent keep-alive
   connections (concurrent requests share commits: group commit), one sequential client (every
   request waits for its own commit), and 100-row requests (rows per second).
2. Withdrawals end to end: N single-payout requests over HTTP (``--clients`` client threads) paid on
   anvil by the hot-wallet worker; latency = from sending the request to receiving its payout.paid
   webhook; p50 / p99. The worker's flushes (rows, seconds) are read from its log.
3. Webhooks under a receiver that fails 30% of the requests (HTTP 500, seeded): every payout.paid
   event of step 2 must arrive (at-least-once; duplicates counted), none lost.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from eth_utils.crypto import keccak  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402

from payout.chain import Chain  # noqa: E402
from payout.demo import demo_recipients  # noqa: E402
from payout.demo_token import DemoToken, deploy_token, mint  # noqa: E402
from payout.deployment import deploy_disburser  # noqa: E402
from payout.devnet import dev_private_key, free_port, start_anvil  # noqa: E402
from payout.signer import LocalSigner, write_keystore  # noqa: E402
from payout.wallet import SendSettings, Wallet  # noqa: E402

PAYOUT = str(Path(sys.executable).parent / "payout")
SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123456789ab").decode()
PASSWORD = "bench"


class Receiver:
    def __init__(self, fail_ratio: float) -> None:
        self.fail_ratio = fail_ratio
        self.rng = random.Random(30)
        self.lock = threading.Lock()
        self.paid_at: dict[str, float] = {}
        self.requests = 0
        self.failed = 0
        self.duplicates = 0
        self.bad = 0
        verifier = Webhook(SECRET)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, like a production receiver behind any web server (HTTP/1.0 would cost
            # a TCP connection and a server thread per delivery, on both sides).
            protocol_version = "HTTP/1.1"

            def _answer(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with outer.lock:
                    outer.requests += 1
                    fail = outer.rng.random() < outer.fail_ratio
                    if fail:
                        outer.failed += 1
                if fail:
                    self._answer(500)
                    return
                try:
                    event = verifier.verify(body, dict(self.headers.items()))
                except Exception:
                    with outer.lock:
                        outer.bad += 1
                    self._answer(400)
                    return
                if event["type"] == "payout.paid":
                    with outer.lock:
                        pid = event["data"]["payout_id"]
                        if pid in outer.paid_at:
                            outer.duplicates += 1
                        else:
                            outer.paid_at[pid] = time.monotonic()
                self._answer(204)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _config(path: Path, **v: Any) -> None:
    path.write_text(
        f"""[service]
ledger = "{v["ledger"]}"
flush_seconds = {v["flush_seconds"]}
flush_rows = {v["flush_rows"]}
rate_limit = 1000000
webhook_backoff_seconds = 0.2
webhook_backoff_cap_seconds = 2.0
webhook_max_attempts = 50
[[service.webhooks]]
url = "{v["hook"]}"
secret_env = "BENCH_WEBHOOK_SECRET"
[networks.anvil]
kind = "evm"
rpc_url = "{v["rpc"]}"
keystore = "{v["keystore"]}"
disburser = "{v["disburser"]}"
[networks.anvil.tokens.USDC]
address = "{v["token"]}"
decimals = 6
"""
    )


def _serve(config: Path, log: Path, *args: str, cpu: int | None = None) -> tuple[Any, str]:
    port = free_port()
    env = dict(os.environ, PAYOUT_KEYSTORE_PASSWORD=PASSWORD, BENCH_WEBHOOK_SECRET=SECRET)
    proc = subprocess.Popen(
        [PAYOUT, "serve", "--config", str(config), "--port", str(port), *args],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {cpu})
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"payout serve did not start: {log.read_text()}")


def _key(config: Path) -> str:
    out = subprocess.run(
        [
            PAYOUT,
            "service",
            "keys",
            "create",
            "--name",
            "bench",
            "--scope",
            "read",
            "--scope",
            "write",
            "--config",
            str(config),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, BENCH_WEBHOOK_SECRET=SECRET),
    )
    return str(json.loads(out.stdout)["key"])


def _accept(
    url: str, key: str, recipients: list[str], clients: int, tag: str, rows: int = 1
) -> dict[str, Any]:
    """POST the recipients as fast as ``clients`` keep-alive connections allow (``rows`` payouts
    per request); every answer must be 201."""
    parsed = urlparse(url)
    bodies = []
    for start in range(0, len(recipients), rows):
        items = [
            {
                "network": "anvil",
                "token": "USDC",
                "recipient": r,
                "amount": "1.00",
                "id": f"{tag}-{start + j}",
            }
            for j, r in enumerate(recipients[start : start + rows])
        ]
        bodies.append(json.dumps(items[0] if rows == 1 else {"payouts": items}).encode())
    head = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    def run(k: int) -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        for i in range(k, len(bodies), clients):
            conn.request("POST", "/v1/payouts", body=bodies[i], headers=head)
            answer = conn.getresponse()
            text = answer.read()
            assert answer.status == 201, text
        conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {
        "clients": clients,
        "requests": len(bodies),
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(bodies) / seconds, 1),
    }
    if rows > 1:
        out["rows_per_second"] = round(len(recipients) / seconds, 1)
    return out


def _cancel_requested(url: str, key: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        page = http.get("/v1/payouts", params={"status": "requested", "limit": 1000}).json()
        while True:
            for p in page["data"]:
                http.post(f"/v1/payouts/{p['id']}/cancel")
            if not page["next_cursor"]:
                break
            page = http.get(
                "/v1/payouts",
                params={"status": "requested", "limit": 1000, "cursor": page["next_cursor"]},
            ).json()


def _flushes(log: Path) -> list[tuple[int, float]]:
    """(rows, seconds) of every flush the worker logged."""
    found = []
    for line in log.read_text().splitlines():
        m = re.search(r"flushed (\d+) rows? of \S+ in ([\d.]+) s", line)
        if m:
            found.append((int(m.group(1)), float(m.group(2))))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--withdrawals", type=int, default=10_000)
    parser.add_argument("--accept", type=int, default=4_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--flush-seconds", type=float, default=1.0)
    parser.add_argument("--flush-rows", type=int, default=500)
    parser.add_argument("--ledger", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="withdrawal requests per second (default: flood)"
    )
    parser.add_argument(
        "--split", action="store_true", help="API and worker in two processes (serve --no-worker)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build/bench/service.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    with start_anvil(accounts=2, log_path=work / "anvil.log") as node:
        chain = Chain(node.url)
        deployer = Wallet(chain, LocalSigner(dev_private_key(0)), SendSettings(poll_interval=0.02))
        disburser = deploy_disburser(chain, deployer).address
        token = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
        key_bytes = keccak(text="bench-service-payer")
        keystore = work / "payer.json"
        payer = write_keystore(keystore, key_bytes, PASSWORD, iterations=2**4)
        chain.request("anvil_setBalance", [payer, hex(1000 * 10**18)])
        mint(deployer, token, payer, 10**9 * 10**6)
        receiver = Receiver(0.30)
        config = work / "payout.toml"
        _config(
            config,
            ledger=args.ledger or f"sqlite:///{work / 'ledger.sqlite'}",
            flush_seconds=args.flush_seconds,
            flush_rows=args.flush_rows,
            hook=receiver.url,
            rpc=node.url,
            keystore=keystore,
            disburser=disburser,
            token=token,
        )
        key = _key(config)
        headers = {"Authorization": f"Bearer {key}"}
        recipients = demo_recipients(args.withdrawals + args.accept, seed="bench-service")
        rows = recipients[args.accept :]

        # 1. acceptance rate, API only, one core. On SQLite in a ledger of its own: those rows
        # are not part of the latency run (on PostgreSQL: cancelled after, still requested).
        accept_config = config
        if not args.ledger:
            accept_config = work / "accept.toml"
            _config(
                accept_config,
                ledger=f"sqlite:///{work / 'accept.sqlite'}",
                hook=receiver.url,
                rpc=node.url,
                keystore=keystore,
                disburser=disburser,
                token=token,
                flush_seconds=args.flush_seconds,
                flush_rows=args.flush_rows,
            )
        accept_key = _key(accept_config)
        proc, url = _serve(accept_config, work / "api.log", "--no-worker", cpu=0)
        if cpus > 1 and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(1, cpus)))
        accept = {
            "concurrent": _accept(url, accept_key, recipients[: args.accept], args.clients, "acc"),
            "sequential": _accept(url, accept_key, recipients[: args.accept // 4], 1, "seq"),
            "rows_100_per_request": _accept(
                url, accept_key, recipients[: args.accept], args.clients // 4 or 1, "big", rows=100
            ),
        }
        if args.ledger:
            _cancel_requested(url, accept_key)
        proc.terminate()
        proc.wait(30)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(cpus)))

        # 2 + 3. withdrawals end to end, webhooks through a 30%-failing receiver
        worker = None
        if args.split:
            # The API in one process, the worker (and webhook delivery) in another: each has a
            # Python interpreter (and its lock) of its own.
            proc, url = _serve(config, work / "serve.log", "--no-worker")
            worker = subprocess.Popen(
                [PAYOUT, "service", "worker", "--config", str(config)],
                env=dict(
                    os.environ, PAYOUT_KEYSTORE_PASSWORD=PASSWORD, BENCH_WEBHOOK_SECRET=SECRET
                ),
                stdout=(work / "serve.log").open("a"),
                stderr=subprocess.STDOUT,
            )
        else:
            proc, url = _serve(config, work / "serve.log")
        sent_at: dict[str, float] = {}

        def post(chunk: list[int]) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                for i in chunk:
                    if args.rate:  # an even arrival rate instead of as fast as possible
                        pause = started + i / args.rate - time.monotonic()
                        if pause > 0:
                            time.sleep(pause)
                    pid = f"wd-{i}"
                    sent_at[pid] = time.monotonic()
                    r = http.post(
                        "/v1/payouts",
                        json={
                            "network": "anvil",
                            "token": "USDC",
                            "recipient": rows[i],
                            "amount": f"{1 + i % 100}.01",
                            "id": pid,
                        },
                    )
                    assert r.status_code == 201, r.text

        started = time.monotonic()
        n = args.clients
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(post, [list(range(k, len(rows), n)) for k in range(n)]))
        submitted = time.monotonic() - started
        deadline = time.monotonic() + 1800
        while len(receiver.paid_at) < len(rows) and time.monotonic() < deadline:
            time.sleep(0.5)
        total = time.monotonic() - started
        proc.terminate()
        proc.wait(60)
        if worker is not None:
            worker.terminate()
            worker.wait(60)
        lat = sorted(receiver.paid_at[p] - sent_at[p] for p in receiver.paid_at if p in sent_at)
        paid_on_chain = sum(
            1
            for i in range(0, len(rows), max(1, len(rows) // 200))
            if chain.token_balance(token, rows[i]) == (1 + i % 100) * 10**6 + 10_000
        )
        sampled = len(range(0, len(rows), max(1, len(rows) // 200)))
    flushes = _flushes(work / "serve.log")
    report = {
        "machine_cpus": cpus,
        "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "ledger": "postgresql" if args.ledger else "sqlite",
        "flush_seconds": args.flush_seconds,
        "flush_rows": args.flush_rows,
        "processes": "api + worker" if args.split else "one (payout serve)",
        "withdrawal_rate_per_second": args.rate or "as fast as the clients go",
        "accept": accept,
        "withdrawals": {
            "requests": len(rows),
            "submit_seconds": round(submitted, 1),
            "all_paid_seconds": round(total, 1),
            "paid_events": len(receiver.paid_at),
            "latency_p50_seconds": round(statistics.median(lat), 2) if lat else None,
            "latency_p99_seconds": round(lat[int(len(lat) * 0.99) - 1], 2) if lat else None,
            "sampled_on_chain_ok": f"{paid_on_chain}/{sampled}",
            "flushes": len(flushes),
            "rows_per_flush_max": max((r for r, _s in flushes), default=0),
            "flush_seconds_p50": round(statistics.median(s for _r, s in flushes), 2)
            if flushes
            else None,
            "flush_seconds_max": round(max((s for _r, s in flushes), default=0), 2),
        },
        "webhooks": {
            "receiver_fail_ratio": 0.30,
            "http_requests": receiver.requests,
            "http_failed": receiver.failed,
            "paid_events_delivered": len(receiver.paid_at),
            "paid_events_lost": len(rows) - len(receiver.paid_at),
            "duplicates": receiver.duplicates,
            "bad_signatures": receiver.bad,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
