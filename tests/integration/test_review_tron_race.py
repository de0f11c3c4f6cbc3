"""Review: a TRON batch transaction that reverts because the batch id was executed by ANOTHER
transaction (a second sender of the same payer, a copy of a multisig file, another ledger) must not
be recorded as failed: its rows were paid, and rows the ledger holds as owed are paid again as
soon as they are planned into another batch (another id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.tron_payout import (
    TronEnv,
    block_recipient,
    recipients,
    rows_for,
    tron_blocking_env,
    tron_env,
    units,
)

from payout.exceptions import LedgerError
from payout.ledger import Ledger
from payout.tron.executor import TronExecutor, TronSendSettings
from payout.tron.pipeline import open_context, plan_file, scope_of, send_file
from payout.types import BatchStatus, PayMode, PayoutStatus

__all__ = ["tron_blocking_env", "tron_env"]

FAST = TronSendSettings(poll_s=0.01, receipt_timeout_s=30)


def test_batch_paid_by_another_sender_while_ours_is_in_flight_is_not_owed_again(
    tron_env: TronEnv, tmp_path: Path
) -> None:
    rows = rows_for(recipients(4, "race"))
    path = tron_env.write_file(rows)
    ctx = open_context(
        tron_env.node.url,
        token=tron_env.token,
        disburser=tron_env.disburser,
        payer=tron_env.payer.address,
    )
    ours = Ledger.open(tron_env.ledger_url)
    other = Ledger.open(f"sqlite:///{tmp_path / 'other-ledger.sqlite'}")
    plan = plan_file(ctx, ours, path, max_batch_size=10)
    [batch] = plan.batches
    raced = False

    def other_sender_wins(what: str, _data: dict[str, Any]) -> None:
        # Between our simulation / signature and our broadcast, another process of the same
        # payer (here with its own ledger) pays the same rows: same payer, same ids, same batch id.
        nonlocal raced
        if what == "signed" and not raced:
            raced = True
            send_file(ctx, other, tron_env.payer, path, settings=FAST, max_batch_size=10)

    executor = TronExecutor(
        tron_env.client,
        ours,
        tron_env.payer,
        ctx.disburser,
        settings=FAST,
        prices=ctx.prices,
        on_event=other_sender_wins,
    )
    result = executor.send_batch(batch)
    assert raced
    assert result.status is BatchStatus.CONFIRMED
    assert "another transaction" in result.note
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)

    scope = scope_of(ctx)
    statuses = {r.payout_id: r.status for r in ours.payouts(scope)}
    # Paid on chain: never owed (planned / failed) in our ledger.
    assert not {PayoutStatus.FAILED, PayoutStatus.PLANNED} & set(statuses.values()), statuses
    assert ours.batch(scope, batch.batch_id).status is not BatchStatus.FAILED

    # The consequence users would see: the same rows regrouped (another batch id) are not paid
    # a second time.
    again = send_file(ctx, ours, tron_env.payer, path, settings=FAST, max_batch_size=1)
    assert again.results == []
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    ours.close()
    other.close()


def test_skip_mode_batch_executed_elsewhere_does_not_mark_the_skipped_row_paid(
    tron_blocking_env: TronEnv, tmp_path: Path
) -> None:
    env = tron_blocking_env
    people = recipients(3, "race-skip")
    block_recipient(env, people[1])
    rows = rows_for(people)
    path = env.write_file(rows)
    ctx = open_context(
        env.node.url, token=env.token, disburser=env.disburser, payer=env.payer.address
    )
    skip = TronSendSettings(poll_s=0.01, receipt_timeout_s=30, mode=PayMode.SKIP)
    ours = Ledger.open(env.ledger_url)
    other = Ledger.open(f"sqlite:///{tmp_path / 'other-ledger.sqlite'}")
    [batch] = plan_file(ctx, ours, path, mode=PayMode.SKIP).batches
    raced = False

    def other_sender_wins(what: str, _data: dict[str, Any]) -> None:
        nonlocal raced
        if what == "signed" and not raced:
            raced = True
            send_file(ctx, other, env.payer, path, settings=skip)

    executor = TronExecutor(
        env.client,
        ours,
        env.payer,
        ctx.disburser,
        settings=skip,
        prices=ctx.prices,
        on_event=other_sender_wins,
    )
    # Which rows the other transaction skipped is only in its logs: the ledger must not guess.
    with pytest.raises(LedgerError, match="skipped"):
        executor.send_batch(batch)
    assert raced
    assert env.balance(people[1]) == 0
    statuses = {r.payout_id: r.status for r in ours.payouts(scope_of(ctx))}
    assert statuses["inv-1"] is not PayoutStatus.CONFIRMED
    assert PayoutStatus.FAILED not in statuses.values()
    ours.close()
    other.close()
