"""`payout send` as a subprocess: keystore signer, approvals, per-row payment, re-runs."""

from __future__ import annotations

from pathlib import Path

from payout.chain import Chain
from payout.disburser import encode_approve
from payout.wallet import Wallet

from .conftest import FAST, Payer, as_json, base_units, run, send, write_csv


def _send(env: dict[str, str], payer: Payer, token: str, file: Path, *extra: str):
    return run(
        "send",
        str(file),
        "--token",
        token,
        "--keystore",
        str(payer.keystore),
        "--yes",
        "--json",
        *extra,
        env=env,
    )


def test_send_pays_everyone_once_and_reruns_pay_nothing(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, disburser: str, payout_file
) -> None:
    file, rows = payout_file(30)
    before = chain.token_balance(usdc, payer.address)
    proc = _send(env, payer, usdc, file, "--max-batch-size", "12")
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert [b["paid"] for b in out["batches"]] == [12, 12, 6]
    assert out["paid_rows"] == 30
    total = sum(base_units(a) for _r, a, _i in rows)
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)
    assert before - chain.token_balance(usdc, payer.address) == total
    # Exactly what was needed was approved, and all of it was used.
    assert chain.allowance(usdc, payer.address, disburser) == 0

    again = _send(env, payer, usdc, file)
    assert again.returncode == 0, again.stderr
    out2 = as_json(again.stdout)
    assert out2["already_paid"] == 30 and out2["batches"] == [] and out2["paid_rows"] == 0
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)


def test_overlapping_file_pays_only_new_rows(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    first, rows_a = payout_file(20, name="a.csv")
    assert _send(env, payer, usdc, first).returncode == 0
    second, rows_b = payout_file(20, start=10, name="b.csv")  # ids 10..29: 10..19 already paid
    proc = _send(env, payer, usdc, second)
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["already_paid"] == 10 and out["paid_rows"] == 10
    for r, a, _i in rows_a + rows_b[10:]:
        assert chain.token_balance(usdc, r) == base_units(a)  # nobody paid twice


def test_usdt_nonzero_allowance_is_reset_to_zero_first(
    env: dict[str, str], chain: Chain, payer: Payer, usdt: str, disburser: str, payout_file
) -> None:
    wallet = Wallet(chain, payer.signer, FAST)
    wallet.transact(usdt, encode_approve(disburser, 3), label="leftover allowance")
    file, rows = payout_file(8)
    proc = _send(env, payer, usdt, file, "--approve", "batch", "--max-batch-size", "5")
    assert proc.returncode == 0, proc.stderr
    for r, a, _i in rows:
        assert chain.token_balance(usdt, r) == base_units(a)
    assert chain.allowance(usdt, payer.address, disburser) == 0


def test_send_without_yes_in_a_pipe_refuses(
    env: dict[str, str], payer: Payer, usdc: str, payout_file
) -> None:
    file, _rows = payout_file(2)
    proc = run("send", str(file), "--token", usdc, "--keystore", str(payer.keystore), env=env)
    assert proc.returncode == 2
    assert "--yes" in proc.stderr


def test_a_lost_ledger_does_not_pay_twice(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file, tmp_path: Path
) -> None:
    """The chain is the source of truth: with a fresh ledger, the payer's executed batches are
    read back from the chain before planning, recorded as paid, and nothing is sent again."""
    file, rows = payout_file(9)
    assert _send(env, payer, usdc, file, "--max-batch-size", "4").returncode == 0
    spent = chain.token_balance(usdc, payer.address)
    fresh = {**env, "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'fresh.sqlite'}"}
    proc = _send(fresh, payer, usdc, file, "--max-batch-size", "4")
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["batches"] == [] and out["paid_rows"] == 0
    assert out["recovered_rows"] == 9 and out["already_paid"] == 9
    assert chain.token_balance(usdc, payer.address) == spent
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)
    report = as_json(run("report", "--json", env=fresh).stdout)
    assert {r["status"] for r in report} == {"confirmed"}
    assert all(r["tx_hash"] and r["log_index"] is not None for r in report)


def test_human_output_shows_token_units_and_plain_words(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file, tmp_path: Path
) -> None:
    """The approval reads "approved 120.623457 USDC", not base units, and progress lines say
    what happened in words, not the executor's event names."""
    _file, fresh = payout_file(2)
    rows = [(fresh[0][0], "100.123457", "h-0"), (fresh[1][0], "20.5", "h-1")]
    file = write_csv(tmp_path / "human.csv", rows)
    proc = send(env, payer, usdc, file, "--max-batch-size", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "approved 120.623457 USDC for the disburser (tx 0x" in out
    assert "base units" not in out
    assert "batch 0 confirmed on chain: 1 paid, 0 skipped (tx 0x" in out
    assert "batch 1 confirmed on chain: 1 paid, 0 skipped (tx 0x" in out
    for internal in ("batch-confirmed", "batch-signed", "approve ", ": settled"):
        assert internal not in out

    # A lost ledger: the batches are found executed on chain and recorded, nothing is sent.
    lost = {**env, "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'lost.sqlite'}"}
    again = send(lost, payer, usdc, file, "--max-batch-size", "1")
    assert again.returncode == 0, again.stderr
    assert "Found on chain: 2 row(s) paid by batches this ledger did not know" in again.stdout
    assert "batch-skipped-already-paid" not in again.stdout
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)
