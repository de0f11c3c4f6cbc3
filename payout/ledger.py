"""The ledger: what is owed, what is in flight, what is paid. Never pay twice, never lose a row.

One schema (SQLAlchemy Core) on SQLite (default, ``.payout/ledger.sqlite``) and PostgreSQL (by URL).

* A payout id exists once per scope (network, chain id, payer, token): registering the same or an
  overlapping file again finds the rows already there; the same id with another recipient or amount
  is a :class:`LedgerConflictError`, never a silent skip.
* Row states follow :data:`payout.types.PAYOUT_TRANSITIONS`; every change is a conditional update
  (``... WHERE status IN (allowed predecessors)``), so two processes cannot both claim a row.
* Write-ahead: :meth:`Ledger.record_submission` stores the transaction hash, nonce and (optionally)
  the signed raw transaction BEFORE the executor broadcasts it. After a crash, every ``submitted``
  batch (:meth:`Ledger.open_batches`) is settled from the chain (``executed(payer, batchId)`` and
  the
  ``BatchDisbursed`` event) before anything is resubmitted.
* Amounts, gas and fees are stored as decimal strings (uint96/uint256 do not fit SQL integers, and
  floats would round).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from payout.config import redact_url, resolve_ledger_url, sqlite_timeout_from_env
from payout.exceptions import (
    BatchInFlightElsewhere,
    ChainResetError,
    InvalidTransitionError,
    LedgerBusyError,
    LedgerConflictError,
    LedgerError,
    LedgerNotFoundError,
    LedgerStorageError,
    LedgerUnavailableError,
)
from payout.files import create_private
from payout.types import (
    BATCH_TRANSITIONS,
    PAYOUT_TRANSITIONS,
    Batch,
    BatchStatus,
    ExecutorKind,
    Network,
    PayMode,
    Payout,
    PayoutStatus,
    Scope,
)

try:  # the bulk insert talks to psycopg2 directly: its errors are not wrapped by SQLAlchemy
    from psycopg2 import IntegrityError as _PgIntegrityError

    _DUPLICATE_KEY_ERRORS: tuple[type[Exception], ...] = (IntegrityError, _PgIntegrityError)
except ImportError:  # pragma: no cover - psycopg2 is a dependency
    _DUPLICATE_KEY_ERRORS = (IntegrityError,)

#: Bump when the schema changes; a ledger written by a newer version is refused, not guessed at.
#: 2: ``batches.replay_key`` and the ``replay_words`` table (replay bitmap of the disburser).
SCHEMA_VERSION = 2

_CHUNK = 500  # ids per IN (...) query: well under every driver's bound-parameter limit

metadata = MetaData()

#: The columns that name a scope (:class:`~payout.types.Scope`): every per-scope table's key.
SCOPE_KEY = ("network", "chain_id", "payer", "token")


def scope_columns() -> list[Column[Any]]:
    """The :data:`SCOPE_KEY` columns, new for each table (a column belongs to one table).

    The ledger's tables and the service's (:mod:`payout.service.tables`) share them; the Alembic
    revisions keep their own frozen copies.
    """
    return [
        Column("network", String(8), nullable=False),
        Column("chain_id", BigInteger, nullable=False),
        Column("payer", String(64), nullable=False),
        Column("token", String(64), nullable=False),
    ]


ledger_meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", String(64), nullable=False),
    Column("executor", String(16)),
    Column("network", String(8)),
    Column("chain_id", BigInteger),
    Column("payer", String(64)),
    Column("token", String(64)),
    Column("disburser", String(64)),
    Column("source", Text),
    Column("source_sha256", String(64)),
    Column("rows", Integer),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *scope_columns(),
    Column("payout_id", String(128), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("amount", String(40), nullable=False),
    Column("memo", Text),
    Column("source", Text),
    Column("line", Integer),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("status", String(16), nullable=False),
    Column("batch_id", String(66)),
    Column("batch_position", Integer),
    Column("tx_hash", String(80)),
    Column("block_number", BigInteger),
    Column("log_index", Integer),
    Column("gas_share", String(40)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(*SCOPE_KEY, "payout_id", name="uq_payout_scope"),
    Index("ix_payouts_batch", "network", "chain_id", "payer", "batch_id"),
    Index("ix_payouts_status", *SCOPE_KEY, "status"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *scope_columns(),
    Column("batch_id", String(66), nullable=False),
    Column("batch_index", Integer, nullable=False),
    Column("disburser", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("executor", String(16), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("count", Integer, nullable=False),
    Column("total", String(80), nullable=False),
    Column("cost_estimate", BigInteger),
    Column("cost_unit", String(16)),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("nonce", BigInteger),
    Column("tx_hash", String(80)),
    Column("safe_nonce", BigInteger),
    Column("safe_tx_hash", String(80)),
    Column("block_number", BigInteger),
    Column("gas_used", String(40)),
    Column("fee_paid", String(80)),
    Column("paid_total", String(80)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True)),
    Column("confirmed_at", DateTime(timezone=True)),
    #: The key the contract executes once per payer (0x + 64 hex), recorded before the batch is
    #: sent and never changed afterwards; NULL only for a batch adopted from the chain.
    Column("replay_key", String(66)),
    # The ledger keeps a batch id once per payer, whatever the token.
    UniqueConstraint("network", "chain_id", "payer", "batch_id", name="uq_batch_payer"),
    Index("ix_batches_status", "status"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_pk", Integer, ForeignKey("batches.id"), nullable=False),
    Column("tx_hash", String(80)),
    Column("nonce", BigInteger),
    #: Signed transaction (hex / JSON) so a crash before broadcast can re-send the very same bytes.
    Column("raw_tx", Text),
    #: Fee fields (JSON object of decimal strings): maxFeePerGas, maxPriorityFeePerGas, fee_limit...
    Column("fees", Text),
    Column("status", String(16), nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_attempts_batch", "batch_pk"),
    Index("ix_attempts_tx", "tx_hash"),
)

#: Where each scope's chain is pinned (the hash of its block 0: a restarted or different chain
#: with the same chain id has another) and how far its batch events were scanned
#: (:mod:`payout.history`).
scope_chain = Table(
    "scope_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *scope_columns(),
    Column("genesis", String(80)),
    Column("disburser", String(64)),
    Column("scanned_block", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(*SCOPE_KEY, name="uq_scope_chain"),
)

#: Executed batches of a payer found on chain that this ledger did not plan (a lost ledger,
#: another tool), with their rows (JSON [[recipient, amount, paid], ...]): ``open`` until adopted
#: as paying rows of a file (``adopted``) or declared ``unrelated`` by the operator.
chain_batches = Table(
    "chain_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *scope_columns(),
    Column("batch_id", String(66), nullable=False),
    Column("tx_hash", String(80), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("executor", String(16), nullable=False),
    Column("rows", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("network", "chain_id", "payer", "batch_id", name="uq_chain_batch"),
)

#: The open rolling replay word of a scope (the payout service's flushes: each is a run of about
#: one batch; consecutive flushes take the next bit of the same word until its 256 bits are used).
replay_words = Table(
    "replay_words",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *scope_columns(),
    Column("word_key", String(64), nullable=False),
    Column("next_bit", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(*SCOPE_KEY, name="uq_replay_word"),
)

#: Attempt states: ``pending`` (recorded, maybe broadcast), ``mined`` (its receipt settled the
#: batch), ``reverted``, ``replaced`` (another attempt with the same nonce was mined), ``dropped``.
ATTEMPT_STATUSES = ("pending", "mined", "reverted", "replaced", "dropped")


def _now() -> datetime:
    return datetime.now(UTC)


def _hex_id(batch_id: bytes | str) -> str:
    if isinstance(batch_id, bytes):
        if len(batch_id) != 32:
            raise LedgerError(f"a batch id is 32 bytes, got {len(batch_id)}")
        return "0x" + batch_id.hex()
    text = batch_id.lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if len(text) != 66:
        raise LedgerError(f"a batch id is 32 bytes (64 hex digits), got {batch_id!r}")
    return text


def _scope_values(scope: Scope) -> dict[str, Any]:
    """The scope key columns of a row to insert (the counterpart of :func:`_scope_clause`)."""
    return {
        "network": scope.network.value,
        "chain_id": scope.chain_id,
        "payer": scope.payer,
        "token": scope.token,
    }


def _scope_clause(table: Table, scope: Scope) -> Any:
    return and_(
        table.c.network == scope.network.value,
        table.c.chain_id == scope.chain_id,
        table.c.payer == scope.payer,
        table.c.token == scope.token,
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutRecord:
    """A payout row as stored in the ledger."""

    scope: Scope
    payout_id: str
    recipient: str
    amount: int
    status: PayoutStatus
    memo: str | None
    source: str | None
    line: int | None
    batch_id: str | None
    batch_position: int | None
    tx_hash: str | None
    block_number: int | None
    log_index: int | None
    gas_share: int | None
    error: str | None
    updated_at: datetime | None

    def to_payout(self) -> Payout:
        return Payout(
            self.payout_id,
            self.recipient,
            self.amount,
            self.line or 0,
            self.memo,
            self.scope.token,
            self.scope.network,
            self.source or "",
        )

    def as_dict(self) -> dict[str, Any]:
        """Flat JSON-friendly view (amount and gas share as integer base units / gas)."""
        return {
            "payout_id": self.payout_id,
            "recipient": self.recipient,
            "amount": self.amount,
            "token": self.scope.token,
            "network": self.scope.network.value,
            "chain_id": self.scope.chain_id,
            "payer": self.scope.payer,
            "status": self.status.value,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "log_index": self.log_index,
            "batch_id": self.batch_id,
            "gas_share": self.gas_share,
            "memo": self.memo,
            "source": self.source,
            "line": self.line,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    tx_hash: str | None
    nonce: int | None
    raw_tx: str | None
    fees: dict[str, Any]
    status: str
    note: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A batch as stored in the ledger (its payouts via :meth:`Ledger.load_batch`)."""

    scope: Scope
    batch_id: str
    index: int
    disburser: str
    status: BatchStatus
    executor: ExecutorKind
    mode: PayMode
    count: int
    total: int
    cost_estimate: int | None
    cost_unit: str | None
    nonce: int | None
    tx_hash: str | None
    safe_nonce: int | None
    safe_tx_hash: str | None
    block_number: int | None
    gas_used: int | None
    fee_paid: int | None
    paid_total: int | None
    error: str | None
    attempts: tuple[AttemptRecord, ...] = ()
    #: 0x + 64 hex; None only for a batch adopted from the chain.
    replay_key: str | None = None

    @property
    def batch_id_bytes(self) -> bytes:
        return bytes.fromhex(self.batch_id[2:])

    @property
    def replay_key_bytes(self) -> bytes:
        """The recorded replay key (LedgerError when the batch has none)."""
        if not self.replay_key:
            raise LedgerError(
                f"batch {self.batch_id} has no recorded replay key",
                hint="it was adopted from the chain; it is settled and never sent again",
            )
        return bytes.fromhex(self.replay_key[2:])


