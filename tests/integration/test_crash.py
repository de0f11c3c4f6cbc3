"""Crash safety: a real `payout send` process is killed (os._exit through the test-only
PAYOUT_FAULT hook) at each dangerous moment; `payout resume` must finish with nobody paid twice."""

from __future__ import annotations

import pytest

from payout.chain import Chain
from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.types import BatchStatus, PayoutStatus

from .conftest import Payer, as_json, base_units, delete_ledger, run

ROWS = 25
BATCH = 10  # 3 batches: 10, 10, 5


@pytest.mark.parametrize(
    "fault",
    [
        "before-broadcast:1",  # signed and recorded, never sent
        "before-broadcast:2",  # second batch, the first one is paid
        "after-broadcast:1",  # sent, no receipt read
        "after-broadcast:3",  # last batch sent
        "after-receipt:1",  # paid on chain, ledger not updated
        "after-receipt:2",
    ],
)
def test_killed_send_is_finished_by_resume_without_double_payment(
    fault: str,
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    disburser: str,
    payout_file,
) -> None:
    file, rows = payout_file(ROWS)
    start_balance = chain.token_balance(usdc, payer.address)
    common = ("--keystore", str(payer.keystore))
    crashed = run(
        "send",
        str(file),
        "--token",
        usdc,
        "--yes",
        "--max-batch-size",
        str(BATCH),
        *common,
        env=env,
        extra_env={"PAYOUT_FAULT": fault},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr

    point, nth = fault.split(":")
    # What the ledger knows right after the crash: the batch being sent is in flight.
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        open_batches = ledger.open_batches()
        assert len(open_batches) == 1
        assert open_batches[0].index == int(nth) - 1
        assert open_batches[0].attempts[0].raw_tx  # the signed bytes were recorded first
    sent = chain.receipt(open_batches[0].tx_hash) is not None
    assert sent == (point != "before-broadcast")

    resumed = run("resume", "--json", *common, env=env)
    assert resumed.returncode == 0, resumed.stderr
    out = as_json(resumed.stdout)
    assert [s["status"] for s in out["settled_from_chain"]] == ["confirmed"]
    # Batches after the crashed one were planned and are paid by resume.
    assert len(out["batches"]) == 3 - int(nth)

    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a), r
    total = sum(base_units(a) for _r, a, _i in rows)
    assert start_balance - chain.token_balance(usdc, payer.address) == total
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        counts = ledger.status_counts()
        assert counts == {PayoutStatus.CONFIRMED: (ROWS, total)}
        statuses = sorted(b.status for b in ledger.batches())
        assert statuses == [BatchStatus.CONFIRMED] * 3

    # Re-running the file afterwards pays nothing, and the books reconcile.
    again = run("send", str(file), "--token", usdc, "--yes", "--json", *common, env=env)
    assert again.returncode == 0, again.stderr
    assert as_json(again.stdout)["paid_rows"] == 0
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a), r
    assert start_balance - chain.token_balance(usdc, payer.address) == total
    check = run("reconcile", "--json", env=env)
    assert check.returncode == 0, check.stdout
    assert as_json(check.stdout)["ok"] is True


def test_send_after_a_crash_settles_before_paying(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    """Running `send` again (instead of `resume`) after a crash is just as safe."""
    file, rows = payout_file(12)
    start_balance = chain.token_balance(usdc, payer.address)
    common = ("--keystore", str(payer.keystore), "--token", usdc, "--yes")
    crashed = run(
        "send",
        str(file),
        "--max-batch-size",
        "5",
        *common,
        env=env,
        extra_env={"PAYOUT_FAULT": "after-receipt:2"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE
    again = run("send", str(file), "--max-batch-size", "5", "--json", *common, env=env)
    assert again.returncode == 0, again.stderr
    out = as_json(again.stdout)
    # Batch 1 was confirmed before the crash, batch 2 is settled from the chain first; both
    # count as already paid, and only the last batch (2 rows) is sent.
    assert [s["paid"] for s in out["settled_from_chain"]] == [5]
    assert out["already_paid"] == 10
    assert [b["paid"] for b in out["batches"]] == [2]
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)
    # The payer paid each row exactly once.
    total = sum(base_units(a) for _r, a, _i in rows)
    assert start_balance - chain.token_balance(usdc, payer.address) == total
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        assert ledger.status_counts() == {PayoutStatus.CONFIRMED: (12, total)}


@pytest.mark.parametrize("fault", ["before-broadcast:2", "after-broadcast:2", "after-receipt:2"])
@pytest.mark.parametrize("second_size", ["7", "25"])
def test_killed_send_then_lost_ledger_then_resend_pays_nobody_twice(
    fault: str,
    second_size: str,
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
) -> None:
    """Killed mid-run, ledger deleted, the same file sent again with another batch size: the
    chain's record of the payer's batches says what was paid; everyone is paid exactly once."""
    file, rows = payout_file(ROWS)
    start_balance = chain.token_balance(usdc, payer.address)
    common = ("--keystore", str(payer.keystore), "--token", usdc, "--yes")
    crashed = run(
        "send",
        str(file),
        "--max-batch-size",
        str(BATCH),
        *common,
        env=env,
        extra_env={"PAYOUT_FAULT": fault},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr
    delete_ledger(env)

    again = run("send", str(file), "--max-batch-size", second_size, "--json", *common, env=env)
    assert again.returncode == 0, again.stderr
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a), r
    total = sum(base_units(a) for _r, a, _i in rows)
    assert start_balance - chain.token_balance(usdc, payer.address) == total
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        assert ledger.status_counts() == {PayoutStatus.CONFIRMED: (ROWS, total)}
