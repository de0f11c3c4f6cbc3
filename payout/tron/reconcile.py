"""Compare a TRON ledger with the chain: every recorded disburse txID's receipt against every row.

A plain TRON full node keeps no event index, so the chain side is read per transaction the ledger
recorded: ``gettransactioninfobyid`` for each batch's txID (and each attempt of a batch the ledger
holds as not paid), its logs decoded as :func:`payout.tron.executor.receipt_logs` does when
settling. Each ledger row marked paid must match the token ``Transfer`` log sent by the disburser
at its recorded log index (recipient and amount); every such log in the transaction must belong to
a paid row. Mismatch kinds and report type are those of :mod:`payout.reconcile`:

``missing``          the ledger says paid; the transaction has no such transfer (or no batch event,
                     or no receipt at all)
``extra``            the transaction moved tokens no paid row accounts for, or a transaction of a
                     batch the ledger holds as failed/abandoned executed it on chain
``wrong_amount``     the transfer at the recorded log index moved another amount
``wrong_recipient``  the transfer at the recorded log index went to another address
``unsettled``        the ledger still has the batch in flight (``submitted``): run
                     ``payout tron resume``

Limit: a batch executed by a transaction the ledger never recorded is not found here (no event
index); ``payout tron resume`` settles such batches through ``executed(payer, replayKey)``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tronpy import Tron
from tronpy.keys import to_base58check_address

from payout.ledger import BatchRecord, Ledger, PayoutRecord
from payout.reconcile import Mismatch, ReconcileReport
from payout.tron.executor import (
    EXECUTED_ELSEWHERE,
    ReceiptLogs,
    _receipt_failed,
    executed,
    receipt_logs,
)
from payout.tron.transaction import transaction_info
from payout.types import BatchStatus, PayoutStatus, Scope


def _base58(account20: bytes) -> str:
    return str(to_base58check_address("41" + account20.hex()))


def _paid_rows(rows: list[PayoutRecord]) -> list[PayoutRecord]:
    return [r for r in rows if r.status is PayoutStatus.CONFIRMED]


def _executed_in(client: Tron, record: BatchRecord, txid: str) -> tuple[Any, ReceiptLogs | None]:
    """The receipt of ``txid`` and its decoded logs (None: not mined, failed, or no batch event)."""
    info = transaction_info(client, txid)
    if info is None or _receipt_failed(info):
        return info, None
    logs = receipt_logs(
        info,
        record.disburser,
        record.scope.token,
        bytes.fromhex(record.batch_id[2:]),
        record.scope.payer,
    )
    return info, logs if logs.paid_total is not None else None


def _missing(record: BatchRecord, rows: list[PayoutRecord], detail: str) -> list[Mismatch]:
    return [
        Mismatch(
            "missing",
            record.batch_id,
            r.payout_id,
            r.tx_hash,
            r.log_index,
            f"{r.recipient} {r.amount}",
            None,
            detail,
        )
        for r in rows
    ]


def reconcile(client: Tron, ledger: Ledger, scope: Scope) -> ReconcileReport:
    """Every mismatch between the ledger and the chain for one TRON (payer, token)."""
    report = ReconcileReport(scope)
    rows_by_batch: dict[str | None, list[PayoutRecord]] = defaultdict(list)
    for row in ledger.iter_payouts(scope):
        rows_by_batch[row.batch_id].append(row)
        if row.status is PayoutStatus.CONFIRMED:
            report.rows_paid_in_ledger += 1
            report.amount_in_ledger += row.amount
    for record in ledger.batches(scope):
        rows = rows_by_batch.get(record.batch_id, [])
        if record.status is BatchStatus.CONFIRMED:
            _confirmed(client, record, rows, report)
        elif record.status is BatchStatus.SUBMITTED:
            txids = [a.tx_hash for a in record.attempts if a.tx_hash] + [record.tx_hash]
            report.mismatches.append(
                Mismatch(
                    "unsettled",
                    record.batch_id,
                    tx_hash=next((t for t in reversed(txids) if t), None),
                    expected=f"{record.count} transfers, {record.total} base units",
                    detail="the ledger still has this batch in flight: run `payout tron resume`",
                )
            )
        elif record.status in (BatchStatus.FAILED, BatchStatus.ABANDONED):
            for txid in {a.tx_hash for a in record.attempts if a.tx_hash} | (
                {record.tx_hash} if record.tx_hash else set()
            ):
                _, logs = _executed_in(client, record, txid)
                if logs is not None:
                    report.batches_on_chain += 1
                    report.mismatches.append(
                        Mismatch(
                            "extra",
                            record.batch_id,
                            tx_hash=txid,
                            actual=f"{len(logs.transfers)} transfers, {logs.paid_total} base units",
                            detail=f"batch executed on chain; the ledger has it {record.status}",
                        )
                    )
    return report


def _confirmed(
    client: Tron, record: BatchRecord, rows: list[PayoutRecord], report: ReconcileReport
) -> None:
    scope = record.scope
    paid = _paid_rows(rows)
    txid = record.tx_hash
    if not txid or txid == EXECUTED_ELSEWHERE:
        # Settled through executed(payer, replayKey) without a receipt: the rows carry no proof
        # to compare, but the chain must at least say the batch ran.
        if executed(client, record.disburser, scope.payer, record.replay_key_bytes):
            report.batches_on_chain += 1
        else:
            report.mismatches.extend(
                _missing(record, paid, "the ledger says paid; the disburser says never executed")
            )
        return
    info, logs = _executed_in(client, record, txid)
    if logs is None:
        why = (
            "no receipt for the recorded txID"
            if info is None
            else "the recorded transaction failed"
            if _receipt_failed(info)
            else "the recorded transaction has no BatchDisbursed event for this batch"
        )
        report.mismatches.extend(_missing(record, paid, f"the ledger says paid; {why}"))
        return
    report.batches_on_chain += 1
    in_tx = {index: (_base58(to), amount) for index, to, amount in logs.transfers}
    # The skip-and-report refund goes back to the payer: not a payout.
    if not any(r.recipient == scope.payer for r in rows):
        in_tx = {i: t for i, t in in_tx.items() if t[0] != scope.payer}
    report.transfers_on_chain += len(in_tx)
    report.amount_on_chain += sum(amount for _, amount in in_tx.values())
    for row in paid:
        expected = f"{row.recipient} {row.amount}"
        found = None
        if row.tx_hash == txid and row.log_index is not None:
            found = in_tx.pop(row.log_index, None)
        if found is None:
            report.mismatches.extend(
                _missing(record, [row], "no Transfer log at the recorded transaction and log index")
            )
            continue
        to, amount = found
        if to != row.recipient or amount != row.amount:
            kind, detail = (
                ("wrong_recipient", "the transfer went to another address")
                if to != row.recipient
                else ("wrong_amount", "the transfer moved another amount")
            )
            report.mismatches.append(
                Mismatch(
                    kind,
                    record.batch_id,
                    row.payout_id,
                    txid,
                    row.log_index,
                    expected,
                    f"{to} {amount}",
                    detail,
                )
            )
    for index, (to, amount) in sorted(in_tx.items()):
        report.mismatches.append(
            Mismatch(
                "extra",
                record.batch_id,
                None,
                txid,
                index,
                None,
                f"{to} {amount}",
                "a transfer from the disburser that no paid ledger row accounts for",
            )
        )
