"""`payout validate` and `payout plan`: chain-read token facts, gas-bounded simulated batches,
failure prediction with a choice, cost against separate transfers, liquidity pre-flight."""

from __future__ import annotations

from pathlib import Path

import pytest

from payout.chain import Chain
from payout.demo_token import blacklist
from payout.wallet import Wallet

from .conftest import Payer, as_json, base_units, invoke, run, send, write_csv


def test_validate_reads_decimals_from_the_chain_and_reports_every_error(
    env: dict[str, str], usdc: str, tmp_path: Path, disburser: str
) -> None:
    good = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    bad_checksum = "0x70997970c51812dc3a010c7d01b50e0d17dC79C8"
    file = write_csv(
        tmp_path / "bad.csv",
        [
            (good, "12.50", "a"),
            (bad_checksum, "1", "b"),
            ("TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", "1", "c"),
            (good, "1.0000001", "d"),  # 7 decimals for a 6-decimal token: refused, not rounded
            (disburser, "1", "e"),
            (good, "0", "a"),
        ],
    )
    result = invoke("validate", str(file), "--token", usdc, "--json")
    assert result.exit_code == 2
    out = as_json(result.stdout)
    codes = {(i["line"], i["code"]) for i in out["issues"] if i["severity"] == "error"}
    lines = {line for line, _code in codes}
    assert {3, 4, 5, 6, 7} <= lines
    # Each bad row is reported for its own reason, the good row (line 2) for none.
    assert codes == {
        (3, "address_checksum"),
        (4, "address_other_network"),
        (5, "amount_decimals"),
        (6, "recipient_forbidden"),
        (7, "amount_not_positive"),
        (7, "id_duplicate"),
    }
    assert out["tokens"][usdc]["decimals"] == 6 or any(
        t["decimals"] == 6 for t in out["tokens"].values()
    )
    human = invoke("validate", str(file), "--token", usdc)
    assert "bad.csv:3" in human.stdout and "checksum" in human.stdout.lower()
    assert "tron" in human.stdout.lower()

    ok = write_csv(tmp_path / "ok.csv", [(good, "12.50", "a")])
    result = invoke("validate", str(ok), "--token", usdc)
    assert result.exit_code == 0, result.stdout
    assert "12.50 USDC" in result.stdout and "6 decimals" in result.stdout