@dataclass(frozen=True, slots=True)
class ChainBatchRecord:
    """An executed batch found on chain that this ledger did not plan (:mod:`payout.history`)."""

    scope: Scope
    batch_id: str
    tx_hash: str
    block_number: int
    log_index: int
    executor: ExecutorKind
    #: (recipient, amount, paid) in batch order.
    rows: tuple[tuple[str, int, bool], ...]
    #: ``open``, ``adopted`` or ``unrelated``.
    status: str


class PayoutOutcome(NamedTuple):
    """What the chain says about one payout of a mined batch."""

    payout_id: str
    #: ``confirmed`` (Transfer log seen) or ``skipped`` (TransferSkipped in skip-and-report mode).
    status: PayoutStatus = PayoutStatus.CONFIRMED
    log_index: int | None = None
    gas_share: int | None = None
    error: str | None = None


@dataclass
class Registration:
    """Result of :meth:`Ledger.register`: how the file's rows relate to what the ledger knows."""

    scope: Scope
    run_id: int | None
    #: Rows to plan now, in file order: new rows, and known rows still owed (planned / failed).
    to_plan: list[Payout] = field(default_factory=list)
    new: int = 0
    #: Ids already confirmed (paid): not planned again.
    paid: list[str] = field(default_factory=list)
    #: Ids in a submitted batch: settle them with ``resume`` first.
    in_flight: list[str] = field(default_factory=list)
    #: Rows an operator (or skip-and-report mode) set aside: planned again only on request.
    skipped: list[Payout] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchChange:
    """A batch that just changed status, as told to :attr:`Ledger.batch_listeners`."""

    network: Network
    chain_id: int
    payer: str
    token: str
    batch_id: str
    status: BatchStatus
    tx_hash: str | None
    count: int
    #: Rows of the batch paid / skipped (a confirmed batch in skip-and-report mode).
    paid: int
    skipped: int
    error: str | None
    total: int = 0
    #: Safe payers: the Safe transaction and its nonce.
    safe_tx_hash: str | None = None
    safe_nonce: int | None = None


#: Called inside the transaction that changes a batch's status, with its connection: whatever it
#: writes there (an outbox row) is committed with the change or not at all.
BatchListener = Callable[[Connection, BatchChange], None]


def _require_batch_transition(hex_id: str, status: BatchStatus, target: BatchStatus) -> None:
    if target not in BATCH_TRANSITIONS[status]:
        raise InvalidTransitionError("batch", hex_id, status.value, target.value)


def _batch_rows(scope: Scope | tuple[Network, int, str], hex_id: str) -> list[Any]:
    """WHERE clauses selecting the payer's rows of batch ``hex_id``."""
    return [*_payer_clause(payouts, _payer_key(scope)), payouts.c.batch_id == hex_id]


# --- the ledger ---------------------------------------------------------------------------------


