"""`payout status`, `payout report` (CSV, JSON) and `payout reconcile` with every mismatch kind."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

from payout.chain import Chain
from payout.report import REPORT_COLUMNS

from .conftest import Payer, as_json, base_units, invoke, send


def test_report_csv_and_json_carry_the_proof_of_every_payout(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, paid, tmp_path: Path
) -> None:
    out = tmp_path / "report.csv"
    result = invoke("report", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert tuple(rows[0].keys()) == REPORT_COLUMNS
    assert len(rows) == 15
    by_id = {r["payout_id"]: r for r in rows}
    for recipient, amount, pid in paid:
        r = by_id[pid]
        assert r["recipient"] == recipient and r["amount"] == amount
        assert int(r["amount_base_units"]) == base_units(amount)
        assert r["status"] == "confirmed" and r["symbol"] == "USDC"
        assert r["token"] == usdc and int(r["chain_id"]) == chain.chain_id
        assert int(r["gas_share"]) > 20_000
        receipt = chain.receipt(r["tx_hash"])
        assert receipt is not None and int(receipt["blockNumber"], 16) == int(r["block_number"])
        log = next(lg for lg in receipt["logs"] if int(lg["logIndex"], 16) == int(r["log_index"]))
        assert log["topics"][2][-40:].lower() == recipient[2:].lower()
        assert int(log["data"], 16) == base_units(amount)
    assert len({r["batch_id"] for r in rows}) == 2

    as_j = invoke("report", "--json")
    data = as_json(as_j.stdout)
    assert len(data) == 15 and set(data[0]) == set(REPORT_COLUMNS)


def test_status_shows_counts_and_in_flight_batches(env: dict[str, str], usdc: str, paid) -> None:
    result = invoke("status", "--json")
    assert result.exit_code == 0
    scope = as_json(result.stdout)["scopes"][0]
    assert scope["rows"]["confirmed"]["count"] == 15
    assert scope["owed"]["count"] == 0
    assert scope["batches"]["confirmed"] == 2 and scope["batches"]["in_flight"] == []
    human = invoke("status")
    assert "confirmed" in human.stdout and "2 confirmed" in human.stdout


def test_reconcile_is_clean_then_reports_each_mismatch_kind(
    env: dict[str, str], payer: Payer, usdc: str, paid
) -> None:
    clean = invoke("reconcile", "--json")
    assert clean.exit_code == 0, clean.stdout
    assert as_json(clean.stdout)["ok"] is True

    db = env["PAYOUT_LEDGER_URL"].removeprefix("sqlite:///")
    con = sqlite3.connect(db)
    with con:
        # wrong amount, wrong recipient, a row the chain never paid (missing), a paid row the
        # ledger lost (extra).
        con.execute("UPDATE payouts SET amount = '1' WHERE payout_id = 'id-0'")
        con.execute(
            "UPDATE payouts SET recipient = '0x000000000000000000000000000000000000dEaD' "
            "WHERE payout_id = 'id-1'"
        )
        con.execute("UPDATE payouts SET log_index = 9999 WHERE payout_id = 'id-2'")
        con.execute("DELETE FROM payouts WHERE payout_id = 'id-3'")
    con.close()

    result = invoke("reconcile", "--json")
    assert result.exit_code == 6
    scope = as_json(result.stdout)["scopes"][0]
    kinds = {(m["kind"], m["payout_id"]) for m in scope["mismatches"]}
    assert ("wrong_amount", "id-0") in kinds
    assert ("wrong_recipient", "id-1") in kinds
    assert ("missing", "id-2") in kinds
    assert any(k == "extra" for k, _pid in kinds)
    assert scope["counts"]["extra"] == 2  # id-3's transfer, and the one id-2 really received
    human = invoke("reconcile")
    assert human.exit_code == 6 and "wrong_amount" in human.stdout


def test_reconcile_is_clean_for_batches_paid_straight_from_the_payer(
    env: dict[str, str],
    payer: Payer,
    usdc: str,
    payout_file: Callable[..., tuple[Path, list[tuple[str, str, str]]]],
) -> None:
    """Batches of up to 3 rows are paid by transferFrom(payer -> recipient): their Transfer logs
    come from the payer, not the disburser, and still match the ledger's rows."""
    file, _rows = payout_file(5)
    proc = send(env, payer, usdc, file, "--max-batch-size", "2")  # batches of 2, 2 and 1
    assert proc.returncode == 0, proc.stderr
    result = invoke("reconcile", "--json")
    assert result.exit_code == 0, result.stdout
    report = as_json(result.stdout)
    assert report["ok"] is True
