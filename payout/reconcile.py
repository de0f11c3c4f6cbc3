"""Compare the ledger with the chain: every batch event and token Transfer log against every row.

For one (payer, token) the chain side is read from scratch: the disburser's ``BatchDisbursed``
events of the payer, and the token's ``Transfer`` logs paying rows in those transactions (sent by
the disburser, or by the payer itself in batches of up to 3 rows).
Each ledger row marked paid must match one Transfer log (same transaction, log index, recipient and
amount); every such log must belong to a paid row. Mismatch kinds:

``missing``          the ledger says paid, the chain shows no such transfer (or no batch at all)
``extra``            the chain shows a transfer (or a whole batch) the ledger does not know
``wrong_amount``     the transfer at the recorded log index moved another amount
``wrong_recipient``  the transfer at the recorded log index went to another address
``unsettled``        the chain executed a batch the ledger still has in flight (run resume)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from payout.chain import TRANSFER_TOPIC, Chain
from payout.disburser import BatchEvent, Disburser, _chunked_logs
from payout.ledger import Ledger, PayoutRecord
from payout.types import BatchStatus, PayoutStatus, Scope

MISMATCH_KINDS = ("missing", "extra", "wrong_amount", "wrong_recipient", "unsettled")


@dataclass(frozen=True)
class Mismatch:
    kind: str
    batch_id: str | None
    payout_id: str | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    expected: str | None = None
    actual: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "batch_id": self.batch_id,
            "payout_id": self.payout_id,
            "tx_hash": self.tx_hash,
            "log_index": self.log_index,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }


@dataclass
class ReconcileReport:
    scope: Scope
    batches_on_chain: int = 0
    transfers_on_chain: int = 0
    rows_paid_in_ledger: int = 0
    amount_on_chain: int = 0
    amount_in_ledger: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(MISMATCH_KINDS, 0)
        for m in self.mismatches:
            out[m.kind] = out.get(m.kind, 0) + 1
        return out


@dataclass(frozen=True)
class _Transfer:
    tx_hash: str
    log_index: int
    to: str
    amount: int


def _transfers(
    chain: Chain,
    token: str,
    disburser: str,
    payer: str,
    tx_hashes: set[str],
    from_block: int,
    to_block: int,
) -> dict[str, dict[int, _Transfer]]:
    """Token Transfer logs paying rows in the given transactions, by tx then log index: sent by
    the disburser (after its pull), or, in batches of up to 3 rows, straight from the payer by
    transferFrom. The pull itself (payer to disburser) is no row."""
    senders = [bytes(12) + bytes.fromhex(a[2:]) for a in (disburser, payer)]
    logs = _chunked_logs(
        chain, token, [TRANSFER_TOPIC, senders, None], from_block, to_block, 50_000
    )
    out: dict[str, dict[int, _Transfer]] = defaultdict(dict)
    for log in logs:
        tx_hash = str(log["transactionHash"])
        if tx_hash not in tx_hashes:
            continue
        index = int(str(log["logIndex"]), 16)
        to = to_checksum_address("0x" + str(log["topics"][2])[-40:])
        if to == to_checksum_address(disburser):
            continue
        amount = int(str(log["data"]), 16)
        out[tx_hash][index] = _Transfer(tx_hash, index, to, amount)
    return out


def reconcile(
    chain: Chain, disburser: Disburser, ledger: Ledger, scope: Scope, *, from_block: int = 0
) -> ReconcileReport:
    """Every mismatch between the ledger and the chain for one (payer, token)."""
    from payout.history import pin

    pin(ledger, chain, [scope])  # a reset chain has none of the ledger's payments: refuse
    report = ReconcileReport(scope)
    events: list[BatchEvent] = disburser.batch_events(
        scope.payer, token=scope.token, from_block=from_block
    )
    report.batches_on_chain = len(events)
    ledger_batches = {b.batch_id: b for b in ledger.batches(scope)}
    rows_by_batch: dict[str | None, list[PayoutRecord]] = defaultdict(list)
    for row in ledger.iter_payouts(scope):
        rows_by_batch[row.batch_id].append(row)
        if row.status is PayoutStatus.CONFIRMED:
            report.rows_paid_in_ledger += 1
            report.amount_in_ledger += row.amount

    transfers: dict[str, dict[int, _Transfer]] = {}
    if events:
        blocks = [e.block_number for e in events]
        transfers = _transfers(
            chain,
            scope.token,
            disburser.address,
            scope.payer,
            {e.tx_hash for e in events},
            min(blocks),
            max(blocks),
        )
    seen_batches: set[str] = set()
    for event in events:
        hex_id = "0x" + event.batch_id.hex()
        seen_batches.add(hex_id)
        in_tx = dict(transfers.get(event.tx_hash, {}))
        record = ledger_batches.get(hex_id)
        rows = rows_by_batch.get(hex_id, [])
        # The skip-and-report refund goes back to the payer: not a payout.
        payer_is_payee = any(r.recipient == scope.payer for r in rows)
        for index, transfer in list(in_tx.items()):
            if transfer.to == scope.payer and not payer_is_payee:
                del in_tx[index]
        report.transfers_on_chain += len(in_tx)
        report.amount_on_chain += sum(x.amount for x in in_tx.values())
        if record is None or record.status is not BatchStatus.CONFIRMED:
            kind = (
                "unsettled"
                if record is not None and record.status is BatchStatus.SUBMITTED
                else "extra"
            )
            report.mismatches.append(
                Mismatch(
                    kind,
                    hex_id,
                    tx_hash=event.tx_hash,
                    actual=f"{event.count} transfers, {event.total} base units",
                    detail="batch executed on chain; the ledger "
                    + (
                        "still has it in flight: run `payout resume`"
                        if kind == "unsettled"
                        else "does not record it as paid"
                    ),
                )
            )
            continue
        for row in rows:
            if row.status is not PayoutStatus.CONFIRMED:
                continue
            expected = f"{row.recipient} {row.amount}"
            t: _Transfer | None = None
            if row.tx_hash == event.tx_hash and row.log_index is not None:
                t = in_tx.pop(row.log_index) if row.log_index in in_tx else None
            if t is None:
                report.mismatches.append(
                    Mismatch(
                        "missing",
                        hex_id,
                        row.payout_id,
                        row.tx_hash,
                        row.log_index,
                        expected,
                        None,
                        "no Transfer log at the recorded transaction and log index",
                    )
                )
            elif t.to != row.recipient:
                report.mismatches.append(
                    Mismatch(
                        "wrong_recipient",
                        hex_id,
                        row.payout_id,
                        t.tx_hash,
                        t.log_index,
                        expected,
                        f"{t.to} {t.amount}",
                        "the transfer went to another address",
                    )
                )
            elif t.amount != row.amount:
                report.mismatches.append(
                    Mismatch(
                        "wrong_amount",
                        hex_id,
                        row.payout_id,
                        t.tx_hash,
                        t.log_index,
                        expected,
                        f"{t.to} {t.amount}",
                        "the transfer moved another amount",
                    )
                )
        for t in in_tx.values():
            report.mismatches.append(
                Mismatch(
                    "extra",
                    hex_id,
                    None,
                    t.tx_hash,
                    t.log_index,
                    None,
                    f"{t.to} {t.amount}",
                    "a transfer on chain that no paid ledger row accounts for",
                )
            )
    for hex_id, record in ledger_batches.items():
        if record.status is BatchStatus.CONFIRMED and hex_id not in seen_batches:
            for row in rows_by_batch.get(hex_id, []):
                if row.status is PayoutStatus.CONFIRMED:
                    report.mismatches.append(
                        Mismatch(
                            "missing",
                            hex_id,
                            row.payout_id,
                            row.tx_hash,
                            row.log_index,
                            f"{row.recipient} {row.amount}",
                            None,
                            "the ledger says paid; the chain has no such batch for this payer",
                        )
                    )
    return report
