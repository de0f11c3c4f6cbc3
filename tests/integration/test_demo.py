"""`payout demo` (what `make demo` runs first), as a subprocess from a clean working directory:
by default a 2-of-3 Safe pays 1,000 payees; `--executor wallet` pays them from a hot wallet."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from payout.types import TX_GAS_CAP

from .conftest import as_json, run


def _clean_env() -> dict[str, str]:
    """No PAYOUT_* settings of the test session leak into the demo."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PAYOUT_")}


def _report(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_default_demo_pays_1000_payees_through_a_two_of_three_safe(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    started = time.monotonic()
    proc = run("demo", "--workdir", str(workdir), "--json", env=_clean_env())
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["executor"] == "safe" and out["threshold"] == "2 of 3"
    assert len(out["signers"]) == 2 and len(set(out["signers"])) == 2
    assert out["paid"] == 1000 and out["reconcile_ok"] is True
    # Two Safe transactions of 500, each under the per-transaction gas cap.
    assert [b["paid"] for b in out["batches"]] == [500, 500]
    assert [b["safe_nonce"] for b in out["batches"]] == [0, 1]
    assert all(0 < b["gas_used"] < TX_GAS_CAP for b in out["batches"])
    assert out["gas_used"] == sum(b["gas_used"] for b in out["batches"])
    assert out["gas_per_recipient"] == round(out["gas_used"] / 1000, 1)
    # Separate transfers were simulated for fresh payees (before the Safe paid them).
    assert out["separate_transfers_gas"] / 1000 > 50_000
    assert 40 < out["saving_percent"] < 60
    rows = _report(out["report"])
    assert len(rows) == 1000
    assert {r["status"] for r in rows} == {"confirmed"} and {r["symbol"] for r in rows} == {"USDC"}
    assert {r["payer"] for r in rows} == {out["payer"]}
    assert {r["tx_hash"] for r in rows} == {b["tx_hash"] for b in out["batches"]}
    assert Path(out["ledger"]).is_file() and Path(out["proposal"]).is_file()
    assert "anvil stopped" in proc.stderr
    assert elapsed < 60

    human = run("demo", "--workdir", str(workdir), "--payees", "20", env=_clean_env())
    assert human.returncode == 0, human.stderr
    for text in (
        "Paid 20 of 20 payees",
        "2 of 3",
        "Safe nonce 0: 20 paid",
        "per recipient",
        "the batches save",
        f"Report: {workdir / 'report.csv'}",
        f"Ledger: {workdir / 'ledger.sqlite'}",
    ):
        assert text in human.stdout, text


def test_wallet_demo_pays_1000_payees_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    proc = run(
        "demo", "--executor", "wallet", "--workdir", str(workdir), "--json", env=_clean_env()
    )
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["executor"] == "wallet" and out["threshold"] is None
    assert out["paid"] == 1000 and out["reconcile_ok"] is True
    assert len(out["batches"]) == 2 and all(b["paid"] == 500 for b in out["batches"])
    assert out["approval_gas"] > 0
    assert out["saving_percent"] > 40
    assert out["gas_used"] < 2 * TX_GAS_CAP
    assert len(_report(out["report"])) == 1000
    assert out["ledger"] == str(workdir / "ledger.sqlite")
    assert "anvil stopped" in proc.stderr

    human = run(
        "demo",
        "--executor",
        "wallet",
        "--workdir",
        str(workdir),
        "--payees",
        "12",
        env=_clean_env(),
    )
    assert human.returncode == 0, human.stderr
    for text in ("Paid 12 of 12 payees", "batch 0: 12 paid", "per recipient", "save", "Report:"):
        assert text in human.stdout, text


def test_wallet_demo_with_blacklisted_payees_excludes_them(tmp_path: Path) -> None:
    proc = run(
        "demo",
        "--executor",
        "wallet",
        "--payees",
        "40",
        "--blacklisted",
        "2",
        "--workdir",
        str(tmp_path / "d"),
        "--json",
        env=_clean_env(),
    )
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["paid"] == 38 and out["excluded"] == 2 and out["reconcile_ok"]
    refused = run("demo", "--blacklisted", "2", "--workdir", str(tmp_path / "s"), env=_clean_env())
    assert refused.returncode == 2 and "--executor wallet" in refused.stderr
