"""Value types shared by the whole pipeline: manifest -> plan -> ledger -> executor -> reconcile.

Amounts are ``int`` base units everywhere (``Decimal`` only when parsing or printing). Addresses are
strings in their network's canonical form: EIP-55 checksummed ``0x...`` on EVM chains, base58check
``T...`` on TRON (see :mod:`payout.address`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

#: The disburser packs each amount into 96 bits (``uint96``): the largest payable amount in base
#: units.
UINT96_MAX = 2**96 - 1

#: EIP-7825 (Osaka) per-transaction gas cap; anvil enforces it with ``--enable-tx-gas-limit``.
TX_GAS_CAP = 16_777_216

#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP "CSV Injection"):
#: reports escape such text, and validation warns about memos and ids that start with one.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: java-tron refuses transactions larger than this many bytes.
TRON_MAX_TX_BYTES = 500 * 1024


class Network(enum.StrEnum):
    """The family of chain a payout goes to: its address format and executor differ."""

    EVM = "evm"
    TRON = "tron"


class PayoutStatus(enum.StrEnum):
    """Life cycle of one payout row in the ledger (transitions in :data:`PAYOUT_TRANSITIONS`).

    ``planned``: owed, not yet sent. ``submitted``: its batch's transaction is recorded
    (write-ahead,
    before broadcast) and may be on chain. ``confirmed``: paid, proven by a receipt and the batch
    event.
    ``failed``: its batch transaction reverted or was abandoned; still owed. ``skipped``:
    deliberately not
    paid (excluded by the operator, or skipped on chain by skip-and-report mode); still owed.
    """

    PLANNED = "planned"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    SKIPPED = "skipped"


#: Allowed payout status changes. ``confirmed`` is terminal: a paid row never becomes payable again.
PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.PLANNED: frozenset({PayoutStatus.SUBMITTED, PayoutStatus.SKIPPED}),
    # submitted -> planned: the chain proves the batch did not execute and its transaction is gone.
    PayoutStatus.SUBMITTED: frozenset(
        {PayoutStatus.CONFIRMED, PayoutStatus.FAILED, PayoutStatus.SKIPPED, PayoutStatus.PLANNED}
    ),
    PayoutStatus.CONFIRMED: frozenset(),
    PayoutStatus.FAILED: frozenset({PayoutStatus.PLANNED, PayoutStatus.SKIPPED}),
    PayoutStatus.SKIPPED: frozenset({PayoutStatus.PLANNED}),
}


class BatchStatus(enum.StrEnum):
    """Life cycle of a batch: one disburse call (one transaction, or one Safe/TRON multisig tx)."""

    PLANNED = "planned"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    #: Proven not executed on chain and given up; its rows went back to ``planned``.
    ABANDONED = "abandoned"


BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.PLANNED: frozenset({BatchStatus.SUBMITTED, BatchStatus.ABANDONED}),
    BatchStatus.SUBMITTED: frozenset(
        {BatchStatus.CONFIRMED, BatchStatus.FAILED, BatchStatus.ABANDONED, BatchStatus.SUBMITTED}
    ),
    BatchStatus.CONFIRMED: frozenset(),
    # A reverted or abandoned batch id was not consumed on chain: re-planning the same rows
    # re-derives it.
    BatchStatus.FAILED: frozenset({BatchStatus.ABANDONED, BatchStatus.PLANNED}),
    BatchStatus.ABANDONED: frozenset({BatchStatus.PLANNED}),
}


class ExecutorKind(enum.StrEnum):
    """Who signs and sends a batch."""

    WALLET = "wallet"
    SAFE = "safe"
    TRON = "tron"


class PayMode(enum.StrEnum):
    """``strict``: the whole batch reverts if one transfer fails (``disburse``).
    ``skip``: failed transfers are skipped and reported (``disburseOrSkip``)."""

    STRICT = "strict"
    SKIP = "skip"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Payout(NamedTuple):
    """One row of a payout file, validated and normalized.

    A ``NamedTuple`` rather than a dataclass: a million of these are built while validating a file,
    and
    tuples are created about three times faster and take half the memory of frozen dataclasses.
    """

    #: Idempotency key: explicit ``id`` column, or derived (see
    #: :func:`payout.manifest.derive_payout_id`).
    payout_id: str
    #: Canonical address for ``network`` (EIP-55 / TRON base58check).
    recipient: str
    #: Base units of the token (``12.50`` USDC with 6 decimals -> ``12_500_000``).
    amount: int
    #: Physical line in a CSV / JSON Lines file, or the 1-based record number in a JSON array.
    line: int = 0
    memo: str | None = None
    #: Canonical token address, or ``None`` for the run's default token.
    token: str | None = None
    network: Network = Network.EVM
    #: The file the row came from (informational; stored in the ledger).
    source: str = ""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as read from the chain: decimals decide how ``12.50`` becomes base units."""

    address: str
    symbol: str
    decimals: int
    network: Network = Network.EVM
    chain_id: int | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """What "paid at most once" is relative to: a payout id is unique per network, chain, payer,
    token."""

    network: Network
    chain_id: int
    payer: str
    token: str


