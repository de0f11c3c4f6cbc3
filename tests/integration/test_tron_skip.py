"""Skip-and-report mode on TRON (`payout tron send --mode skip`, ``disburseOrSkip``): one recipient
the token refuses is skipped on chain and reported; everyone else is paid in the same batch.

The token is the test-only ``RecipientBlockingUSDT`` (TRON USDT's behaviour, ``transfer`` returning
false on success, plus a ``blockRecipient`` hook): TRON's USDT blacklists senders only, and the
sender of every transfer in a batch is the disburser.
"""

from __future__ import annotations

import json

from support.tron_payout import (
    TronEnv,
    block_recipient,
    recipients,
    rows_for,
    tron_blocking_env,
    units,
)

from payout.address import address_bytes
from payout.disburser import TRANSFER_SKIPPED_TOPIC
from payout.ledger import Ledger
from payout.tron.pipeline import open_context, scope_of
from payout.types import Network, PayoutStatus

__all__ = ["tron_blocking_env"]  # the fixture, imported for pytest

BLOCKED = 2


def test_skip_mode_pays_everyone_but_the_refused_recipient(tron_blocking_env: TronEnv) -> None:
    env = tron_blocking_env
    people = recipients(5, "skip")
    rows = rows_for(people)
    block_recipient(env, people[BLOCKED])
    path = env.write_file(rows)
    before = env.balance(env.payer.address)
    send = ("send", str(path), "--keystore", str(env.payer_keystore), "--json")

    # Strict mode: the simulation sees the refused transfer; nothing is sent, nobody is paid.
    strict = env.cli(*send)
    assert strict.exit_code == 4, strict.output
    error = json.JSONDecoder().raw_decode(strict.output)[0]["error"]
    assert error["type"] == "TransferFailedError" and f"recipient #{BLOCKED}" in error["message"]
    assert all(env.balance(p) == 0 for p in people)
    assert env.balance(env.payer.address) == before

    result = env.cli(*send, "--mode", "skip")
    assert result.exit_code == 0, result.output
    (batch,) = json.loads(result.output)["batches"]
    assert batch["status"] == "confirmed" and batch["count"] == 5

    # Balances: every row but the refused one is paid, the payer keeps exactly its amount.
    skipped_amount = units(rows[BLOCKED][1])
    for i, (address, amount, _id) in enumerate(rows):
        assert env.balance(address) == (0 if i == BLOCKED else units(amount))
    total = sum(units(a) for _r, a, _i in rows)
    assert env.balance(env.payer.address) == before - total + skipped_amount
    assert env.balance(env.disburser) == 0

    # The ledger: that row is skipped (owed, not paid), the others confirmed with their logs.
    ctx = open_context(
        env.node.url, token=env.token, disburser=env.disburser, payer=env.payer.address
    )
    with Ledger.open(env.ledger_url) as ledger:
        records = {r.payout_id: r for r in ledger.payouts(scope_of(ctx))}
    statuses = {pid: r.status for pid, r in records.items()}
    assert statuses == {
        rid: PayoutStatus.SKIPPED if i == BLOCKED else PayoutStatus.CONFIRMED
        for i, (_r, _a, rid) in enumerate(rows)
    }
    assert all(r.log_index is not None for pid, r in records.items() if pid != rows[BLOCKED][2])

    # The chain says the same: one TransferSkipped naming the row's index, recipient and amount.
    info = env.client.get_transaction_info(batch["txid"])
    skips = [
        log
        for log in info["log"]
        if log["topics"][0].removeprefix("0x") == TRANSFER_SKIPPED_TOPIC.hex()
    ]
    assert len(skips) == 1
    data = bytes.fromhex(skips[0]["data"])
    assert int.from_bytes(data[0:32], "big") == BLOCKED
    assert data[44:64] == address_bytes(Network.TRON, people[BLOCKED])
    assert int.from_bytes(data[64:96], "big") == skipped_amount

    # The report shows it, and a second run pays nobody twice.
    report = env.cli("report", "--format", "json")
    assert report.exit_code == 0, report.output
    reported = {r["payout_id"]: r["status"] for r in json.loads(report.output)}
    assert reported[rows[BLOCKED][2]] == "skipped"
    again = env.cli(*send, "--mode", "skip")
    assert again.exit_code == 0, again.output
    for i, (address, amount, _id) in enumerate(rows):
        assert env.balance(address) == (0 if i == BLOCKED else units(amount))