def test_plan_is_gas_bounded_simulated_and_priced(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    file, _rows = payout_file(45)
    nonce = chain.nonce(payer.address)
    result = invoke(
        "plan",
        str(file),
        "--token",
        usdc,
        "--keystore",
        str(payer.keystore),
        "--max-batch-size",
        "20",
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    scope = as_json(result.stdout)["scopes"][0]
    assert scope["token"]["symbol"] == "USDC" and scope["token"]["decimals"] == 6
    assert [b["count"] for b in scope["batches"]] == [20, 20, 5]
    assert all(b["simulated"] and b["gas_simulated"] > 0 for b in scope["batches"])
    assert scope["gas"]["separate_transfers"] > scope["gas"]["batches"]
    assert 30 < scope["gas"]["saving_percent"] < 60
    assert scope["preflight"]["ok"] and scope["preflight"]["approvals_to_send"] == [
        scope["total_base_units"]
    ]
    assert chain.nonce(payer.address) == nonce  # planning signs and sends nothing


def test_plan_batches_respect_the_gas_cap_minus_margin(
    env: dict[str, str], payer: Payer, usdc: str, payout_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A per-recipient model far too optimistic for this token: the first cut is too heavy, the
    # simulation finds out, and the plan is cut again until every batch fits.
    monkeypatch.setenv("PAYOUT_RECIPIENT_GAS", "10000")
    file, _rows = payout_file(120)
    margin = 16_777_216 - 1_500_000  # leaves 1.5M gas per batch: ~50 fresh recipients
    result = invoke(
        "plan",
        str(file),
        "--token",
        usdc,
        "--payer",
        payer.address,
        "--gas-margin",
        str(margin),
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    batches = as_json(result.stdout)["scopes"][0]["batches"]
    assert len(batches) >= 3
    assert all(b["gas_simulated"] <= 1_500_000 for b in batches)
    assert sum(b["count"] for b in batches) == 120


def test_predicted_failures_refuse_exclude_or_skip(
    env: dict[str, str], chain: Chain, deployer: Wallet, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(10)
    blacklist(deployer, usdc, rows[4][0])
    base = ("plan", str(file), "--token", usdc, "--payer", payer.address, "--json")

    refused = invoke(*base)
    assert refused.exit_code == 2
    scope = as_json(refused.stdout)["scopes"][0]
    assert [f["payout_id"] for f in scope["predicted_failures"]] == ["id-4"]
    assert "blacklisted" in scope["predicted_failures"][0]["reason"]

    excluded = invoke(*base, "--on-failure", "exclude")
    assert excluded.exit_code == 0
    scope = as_json(excluded.stdout)["scopes"][0]
    assert scope["payouts"] == 9 and [f["payout_id"] for f in scope["excluded"]] == ["id-4"]

    skip = invoke(*base, "--on-failure", "skip")
    assert skip.exit_code == 0
    scope = as_json(skip.stdout)["scopes"][0]
    assert scope["mode"] == "skip" and scope["payouts"] == 10
    assert scope["batches"][0]["predicted_failures"] == ["id-4"]


def test_skip_mode_send_reports_the_skipped_row(
    env: dict[str, str], chain: Chain, deployer: Wallet, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(6)
    blacklist(deployer, usdc, rows[2][0])
    proc = send(env, payer, usdc, file, "--on-failure", "skip")
    assert proc.returncode == 0, proc.stderr
    report = as_json(run("report", "--json", env=env).stdout)
    status = {r["payout_id"]: r["status"] for r in report}
    assert status["id-2"] == "skipped" and list(status.values()).count("confirmed") == 5
    assert chain.token_balance(usdc, rows[2][0]) == 0
    for i, (r, a, _i) in enumerate(rows):
        assert chain.token_balance(usdc, r) == (0 if i == 2 else base_units(a))
    total = sum(base_units(a) for _r, a, _i in rows)
    assert chain.token_balance(usdc, payer.address) == 1_000_000 * 10**6 - (
        total - base_units(rows[2][1])
    )  # the skipped amount came back to the payer
    # The skipped row stays owed: the ledger does not call it paid, and re-sending with the
    # default mode does not silently retry it (nor pay anyone twice).
    again = send(env, payer, usdc, file)
    assert again.returncode == 0, again.stderr
    assert "0 recipients paid" in again.stdout and "5 were already paid" in again.stdout
    assert chain.token_balance(usdc, rows[2][0]) == 0
    for i, (r, a, _i) in enumerate(rows):
        assert chain.token_balance(usdc, r) == (0 if i == 2 else base_units(a))
    report = as_json(run("report", "--json", env=env).stdout)
    assert {r["payout_id"]: r["status"] for r in report}["id-2"] == "skipped"


def test_preflight_names_the_token_shortfall(
    env: dict[str, str], chain: Chain, keystores: Path, usdc: str, payout_file
) -> None:
    from .conftest import make_payer

    poor = make_payer(chain, keystores)  # holds ETH but no USDC
    file, rows = payout_file(3)
    result = invoke("plan", str(file), "--token", usdc, "--keystore", str(poor.keystore), "--json")
    assert result.exit_code == 5
    pf = as_json(result.stdout)["scopes"][0]["preflight"]
    assert not pf["ok"] and "short by" in pf["shortfalls"][0] and "USDC" in pf["shortfalls"][0]
    nonce = chain.nonce(poor.address)
    sent = send(env, poor, usdc, file)
    assert sent.returncode == 5
    assert "cannot cover" in sent.stderr and "short by" in sent.stderr
    assert chain.nonce(poor.address) == nonce  # refused before sending anything (no approval)
    assert all(chain.token_balance(usdc, r) == 0 for r, _a, _i in rows)


def test_preflight_names_the_gas_coin_shortfall(
    env: dict[str, str], chain: Chain, deployer: Wallet, keystores: Path, usdc: str, payout_file
) -> None:
    from payout.demo_token import mint

    from .conftest import make_payer

    broke = make_payer(chain, keystores, eth=0)
    mint(deployer, usdc, broke.address, 10**12)
    file, _rows = payout_file(3)
    result = invoke("plan", str(file), "--token", usdc, "--keystore", str(broke.keystore), "--json")
    assert result.exit_code == 5
    shortfalls = as_json(result.stdout)["scopes"][0]["preflight"]["shortfalls"]
    assert len(shortfalls) == 1 and "gas coin" in shortfalls[0]
