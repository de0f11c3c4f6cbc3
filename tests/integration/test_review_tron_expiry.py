"""Review: resume must not release a batch whose transaction is mined while resume is checking it.

``settle`` looks for the receipt, then asks ``executed(payer, batchId)``, then decides whether the
transaction has expired. If the clock is read after those checks, a transaction mined in the last
block before its expiration, between the checks and the clock reading, is released: its rows go
back to planned although they are paid (and a re-plan under another batch id pays them again).
The clock must be read before the chain is asked.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.tron_payout import TronEnv, recipients, rows_for, tron_env, units

from payout.ledger import Ledger
from payout.tron import executor as executor_module
from payout.tron.executor import TronExecutor, TronSendSettings
from payout.tron.pipeline import open_context, plan_file, scope_of
from payout.tron.transaction import SignedTx
from payout.types import BatchStatus, PayoutStatus

__all__ = ["tron_env"]

FAST = TronSendSettings(poll_s=0.01, receipt_timeout_s=30, expiration_ms=60_000)


class Crash(Exception):
    pass


def test_transaction_mined_just_before_expiry_during_resume_is_not_released(
    tron_env: TronEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_for(recipients(2, "expiry"))
    path = tron_env.write_file(rows)
    ctx = open_context(
        tron_env.node.url,
        token=tron_env.token,
        disburser=tron_env.disburser,
        payer=tron_env.payer.address,
    )
    ledger = Ledger.open(tron_env.ledger_url)
    [batch] = plan_file(ctx, ledger, path).batches
    executor = TronExecutor(
        tron_env.client, ledger, tron_env.payer, ctx.disburser, settings=FAST, prices=ctx.prices
    )
    signed: list[SignedTx] = []
    real_broadcast = executor_module.broadcast

    def crash_before_broadcast(client: Any, tx: SignedTx) -> str:
        if tx.txid != ledger.batch(scope_of(ctx), batch.batch_id).tx_hash:
            return real_broadcast(client, tx)  # the approval
        signed.append(tx)
        raise Crash  # the process dies after the write-ahead, before the node saw the disburse

    monkeypatch.setattr(executor_module, "broadcast", crash_before_broadcast)
    with pytest.raises(Crash):
        executor.send_batch(batch)
    monkeypatch.setattr(executor_module, "broadcast", real_broadcast)
    [disburse] = signed
    record = ledger.batch(scope_of(ctx), batch.batch_id)
    assert record.status is BatchStatus.SUBMITTED

    real_executed = executor_module.executed

    def mined_meanwhile(*args: Any) -> bool:
        answer = real_executed(*args)
        # Right after the chain answered "not executed": the transaction (broadcast by a node
        # that relayed it earlier) is mined, and the chain's clock then passes its expiration.
        real_broadcast(tron_env.client, disburse)
        tron_env.node.advance_time(FAST.expiration_ms + 60_000)
        return answer

    monkeypatch.setattr(executor_module, "executed", mined_meanwhile)
    result = executor.settle(record)
    monkeypatch.setattr(executor_module, "executed", real_executed)

    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    assert result.status is BatchStatus.CONFIRMED
    statuses = {r.status for r in ledger.payouts(scope_of(ctx))}
    assert PayoutStatus.PLANNED not in statuses, statuses
    # Paid on chain, so every row is confirmed (not merely "not planned").
    assert statuses == {PayoutStatus.CONFIRMED}, statuses
    assert ledger.batch(scope_of(ctx), batch.batch_id).status is BatchStatus.CONFIRMED
    ledger.close()
