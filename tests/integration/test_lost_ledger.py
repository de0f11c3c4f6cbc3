"""Issue 8 (money safety): a lost ledger, a chain reset and rows owed without a live batch.

The chain keeps its own record of every batch a payer executed (``BatchDisbursed`` and the
transfers of its transaction). After the ledger is lost, re-sending the same or an overlapping
file with ANY batch size must pay nobody twice: batches the ledger does not know are read back
from the chain, their payout ids verified against the batch id, and adopted as paid.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from payout.chain import Chain
from payout.ledger import Ledger
from payout.types import PayoutStatus

from .conftest import Payer, as_json, base_units, send, write_csv


def _lose(env: dict[str, str]) -> None:
    path = Path(env["PAYOUT_LEDGER_URL"].split(":///", 1)[1])
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _paid_once(chain: Chain, usdc: str, rows: list[tuple[str, str, str]]) -> tuple[int, int]:
    """(double-paid, unpaid) recipients of ``rows`` (fresh recipients: balance = what they got)."""
    double = unpaid = 0
    for r, a, _i in rows:
        got = chain.token_balance(usdc, r)
        if got > base_units(a):
            double += 1
        elif got < base_units(a):
            unpaid += 1
    return double, unpaid


@pytest.mark.parametrize("second_size", ["7", "10", "13"])
def test_lost_ledger_resend_with_another_batch_size_pays_nobody_twice(
    second_size: str,
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
) -> None:
    file, rows = payout_file(30)
    start = chain.token_balance(usdc, payer.address)
    first = send(env, payer, usdc, file, "--max-batch-size", "10")
    assert first.returncode == 0, first.stderr
    _lose(env)

    again = send(env, payer, usdc, file, "--max-batch-size", second_size, "--json")
    assert again.returncode == 0, again.stderr
    out = as_json(again.stdout)
    assert out["paid_rows"] == 0
    assert _paid_once(chain, usdc, rows) == (0, 0)
    total = sum(base_units(a) for _r, a, _i in rows)
    assert start - chain.token_balance(usdc, payer.address) == total
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        # The new ledger learned from the chain: every row confirmed with its transaction.
        assert ledger.status_counts() == {PayoutStatus.CONFIRMED: (30, total)}
        assert all(p.tx_hash for p in ledger.payouts())


def test_lost_ledger_resend_with_rows_appended_pays_only_the_new_rows(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file, tmp_path: Path
) -> None:
    file, rows = payout_file(25)
    start = chain.token_balance(usdc, payer.address)
    assert send(env, payer, usdc, file, "--max-batch-size", "10").returncode == 0
    _lose(env)
    _f, more = payout_file(8, start=25, name="more.csv")
    bigger = write_csv(tmp_path / "bigger.csv", rows + more)

    again = send(env, payer, usdc, bigger, "--max-batch-size", "6", "--json")
    assert again.returncode == 0, again.stderr
    assert as_json(again.stdout)["paid_rows"] == 8
    assert _paid_once(chain, usdc, rows + more) == (0, 0)
    total = sum(base_units(a) for _r, a, _i in rows + more)
    assert start - chain.token_balance(usdc, payer.address) == total
