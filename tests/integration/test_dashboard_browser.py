"""The operator dashboard in a real browser (Debian's chromium through Playwright) against a real
ledger written by real ``payout`` runs on anvil. Every page's screenshot goes to build/screens/
(``make screens`` runs this module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.dashboard import (
    FINANCE_KEY,
    OPERATOR_KEY,
    browser,
    login,
    screenshot,
    serve_dashboard,
)
from support.demo_token import unblacklist
from support.safe_env import setup_safe_env
from support.safe_env import signer as dev_signer

from payout.chain import Chain
from payout.demo_token import DemoToken, blacklist, deploy_token, mint
from payout.devnet import dev_private_key
from payout.ledger import Ledger
from payout.signer import write_keystore
from payout.types import PayoutStatus
from payout.wallet import Wallet

from .conftest import PASSWORD, Payer, as_json, invoke, run, send, write_csv


def _statuses(env: dict[str, str]) -> dict[str, str]:
    return {r["payout_id"]: r["status"] for r in as_json(run("report", "--json", env=env).stdout)}


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_operator_sees_the_run_the_failure_reason_and_a_retry_that_turns_paid(
    env: dict[str, str],
    chain: Chain,
    deployer: Wallet,
    payer: Payer,
    usdc: str,
    payout_file: Any,
    tmp_path: Path,
) -> None:
    file, rows = payout_file(5)
    blocked = rows[3][0]
    blacklist(deployer, usdc, blocked)
    sent = send(env, payer, usdc, file, "--on-failure", "skip", "--max-batch-size", "3")
    assert sent.returncode == 0, sent.stderr
    assert _statuses(env)["id-3"] == "skipped"

    with serve_dashboard(env, tmp_path) as dash, browser() as ctx:
        page = ctx.new_page()
        base = dash.url

        # Not logged in: every page sends you to the login form, which the keyboard reaches.
        page.goto(f"{base}/dashboard/balances")
        assert "/dashboard/login" in page.url
        screenshot(page, "01-login")
        field = page.get_by_label("API key")
        field.focus()
        field.fill("not-a-key")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Log in"
        page.keyboard.press("Enter")
        assert page.get_by_role("alert").inner_text() == "That API key is not valid."
        page.get_by_label("API key").fill(OPERATOR_KEY)
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/dashboard/balances")
        cookie = next(c for c in ctx.cookies() if c["name"] == "payout_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # Balances: read from the chain; 1,000,000 USDC covers the one owed row, ETH > floor.
        state = page.locator("tbody tr").first
        assert state.get_attribute("data-state") == "ok"
        assert "USDC" in state.inner_text() and "ETH" in state.inner_text()
        screenshot(page, "04-balances")

        # Runs and batches: the send and both batches, confirmed, with their transactions.
        page.goto(f"{base}/dashboard/")
        assert page.get_by_role("heading", name="Runs and batches").is_visible()
        batch_rows = page.locator("tr[data-batch-id]")
        assert batch_rows.count() == 2
        assert {batch_rows.nth(i).get_attribute("data-status") for i in range(2)} == {"confirmed"}
        assert "send" in page.locator("table").nth(0).inner_text()
        screenshot(page, "02-runs-and-batches")

        # A batch: per-row status; the skipped row says why.
        page.locator("tr[data-batch-id] th a", has_text="#1").click()
        page.wait_for_url("**/batches/**")
        skipped = page.locator('tr[data-payout-id="id-3"]')
        assert skipped.get_attribute("data-status") == "skipped"
        assert "transfer failed on chain (skip-and-report mode)" in skipped.inner_text()
        assert page.locator('tr[data-status="confirmed"]').count() == 1
        screenshot(page, "03-batch")

        # Failed and skipped: the reason, and a retry only once the cause is fixed.
        page.get_by_role("link", name="Failed & skipped").click()
        row = page.locator('tr[data-payout-id="id-3"]')
        assert "skip-and-report" in row.inner_text()
        screenshot(page, "05-failed-and-skipped")

        # Phone width: no sideways scrolling of the page; the navigation wraps.
        phone = ctx.new_page()
        phone.set_viewport_size({"width": 375, "height": 812})
        pages = (
            ("/dashboard/", "phone-runs"),
            ("/dashboard/balances", "phone-balances"),
            ("/dashboard/attention", "phone-failed"),
        )
        for path, name in pages:
            phone.goto(f"{base}{path}")
            assert _no_horizontal_scroll(phone), path
            assert phone.get_by_role("navigation", name="Pages").is_visible()
            screenshot(phone, name)
        assert phone.get_by_label("Retry id-3").is_visible()  # the row, as a card

        unblacklist(deployer, usdc, blocked)
        page.get_by_label("Retry id-3").check()
        page.get_by_role("button", name="Retry selected rows").click()
        assert "1 row(s) marked owed again" in page.get_by_role("status").inner_text()
        assert page.locator('tr[data-payout-id="id-3"]').count() == 0
        assert _statuses(env)["id-3"] == "planned"
        with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
            assert any(r["command"] == "dashboard retry" for r in _runs(ledger))

        # The next plain send of the file pays the row once; the dashboard shows it paid.
        again = send(env, payer, usdc, file, "--json")
        assert again.returncode == 0, again.stderr
        assert as_json(again.stdout)["paid_rows"] == 1
        page.goto(f"{base}/dashboard/payouts?q=id-3")
        found = page.locator('tr[data-payout-id="id-3"]')
        assert found.get_attribute("data-status") == "confirmed"
        assert found.locator("td .mono").count() >= 1  # its transaction hash
        screenshot(page, "06-payout-search")

        # Reconcile: the chain agrees with the ledger (5 transfers, 5 paid rows).
        page.get_by_role("link", name="Reconcile").click()
        assert "consistent" in page.locator(".verdict").inner_text()
        assert "5 transfer(s) on chain" in page.locator("main").inner_text()
        screenshot(page, "07-reconcile")

        # Costs: one day, 5 rows, a chart with a text alternative and a table.
        page.get_by_role("link", name="Costs").click()
        chart = page.locator("svg.chart").first
        assert "Paid per day" in (chart.get_attribute("aria-label") or "")
        day = page.locator("tbody tr").first.inner_text()
        assert "\t5\t" in day and "ETH" in day
        screenshot(page, "08-costs")
        phone.goto(f"{base}/dashboard/costs")
        assert _no_horizontal_scroll(phone)
        screenshot(phone, "phone-costs")

        page.get_by_role("link", name="Webhooks").click()
        assert page.get_by_role("heading", name="Webhook deliveries").is_visible()
        screenshot(page, "09-webhooks")

        # Keyboard: the skip link is the first stop and moves focus to the content.
        page.goto(f"{base}/dashboard/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def _runs(ledger: Ledger) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from payout.ledger import runs

    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs)).mappings()]


def test_finance_reads_everything_and_can_change_nothing(
    env: dict[str, str],
    deployer: Wallet,
    payer: Payer,
    usdc: str,
    payout_file: Any,
    tmp_path: Path,
) -> None:
    file, rows = payout_file(3, seed="finance")
    blacklist(deployer, usdc, rows[0][0])
    assert send(env, payer, usdc, file, "--on-failure", "exclude").returncode == 0
    assert _statuses(env)["id-0"] == "skipped"

    # A gas floor above the payer's 100 ETH: the balances page must call it low.
    floor = {**env, "PAYOUT_MIN_GAS_WEI": str(1_000 * 10**18)}
    with serve_dashboard(floor, tmp_path) as dash, browser() as ctx:
        page = ctx.new_page()
        login(page, dash.url, FINANCE_KEY, "/dashboard/balances")
        state = page.locator("tbody tr").first
        assert state.get_attribute("data-state") == "low"
        assert "gas coin below floor" in state.inner_text()
        assert "token below owed" not in state.inner_text()
        screenshot(page, "12-balances-low")
        page.goto(f"{dash.url}/dashboard/attention")
        assert "finance" in page.locator(".who").inner_text()
        row = page.locator('tr[data-payout-id="id-0"]')
        # Excluded before sending: the simulated failure's reason is kept with the row.
        assert "excluded before sending" in row.inner_text()
        assert page.locator('input[name="row"]').count() == 0
        assert page.get_by_role("button", name="Retry selected rows").count() == 0
        assert "read-only" in page.locator("main").inner_text()
        screenshot(page, "10-finance-read-only")

        # Even a hand-made POST with the session (and its CSRF token) is refused.
        csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
        answer = page.request.post(
            f"{dash.url}/dashboard/retry",
            form={"csrf": csrf or "", "row": "x|id-0"},
        )
        assert answer.status == 403
        assert _statuses(env)["id-0"] == "skipped"


def test_safe_proposal_shows_who_signed_and_the_total(
    env: dict[str, str], chain: Chain, disburser: str, tmp_path: Path
) -> None:
    safe_env = setup_safe_env(chain, disburser)
    owners = [dev_signer(i).address for i in (1, 2, 3)]
    safe = safe_env.new_safe("1.4.1", owners, 2)
    token = deploy_token(Wallet(chain, dev_signer(0)), DemoToken.USDC, "Demo USD Coin", "USDC")
    mint(Wallet(chain, dev_signer(0)), token, safe, 100 * 10**6)
    csv = write_csv(
        tmp_path / "safe-payees.csv",
        [(dev_signer(5 + i).address, f"{10 + i}.25", f"safe-{i}") for i in range(3)],
    )
    proposals = tmp_path / "proposals"
    proposals.mkdir()
    proposal = proposals / "safe-proposal.json"
    made = invoke(
        "safe", "propose", str(csv), "--safe", safe, "--token", token, "--out", str(proposal)
    )
    assert made.exit_code == 0, made.output
    keystore = tmp_path / "dev1.json"
    write_keystore(keystore, dev_private_key(1), PASSWORD, iterations=16)
    signed = invoke(
        "safe",
        "sign",
        str(proposal),
        "--keystore",
        str(keystore),
        "--out",
        str(proposals / "sig-1.json"),
    )
    assert signed.exit_code == 0, signed.output

    env_with_dir = {**env, "PAYOUT_SAFE_PROPOSALS_DIR": str(proposals)}
    with serve_dashboard(env_with_dir, tmp_path) as dash, browser() as ctx:
        page = ctx.new_page()
        login(page, dash.url, OPERATOR_KEY, "/dashboard/safe")
        card = page.locator("section.proposal")
        assert card.count() == 1
        text = card.inner_text()
        assert "33.75 USDC to 3 recipients" in text  # 10.25 + 11.25 + 12.25, decimals from chain
        assert "1 of 2 needed" in text
        signer_row = card.locator("tr", has_text=owners[0])
        assert "signed" in signer_row.inner_text() and "eip712: valid" in signer_row.inner_text()
        assert "waiting" in card.locator("tr", has_text=owners[1]).inner_text()
        with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
            (batch,) = ledger.batches()
            assert batch.safe_tx_hash and batch.safe_tx_hash in text
            assert {r.status for r in ledger.payouts()} == {PayoutStatus.PLANNED}
        card.get_by_text("Recipients (3)").click()
        assert card.locator("td", has_text=dev_signer(5).address).is_visible()
        screenshot(page, "11-safe-proposals")
