"""Dashboard rules that need no chain: keys and sessions, roles, CSRF, redirects, explorer links,
and the retry that marks rows owed again through the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from payout.dashboard.app import create_app
from payout.dashboard.auth import (
    SESSION_COOKIE,
    KeyStore,
    Principal,
    Role,
    SessionSigner,
    key_file_entry,
)
from payout.dashboard.config import DashboardConfig
from payout.dashboard.data import retry_payouts
from payout.dashboard.explorer import TRON_MAINNET_CHAIN_ID, address_link, tx_link
from payout.exceptions import ConfigError
from payout.ledger import Ledger
from payout.types import Network, Payout, PayoutStatus, Scope

OPERATOR = "pk_unit_operator_key_0000000000"
FINANCE = "pk_unit_finance_key_11111111111"
PAYER = "0x" + "11" * 20
TOKEN = "0x" + "22" * 20
SCOPE = Scope(Network.EVM, 31337, PAYER, TOKEN)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            [
                key_file_entry("ops", Role.OPERATOR, OPERATOR),
                key_file_entry("fin", Role.FINANCE, FINANCE),
            ]
        )
    )
    return path


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with Ledger.open(url) as ledger:
        rows = [
            Payout(f"p-{i}", "0x" + f"{i + 1:02x}" * 20, 1_000_000 + i, i + 2, None, TOKEN)
            for i in range(3)
        ]
        ledger.register(rows, SCOPE)
        ledger.set_payout_status(
            SCOPE, ["p-0"], PayoutStatus.SKIPPED, error="excluded before sending: Blacklisted"
        )
    return url


@pytest.fixture
def client(key_file: Path, ledger_url: str) -> TestClient:
    config = DashboardConfig(ledger_url=ledger_url, keys=KeyStore.from_file(key_file))
    return TestClient(create_app(config))


def _login(client: TestClient, key: str) -> str:
    answer = client.post("/dashboard/login", data={"api_key": key}, follow_redirects=False)
    assert answer.status_code == 303
    page = client.get("/dashboard/attention")
    marker = 'name="csrf" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_session_cookie_is_signed_and_expires() -> None:
    signer = SessionSigner(b"s" * 32)
    cookie, session = signer.issue(Principal("ops", Role.OPERATOR), now=1_000)
    assert signer.check(cookie, now=1_001) == session
    payload, mac = cookie.rsplit(".", 1)
    forged = payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1) + "." + mac
    assert signer.check(forged, now=1_001) is None
    assert SessionSigner(b"t" * 32).check(cookie, now=1_001) is None
    assert signer.check(cookie, now=1_000 + 13 * 3600) is None
    assert signer.check("garbage", now=1_001) is None


def test_key_file_is_checked_and_keys_are_only_stored_as_digests(
    key_file: Path, tmp_path: Path
) -> None:
    store = KeyStore.from_file(key_file)
    assert store.authenticate(OPERATOR) == Principal("ops", Role.OPERATOR)
    assert store.authenticate(FINANCE) == Principal("fin", Role.FINANCE)
    assert store.authenticate("pk_wrong") is None
    assert OPERATOR not in key_file.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "role": "admin", "sha256": "00" * 32}]))
    with pytest.raises(ConfigError, match="entry 0 has role 'admin'"):
        KeyStore.from_file(bad)


def test_explorer_links_per_network() -> None:
    tx = "0x" + "ab" * 32
    expected = {
        1: "https://etherscan.io/tx/",
        56: "https://bscscan.com/tx/",
        137: "https://polygonscan.com/tx/",
        42161: "https://arbiscan.io/tx/",
        8453: "https://basescan.org/tx/",
        11155111: "https://sepolia.etherscan.io/tx/",
    }
    for chain_id, prefix in expected.items():
        assert tx_link(Network.EVM, chain_id, tx) == prefix + tx
    assert tx_link(Network.TRON, TRON_MAINNET_CHAIN_ID, tx) == (
        "https://tronscan.org/#/transaction/" + "ab" * 32
    )
    assert address_link(Network.EVM, 1, PAYER) == f"https://etherscan.io/address/{PAYER}"
    # Local devnets (and unknown chains) get no link rather than a wrong one.
    assert tx_link(Network.EVM, 31337, tx) is None
    assert tx_link(Network.TRON, 0x1234, tx) is None
    assert tx_link(Network.EVM, 1, None) is None


def test_pages_need_a_login_and_accept_a_bearer_key(client: TestClient) -> None:
    answer = client.get("/dashboard/balances", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login?next=/dashboard/balances"
    page = client.get("/dashboard/attention", headers={"Authorization": f"Bearer {FINANCE}"})
    assert page.status_code == 200 and "p-0" in page.text
    assert "excluded before sending: Blacklisted" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/dashboard/static/dashboard.css").status_code == 200
    assert client.get("/dashboard/static/..%2Fauth.py").status_code == 404


def test_login_sets_a_strict_httponly_cookie_and_never_redirects_elsewhere(
    client: TestClient,
) -> None:
    bad = client.post("/dashboard/login", data={"api_key": "nope"})
    assert bad.status_code == 401 and "not valid" in bad.text
    answer = client.post(
        "/dashboard/login",
        data={"api_key": OPERATOR, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/dashboard/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie


def test_finance_cannot_retry_and_operator_needs_the_csrf_token(
    client: TestClient, ledger_url: str
) -> None:
    row = f"evm:31337:{PAYER}:{TOKEN}|p-0"
    csrf = _login(client, FINANCE)
    assert client.post("/dashboard/retry", data={"csrf": csrf, "row": row}).status_code == 403
    client.cookies.clear()
    csrf = _login(client, OPERATOR)
    assert client.post("/dashboard/retry", data={"csrf": "x", "row": row}).status_code == 403
    with Ledger.open(ledger_url) as ledger:
        assert ledger.payouts(SCOPE, payout_ids=["p-0"])[0].status is PayoutStatus.SKIPPED
    done = client.post("/dashboard/retry", data={"csrf": csrf, "row": row}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/dashboard/attention?retried=1&gone=0"
    with Ledger.open(ledger_url) as ledger:
        assert ledger.payouts(SCOPE, payout_ids=["p-0"])[0].status is PayoutStatus.PLANNED


def test_retry_marks_only_failed_or_skipped_rows_owed_and_records_who(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        result = retry_payouts(ledger, [(SCOPE, "p-0"), (SCOPE, "p-1")], actor="ops")
        assert result.marked == 1 and result.not_retryable == ["p-1"]
        assert result.rows == [(SCOPE, "p-0")]
        statuses = {r.payout_id: r.status for r in ledger.payouts(SCOPE)}
        assert statuses == {
            "p-0": PayoutStatus.PLANNED,
            "p-1": PayoutStatus.PLANNED,
            "p-2": PayoutStatus.PLANNED,
        }
        # A second request finds nothing to do (idempotent), and nothing else changed.
        again = retry_payouts(ledger, [(SCOPE, "p-0")], actor="ops")
        assert again.marked == 0 and again.not_retryable == ["p-0"]
        from sqlalchemy import select

        from payout.ledger import runs

        with ledger.engine.connect() as conn:
            notes = [r.note for r in conn.execute(select(runs)) if r.command == "dashboard retry"]
        assert notes == ["marked owed again by ops: p-0"]
