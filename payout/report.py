"""Payout reports from the ledger (CSV and JSON) and status summaries.

Report columns (one row per payout): payout id, recipient, amount (token units, exact), amount in
base units, token, symbol, chain id, payer, tx hash, block, log index, batch id, gas share (energy
on TRON), status, error, memo, source file and line, network, token decimals.

A ledger may hold EVM (hot wallet, Safe) and TRON scopes at once. :class:`TokenResolver` reads a
scope's token symbol and decimals from the chain the scope belongs to (the EVM endpoint when its
chain id matches, the TRON node when one is given); when that chain cannot be read, the amounts stay
in base units and the resolver says why (``notes``). Nothing here raises for an unreadable chain.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from payout.amount import format_amount
from payout.exceptions import PayoutError
from payout.ledger import BatchRecord, Ledger, PayoutRecord
from payout.redact import redact_url
from payout.types import FORMULA_PREFIXES, BatchStatus, Network, PayoutStatus, Scope

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
    "network",
    "decimals",
)

#: (symbol, decimals) of a token, or None when unknown (amounts then stay in base units).
TokenLookup = Callable[[str], tuple[str, int] | None]


def token_units(amount: int, decimals: int) -> str:
    """Exact token units (``12500000``, 6 -> ``12.50``)."""
    return format_amount(amount, decimals)


#: (symbol, decimals) of a scope's token, or None when its chain cannot be read.
ScopeLookup = Callable[[Scope], tuple[str, int] | None]

#: Read timeout for token facts: a report must not hang on a dead endpoint.
TOKEN_READ_TIMEOUT = 5.0


class TokenResolver:
    """Token symbol and decimals of each ledger scope, read from that scope's own chain.

    EVM scopes (hot wallet and Safe) are read through ``rpc_url`` only when the endpoint's chain id
    is the scope's; TRON scopes through ``tron_node_url`` (when given) on the matching TRON chain.
    Anything else gives None, with the reason in :attr:`notes` (one per distinct reason), so the
    caller shows base units labelled as such. Connections are opened lazily, once.
    """

    def __init__(self, rpc_url: str | None = None, tron_node_url: str | None = None) -> None:
        self.rpc_url = rpc_url
        self.tron_node_url = tron_node_url
        self.notes: list[str] = []
        self._cache: dict[Scope, tuple[str, int] | None] = {}
        self._reasons: dict[Scope, str] = {}
        self._evm: Any = None
        self._evm_chain_id: int | None = None
        self._evm_error: str | None = None
        self._tron: Any = None
        self._tron_chain_id: int | None = None
        self._tron_error: str | None = None

    def __call__(self, scope: Scope) -> tuple[str, int] | None:
        if scope not in self._cache:
            try:
                if scope.network is Network.TRON:
                    facts = self._tron_token(scope)
                else:
                    facts = self._evm_token(scope)
            except (PayoutError, ValueError) as exc:
                facts = self._unknown(scope, f"token {scope.token} could not be read: {exc}")
            self._cache[scope] = facts
        return self._cache[scope]

    def reason(self, scope: Scope) -> str | None:
        """Why ``scope``'s token facts are unknown (None when they are known or not asked)."""
        return self._reasons.get(scope)

    def _unknown(self, scope: Scope, reason: str) -> tuple[str, int] | None:
        """Record why ``scope``'s token facts are unknown; returns None (the lookup's answer)."""
        self._reasons[scope] = reason
        if reason not in self.notes:
            self.notes.append(reason)
        return None

    def _evm_token(self, scope: Scope) -> tuple[str, int] | None:
        if self.rpc_url is None:
            return self._unknown(scope, "no EVM endpoint given")
        if self._evm is None and self._evm_error is None:
            from payout.chain import Chain

            try:
                chain = Chain(self.rpc_url, timeout=TOKEN_READ_TIMEOUT, retries=0)
                self._evm_chain_id = chain.chain_id
                self._evm = chain
            except PayoutError as exc:
                self._evm_error = (
                    f"the EVM endpoint {redact_url(self.rpc_url)} cannot be read ({exc})"
                )
        if self._evm is None:
            return self._unknown(scope, self._evm_error or "no EVM endpoint")
        if self._evm_chain_id != scope.chain_id:
            return self._unknown(
                scope,
                f"the EVM endpoint {redact_url(self.rpc_url)} is chain {self._evm_chain_id}, "
                f"not chain {scope.chain_id} (pass --rpc-url of chain {scope.chain_id})",
            )
        info = self._evm.token(scope.token)
        return (info.symbol, info.decimals)

    def _tron_token(self, scope: Scope) -> tuple[str, int] | None:
        if self.tron_node_url is None:
            return self._unknown(
                scope, "no TRON node given (--tron-node or PAYOUT_TRON_NODE_URL) for TRON tokens"
            )
        if self._tron is None and self._tron_error is None:
            from payout.tron.client import connect
            from payout.tron.deploy import chain_id

            try:
                client = connect(self.tron_node_url, timeout=TOKEN_READ_TIMEOUT)
                self._tron_chain_id = chain_id(client)
                self._tron = client
            except PayoutError as exc:
                self._tron_error = (
                    f"the TRON node {redact_url(self.tron_node_url)} cannot be read ({exc})"
                )
        if self._tron is None:
            return self._unknown(scope, self._tron_error or "no TRON node")
        if self._tron_chain_id != scope.chain_id:
            return self._unknown(
                scope,
                f"the TRON node {redact_url(self.tron_node_url)} is chain "
                f"{self._tron_chain_id}, not chain {scope.chain_id}",
            )
        from payout.tron.token import token_info

        info = token_info(self._tron, scope.token)
        return (info.symbol, info.decimals)


