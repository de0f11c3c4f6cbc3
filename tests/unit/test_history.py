"""Reading a batch back from the chain's record (payout.history): decoding a receipt's logs,
matching the rows to a file and verifying the payout ids against the batch id. No chain: the
receipts are built the way the disburser and an ERC-20 token log them."""

from __future__ import annotations

from typing import Any

import pytest

from payout.batching import plan_batches
from payout.chain import TRANSFER_TOPIC
from payout.disburser import BATCH_DISBURSED_TOPIC, TRANSFER_SKIPPED_TOPIC, BatchEvent
from payout.exceptions import UnreadableChainBatch
from payout.history import (
    ChainBatch,
    ChainRow,
    find_verified,
    match_rows,
    read_chain_batch,
    verifies,
)
from payout.types import Network, Payout, Scope

PAYER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TOKEN = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ALICE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
BOB = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
SCOPE = Scope(Network.EVM, 1, PAYER, TOKEN)
BATCH_ID = bytes(range(32))


def _w(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _u(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _log(index: int, address: str, topics: list[str], data: str = "0x") -> dict[str, Any]:
    return {"logIndex": hex(index), "address": address, "topics": topics, "data": data}


def transfer(index: int, source: str, to: str, amount: int) -> dict[str, Any]:
    return _log(index, TOKEN, ["0x" + TRANSFER_TOPIC.hex(), _w(source), _w(to)], _u(amount))


def skipped(index: int, position: int, to: str, amount: int) -> dict[str, Any]:
    data = "0x" + (position.to_bytes(32, "big") + bytes.fromhex(_w(to)[2:])).hex() + _u(amount)[2:]
    return _log(
        index, DISBURSER, ["0x" + TRANSFER_SKIPPED_TOPIC.hex(), "0x" + BATCH_ID.hex()], data
    )


def closing(index: int, batch_id: bytes = BATCH_ID) -> dict[str, Any]:
    topics = ["0x" + BATCH_DISBURSED_TOPIC.hex(), _w(PAYER), _w(TOKEN), "0x" + batch_id.hex()]
    return _log(index, DISBURSER, topics, "0x")


class FakeChain:
    def __init__(self, logs: list[dict[str, Any]], to: str = DISBURSER) -> None:
        self.logs = logs
        self.to = to

    def receipt(self, _tx: str) -> dict[str, Any]:
        return {"logs": self.logs}

    def transaction(self, _tx: str) -> dict[str, Any]:
        return {"to": self.to}


def event(count: int, total: int, log_index: int) -> BatchEvent:
    return BatchEvent(PAYER, TOKEN, BATCH_ID, count, total, "0xabc", 9, log_index)


def test_rows_are_read_from_the_transfers_of_the_batch_and_its_skipped_rows() -> None:
    logs = [
        transfer(0, PAYER, DISBURSER, 6),  # the pull: not a row
        transfer(1, DISBURSER, ALICE, 1),
        skipped(2, 1, BOB, 2),
        transfer(3, DISBURSER, BOB, 3),
        closing(4),
    ]
    batch = read_chain_batch(FakeChain(logs), DISBURSER, event(2, 4, 4))  # type: ignore[arg-type]
    assert batch.rows == (ChainRow(ALICE, 1), ChainRow(BOB, 2, False), ChainRow(BOB, 3))
    assert batch.executor.value == "wallet" and batch.mode.value == "skip"


def test_a_second_batch_in_one_transaction_reads_only_its_own_transfers() -> None:
    other = bytes(32)
    logs = [
        transfer(0, DISBURSER, BOB, 5),
        closing(1, other),
        transfer(2, DISBURSER, ALICE, 7),
        closing(3),
    ]
    safe_tx = FakeChain(logs, to=PAYER)  # a Safe: the transaction targets the payer
    batch = read_chain_batch(safe_tx, DISBURSER, event(1, 7, 3))  # type: ignore[arg-type]
    assert batch.rows == (ChainRow(ALICE, 7),)
    assert batch.executor.value == "safe"


def test_logs_that_do_not_add_up_to_the_event_are_refused() -> None:
    logs = [transfer(0, DISBURSER, ALICE, 1), closing(1)]
    with pytest.raises(UnreadableChainBatch, match="the event says 2 of 3"):
        read_chain_batch(FakeChain(logs), DISBURSER, event(2, 3, 1))  # type: ignore[arg-type]


def _file() -> list[Payout]:
    return [
        Payout("a", ALICE, 10, line=2),
        Payout("b", BOB, 20, line=3),
        Payout("c", ALICE, 10, line=4),  # the same recipient and amount again
        Payout("d", BOB, 30, line=5),
    ]


def _chain_batch(payouts: list[Payout]) -> ChainBatch:
    (batch,) = plan_batches(
        payouts, chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=10
    )
    rows = tuple(ChainRow(p.recipient, p.amount) for p in payouts)
    ev = BatchEvent(
        PAYER, TOKEN, batch.batch_id, len(rows), sum(r.amount for r in rows), "0x1", 1, 0
    )
    return ChainBatch(ev, rows, DISBURSER)


def test_the_verified_rows_are_found_when_a_recipient_and_amount_repeat() -> None:
    file = _file()
    later = _chain_batch(file[2:])  # paid "c" and "d"; "a" has the same recipient and amount
    greedy = match_rows(later.rows, file)
    assert greedy is not None and [p.payout_id for p in greedy] == ["a", "d"]
    assert not verifies(later, SCOPE, DISBURSER, greedy)
    found = find_verified(later, SCOPE, DISBURSER, file)
    assert found is not None and [p.payout_id for p in found] == ["c", "d"]
    first = _chain_batch(file[:2])
    found = find_verified(first, SCOPE, DISBURSER, file)
    assert found is not None and [p.payout_id for p in found] == ["a", "b"]


def test_rows_under_other_ids_do_not_verify_and_missing_rows_do_not_match() -> None:
    file = _file()
    paid = _chain_batch(file[:2])
    renamed = [Payout("x-" + p.payout_id, p.recipient, p.amount) for p in file]
    matched = match_rows(paid.rows, renamed)
    assert matched is not None and not verifies(paid, SCOPE, DISBURSER, matched)
    assert find_verified(paid, SCOPE, DISBURSER, renamed) is None
    assert match_rows(paid.rows, file[2:3]) is None
    assert find_verified(paid, SCOPE, DISBURSER, file[2:3]) is None
