"""Crash safety of `payout tron send`: a real subprocess killed (os._exit, like kill -9) at each
dangerous moment, then `payout tron resume` finishes the job; every recipient is paid exactly once.
"""

from __future__ import annotations

import json

import pytest
from support.tron_payout import TronEnv, recipients, rows_for, tron_env, units

from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.tron.pipeline import open_context, scope_of
from payout.types import BatchStatus, PayoutStatus

__all__ = ["tron_env"]


def _statuses(env: TronEnv) -> tuple[set[PayoutStatus], list[BatchStatus]]:
    ctx = open_context(
        env.node.url, token=env.token, disburser=env.disburser, payer=env.payer.address
    )
    with Ledger.open(env.ledger_url) as ledger:
        scope = scope_of(ctx)
        return {r.status for r in ledger.payouts(scope)}, [b.status for b in ledger.batches(scope)]


@pytest.mark.parametrize("point", ["before-broadcast", "after-broadcast", "after-receipt"])
def test_killed_send_is_finished_by_resume(tron_env: TronEnv, point: str) -> None:
    rows = rows_for(recipients(6, f"crash-{point}"))
    path = tron_env.write_file(rows)
    before = tron_env.balance(tron_env.payer.address)
    keystore = str(tron_env.payer_keystore)
    # Killed during the second of three batches.
    killed = tron_env.run(
        "send",
        str(path),
        "--keystore",
        keystore,
        "--max-batch-size",
        "2",
        extra_env={"PAYOUT_FAULT": f"{point}:2"},
    )
    assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
    statuses, batches = _statuses(tron_env)
    assert batches[0] is BatchStatus.CONFIRMED
    assert batches[1] is BatchStatus.SUBMITTED  # write-ahead: recorded before it left
    assert batches[2] is BatchStatus.PLANNED

    resumed = tron_env.run("resume", "--keystore", keystore, "--json")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    report = json.loads(resumed.stdout)
    assert [b["status"] for b in report["settled"]] == ["confirmed"]
    assert [b["status"] for b in report["batches"]] == ["confirmed"]
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    assert tron_env.balance(tron_env.payer.address) == before - sum(units(a) for _r, a, _i in rows)
    statuses, batches = _statuses(tron_env)
    assert statuses == {PayoutStatus.CONFIRMED}
    assert batches == [BatchStatus.CONFIRMED] * 3

    # Running the file again afterwards pays nothing.
    again = tron_env.run("send", str(path), "--keystore", keystore, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["paid"] == 0
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    assert tron_env.balance(tron_env.payer.address) == before - sum(units(a) for _r, a, _i in rows)


def test_unsent_transaction_that_expired_is_released_and_paid_later(tron_env: TronEnv) -> None:
    rows = rows_for(recipients(2, "crash-expired"))
    path = tron_env.write_file(rows)
    keystore = str(tron_env.payer_keystore)
    killed = tron_env.run(
        "send", str(path), "--keystore", keystore, extra_env={"PAYOUT_FAULT": "before-broadcast"}
    )
    assert killed.returncode == FAULT_EXIT_CODE, killed.stderr
    tron_env.node.advance_time(5 * 60_000)  # the signed transaction's 60 s expiration passes
    resumed = tron_env.run("resume", "--keystore", keystore, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert [b["status"] for b in json.loads(resumed.stdout)["settled"]] == ["abandoned"]
    assert all(tron_env.balance(r) == 0 for r, _a, _i in rows)
    statuses, _batches = _statuses(tron_env)
    assert statuses == {PayoutStatus.PLANNED}
    sent = tron_env.run("send", str(path), "--keystore", keystore, "--json")
    assert sent.returncode == 0, sent.stderr
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    statuses, _batches = _statuses(tron_env)
    assert statuses == {PayoutStatus.CONFIRMED}
