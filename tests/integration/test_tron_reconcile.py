"""`payout tron reconcile`: the ledger's TRON rows against the receipts of the txIDs it recorded."""

from __future__ import annotations

import json
import sqlite3

from support.tron_payout import TronEnv, recipients, rows_for, signer_of, tron_env, units

__all__ = ["tron_env"]  # the fixture, imported for pytest


def _paid(env: TronEnv, n: int = 5) -> list[tuple[str, str, str]]:
    rows = rows_for(recipients(n, "reconcile"))
    path = env.write_file(rows)
    sent = env.cli(
        "send", str(path), "--keystore", str(env.payer_keystore), "--max-batch-size", "3"
    )
    assert sent.exit_code == 0, sent.output
    return rows


def _tamper(env: TronEnv, sql: str, *params: str) -> None:
    with sqlite3.connect(env.workdir / "ledger.sqlite") as db:
        assert db.execute(sql, params).rowcount == 1


def test_a_real_send_reconciles_clean(tron_env: TronEnv) -> None:
    rows = _paid(tron_env)
    done = tron_env.run("reconcile", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True
    [scope] = data["scopes"]
    assert scope["payer"] == tron_env.payer.address
    assert scope["token"] == tron_env.token
    assert scope["batches_on_chain"] == 2
    assert scope["transfers_on_chain"] == scope["rows_paid_in_ledger"] == len(rows)
    assert (
        scope["amount_on_chain"] == scope["amount_in_ledger"] == sum(units(a) for _, a, _ in rows)
    )
    assert scope["mismatches"] == []
    # Filters: another payer leaves nothing to compare.
    other = tron_env.cli("reconcile", "--payer", signer_of("nobody").address)
    assert other.exit_code == 0, other.output
    assert "No TRON payouts in the ledger." in other.output


def test_a_tampered_amount_is_a_wrong_amount(tron_env: TronEnv) -> None:
    rows = _paid(tron_env)
    recipient, amount, payout_id = rows[1]
    _tamper(
        tron_env,
        "UPDATE payouts SET amount = ? WHERE payout_id = ?",
        str(units(amount) + 1),
        payout_id,
    )
    result = tron_env.cli("reconcile", "--json")
    assert result.exit_code == 6, result.output
    data = json.loads(result.output)
    assert data["ok"] is False
    [scope] = data["scopes"]
    [mismatch] = scope["mismatches"]
    assert mismatch["kind"] == "wrong_amount"
    assert mismatch["payout_id"] == payout_id
    assert mismatch["expected"] == f"{recipient} {units(amount) + 1}"
    assert mismatch["actual"] == f"{recipient} {units(amount)}"
    assert scope["counts"]["wrong_amount"] == 1
    table = tron_env.cli("reconcile")
    assert table.exit_code == 6
    assert f"wrong_amount payout {payout_id}" in table.output


def test_a_tampered_recipient_is_a_wrong_recipient(tron_env: TronEnv) -> None:
    rows = _paid(tron_env)
    recipient, amount, payout_id = rows[3]
    stranger = signer_of("stranger").address
    _tamper(tron_env, "UPDATE payouts SET recipient = ? WHERE payout_id = ?", stranger, payout_id)
    result = tron_env.run("reconcile", "--json", "--token", tron_env.token)
    assert result.returncode == 6, result.stdout + result.stderr
    [scope] = json.loads(result.stdout)["scopes"]
    [mismatch] = scope["mismatches"]
    assert mismatch["kind"] == "wrong_recipient"
    assert mismatch["payout_id"] == payout_id
    assert mismatch["expected"] == f"{stranger} {units(amount)}"
    assert mismatch["actual"] == f"{recipient} {units(amount)}"
