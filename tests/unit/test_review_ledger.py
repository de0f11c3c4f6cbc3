"""Review finding: a second process must not send a hot-wallet batch another one has in flight."""

from __future__ import annotations

import pytest

from payout.batching import plan_batches
from payout.exceptions import BatchInFlightElsewhere
from payout.ledger import Ledger
from payout.types import BatchStatus, ExecutorKind, Network, Payout, Scope

PAYER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TOKEN = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ALICE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
SCOPE = Scope(Network.EVM, 1, PAYER, TOKEN)


def _planned(ledger: Ledger, executor: ExecutorKind) -> bytes:
    payouts = [Payout(f"p{i}", ALICE, 1_000_000 + i) for i in range(3)]
    reg = ledger.register(payouts, SCOPE)
    (batch,) = plan_batches(reg.to_plan, chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN)
    ledger.save_plan([batch], executor=executor)
    return batch.batch_id


def test_wallet_batch_in_flight_refuses_a_transaction_with_another_nonce(ledger: Ledger) -> None:
    batch_id = _planned(ledger, ExecutorKind.WALLET)
    # Process A: write-ahead of its transaction (payer nonce 7), then broadcast.
    ledger.record_submission(SCOPE, batch_id, tx_hash="0xaa", nonce=7)
    # Process B picked the same planned batch: its transaction would carry nonce 8. Only one of
    # the two can execute; the other reverts and wastes its gas. Refused before B broadcasts.
    with pytest.raises(BatchInFlightElsewhere) as err:
        ledger.record_submission(SCOPE, batch_id, tx_hash="0xbb", nonce=8)
    assert "nonce 7" in str(err.value)
    record = ledger.batch(SCOPE, batch_id)
    assert record.nonce == 7 and [a.tx_hash for a in record.attempts] == ["0xaa"]
    # A fee bump of A's transaction (same nonce) is still recorded.
    ledger.record_submission(SCOPE, batch_id, tx_hash="0xcc", nonce=7)
    assert [a.tx_hash for a in ledger.batch(SCOPE, batch_id).attempts] == ["0xaa", "0xcc"]
    assert ledger.batch(SCOPE, batch_id).status is BatchStatus.SUBMITTED


def test_safe_batch_may_be_sent_again_by_another_executor_account(ledger: Ledger) -> None:
    # Safe batches are sent by any account (each with its own nonces): the Safe nonce guards.
    batch_id = _planned(ledger, ExecutorKind.SAFE)
    ledger.record_submission(SCOPE, batch_id, tx_hash="0xaa", nonce=7)
    ledger.record_submission(SCOPE, batch_id, tx_hash="0xbb", nonce=0)
    assert len(ledger.batch(SCOPE, batch_id).attempts) == 2
