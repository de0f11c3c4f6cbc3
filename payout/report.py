"""Payout reports from the ledger (CSV and JSON) and status summaries.

Report columns (one row per payout): payout id, recipient, amount (token units, exact), amount in
base units, token, symbol, chain id, payer, tx hash, block, log index, batch id, gas share, status,
error, memo, source file and line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from payout.amount import format_amount
from payout.ledger import BatchRecord, Ledger, PayoutRecord
from payout.types import BatchStatus, PayoutStatus, Scope

REPORT_COLUMNS = (
    "payout_id",
    "recipient",
    "amount",
    "amount_base_units",
    "token",
    "symbol",
    "chain_id",
    "payer",
    "tx_hash",
    "block_number",
    "log_index",
    "batch_id",
    "gas_share",
    "status",
    "error",
    "memo",
    "source",
    "line",
)

#: (symbol, decimals) of a token, or None when unknown (amounts then stay in base units).
TokenLookup = Callable[[str], tuple[str, int] | None]


def token_units(amount: int, decimals: int) -> str:
    """Exact token units (``12500000``, 6 -> ``12.50``)."""
    return format_amount(amount, decimals)


def report_rows(
    ledger: Ledger, scopes: Iterable[Scope], lookup: TokenLookup
) -> Iterator[dict[str, Any]]:
    """Report rows of every payout in ``scopes`` (streamed; token facts are looked up first)."""
    resolved = [(scope, lookup(scope.token)) for scope in scopes]
    return _rows(ledger, resolved)


def _rows(
    ledger: Ledger, resolved: list[tuple[Scope, tuple[str, int] | None]]
) -> Iterator[dict[str, Any]]:
    for scope, info in resolved:
        for r in ledger.iter_payouts(scope):
            yield _row(r, info)


def _row(r: PayoutRecord, info: tuple[str, int] | None) -> dict[str, Any]:
    return {
        "payout_id": r.payout_id,
        "recipient": r.recipient,
        "amount": token_units(r.amount, info[1]) if info else None,
        "amount_base_units": r.amount,
        "token": r.scope.token,
        "symbol": info[0] if info else None,
        "chain_id": r.scope.chain_id,
        "payer": r.scope.payer,
        "tx_hash": r.tx_hash,
        "block_number": r.block_number,
        "log_index": r.log_index,
        "batch_id": r.batch_id,
        "gas_share": r.gas_share,
        "status": r.status.value,
        "error": r.error,
        "memo": r.memo,
        "source": r.source,
        "line": r.line,
    }


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
        n += 1
    return n


def write_json(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """A JSON array written incrementally (a million rows never sit in memory as one string)."""
    out.write("[")
    n = 0
    for row in rows:
        out.write(",\n " if n else "\n ")
        out.write(json.dumps(row))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def render_csv(rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    write_csv(rows, buf)
    return buf.getvalue()


@dataclass
class ScopeStatus:
    scope: Scope
    counts: dict[PayoutStatus, tuple[int, int]]
    open_batches: list[BatchRecord] = field(default_factory=list)
    planned_batches: list[BatchRecord] = field(default_factory=list)
    confirmed_batches: int = 0
    gas_used: int = 0
    fee_paid: int = 0

    @property
    def owed(self) -> tuple[int, int]:
        rows = amount = 0
        for status in (PayoutStatus.PLANNED, PayoutStatus.FAILED, PayoutStatus.SUBMITTED):
            c, a = self.counts.get(status, (0, 0))
            rows += c
            amount += a
        return rows, amount


def status(ledger: Ledger, scopes: Iterable[Scope]) -> list[ScopeStatus]:
    out = []
    for scope in scopes:
        batches = ledger.batches(scope)
        confirmed = [b for b in batches if b.status is BatchStatus.CONFIRMED]
        out.append(
            ScopeStatus(
                scope=scope,
                counts=ledger.status_counts(scope),
                open_batches=[b for b in batches if b.status is BatchStatus.SUBMITTED],
                planned_batches=[b for b in batches if b.status is BatchStatus.PLANNED],
                confirmed_batches=len(confirmed),
                gas_used=sum(b.gas_used or 0 for b in confirmed),
                fee_paid=sum(b.fee_paid or 0 for b in confirmed),
            )
        )
    return out