@dataclass(frozen=True, slots=True)
class Batch:
    """One disburse call: ordered payouts of one token, bounded by the cost model.

    ``batch_id`` is derived from the scope, the disburser and the ordered payout ids
    (:func:`payout.batching.derive_batch_id`): the batch's content, emitted by the contract for
    reconciliation. ``replay_key`` is what the contract executes at most once per payer (31-byte
    word key || 1-byte bit, :func:`payout.batching.derive_replay_keys`): the batches of one run
    share a storage word. It is derived from the run's batch ids, recorded in the ledger before
    the batch is sent, and always read back from there, so a resubmission after a crash uses the
    same key and is harmless.
    """

    index: int
    batch_id: bytes
    network: Network
    chain_id: int
    payer: str
    token: str
    disburser: str
    payouts: tuple[Payout, ...]
    total: int
    #: Estimated cost in the cost model's unit (gas on EVM, energy on TRON).
    cost_estimate: int
    cost_unit: str = "gas"
    extra: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    #: 32 bytes; empty only for a batch that is never sent (encoding it raises).
    replay_key: bytes = b""

    @property
    def count(self) -> int:
        return len(self.payouts)

    @property
    def batch_id_hex(self) -> str:
        return "0x" + self.batch_id.hex()

    @property
    def replay_key_hex(self) -> str:
        return "0x" + self.replay_key.hex()

    @property
    def gas_estimate(self) -> int:
        """Alias of :attr:`cost_estimate` for EVM callers."""
        return self.cost_estimate

    @property
    def scope(self) -> Scope:
        return Scope(self.network, self.chain_id, self.payer, self.token)

    @property
    def payout_ids(self) -> tuple[str, ...]:
        return tuple(p.payout_id for p in self.payouts)


class Issue(NamedTuple):
    """One validation finding, located precisely enough to fix the file."""

    file: str
    #: Physical line (CSV, JSON Lines), record number (JSON array) or 0 for the whole file.
    line: int
    #: Column name as written in the header, or "" when the issue concerns the row or file.
    column: str
    #: Stable machine-readable code, e.g. ``address_checksum`` (listed in docs/pipeline.md).
    code: str
    message: str
    severity: Severity = Severity.ERROR
    #: What :attr:`line` counts: ``"line"`` (CSV, JSON Lines) or ``"record"`` (JSON array).
    unit: str = "line"

    def __str__(self) -> str:
        if not self.line:
            where = self.file
        elif self.unit == "line":
            where = f"{self.file}:{self.line}"
        else:
            where = f"{self.file} {self.unit} {self.line}"
        col = f" [{self.column}]" if self.column else ""
        return f"{where}{col} {self.severity}: {self.message} ({self.code})"