class Ledger:
    """Ledger on one database. Open with :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = redact_url(url)
        #: Told of every batch status change inside its transaction (see :data:`BatchListener`).
        self.batch_listeners: list[BatchListener] = []

    # --- opening --------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, sqlite_timeout: float | None = None) -> Ledger:
        """Open (and create or check the schema of) the ledger at ``url``.

        ``None`` resolves through :func:`payout.config.resolve_ledger_url` (``PAYOUT_LEDGER_URL``,
        else ``.payout/ledger.sqlite`` in the current directory, created if missing).
        ``sqlite_timeout`` (default ``PAYOUT_SQLITE_TIMEOUT``, else 30 s) is how long a SQLite
        writer waits for another process's lock before :class:`LedgerBusyError`.
        """
        resolved = resolve_ledger_url(url)
        if sqlite_timeout is None:
            sqlite_timeout = sqlite_timeout_from_env()
        try:
            engine = _make_engine(resolved, sqlite_timeout)
        except (SQLAlchemyError, OSError) as exc:
            raise LedgerUnavailableError(redact_url(resolved), str(exc)) from exc
        ledger = cls(engine, resolved)
        ledger._ensure_schema()
        return ledger

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _ensure_schema(self) -> None:
        try:
            with self._begin() as conn:
                existing = set(inspect(conn).get_table_names())
                if "ledger_meta" in existing:
                    row = conn.execute(
                        select(ledger_meta.c.value).where(ledger_meta.c.key == "schema_version")
                    ).first()
                    version = int(row[0]) if row else 0
                    if version > SCHEMA_VERSION:
                        raise LedgerUnavailableError(
                            self.url,
                            f"its schema version {version} is newer than this toolkit's "
                            f"({SCHEMA_VERSION}); upgrade the toolkit",
                        )
                    if version == SCHEMA_VERSION and existing >= set(metadata.tables):
                        return
                    if "batches" in existing:
                        _add_missing_columns(conn)
                elif existing & set(metadata.tables):
                    raise LedgerUnavailableError(
                        self.url, "the database has payout tables but no schema version"
                    )
                metadata.create_all(conn)
                conn.execute(ledger_meta.delete().where(ledger_meta.c.key == "schema_version"))
                conn.execute(
                    ledger_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                )
        except OperationalError as exc:
            raise LedgerUnavailableError(self.url, str(exc.orig or exc)) from exc
        except IntegrityError:
            # Another process created the schema at the same moment: it is there now.
            return

    def allocate_replay_key(self, scope: Scope, seed: bytes) -> bytes:
        """The next replay key of ``scope``'s rolling word (the payout service's runs).

        Each call takes the next bit of the scope's open word, persisted here, so consecutive
        small runs share one storage word of the contract (~5,000 gas per batch instead of a fresh
        22,100-gas slot); after 256 bits a new word is opened, its key derived from the word it
        replaces and ``seed`` (the first batch id of the new word). A bit taken by a run that is
        never sent stays unused: harmless. Workers sharing a PostgreSQL ledger take bits under the
        word's row lock, so no bit is handed out twice.
        """
        try:
            return self._draw_replay_key(scope, seed)
        except IntegrityError:
            # Another worker opened the scope's first word at the same moment (both found no
            # row to lock): the row is there now, take its next bit under the lock.
            return self._draw_replay_key(scope, seed)

    def _draw_replay_key(self, scope: Scope, seed: bytes) -> bytes:
        from payout.batching import REPLAY_WORD_BITS, replay_word

        now = _now()
        where = (
            replay_words.c.network == scope.network.value,
            replay_words.c.chain_id == scope.chain_id,
            replay_words.c.payer == scope.payer,
            replay_words.c.token == scope.token,
        )
        with self._begin() as conn:
            row = conn.execute(
                select(replay_words.c.id, replay_words.c.word_key, replay_words.c.next_bit)
                .where(*where)
                .with_for_update()
            ).first()
            if row is not None and int(row[2]) < REPLAY_WORD_BITS:
                word, bit = bytes.fromhex(row[1]), int(row[2])
                conn.execute(
                    update(replay_words)
                    .where(replay_words.c.id == row[0])
                    .values(next_bit=bit + 1, updated_at=now)
                )
                return word + bytes([bit])
            # Chained to the word it replaces: a seed seen before never reopens an old word.
            previous = bytes.fromhex(row[1]) if row is not None else b""
            word = replay_word(b"rolling" + previous + seed)
            if row is None:
                conn.execute(
                    replay_words.insert().values(
                        **_scope_values(scope),
                        word_key=word.hex(),
                        next_bit=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    update(replay_words)
                    .where(replay_words.c.id == row[0])
                    .values(word_key=word.hex(), next_bit=1, updated_at=now)
                )
            return word + bytes([0])

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ledger_meta.c.value).where(ledger_meta.c.key == "schema_version")
            ).first()
        return int(row[0]) if row else 0

    # --- runs -----------------------------------------------------------------------------------

    def start_run(
        self,
        command: str,
        *,
        scope: Scope | None = None,
        executor: ExecutorKind | None = None,
        disburser: str | None = None,
        source: str | None = None,
        source_sha256: str | None = None,
        rows: int | None = None,
        note: str | None = None,
    ) -> int:
        """Record one command invocation (an audit trail); returns its run id."""
        with self._begin() as conn:
            result = conn.execute(
                runs.insert().values(
                    command=command,
                    executor=executor.value if executor else None,
                    network=scope.network.value if scope else None,
                    chain_id=scope.chain_id if scope else None,
                    payer=scope.payer if scope else None,
                    token=scope.token if scope else None,
                    disburser=disburser,
                    source=source,
                    source_sha256=source_sha256,
                    rows=rows,
                    note=note,
                    created_at=_now(),
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0])

    # --- payouts --------------------------------------------------------------------------------

    def register(
        self, rows: Sequence[Payout], scope: Scope, *, run_id: int | None = None
    ) -> Registration:
        """Add a file's payouts to the ledger (as ``planned``) and say what is left to pay.

        Rows whose id is new are inserted; rows already known must have the same recipient and
        amount (else :class:`LedgerConflictError`, nothing written). Confirmed ids are reported as
        paid, ids in a submitted batch as in flight, ids set aside as skipped; the rest are owed and
        returned in :attr:`Registration.to_plan` with the new rows, in file order.
        """
        for p in rows:
            if p.network is not scope.network or (p.token is not None and p.token != scope.token):
                raise LedgerError(
                    f"payout {p.payout_id} is for {p.network}/{p.token or 'default token'}, "
                    f"not {scope.network}/{scope.token}",
                    hint="Register each (network, token) group with its own scope.",
                )
        try:
            return self._register(rows, scope, run_id)
        except _DUPLICATE_KEY_ERRORS:
            # A concurrent process inserted some of the same ids first; now they are visible.
            return self._register(rows, scope, run_id)

    def _register(self, rows: Sequence[Payout], scope: Scope, run_id: int | None) -> Registration:
        reg = Registration(scope, run_id)
        now = _now()
        with self._begin() as conn:
            known: dict[str, tuple[str, str, str, str | None]] = {}
            if self._scope_has_rows(conn, scope):
                ids = [p.payout_id for p in rows]
                for chunk in _chunks(ids):
                    for pid, recipient, amount, status, batch_id in conn.execute(
                        select(
                            payouts.c.payout_id,
                            payouts.c.recipient,
                            payouts.c.amount,
                            payouts.c.status,
                            payouts.c.batch_id,
                        ).where(_scope_clause(payouts, scope), payouts.c.payout_id.in_(chunk))
                    ):
                        known[pid] = (recipient, amount, status, batch_id)
            conflicts: list[tuple[str, str, str]] = []
            stamp = _db_value(conn, payouts.c.created_at, now)
            constant = (scope.network.value, scope.chain_id, scope.payer, scope.token)
            planned = PayoutStatus.PLANNED.value
            pending: list[tuple[Any, ...]] = []
            for p in rows:
                found = known.get(p.payout_id)
                if found is None:
                    reg.to_plan.append(p)
                    reg.new += 1
                    if not conflicts:  # once refused, nothing more is written (rolled back)
                        pending.append(
                            (
                                *constant,
                                p.payout_id,
                                p.recipient,
                                str(p.amount),
                                p.memo,
                                p.source or None,
                                p.line or None,
                                run_id,
                                planned,
                                stamp,
                                stamp,
                            )
                        )
                        if len(pending) >= _INSERT_CHUNK:
                            _insert_payouts(conn, pending)
                            pending = []
                    continue
                recipient, amount, status, _batch = found
                if recipient != p.recipient or int(amount) != p.amount:
                    conflicts.append(
                        (p.payout_id, f"{recipient} {amount}", f"{p.recipient} {p.amount}")
                    )
                    continue
                if status == PayoutStatus.CONFIRMED:
                    reg.paid.append(p.payout_id)
                elif status == PayoutStatus.SUBMITTED:
                    reg.in_flight.append(p.payout_id)
                elif status == PayoutStatus.SKIPPED:
                    reg.skipped.append(p)
                else:
                    reg.to_plan.append(p)
            if conflicts:
                raise LedgerConflictError(conflicts)
            if pending:
                _insert_payouts(conn, pending)
        return reg

    def _scope_has_rows(self, conn: Connection, scope: Scope) -> bool:
        return (
            conn.execute(select(payouts.c.id).where(_scope_clause(payouts, scope)).limit(1)).first()
            is not None
        )

    def payouts(
        self,
        scope: Scope | None = None,
        *,
        status: PayoutStatus | Iterable[PayoutStatus] | None = None,
        batch_id: bytes | str | None = None,
        payout_ids: Sequence[str] | None = None,
    ) -> list[PayoutRecord]:
        """Payout rows, by scope / status / batch / ids, in batch then file order."""
        query = select(payouts)
        if scope is not None:
            query = query.where(_scope_clause(payouts, scope))
        if status is not None:
            wanted = [status] if isinstance(status, PayoutStatus) else list(status)
            query = query.where(payouts.c.status.in_([s.value for s in wanted]))
        if batch_id is not None:
            query = query.where(payouts.c.batch_id == _hex_id(batch_id))
        query = query.order_by(payouts.c.batch_id, payouts.c.batch_position, payouts.c.id)
        with self.engine.connect() as conn:
            if payout_ids is None:
                return [_payout_record(r) for r in conn.execute(query).mappings()]
            out: list[PayoutRecord] = []
            for chunk in _chunks(list(payout_ids)):
                out += [
                    _payout_record(r)
                    for r in conn.execute(query.where(payouts.c.payout_id.in_(chunk))).mappings()
                ]
            return out

    def iter_payouts(
        self, scope: Scope | None = None, *, batch_size: int = 10_000
    ) -> Iterator[PayoutRecord]:
        """All payout rows (for reports), streamed in id order."""
        last = 0
        while True:
            query = (
                select(payouts).where(payouts.c.id > last).order_by(payouts.c.id).limit(batch_size)
            )
            if scope is not None:
                query = query.where(_scope_clause(payouts, scope))
            with self.engine.connect() as conn:
                chunk = list(conn.execute(query).mappings())
            if not chunk:
                return
            for row in chunk:
                yield _payout_record(row)
            last = int(chunk[-1]["id"])

    def set_payout_status(
        self,
        scope: Scope,
        payout_ids: Sequence[str],
        status: PayoutStatus,
        *,
        error: str | None = None,
    ) -> int:
        """Change rows' status along an allowed transition (e.g. exclude: planned -> skipped,
        include again: skipped -> planned). Leaving ``planned`` detaches the row from its batch
        only if that batch was never submitted. Returns the number of rows changed."""
        if status in (PayoutStatus.SUBMITTED, PayoutStatus.CONFIRMED):
            raise LedgerError(
                f"payouts become {status} only through record_submission / record_confirmation"
            )
        # A submitted row may be on chain: only the chain (record_* / release_batch) settles it.
        allowed_from = [
            s.value
            for s, targets in PAYOUT_TRANSITIONS.items()
            if status in targets and s is not PayoutStatus.SUBMITTED
        ]
        with self._begin() as conn:
            changed = 0
            for chunk in _chunks(list(payout_ids)):
                rows = conn.execute(
                    select(payouts.c.payout_id, payouts.c.status, payouts.c.batch_id).where(
                        _scope_clause(payouts, scope), payouts.c.payout_id.in_(chunk)
                    )
                ).all()
                seen = {r[0] for r in rows}
                missing = [pid for pid in chunk if pid not in seen]
                if missing:
                    raise LedgerNotFoundError("payout", missing[0])
                for pid, current, _b in rows:
                    if current not in allowed_from and current != status.value:
                        raise InvalidTransitionError("payout", pid, current, status.value)
                values: dict[str, Any] = {"status": status.value, "updated_at": _now()}
                if status is PayoutStatus.SKIPPED or status is PayoutStatus.PLANNED:
                    values["error"] = error
                if status is PayoutStatus.SKIPPED:
                    values["batch_id"] = None
                    values["batch_position"] = None
                result = conn.execute(
                    update(payouts)
                    .where(
                        _scope_clause(payouts, scope),
                        payouts.c.payout_id.in_(chunk),
                        payouts.c.status.in_(allowed_from),
                    )
                    .values(**values)
                )
                changed += result.rowcount
            return changed

    # --- batches --------------------------------------------------------------------------------

    def save_plan(
        self,
        plan: Sequence[Batch],
        *,
        executor: ExecutorKind,
        mode: PayMode = PayMode.STRICT,
        run_id: int | None = None,
    ) -> None:
        """Store planned batches and assign their payouts (which must be registered and owed).

        Idempotent: saving the same plan again changes nothing. Rows move from an older, never
        submitted batch to the new one (the older batch becomes ``abandoned``). A batch id that is
        already submitted or confirmed is refused: ``resume`` settles it from the chain first.
        """
        now = _now()
        with self._begin() as conn:
            for batch in plan:
                scope = batch.scope
                hex_id = batch.batch_id_hex
                existing = conn.execute(
                    select(batches.c.id, batches.c.status, batches.c.replay_key).where(
                        batches.c.network == scope.network.value,
                        batches.c.chain_id == scope.chain_id,
                        batches.c.payer == scope.payer,
                        batches.c.batch_id == hex_id,
                    )
                ).first()
                values = {
                    "token": scope.token,
                    "batch_index": batch.index,
                    "disburser": batch.disburser,
                    "status": BatchStatus.PLANNED.value,
                    "executor": executor.value,
                    "mode": mode.value,
                    "count": batch.count,
                    "total": str(batch.total),
                    "cost_estimate": batch.cost_estimate,
                    "cost_unit": batch.cost_unit,
                    "run_id": run_id,
                    "error": None,
                    "updated_at": now,
                }
                key = batch.replay_key_hex if batch.replay_key else None
                if existing is not None:
                    current = BatchStatus(existing[1])
                    if current is not BatchStatus.PLANNED and (
                        BatchStatus.PLANNED not in BATCH_TRANSITIONS[current]
                    ):
                        raise InvalidTransitionError("batch", hex_id, current.value, "planned")
                    if existing[2] is None and key is not None:
                        # A batch keeps the first replay key recorded for it: a transaction signed
                        # with it may still be mined, and only that key makes a resend harmless.
                        values = {**values, "replay_key": key}
                    conn.execute(
                        update(batches).where(batches.c.id == existing[0]).values(**values)
                    )
                else:
                    conn.execute(
                        batches.insert().values(
                            network=scope.network.value,
                            chain_id=scope.chain_id,
                            payer=scope.payer,
                            batch_id=hex_id,
                            created_at=now,
                            replay_key=key,
                            **values,
                        )
                    )
            for scope, old in _assign_rows(conn, plan, now):
                self._abandon_if_empty(conn, scope, old, now)

    def _abandon_if_empty(self, conn: Connection, scope: Scope, old: str, now: datetime) -> None:
        """A planned/failed batch whose rows all moved to other batches is abandoned."""
        left = conn.execute(
            select(func.count())
            .select_from(payouts)
            .where(
                payouts.c.network == scope.network.value,
                payouts.c.chain_id == scope.chain_id,
                payouts.c.payer == scope.payer,
                payouts.c.batch_id == old,
            )
        ).scalar_one()
        if left == 0:
            conn.execute(
                update(batches)
                .where(
                    batches.c.network == scope.network.value,
                    batches.c.chain_id == scope.chain_id,
                    batches.c.payer == scope.payer,
                    batches.c.batch_id == old,
                    batches.c.status.in_([BatchStatus.PLANNED.value, BatchStatus.FAILED.value]),
                )
                .values(status=BatchStatus.ABANDONED.value, updated_at=now)
            )

    def batch(self, scope: Scope | tuple[Network, int, str], batch_id: bytes | str) -> BatchRecord:
        """One batch with its attempts; ``scope`` may be a Scope or (network, chain_id, payer)."""
        network, chain_id, payer = _payer_key(scope)
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(batches).where(
                        batches.c.network == network.value,
                        batches.c.chain_id == chain_id,
                        batches.c.payer == payer,
                        batches.c.batch_id == _hex_id(batch_id),
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise LedgerNotFoundError("batch", _hex_id(batch_id))
            tries = conn.execute(
                select(attempts).where(attempts.c.batch_pk == row["id"]).order_by(attempts.c.id)
            ).mappings()
            return _batch_record(row, tuple(_attempt_record(a) for a in tries))

    def batches(
        self,
        scope: Scope | None = None,
        *,
        status: BatchStatus | Iterable[BatchStatus] | None = None,
        executor: ExecutorKind | None = None,
    ) -> list[BatchRecord]:
        """Batches (with attempts), in plan order."""
        query = select(batches)
        if scope is not None:
            query = query.where(_scope_clause(batches, scope))
        if status is not None:
            wanted = [status] if isinstance(status, BatchStatus) else list(status)
            query = query.where(batches.c.status.in_([s.value for s in wanted]))
        if executor is not None:
            query = query.where(batches.c.executor == executor.value)
        query = query.order_by(batches.c.batch_index, batches.c.id)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
            by_pk: dict[int, list[AttemptRecord]] = {int(r["id"]): [] for r in rows}
            for chunk in _chunks(list(by_pk)):
                for a in conn.execute(
                    select(attempts).where(attempts.c.batch_pk.in_(chunk)).order_by(attempts.c.id)
                ).mappings():
                    by_pk[int(a["batch_pk"])].append(_attempt_record(a))
            return [_batch_record(r, tuple(by_pk[int(r["id"])])) for r in rows]

    def open_batches(self, scope: Scope | None = None) -> list[BatchRecord]:
        """Submitted, unsettled batches: ``resume`` must settle each from the chain first."""
        return self.batches(scope, status=BatchStatus.SUBMITTED)

    def load_batch(self, scope: Scope | tuple[Network, int, str], batch_id: bytes | str) -> Batch:
        """Rebuild the planned :class:`Batch` (ordered payouts) of a stored batch id.

        The payouts come back in their stored positions, so re-deriving the id from them gives the
        same id; callers resubmitting after a crash can check that.
        """
        record = self.batch(scope, batch_id)
        if record.replay_key is None and record.status is BatchStatus.SUBMITTED:
            # Sent by a version before replay keys (to that version's disburser): only that
            # version can tell whether it executed, and guessing could pay it twice.
            raise LedgerError(
                f"batch {record.batch_id} was sent by a version of this toolkit before replay "
                "keys and is still in flight",
                hint="Settle it with the previous version (`payout resume`) before upgrading.",
            )
        rows = self.payouts(record.scope, batch_id=record.batch_id)
        rows.sort(key=lambda r: r.batch_position if r.batch_position is not None else -1)
        if len(rows) != record.count:
            raise LedgerError(
                f"batch {record.batch_id} has {len(rows)} payouts in the ledger, "
                f"{record.count} were planned",
                hint="The ledger was edited by hand or a row was re-planned; inspect it.",
            )
        plan_payouts = tuple(r.to_payout() for r in rows)
        return Batch(
            index=record.index,
            batch_id=record.batch_id_bytes,
            network=record.scope.network,
            chain_id=record.scope.chain_id,
            payer=record.scope.payer,
            token=record.scope.token,
            disburser=record.disburser,
            payouts=plan_payouts,
            total=sum(p.amount for p in plan_payouts),
            cost_estimate=record.cost_estimate or 0,
            cost_unit=record.cost_unit or "gas",
            replay_key=bytes.fromhex(record.replay_key[2:]) if record.replay_key else b"",
        )

    def stored_key(self, batch: Batch) -> Batch:
        """``batch`` with the replay key the ledger recorded for it (the one to send and to ask
        the contract about), when it differs from the planned one."""
        record = self.batch(batch.scope, batch.batch_id)
        if record.replay_key is None or record.replay_key == batch.replay_key_hex:
            return batch
        return replace(batch, replay_key=bytes.fromhex(record.replay_key[2:]))

    def with_stored_keys(self, plan: Sequence[Batch]) -> list[Batch]:
        """``plan`` with, for every batch the ledger already has, the replay key it recorded
        (see :meth:`stored_key`); new batches keep their planned key."""
        out = []
        for batch in plan:
            try:
                out.append(self.stored_key(batch))
            except LedgerNotFoundError:
                out.append(batch)
        return out

    def with_rolling_keys(self, plan: Sequence[Batch]) -> list[Batch]:
        """``plan`` with replay keys from each scope's rolling word (the payout service's payers).

        A batch the ledger already records a key for keeps it (a restart, a resume or a re-plan
        of the same rows never draws again: a transaction signed with the recorded key may still
        execute); every other batch takes the next bit of its scope's word
        (:meth:`allocate_replay_key`). Callers record the result with :meth:`save_plan` before
        sending anything.
        """
        out = []
        for batch in plan:
            try:
                recorded = self.batch(batch.scope, batch.batch_id).replay_key
            except LedgerNotFoundError:
                recorded = None
            key = (
                bytes.fromhex(recorded[2:])
                if recorded
                else self.allocate_replay_key(batch.scope, batch.batch_id)
            )
            out.append(replace(batch, replay_key=key))
        return out

    def annotate_batch(
        self,
        scope: Scope | tuple[Network, int, str],
        batch_id: bytes | str,
        *,
        safe_nonce: int | None = None,
        safe_tx_hash: str | None = None,
        note: str | None = None,
    ) -> None:
        """Attach executor data that does not change the state (e.g. a Safe proposal's nonce).

        Recording a Safe proposal (``safe_tx_hash``) makes the batch proposed: the batch listeners
        are told in this transaction (the service's ``batch.proposed`` event).
        """
        values: dict[str, Any] = {"updated_at": _now()}
        if safe_nonce is not None:
            values["safe_nonce"] = safe_nonce
        if safe_tx_hash is not None:
            values["safe_tx_hash"] = safe_tx_hash
        if note is not None:
            values["error"] = note
        with self._begin() as conn:
            pk, _status = self._batch_pk(conn, scope, batch_id)
            conn.execute(update(batches).where(batches.c.id == pk).values(**values))
            if safe_tx_hash is not None:
                self._announce(conn, pk)

    # --- write-ahead and settlement -------------------------------------------------------------

    def record_submission(
        self,
        scope: Scope | tuple[Network, int, str],
        batch_id: bytes | str,
        *,
        tx_hash: str | None,
        nonce: int | None = None,
        raw_tx: str | None = None,
        fees: Mapping[str, int | str] | None = None,
        safe_nonce: int | None = None,
        safe_tx_hash: str | None = None,
        note: str | None = None,
    ) -> None:
        """Write-ahead: call BEFORE broadcasting a (replacement) transaction for the batch.

        The batch and its rows become ``submitted``; the attempt (hash, nonce, fees, optionally the
        signed bytes) is stored as ``pending``. A fee-bump replacement is another call with the same
        nonce; all pending attempts stay candidates until one is mined.
        """
        now = _now()
        with self._begin() as conn:
            pk, status = self._batch_pk(conn, scope, batch_id)
            if status not in (BatchStatus.PLANNED, BatchStatus.SUBMITTED):
                raise InvalidTransitionError("batch", _hex_id(batch_id), status.value, "submitted")
            if status is BatchStatus.SUBMITTED and nonce is not None:
                # A hot wallet's transactions all come from the payer, so another nonce for a batch
                # in flight is not a fee bump but a second process sending the same batch.
                kind, current = conn.execute(
                    select(batches.c.executor, batches.c.nonce).where(batches.c.id == pk)
                ).one()
                if kind == ExecutorKind.WALLET.value and current is not None and current != nonce:
                    raise BatchInFlightElsewhere(_hex_id(batch_id), int(current), nonce)
            conn.execute(
                attempts.insert().values(
                    batch_pk=pk,
                    tx_hash=tx_hash,
                    nonce=nonce,
                    raw_tx=raw_tx,
                    fees=json.dumps({k: str(v) for k, v in (fees or {}).items()}),
                    status="pending",
                    note=note,
                    created_at=now,
                    updated_at=now,
                )
            )
            values: dict[str, Any] = {
                "status": BatchStatus.SUBMITTED.value,
                "tx_hash": tx_hash,
                "updated_at": now,
            }
            if nonce is not None:
                values["nonce"] = nonce
            if safe_nonce is not None:
                values["safe_nonce"] = safe_nonce
            if safe_tx_hash is not None:
                values["safe_tx_hash"] = safe_tx_hash
            if status is BatchStatus.PLANNED:
                values["submitted_at"] = now
            conn.execute(update(batches).where(batches.c.id == pk).values(**values))
            if status is BatchStatus.PLANNED:
                key = _payer_key(scope)
                hex_id = _hex_id(batch_id)
                count = conn.execute(select(batches.c.count).where(batches.c.id == pk)).scalar_one()
                result = conn.execute(
                    update(payouts)
                    .where(
                        *_payer_clause(payouts, key),
                        payouts.c.batch_id == hex_id,
                        payouts.c.status == PayoutStatus.PLANNED.value,
                    )
                    .values(status=PayoutStatus.SUBMITTED.value, tx_hash=tx_hash, updated_at=now)
                )
                if result.rowcount != count:
                    raise LedgerError(
                        f"batch {hex_id}: {result.rowcount} of its {count} payouts were planned; "
                        "refusing to submit a batch whose rows changed",
                        hint="Plan again (`payout plan`), then send.",
                    )
                self._announce(conn, pk)
            else:
                conn.execute(
                    update(payouts)
                    .where(
                        *_payer_clause(payouts, _payer_key(scope)),
                        payouts.c.batch_id == _hex_id(batch_id),
                        payouts.c.status == PayoutStatus.SUBMITTED.value,
                    )
                    .values(tx_hash=tx_hash, updated_at=now)
                )

    def mark_attempt(self, tx_hash: str, status: str, *, note: str | None = None) -> None:
        """Update one attempt's state (``dropped``, ``replaced``, ...) without settling the
        batch."""
        if status not in ATTEMPT_STATUSES:
            raise LedgerError(f"unknown attempt status {status!r}")
        with self._begin() as conn:
            result = conn.execute(
                update(attempts)
                .where(attempts.c.tx_hash == tx_hash)
                .values(status=status, note=note, updated_at=_now())
            )
            if result.rowcount == 0:
                raise LedgerNotFoundError("attempt", tx_hash)

    def record_confirmation(
        self,
        scope: Scope | tuple[Network, int, str],
        batch_id: bytes | str,
        *,
        tx_hash: str,
        block_number: int,
        gas_used: int | None = None,
        fee_paid: int | None = None,
        paid_total: int | None = None,
        outcomes: Sequence[PayoutOutcome] | None = None,
    ) -> None:
        """The chain proved the batch executed (receipt + ``BatchDisbursed``): settle its rows.

        ``outcomes`` gives per-row log index, gas share and skip-and-report results; rows without
        an outcome are confirmed with an equal share of ``gas_used``. Idempotent for the same
        transaction.
        """
        now = _now()
        hex_id = _hex_id(batch_id)
        with self._begin() as conn:
            pk, status = self._batch_pk(conn, scope, batch_id)
            if status is BatchStatus.CONFIRMED:
                current = conn.execute(select(batches.c.tx_hash).where(batches.c.id == pk)).scalar()
                if current == tx_hash:
                    return
                raise InvalidTransitionError("batch", hex_id, status.value, "confirmed again")
            _require_batch_transition(hex_id, status, BatchStatus.CONFIRMED)
            rows = conn.execute(
                select(payouts.c.id, payouts.c.payout_id, payouts.c.status).where(
                    *_batch_rows(scope, hex_id)
                )
            ).all()
            bad = [(pid, st) for _pk, pid, st in rows if st != PayoutStatus.SUBMITTED]
            if bad:
                raise InvalidTransitionError("payout", bad[0][0], bad[0][1], "confirmed")
            by_id = {o.payout_id: o for o in (outcomes or ())}
            unknown = set(by_id) - {pid for _pk, pid, _st in rows}
            if unknown:
                raise LedgerNotFoundError("payout in batch " + hex_id, sorted(unknown)[0])
            default_share = (gas_used // len(rows)) if gas_used is not None and rows else None
            updates = []
            for row_pk, pid, _st in rows:
                o = by_id.get(pid, PayoutOutcome(pid))
                if o.status not in (PayoutStatus.CONFIRMED, PayoutStatus.SKIPPED):
                    raise LedgerError(f"outcome of {pid} must be confirmed or skipped")
                share = o.gas_share if o.gas_share is not None else default_share
                updates.append(
                    {
                        "pk": row_pk,
                        "st": o.status.value,
                        "li": o.log_index,
                        "gs": str(share) if share is not None else None,
                        "err": o.error,
                    }
                )
            conn.execute(
                update(payouts)
                .where(payouts.c.id == _bind("pk"))
                .values(
                    status=_bind("st"),
                    log_index=_bind("li"),
                    gas_share=_bind("gs"),
                    error=_bind("err"),
                    tx_hash=tx_hash,
                    block_number=block_number,
                    updated_at=now,
                ),
                updates,
            )
            conn.execute(
                update(batches)
                .where(batches.c.id == pk)
                .values(
                    status=BatchStatus.CONFIRMED.value,
                    tx_hash=tx_hash,
                    block_number=block_number,
                    gas_used=str(gas_used) if gas_used is not None else None,
                    fee_paid=str(fee_paid) if fee_paid is not None else None,
                    paid_total=str(paid_total) if paid_total is not None else None,
                    error=None,
                    updated_at=now,
                    confirmed_at=now,
                )
            )
            conn.execute(
                update(attempts)
                .where(attempts.c.batch_pk == pk, attempts.c.tx_hash == tx_hash)
                .values(status="mined", updated_at=now)
            )
            conn.execute(
                update(attempts)
                .where(
                    attempts.c.batch_pk == pk,
                    attempts.c.status == "pending",
                    attempts.c.tx_hash != tx_hash,
                )
                .values(status="replaced", updated_at=now)
            )
            self._announce(conn, pk)

    def record_failure(
        self,
        scope: Scope | tuple[Network, int, str],
        batch_id: bytes | str,
        *,
        error: str,
        tx_hash: str | None = None,
        block_number: int | None = None,
        gas_used: int | None = None,
        fee_paid: int | None = None,
    ) -> None:
        """The batch's transaction reverted (nothing was paid; the id was not consumed).

        The batch becomes ``failed`` and its rows ``failed`` (still owed: a later plan includes
        them again).
        """
        now = _now()
        hex_id = _hex_id(batch_id)
        with self._begin() as conn:
            pk, status = self._batch_pk(conn, scope, batch_id)
            _require_batch_transition(hex_id, status, BatchStatus.FAILED)
            conn.execute(
                update(payouts)
                .where(
                    *_batch_rows(scope, hex_id),
                    payouts.c.status == PayoutStatus.SUBMITTED.value,
                )
                .values(
                    status=PayoutStatus.FAILED.value,
                    error=error,
                    tx_hash=tx_hash,
                    block_number=block_number,
                    updated_at=now,
                )
            )
            conn.execute(
                update(batches)
                .where(batches.c.id == pk)
                .values(
                    status=BatchStatus.FAILED.value,
                    error=error,
                    tx_hash=tx_hash,
                    block_number=block_number,
                    gas_used=str(gas_used) if gas_used is not None else None,
                    fee_paid=str(fee_paid) if fee_paid is not None else None,
                    updated_at=now,
                )
            )
            if tx_hash is not None:
                conn.execute(
                    update(attempts)
                    .where(attempts.c.batch_pk == pk, attempts.c.tx_hash == tx_hash)
                    .values(status="reverted", updated_at=now)
                )
            self._announce(conn, pk)

    def release_batch(
        self, scope: Scope | tuple[Network, int, str], batch_id: bytes | str, *, reason: str
    ) -> None:
        """The chain proves the batch did NOT execute and no attempt can still be mined (nonce
        consumed by another transaction, TRON expiration passed...): rows go back to ``planned``.

        Only call this after checking ``executed(payer, batchId) == false`` on chain.
        """
        now = _now()
        hex_id = _hex_id(batch_id)
        with self._begin() as conn:
            pk, status = self._batch_pk(conn, scope, batch_id)
            _require_batch_transition(hex_id, status, BatchStatus.ABANDONED)
            conn.execute(
                update(payouts)
                .where(
                    *_batch_rows(scope, hex_id),
                    payouts.c.status.in_(
                        [
                            PayoutStatus.SUBMITTED.value,
                            PayoutStatus.PLANNED.value,
                            PayoutStatus.FAILED.value,
                        ]
                    ),
                )
                .values(
                    status=PayoutStatus.PLANNED.value,
                    batch_id=None,
                    batch_position=None,
                    tx_hash=None,
                    error=reason,
                    updated_at=now,
                )
            )
            conn.execute(
                update(batches)
                .where(batches.c.id == pk)
                .values(status=BatchStatus.ABANDONED.value, error=reason, updated_at=now)
            )
            conn.execute(
                update(attempts)
                .where(attempts.c.batch_pk == pk, attempts.c.status == "pending")
                .values(status="dropped", updated_at=now)
            )
            self._announce(conn, pk)

    # --- the chain a scope lives on, and its batches found on chain ----------------------------

    def pin_chain(self, scope: Scope, genesis: str) -> None:
        """Pin ``scope`` to the chain whose block 0 hash is ``genesis``, or refuse
        (:class:`ChainResetError`) when this scope, or any scope of the ledger with the same
        network and chain id, was pinned to another one: a restarted or different chain reusing
        the chain id (its payments are not the ledger's)."""
        now = _now()
        with self._begin() as conn:
            pinned = conn.execute(
                select(scope_chain.c.genesis)
                .where(
                    scope_chain.c.network == scope.network.value,
                    scope_chain.c.chain_id == scope.chain_id,
                    scope_chain.c.genesis.is_not(None),
                )
                .distinct()
            ).all()
            for (known,) in pinned:
                if known != genesis:
                    raise ChainResetError(scope.network.value, scope.chain_id, known, genesis)
            row = conn.execute(
                select(scope_chain.c.id, scope_chain.c.genesis).where(
                    _scope_clause(scope_chain, scope)
                )
            ).first()
            if row is None:
                conn.execute(
                    scope_chain.insert().values(
                        **_scope_values(scope),
                        genesis=genesis,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif row[1] is None:
                conn.execute(
                    update(scope_chain)
                    .where(scope_chain.c.id == row[0])
                    .values(genesis=genesis, updated_at=now)
                )

    def scan_cursor(self, scope: Scope, disburser: str) -> int | None:
        """The last block whose batch events of ``scope`` through ``disburser`` were read."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(scope_chain.c.disburser, scope_chain.c.scanned_block).where(
                    _scope_clause(scope_chain, scope)
                )
            ).first()
        if row is None or row[0] != disburser or row[1] is None:
            return None
        return int(row[1])

    def set_scan_cursor(self, scope: Scope, disburser: str, block: int) -> None:
        now = _now()
        with self._begin() as conn:
            result = conn.execute(
                update(scope_chain)
                .where(_scope_clause(scope_chain, scope))
                .values(disburser=disburser, scanned_block=block, updated_at=now)
            )
            if result.rowcount == 0:
                conn.execute(
                    scope_chain.insert().values(
                        **_scope_values(scope),
                        disburser=disburser,
                        scanned_block=block,
                        created_at=now,
                        updated_at=now,
                    )
                )

    def known_batch_ids(self, scope: Scope | tuple[Network, int, str]) -> set[str]:
        """Batch ids of the payer this ledger planned and did not give up (not failed or
        abandoned: an executed one of those is found on chain again)."""
        with self.engine.connect() as conn:
            return {
                r[0]
                for r in conn.execute(
                    select(batches.c.batch_id).where(
                        *_payer_clause(batches, _payer_key(scope)),
                        batches.c.status.not_in(
                            [BatchStatus.FAILED.value, BatchStatus.ABANDONED.value]
                        ),
                    )
                )
            }

    def chain_batches(self, scope: Scope, *, status: str | None = None) -> list[ChainBatchRecord]:
        """Batches found on chain that this ledger did not plan, in chain order."""
        query = select(chain_batches).where(_scope_clause(chain_batches, scope))
        if status is not None:
            query = query.where(chain_batches.c.status == status)
        query = query.order_by(chain_batches.c.block_number, chain_batches.c.log_index)
        with self.engine.connect() as conn:
            return [
                ChainBatchRecord(
                    scope=scope,
                    batch_id=r["batch_id"],
                    tx_hash=r["tx_hash"],
                    block_number=int(r["block_number"]),
                    log_index=int(r["log_index"]),
                    executor=ExecutorKind(r["executor"]),
                    rows=tuple((a, int(b), bool(c)) for a, b, c in json.loads(r["rows"])),
                    status=r["status"],
                )
                for r in conn.execute(query).mappings()
            ]

    def add_chain_batches(self, scope: Scope, records: Sequence[ChainBatchRecord]) -> None:
        if not records:
            return
        now = _now()
        with self._begin() as conn:
            for rec in records:
                exists = conn.execute(
                    select(chain_batches.c.id).where(
                        *_payer_clause(chain_batches, _payer_key(scope)),
                        chain_batches.c.batch_id == rec.batch_id,
                    )
                ).first()
                if exists is not None:
                    continue
                conn.execute(
                    chain_batches.insert().values(
                        **_scope_values(scope),
                        batch_id=rec.batch_id,
                        tx_hash=rec.tx_hash,
                        block_number=rec.block_number,
                        log_index=rec.log_index,
                        executor=rec.executor.value,
                        rows=json.dumps([[a, str(b), c] for a, b, c in rec.rows]),
                        status=rec.status,
                        created_at=now,
                        updated_at=now,
                    )
                )

    def set_chain_batch_status(self, scope: Scope, batch_id: str, status: str) -> None:
        if status not in ("open", "adopted", "unrelated"):
            raise LedgerError(f"unknown chain batch status {status!r}")
        with self._begin() as conn:
            conn.execute(
                update(chain_batches)
                .where(_scope_clause(chain_batches, scope), chain_batches.c.batch_id == batch_id)
                .values(status=status, updated_at=_now())
            )

    def owed_without_batch(self, scope: Scope) -> list[PayoutRecord]:
        """Rows still owed (planned or failed) that no live batch will pay: no batch, or a batch
        that is not planned or submitted (failed, abandoned). In file order."""
        live = select(batches.c.batch_id).where(
            *_payer_clause(batches, _payer_key(scope)),
            batches.c.status.in_([BatchStatus.PLANNED.value, BatchStatus.SUBMITTED.value]),
        )
        query = (
            select(payouts)
            .where(
                _scope_clause(payouts, scope),
                payouts.c.status.in_([PayoutStatus.PLANNED.value, PayoutStatus.FAILED.value]),
                (payouts.c.batch_id.is_(None)) | (payouts.c.batch_id.not_in(live)),
            )
            .order_by(payouts.c.source, payouts.c.line, payouts.c.id)
        )
        with self.engine.connect() as conn:
            return [_payout_record(r) for r in conn.execute(query).mappings()]

    # --- summaries ------------------------------------------------------------------------------

    def status_counts(self, scope: Scope | None = None) -> dict[PayoutStatus, tuple[int, int]]:
        """Status -> (rows, total base units)."""
        query = select(payouts.c.status, payouts.c.amount)
        if scope is not None:
            query = query.where(_scope_clause(payouts, scope))
        out: dict[PayoutStatus, list[int]] = {}
        with self.engine.connect() as conn:
            for status, amount in conn.execute(query):
                acc = out.setdefault(PayoutStatus(status), [0, 0])
                acc[0] += 1
                acc[1] += int(amount)
        return {k: (v[0], v[1]) for k, v in out.items()}

    def scopes(self) -> list[Scope]:
        """Every (network, chain, payer, token) the ledger has payouts for."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(payouts.c.network, payouts.c.chain_id, payouts.c.payer, payouts.c.token)
                .distinct()
                .order_by(payouts.c.network, payouts.c.chain_id, payouts.c.payer, payouts.c.token)
            ).all()
        return [Scope(Network(n), int(c), p, t) for n, c, p, t in rows]

    # --- internals ------------------------------------------------------------------------------

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction (on SQLite: ``BEGIN IMMEDIATE``, see :func:`_make_engine`)."""
        with self.engine.connect() as conn:
            conn.info["payout_write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("payout_write", None)

    def _announce(self, conn: Connection, pk: int) -> None:
        """Tell the batch listeners about batch ``pk``'s new status, in ``conn``'s transaction."""
        if not self.batch_listeners:
            return
        m = conn.execute(select(batches).where(batches.c.id == pk)).one()._mapping
        counts: dict[str, int] = dict(
            conn.execute(
                select(payouts.c.status, func.count())
                .where(
                    *_batch_rows((Network(m["network"]), m["chain_id"], m["payer"]), m["batch_id"])
                )
                .group_by(payouts.c.status)
            ).all()
        )
        change = BatchChange(
            network=Network(m["network"]),
            chain_id=int(m["chain_id"]),
            payer=m["payer"],
            token=m["token"],
            batch_id=m["batch_id"],
            status=BatchStatus(m["status"]),
            tx_hash=m["tx_hash"],
            count=int(m["count"]),
            paid=int(counts.get(PayoutStatus.CONFIRMED.value, 0)),
            skipped=int(counts.get(PayoutStatus.SKIPPED.value, 0)),
            error=m["error"],
            total=int(m["total"]),
            safe_tx_hash=m["safe_tx_hash"],
            safe_nonce=_int_or_none(m["safe_nonce"]),
        )
        for listener in self.batch_listeners:
            listener(conn, change)

    def _batch_pk(
        self, conn: Connection, scope: Scope | tuple[Network, int, str], batch_id: bytes | str
    ) -> tuple[int, BatchStatus]:
        key = _payer_key(scope)
        row = conn.execute(
            select(batches.c.id, batches.c.status).where(
                *_payer_clause(batches, key), batches.c.batch_id == _hex_id(batch_id)
            )
        ).first()
        if row is None:
            raise LedgerNotFoundError("batch", _hex_id(batch_id))
        return int(row[0]), BatchStatus(row[1])


def _bind(name: str) -> Any:
    return bindparam(name)


def _payer_key(scope: Scope | tuple[Network, int, str]) -> tuple[Network, int, str]:
    if isinstance(scope, Scope):
        return scope.network, scope.chain_id, scope.payer
    return scope


def _payer_clause(table: Table, key: tuple[Network, int, str]) -> tuple[Any, ...]:
    network, chain_id, payer = key
    return (table.c.network == network.value, table.c.chain_id == chain_id, table.c.payer == payer)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _payout_record(row: Mapping[Any, Any]) -> PayoutRecord:
    return PayoutRecord(
        scope=Scope(Network(row["network"]), int(row["chain_id"]), row["payer"], row["token"]),
        payout_id=row["payout_id"],
        recipient=row["recipient"],
        amount=int(row["amount"]),
        status=PayoutStatus(row["status"]),
        memo=row["memo"],
        source=row["source"],
        line=row["line"],
        batch_id=row["batch_id"],
        batch_position=row["batch_position"],
        tx_hash=row["tx_hash"],
        block_number=_int_or_none(row["block_number"]),
        log_index=row["log_index"],
        gas_share=_int_or_none(row["gas_share"]),
        error=row["error"],
        updated_at=row["updated_at"],
    )


def _attempt_record(row: Mapping[Any, Any]) -> AttemptRecord:
    return AttemptRecord(
        tx_hash=row["tx_hash"],
        nonce=_int_or_none(row["nonce"]),
        raw_tx=row["raw_tx"],
        fees=json.loads(row["fees"]) if row["fees"] else {},
        status=row["status"],
        note=row["note"],
        created_at=row["created_at"],
    )


def _add_missing_columns(conn: Connection) -> None:
    """Columns added after schema version 1 (``create_all`` adds tables, not columns)."""
    have = {c["name"] for c in inspect(conn).get_columns("batches")}
    if "replay_key" not in have:
        conn.exec_driver_sql("ALTER TABLE batches ADD COLUMN replay_key VARCHAR(66)")


def _batch_record(row: Mapping[Any, Any], tries: tuple[AttemptRecord, ...]) -> BatchRecord:
    return BatchRecord(
        scope=Scope(Network(row["network"]), int(row["chain_id"]), row["payer"], row["token"]),
        batch_id=row["batch_id"],
        index=int(row["batch_index"]),
        disburser=row["disburser"],
        status=BatchStatus(row["status"]),
        executor=ExecutorKind(row["executor"]),
        mode=PayMode(row["mode"]),
        count=int(row["count"]),
        total=int(row["total"]),
        cost_estimate=_int_or_none(row["cost_estimate"]),
        cost_unit=row["cost_unit"],
        nonce=_int_or_none(row["nonce"]),
        tx_hash=row["tx_hash"],
        safe_nonce=_int_or_none(row["safe_nonce"]),
        safe_tx_hash=row["safe_tx_hash"],
        block_number=_int_or_none(row["block_number"]),
        gas_used=_int_or_none(row["gas_used"]),
        fee_paid=_int_or_none(row["fee_paid"]),
        paid_total=_int_or_none(row["paid_total"]),
        error=row["error"],
        attempts=tries,
        replay_key=row["replay_key"],
    )


_INSERT_CHUNK = 5_000
_INSERT_COLUMNS = (
    "network",
    "chain_id",
    "payer",
    "token",
    "payout_id",
    "recipient",
    "amount",
    "memo",
    "source",
    "line",
    "run_id",
    "status",
    "created_at",
    "updated_at",
)


def _db_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as the driver expects it for ``column`` (e.g. SQLite stores datetimes as text)."""
    processor = column.type.bind_processor(conn.dialect)
    return processor(value) if processor is not None else value


def _raw_cursor(conn: Connection) -> Any:
    """A DBAPI cursor on the connection's own transaction (for driver-level bulk helpers)."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL ``COPY ... FROM STDIN`` (CSV): the fastest way in, several times faster than
    multi-row INSERTs. ``None`` becomes NULL (an unquoted empty field); no value we write is an
    empty string."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    buffer.seek(0)
    try:
        with _raw_cursor(conn) as cur:
            cur.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
            )
    except Exception as exc:
        # Driver-level: SQLAlchemy's error hook does not see it.
        shown = conn.engine.url.render_as_string(hide_password=True)
        fault = ledger_fault(shown, exc, disconnect=conn.invalidated)
        if fault is not None:
            raise fault from exc
        raise


def _insert_payouts(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert at driver speed instead of SQLAlchemy's per-row parameter processing
    (registering a million-row file is otherwise minutes)."""
    columns = ", ".join(_INSERT_COLUMNS)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(_INSERT_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO payouts ({columns}) VALUES ({marks})", rows)
    elif conn.dialect.driver == "psycopg2":
        _copy_rows(conn, "payouts", _INSERT_COLUMNS, rows)
    else:  # any other driver: portable, slower
        conn.execute(payouts.insert(), [dict(zip(_INSERT_COLUMNS, r, strict=True)) for r in rows])


_PLAN_COLUMNS = (
    "network",
    "chain_id",
    "payer",
    "token",
    "payout_id",
    "recipient",
    "amount",
    "batch_id",
    "pos",
)
_PLAN_MATCH = (
    "p.network = a.network AND p.chain_id = a.chain_id AND p.payer = a.payer "
    "AND p.token = a.token AND p.payout_id = a.payout_id"
)


def _plan_rows(plan: Sequence[Batch]) -> Iterator[tuple[Any, ...]]:
    for batch in plan:
        key = (batch.network.value, batch.chain_id, batch.payer, batch.token)
        hex_id = batch.batch_id_hex
        for pos, p in enumerate(batch.payouts):
            yield (*key, p.payout_id, p.recipient, str(p.amount), hex_id, pos)


def _assign_rows(conn: Connection, plan: Sequence[Batch], now: datetime) -> set[tuple[Scope, str]]:
    """Put every payout of ``plan`` into its batch (status ``planned``, position) in one
    set-based UPDATE; return the older batches the rows left.

    The rows go into a temporary table first (COPY on PostgreSQL), then one UPDATE ... FROM joins
    it on the unique key. Its WHERE clause only matches rows that are registered, unchanged
    (recipient, amount) and owed (planned or failed), so the update is its own check, taken
    atomically under the rows' write locks: if fewer rows match than were planned, the reason is
    diagnosed and the transaction rolled back.
    """
    total = sum(b.count for b in plan)
    if total == 0:
        return set()
    postgres = conn.dialect.name == "postgresql"
    # Qualified: never touch a permanent table that happens to share the name.
    temp = "pg_temp.payout_plan" if postgres else "temp.payout_plan"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE payout_plan (network varchar(8), chain_id bigint, "
        "payer varchar(64), token varchar(64), payout_id varchar(128), recipient varchar(64), "
        "amount varchar(40), batch_id varchar(66), pos integer)"
    )
    rows = _plan_rows(plan)
    while chunk := list(itertools.islice(rows, 50_000)):
        if postgres and conn.dialect.driver == "psycopg2":
            _copy_rows(conn, "payout_plan", _PLAN_COLUMNS, chunk)
        else:
            marks = ", ".join(":" + c for c in _PLAN_COLUMNS)
            conn.execute(
                text(f"INSERT INTO payout_plan ({', '.join(_PLAN_COLUMNS)}) VALUES ({marks})"),
                [dict(zip(_PLAN_COLUMNS, r, strict=True)) for r in chunk],
            )
    conn.exec_driver_sql(
        "CREATE INDEX payout_plan_key ON payout_plan (network, chain_id, payer, token, payout_id)"
    )
    old_batches = {
        (Scope(Network(n), int(c), pay, tok), old)
        for n, c, pay, tok, old in conn.exec_driver_sql(
            "SELECT DISTINCT p.network, p.chain_id, p.payer, p.token, p.batch_id "
            f"FROM payouts AS p JOIN payout_plan AS a ON {_PLAN_MATCH} "
            "WHERE p.batch_id IS NOT NULL AND p.batch_id <> a.batch_id"
        )
    }
    owed = (PayoutStatus.PLANNED.value, PayoutStatus.FAILED.value)
    if postgres:
        target, match = "payouts AS p", _PLAN_MATCH
    else:  # SQLite's UPDATE ... FROM cannot alias the target table
        target, match = "payouts", _PLAN_MATCH.replace("p.", "payouts.")
    column = "p.status" if postgres else "payouts.status"
    same = (
        "p.recipient = a.recipient AND p.amount = a.amount"
        if postgres
        else "payouts.recipient = a.recipient AND payouts.amount = a.amount"
    )
    result = conn.execute(
        text(
            f"UPDATE {target} SET status = :planned, batch_id = a.batch_id, "
            "batch_position = a.pos, error = NULL, updated_at = :ts "
            f"FROM payout_plan AS a WHERE {match} AND {column} IN (:s1, :s2) AND {same}"
        ),
        {"planned": PayoutStatus.PLANNED.value, "ts": now, "s1": owed[0], "s2": owed[1]},
    )
    if result.rowcount != total:
        _explain_unassignable(conn)
        raise LedgerError(f"only {result.rowcount} of {total} planned payouts could be assigned")
    conn.exec_driver_sql(f"DROP TABLE {temp}")
    return old_batches


def _explain_unassignable(conn: Connection) -> None:
    """Raise the precise error for the first planned row the assignment could not take."""
    missing = conn.exec_driver_sql(
        f"SELECT a.payout_id FROM payout_plan AS a LEFT JOIN payouts AS p ON {_PLAN_MATCH} "
        "WHERE p.id IS NULL LIMIT 1"
    ).first()
    if missing is not None:
        raise LedgerNotFoundError("payout", f"{missing[0]} (register the file first)")
    conflicts = conn.exec_driver_sql(
        "SELECT a.payout_id, p.recipient, p.amount, a.recipient, a.amount "
        f"FROM payout_plan AS a JOIN payouts AS p ON {_PLAN_MATCH} "
        "WHERE p.recipient <> a.recipient OR p.amount <> a.amount LIMIT 20"
    ).all()
    if conflicts:
        raise LedgerConflictError([(r[0], f"{r[1]} {r[2]}", f"{r[3]} {r[4]}") for r in conflicts])
    taken = conn.exec_driver_sql(
        f"SELECT a.payout_id, p.status FROM payout_plan AS a JOIN payouts AS p ON {_PLAN_MATCH} "
        "WHERE p.status NOT IN ('planned', 'failed') LIMIT 1"
    ).first()
    if taken is not None:
        raise InvalidTransitionError("payout", taken[0], taken[1], "planned (in a batch)")


def ledger_fault(
    url: str, exc: BaseException, *, sqlite_timeout: float | None = None, disconnect: bool = False
) -> LedgerUnavailableError | None:
    """The ledger error for a database failure that is not the toolkit's doing (lock held too
    long, disk full, read-only or failing storage, lost connection), or None for anything else
    (constraint violations stay what they are: the ledger's rules rely on them)."""
    import psycopg2

    if not isinstance(
        exc, sqlite3.OperationalError | psycopg2.OperationalError | psycopg2.InterfaceError
    ):
        return None
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = reason.lower()
    if "locked" in lowered or "busy" in lowered or "lock timeout" in lowered:
        waited = sqlite_timeout if isinstance(exc, sqlite3.OperationalError) else None
        return LedgerBusyError(url, reason, waited)
    storage = (
        "disk is full",
        "no space left",
        "disk i/o",
        "readonly",
        "read-only",
        "unable to open",
        "could not extend",
        "server closed",
        "connection",
        "terminating",
    )
    if disconnect or any(word in lowered for word in storage):
        return LedgerStorageError(url, reason)
    return LedgerUnavailableError(url, reason)


def _make_engine(url: str, sqlite_timeout: float) -> Engine:
    engine = _make_raw_engine(url, sqlite_timeout)
    shown = redact_url(url)

    @event.listens_for(engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        # Every statement, commit and connect on this engine: a database fault becomes a ledger
        # error (exit 6, with what to do) instead of a raw driver exception.
        error = ledger_fault(
            shown,
            ctx.original_exception,
            sqlite_timeout=sqlite_timeout,
            disconnect=bool(ctx.is_disconnect),
        )
        if error is not None:
            raise error from ctx.original_exception

    return engine


def _make_raw_engine(url: str, sqlite_timeout: float) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the
            # database file's mode, so the whole ledger stays private whatever the umask.
            create_private(path)
        engine = create_engine(url, connect_args={"timeout": sqlite_timeout})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: the write lock is taken when
            # the transaction starts, so two writers queue (busy timeout) instead of deadlocking.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(sqlite_timeout * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            # FULL: a committed write-ahead record survives a power cut, not only a process kill.
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the lock up front; readers use a plain (deferred) transaction so they
            # never block a writer under WAL.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("payout_write") else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)
