"""Review: resume must not release a batch whose transaction is mined while resume is checking it.

``settle`` looks for the receipt, then asks ``executed(payer, batchId)``, then decides whether the
transaction has expired. If the clock is read after those checks, a transaction mined in the last
block before its expiration, between the checks and the clock reading, is released: its rows go
back to planned although they are paid (and a re-plan under another batch id pays them again).
The clock must be read before the chain is asked.

Review: expiry is the node's word, never the local clock's. A transaction can only be considered
expired once the node has produced a block stamped past its expiration (java-tron refuses a
transaction whose expiration is not after the head block's time) and no block up to it holds it.
Judging by the local clock (a fast clock, a node still syncing or idle) releases a transaction that
is or will be mined, and its rows, re-planned under a new batch id, are paid twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from support.tron_payout import TronEnv, recipients, rows_for, tron_env, units

from payout.fault import FAULT_EXIT_CODE
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


def _ledger_state(env: TronEnv) -> tuple[set[PayoutStatus], list[BatchStatus]]:
    ctx = open_context(
        env.node.url, token=env.token, disburser=env.disburser, payer=env.payer.address
    )
    with Ledger.open(env.ledger_url) as ledger:
        scope = scope_of(ctx)
        return {r.status for r in ledger.payouts(scope)}, [b.status for b in ledger.batches(scope)]


def test_resume_keeps_a_transaction_the_node_has_not_seen_expire(
    tron_env: TronEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_for(recipients(2, "head-expiry"))
    path = tron_env.write_file(rows)
    keystore = str(tron_env.payer_keystore)
    killed = tron_env.run(
        "send", str(path), "--keystore", keystore, extra_env={"PAYOUT_FAULT": "before-broadcast"}
    )
    assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
    head_before = tron_env.node.chain.head.timestamp

    # Ten minutes pass on this machine (the signed transaction's 60 s expiration is long past by
    # the local clock) but the idle node produces no block: its head is still stamped before the
    # expiration, so a block that includes the transaction is still possible (on mainnet: a
    # syncing node, or a local clock running fast). Nothing may be released.
    skew_s = 600.0
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + skew_s)
    monkeypatch.setattr(
        tron_env.node.chain, "time_offset_ms", tron_env.node.chain.time_offset_ms + 600_000
    )
    resumed = tron_env.cli("resume", "--keystore", keystore, "--json")
    assert resumed.exit_code == 0, resumed.output
    [settled] = json.loads(resumed.output)["settled"]
    assert settled["status"] == "submitted"
    assert "payout tron resume" in settled["note"] and "again" in settled["note"]
    assert tron_env.node.chain.head.timestamp == head_before  # the node's head did not move
    assert all(tron_env.balance(r) == 0 for r, _a, _i in rows)
    statuses, batches = _ledger_state(tron_env)
    assert statuses == {PayoutStatus.SUBMITTED}, statuses
    assert batches == [BatchStatus.SUBMITTED]

    # In plain words too: wait and run resume again.
    again = tron_env.cli("resume", "--keystore", keystore)
    assert again.exit_code == 0, again.output
    assert "not expired on the node" in again.output
    assert "run `payout tron resume` again" in again.output
    assert _ledger_state(tron_env) == ({PayoutStatus.SUBMITTED}, [BatchStatus.SUBMITTED])

    # The node produces a block stamped past the expiration without the transaction: now it can
    # never run, so resume releases it and the re-send pays every row exactly once.
    tron_env.node.mine()
    assert tron_env.node.chain.head.timestamp > head_before + 60_000
    released = tron_env.cli("resume", "--keystore", keystore, "--json")
    assert released.exit_code == 0, released.output
    assert [b["status"] for b in json.loads(released.output)["settled"]] == ["abandoned"]
    assert _ledger_state(tron_env)[0] == {PayoutStatus.PLANNED}
    sent = tron_env.cli("send", str(path), "--keystore", keystore, "--json")
    assert sent.exit_code == 0, sent.output
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    assert _ledger_state(tron_env)[0] == {PayoutStatus.CONFIRMED}
