"""The dashboard served by ``payout serve`` in a real browser: a payout requested through the API
appears and turns paid, a blacklisted recipient shows why it was skipped, the service's API keys
log in (write scope = operator, read-only = finance) and its webhook log is shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.dashboard import browser, screenshot
from support.demo_token import unblacklist

from payout.chain import Chain
from payout.demo import demo_recipients
from payout.demo_token import blacklist
from payout.wallet import Wallet

from .conftest import Payer
from .service_support import create_key, start_server, webhook_receiver, write_config

#: The worker flushes every 0.3 s; a payout on anvil is paid within seconds.
DEADLINE_S = 90.0


def _status_of(page: Any, base: str, payout_id: str) -> str | None:
    page.goto(f"{base}/dashboard/payouts?q={payout_id}")
    row = page.locator(f'tr[data-payout-id="{payout_id}"]')
    return row.get_attribute("data-status") if row.count() else None


def _wait_for_status(page: Any, base: str, payout_id: str, wanted: str) -> list[str | None]:
    """Reload the search page until the row shows ``wanted``; returns every status seen."""
    seen: list[str | None] = []
    deadline = time.monotonic() + DEADLINE_S
    while True:
        status = _status_of(page, base, payout_id)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return seen
        assert time.monotonic() < deadline, f"{payout_id} never showed {wanted}: saw {seen}"
        time.sleep(0.2)  # the worker (another process) is paying; the deadline bounds the wait


def test_a_payout_requested_through_the_api_appears_in_the_dashboard_and_turns_paid(
    tmp_path: Path,
    node: Any,
    chain: Chain,
    deployer: Wallet,
    usdc: str,
    disburser: str,
    payer: Payer,
) -> None:
    good, blocked = demo_recipients(2, seed=f"{tmp_path}/dash")
    blacklist(deployer, usdc, blocked)
    with webhook_receiver() as receiver:
        config = write_config(
            tmp_path / "payout.toml",
            rpc_url=node.url,
            token=usdc,
            disburser=disburser,
            keystore=payer.keystore,
            ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            webhook_url=receiver.url,
        )
        server = start_server(config, tmp_path / "serve.log")
        try:
            operator = create_key(config, "read", "write")
            finance = create_key(config, "read")
            rows = [
                {
                    "network": "anvil",
                    "token": "USDC",
                    "recipient": good,
                    "amount": "12.50",
                    "id": "dash-good",
                },
                {
                    "network": "anvil",
                    "token": "USDC",
                    "recipient": blocked,
                    "amount": "3.00",
                    "id": "dash-blocked",
                },
            ]
            with server.client(operator) as http:
                made = http.post(
                    "/v1/payouts", json={"payouts": rows}, headers={"Idempotency-Key": "dash-1"}
                )
                assert made.status_code == 201, made.text

            with browser() as ctx:
                page = ctx.new_page()
                page.goto(f"{server.url}/dashboard/")
                page.get_by_label("API key").fill(operator)
                page.get_by_label("API key").press("Enter")
                page.wait_for_url(f"{server.url}/dashboard/")
                assert "operator" in page.locator(".who").inner_text()

                seen = _wait_for_status(page, server.url, "dash-good", "confirmed")
                assert seen[-1] == "confirmed"
                row = page.locator('tr[data-payout-id="dash-good"]')
                assert "12.50 USDC" in row.inner_text()
                assert chain.token_balance(usdc, good) == 12_500_000
                screenshot(page, "service-payout-paid")

                _wait_for_status(page, server.url, "dash-blocked", "skipped")
                page.goto(f"{server.url}/dashboard/attention")
                reason = page.locator('tr[data-payout-id="dash-blocked"]').inner_text()
                assert "skip-and-report" in reason or "excluded before sending" in reason
                assert chain.token_balance(usdc, blocked) == 0
                screenshot(page, "service-failed-and-skipped")

                # The issuer lifts the blacklisting; the operator retries the row in the
                # dashboard; the service's worker pays it, once.
                unblacklist(deployer, usdc, blocked)
                page.get_by_label("Retry dash-blocked").check()
                page.get_by_role("button", name="Retry selected rows").click()
                assert "1 row(s) marked owed again" in page.get_by_role("status").inner_text()
                _wait_for_status(page, server.url, "dash-blocked", "confirmed")
                assert chain.token_balance(usdc, blocked) == 3_000_000
                assert chain.token_balance(usdc, good) == 12_500_000
                with server.client(operator) as http:
                    ids = {p["id"]: p for p in made.json()["payouts"]}
                    statuses = {http.get(f"/v1/payouts/{i}").json()["status"] for i in ids}
                assert statuses == {"paid"}

                # The service's webhook log: the payout events, delivered.
                page.goto(f"{server.url}/dashboard/webhooks")
                assert page.locator('tr[data-status="delivered"]').count() >= 1
                screenshot(page, "service-webhooks")

                # A read-only service key is the finance role.
                ctx.clear_cookies()
                page.goto(f"{server.url}/dashboard/attention")
                page.get_by_label("API key").fill(finance)
                page.get_by_label("API key").press("Enter")
                page.wait_for_url(f"{server.url}/dashboard/attention")
                assert "finance" in page.locator(".who").inner_text()
                assert page.locator('input[name="row"]').count() == 0
        finally:
            server.stop()
