"""`payout serve` for real: uvicorn on a free port, httpx, anvil, the hot wallet, webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payout.chain import Chain
from payout.demo import demo_recipients
from payout.fault import FAULT_EXIT_CODE

from .conftest import PAYOUT_BIN, Payer
from .service_support import (
    Receiver,
    Server,
    create_key,
    random_id,
    start_server,
    wait_until,
    webhook_receiver,
    write_config,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def config(
    tmp_path: Path, node: Any, usdc: str, disburser: str, payer: Payer, receiver: Receiver
) -> Path:
    return write_config(
        tmp_path / "payout.toml",
        rpc_url=node.url,
        token=usdc,
        disburser=disburser,
        keystore=payer.keystore,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        webhook_url=receiver.url,
        alerts={"USDC": "2000000", "gas": "1"},
    )


@pytest.fixture
def server(config: Path, tmp_path: Path) -> Iterator[Server]:
    s = start_server(config, tmp_path / "serve.log")
    yield s
    s.stop()


def _rows(tmp_path: Path, n: int, seed: str = "svc") -> list[dict[str, str]]:
    recipients = demo_recipients(n, seed=f"{tmp_path}/{seed}")
    return [
        {
            "network": "anvil",
            "token": "USDC",
            "recipient": r,
            "amount": f"{i + 1}.25",
            "id": f"wd-{seed}-{i}",
        }
        for i, r in enumerate(recipients)
    ]


def _all_paid(client: Any, ids: list[str]) -> bool:
    return all(client.get(f"/v1/payouts/{i}").json()["status"] == "paid" for i in ids)


def test_payouts_requested_over_http_are_paid_once_with_signed_webhooks(
    server: Server, config: Path, chain: Chain, usdc: str, receiver: Receiver, tmp_path: Path
) -> None:
    key = create_key(config, "read", "write")
    rows = _rows(tmp_path, 5)
    with server.client(key) as http:
        first = http.post("/v1/payouts", json={"payouts": rows}, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["created"] == 5
        ids = [p["id"] for p in body["payouts"]]
        assert [p["amount"] for p in body["payouts"]] == [r["amount"] for r in rows]
        # Same key, same body: the same answer, nothing new stored.
        again = http.post("/v1/payouts", json={"payouts": rows}, headers={"Idempotency-Key": "k1"})
        assert again.status_code == 201 and again.json() == body
        assert again.headers["Idempotent-Replayed"] == "true"
        # Same key, another body: 409 naming the header.
        other = http.post(
            "/v1/payouts", json={"payouts": rows[:1]}, headers={"Idempotency-Key": "k1"}
        )
        assert other.status_code == 409 and other.headers["content-type"] == PROBLEM
        assert other.json()["errors"][0]["field"] == "Idempotency-Key"
        # The same payout ids without a key: the existing payouts, not new ones.
        repeat = http.post("/v1/payouts", json={"payouts": rows})
        assert repeat.status_code == 200
        assert [p["id"] for p in repeat.json()["payouts"]] == ids
        # The same id with another amount: 409 naming the row's id, nothing stored.
        changed = [dict(rows[0], amount="999")]
        conflict = http.post("/v1/payouts", json={"payouts": changed})
        assert conflict.status_code == 409
        assert conflict.json()["errors"][0]["field"] == "payouts[0].id"

        wait_until(lambda: _all_paid(http, ids), what="5 payouts paid")
        paid = [http.get(f"/v1/payouts/{i}").json() for i in ids]
        for row, p in zip(rows, paid, strict=True):
            units = int(row["amount"].replace(".", "")) * 10**4
            assert chain.token_balance(usdc, row["recipient"]) == units
            assert p["tx_hash"] and p["batch_id"]
        batch = http.get(f"/v1/batches/{paid[0]['batch_id']}").json()
        assert batch["status"] == "confirmed" and set(batch["payouts"]) == set(ids)

        # Cursor pagination walks every row once.
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "status": "paid"}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/v1/payouts", params=params).json()
            seen += [p["id"] for p in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids

        # A paid payout cannot be cancelled.
        late = http.post(f"/v1/payouts/{ids[0]}/cancel")
        assert late.status_code == 409 and late.headers["content-type"] == PROBLEM

        # Webhooks: submitted then paid for every payout, signatures verified by the receiver.
        wait_until(lambda: len(receiver.events("payout.paid")) == 5, what="5 payout.paid events")
        assert receiver.bad_signatures == 0
        for i in ids:
            kinds = [e["type"] for e in receiver.events() if e["data"].get("id") == i]
            assert kinds == ["payout.submitted", "payout.paid"]
        assert receiver.events("batch.paid")
        log = http.get("/v1/webhooks/deliveries", params={"status": "delivered"}).json()["data"]
        assert log and all(d["log"][-1]["status_code"] == 204 for d in log)

        # Replay: delivered again with the same webhook-id.
        msg = receiver.events("payout.paid")[0]["_id"]
        replay = http.post(f"/v1/webhooks/messages/{msg}/replay")
        assert replay.status_code == 202
        wait_until(lambda: sum(1 for e in receiver.events() if e["_id"] == msg) == 2, what="replay")

        # Balances and the low-balance alert (threshold 2,000,000 USDC > the payer's 1,000,000).
        balances = http.get("/v1/balances").json()
        assert balances["data"][0]["tokens"][0]["token"] == "USDC"
        low = receiver.events("balance.low")
        assert [e["data"]["asset"] for e in low] == ["USDC"]


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    (
        {"network": "nope", "token": "USDC", "recipient": "0x" + "11" * 20, "amount": "1"},
        "network",
        "network_unknown",
    ),
    (
        {"network": "anvil", "token": "DAI", "recipient": "0x" + "11" * 20, "amount": "1"},
        "token",
        "token_unknown",
    ),
    (
        {
            "network": "anvil",
            "token": "USDC",
            "recipient": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
            "amount": "1",
        },
        "recipient",
        "address_other_network",
    ),
    (
        {
            "network": "anvil",
            "token": "USDC",
            "recipient": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
            "amount": "1",
        },
        "recipient",
        "address_checksum",
    ),
    (
        {"network": "anvil", "token": "USDC", "recipient": "0x" + "11" * 20, "amount": "1.0000001"},
        "amount",
        "amount_decimals",
    ),
    (
        {"network": "anvil", "token": "USDC", "recipient": "0x" + "11" * 20, "amount": "-5"},
        "amount",
        "amount_not_positive",
    ),
    ({"network": "anvil", "token": "USDC", "recipient": "0x" + "11" * 20}, "amount", "missing"),
    (
        {
            "network": "anvil",
            "token": "USDC",
            "recipient": "0x" + "11" * 20,
            "amount": "1",
            "colour": "red",
        },
        "colour",
        "unknown",
    ),
    (
        {"network": "anvil", "token": "USDC", "recipient": "0x" + "11" * 20, "amount": True},
        "amount",
        "amount_format",
    ),
]


def test_bad_input_gets_problem_json_naming_the_field(server: Server, config: Path) -> None:
    key = create_key(config, "read", "write")
    with server.client(key) as http:
        for payload, field, code in BAD_INPUT:
            _check_bad_input(http, payload, field, code)


def _check_bad_input(http: Any, payload: dict[str, Any], field: str, code: str) -> None:
    answer = http.post("/v1/payouts", json=payload)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == 422 and problem["type"].startswith("urn:payout:problem:")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    # In a batch, the row is named, and nothing of the batch is stored.
    good = dict(payload, network="anvil", token="USDC", recipient="0x" + "22" * 20)
    good.update(amount="1", id=random_id())
    good.pop("colour", None)
    batch = http.post("/v1/payouts", json={"payouts": [good, payload]})
    assert batch.status_code == 422
    assert batch.json()["errors"][0]["field"] == f"payouts[1].{field}"
    assert http.get("/v1/payouts").json()["data"] == []


def test_malformed_bodies_and_queries(server: Server, config: Path) -> None:
    key = create_key(config, "read", "write")
    with server.client(key) as http:
        broken = http.post(
            "/v1/payouts", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422 and broken.headers["content-type"] == PROBLEM
        assert broken.json()["errors"][0]["code"] == "syntax"
        empty = http.post("/v1/payouts", json={"payouts": []})
        assert empty.json()["errors"][0]["field"] == "payouts"
        bad_limit = http.get("/v1/payouts", params={"limit": 0})
        assert bad_limit.status_code == 422
        assert bad_limit.json()["errors"][0]["field"] == "query.limit"
        bad_status = http.get("/v1/payouts", params={"status": "lost"})
        assert bad_status.json()["errors"][0]["field"] == "query.status"
        bad_cursor = http.get("/v1/payouts", params={"cursor": "zzz"})
        assert bad_cursor.json()["errors"][0]["field"] == "query.cursor"
        missing = http.get("/v1/payouts/po_nope")
        assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_api_keys_scopes_and_rate_limit(server: Server, config: Path) -> None:
    reader = create_key(config, "read")
    with server.client("pk_nope_nope") as http:
        assert http.get("/v1/payouts").status_code == 401
    with server.client(reader) as http:
        assert http.get("/v1/payouts").status_code == 200
        denied = http.post("/v1/payouts", json={})
        assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM
    slow = create_key(config, "read", rate_limit=2)
    with server.client(slow) as http:
        codes = [http.get("/v1/payouts").status_code for _ in range(6)]
        assert codes[:2] == [200, 200] and 429 in codes
        limited = next(
            r for r in (http.get("/v1/payouts") for _ in range(3)) if r.status_code == 429
        )
        assert int(limited.headers["Retry-After"]) >= 1
    schema = server.client(reader).get("/openapi.json").json()
    assert "/v1/payouts" in schema["paths"] and "/v1/payouts/{payout_id}/cancel" in schema["paths"]


def test_requested_payouts_can_be_cancelled_until_flushed(
    node: Any, usdc: str, disburser: str, payer: Payer, tmp_path: Path, chain: Chain
) -> None:
    config = write_config(
        tmp_path / "slow.toml",
        rpc_url=node.url,
        token=usdc,
        disburser=disburser,
        keystore=payer.keystore,
        ledger_url=f"sqlite:///{tmp_path / 'slow.sqlite'}",
        flush_seconds=3600,
        flush_rows=3,
    )
    s = start_server(config, tmp_path / "slow.log")
    try:
        key = create_key(config, "read", "write")
        rows = _rows(tmp_path, 3, seed="cancel")
        with s.client(key) as http:
            first = http.post("/v1/payouts", json=rows[0]).json()
            assert first["status"] == "requested"
            cancelled = http.post(f"/v1/payouts/{first['id']}/cancel")
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            # The group reaches flush_rows (3 live rows): flushed at once, not after an hour.
            more = http.post("/v1/payouts", json={"payouts": rows[1:]}).json()["payouts"]
            third = _rows(tmp_path, 1, seed="cancel-extra")[0]
            more.append(http.post("/v1/payouts", json=third).json())
            ids = [p["id"] for p in more]
            wait_until(lambda: _all_paid(http, ids), what="flush at 3 rows")
            assert chain.token_balance(usdc, rows[0]["recipient"]) == 0
            assert http.get(f"/v1/payouts/{first['id']}").json()["status"] == "cancelled"
    finally:
        s.stop()


def _request_then_crash(
    config: Path, log: Path, point: str, rows: list[dict[str, str]]
) -> tuple[str, list[str]]:
    """Request ``rows`` from a service that dies at fault ``point``; (API key, payout ids)."""
    s = start_server(config, log, extra_env={"PAYOUT_FAULT": point})
    key = create_key(config, "read", "write")
    with s.client(key) as http:
        ids = [p["id"] for p in http.post("/v1/payouts", json={"payouts": rows}).json()["payouts"]]
    assert s.process.wait(60) == FAULT_EXIT_CODE
    return key, ids


def test_killed_service_resumes_without_paying_twice(
    config: Path, tmp_path: Path, chain: Chain, usdc: str
) -> None:
    """The service process dies right after broadcasting a batch (like kill -9); restarted, it
    settles the batch from the chain and pays every row exactly once."""
    rows = _rows(tmp_path, 4, seed="crash")
    key, ids = _request_then_crash(config, tmp_path / "crash.log", "after-broadcast", rows)
    s2 = start_server(config, tmp_path / "crash.log")
    try:
        with s2.client(key) as http:
            wait_until(lambda: _all_paid(http, ids), what="paid after restart")
            for row in rows:
                units = int(row["amount"].replace(".", "")) * 10**4
                assert chain.token_balance(usdc, row["recipient"]) == units
    finally:
        s2.stop()


def test_serve_devnet_pays_a_withdrawal(tmp_path: Path) -> None:
    """`payout serve --devnet DIR`: a local anvil and a local TRON node, each with a token, the
    disburser and a funded payer, an API key on stdout; one request with a withdrawal on each
    network is paid on both."""
    import subprocess
    import tomllib

    import httpx
    from support.tron_payout import recipients as tron_recipients

    from payout.devnet import free_port
    from payout.tron.client import connect
    from payout.tron.token import balance_of

    from .service_support import service_env

    port = free_port()
    proc = subprocess.Popen(
        [PAYOUT_BIN, "serve", "--devnet", str(tmp_path / "dev"), "--port", str(port)],
        env=service_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        assert key.startswith("pk_")
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=60, what="payout serve --devnet")
        tron_recipient = tron_recipients(1, f"{tmp_path}/devnet")[0]
        rows = [
            {
                "network": "devnet",
                "token": "USDC",
                "recipient": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                "amount": "12.50",
            },
            {"network": "tron", "token": "USDT", "recipient": tron_recipient, "amount": "7.25"},
        ]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            created = http.post("/v1/payouts", json={"payouts": rows})
            assert created.status_code == 201, created.text
            ids = [p["id"] for p in created.json()["payouts"]]
            wait_until(lambda: _all_paid(http, ids), what="devnet withdrawals paid")
            tron = http.get(f"/v1/payouts/{ids[1]}").json()
            balances = {b["network"]: b for b in http.get("/v1/balances").json()["data"]}
        network = tomllib.loads((tmp_path / "dev" / "payout.toml").read_text())["networks"]["tron"]
        client = connect(network["node_url"])
        token = network["tokens"]["USDT"]["address"]
        assert balance_of(client, token, tron_recipient) == 7_250_000
        assert tron["status"] == "paid" and tron["tx_hash"]
        assert balances["tron"]["gas"]["symbol"] == "TRX"
        # A second EVM withdrawal is its own flush (a run of one batch): it takes the next bit of
        # the same replay word as the first, so it pays no fresh storage slot for its marker.
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            second = http.post(
                "/v1/payouts",
                json=dict(rows[0], recipient="0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
            ).json()["id"]
            wait_until(lambda: _all_paid(http, [second]), what="second withdrawal paid")
            batches = [
                http.get(f"/v1/batches/{http.get(f'/v1/payouts/{i}').json()['batch_id']}").json()
                for i in (ids[0], second)
            ]
        keys = [bytes.fromhex(b["replay_key"][2:]) for b in batches]
        assert keys[0][:31] == keys[1][:31] and keys[1][31] == keys[0][31] + 1
        gas = [int(b["gas_used"]) for b in batches]
        assert gas[1] < gas[0] - 10_000, gas  # no fresh 22,100-gas slot for the marker
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_second_worker_on_a_sqlite_ledger_is_refused(server: Server, config: Path) -> None:
    import subprocess

    from .service_support import service_env

    second = subprocess.run(
        [PAYOUT_BIN, "service", "worker", "--config", str(config)],
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 3
    assert "a SQLite ledger is paid by one worker" in second.stderr


@pytest.mark.parametrize("point", ["after-settle", "after-receipt"])
def test_batch_events_survive_a_crash_between_the_change_and_the_event(
    config: Path, tmp_path: Path, receiver: Receiver, point: str
) -> None:
    """The service dies right after the ledger recorded the batch as paid (after-settle) or right
    after the receipt (after-receipt), before any batch.paid event was written. Restarted, it
    announces the batch: batch.paid arrives (the outbox is written with the change itself)."""
    rows = _rows(tmp_path, 3, seed=f"batch-{point}")
    key, ids = _request_then_crash(config, tmp_path / "batch.log", point, rows)
    s2 = start_server(config, tmp_path / "batch.log")
    try:
        with s2.client(key) as http:
            wait_until(lambda: _all_paid(http, ids), what="paid after restart")
            batch_id = http.get(f"/v1/payouts/{ids[0]}").json()["batch_id"]
        wait_until(
            lambda: [e for e in receiver.events("batch.paid") if e["data"]["batch_id"] == batch_id],
            timeout=30,
            what="batch.paid of the batch paid before the crash",
        )
        # Deliveries are not ordered: batch.submitted may arrive after batch.paid.
        submitted = wait_until(
            lambda: receiver.events("batch.submitted"), timeout=30, what="batch.submitted"
        )
        assert [e["data"]["batch_id"] for e in submitted] == [batch_id]
        paid = receiver.events("batch.paid")[0]["data"]
        assert paid["count"] == 3 and paid["tx_hash"] and paid["network"] == "anvil"
    finally:
        s2.stop()