def report_rows(
    ledger: Ledger, scopes: Iterable[Scope], lookup: TokenLookup
) -> Iterator[dict[str, Any]]:
    """Report rows of every payout in ``scopes`` (streamed; token facts are looked up first)."""
    return scope_report_rows(ledger, scopes, lambda scope: lookup(scope.token))


def scope_report_rows(
    ledger: Ledger, scopes: Iterable[Scope], lookup: ScopeLookup
) -> Iterator[dict[str, Any]]:
    """Like :func:`report_rows`, with token facts per scope (a :class:`TokenResolver`)."""
    resolved = [(scope, lookup(scope)) for scope in scopes]
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
        "network": r.scope.network.value,
        "decimals": info[1] if info else None,
    }


def csv_cell(value: object) -> object:
    """A value made safe for a CSV cell a spreadsheet will open.

    Text starting with ``= + - @``, a tab or a carriage return (a memo or payout id from the
    payout file, a token symbol read from the chain) is prefixed with a single quote, as OWASP
    advises, so that Excel or LibreOffice show it instead of evaluating it. Numbers are written
    as they are, and ``None`` as an empty cell; the amounts this toolkit writes never start with
    a sign, so they stay plain.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Report rows as CSV (header first); text cells are escaped by :func:`csv_cell`.

    Lines end with CRLF (RFC 4180): the csv module quotes a cell only for the characters of the
    line terminator, so with a bare LF a memo holding a carriage return came out unquoted and
    split its row in two.
    """
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
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
    def cost_unit(self) -> str:
        """What ``gas_used`` counts: gas on EVM chains, energy on TRON."""
        return "energy" if self.scope.network is Network.TRON else "gas"

    @property
    def fee_unit(self) -> str:
        """What ``fee_paid`` counts: wei on EVM chains, sun on TRON."""
        return "sun" if self.scope.network is Network.TRON else "wei"

    @property
    def owed(self) -> tuple[int, int]:
        """(rows, amount) not paid yet: planned, in flight, failed, and skipped (set aside rows
        are owed until a ``--retry-skipped`` run pays them)."""
        rows = amount = 0
        for status in (
            PayoutStatus.PLANNED,
            PayoutStatus.FAILED,
            PayoutStatus.SUBMITTED,
            PayoutStatus.SKIPPED,
        ):
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
