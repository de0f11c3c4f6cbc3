"""Reads and writes of the service tables (:mod:`payout.service.tables`), on the ledger's engine.

Every write is one transaction (SQLite: ``BEGIN IMMEDIATE`` through the ledger's engine hooks;
PostgreSQL: row locks), so a request is stored whole or not at all, and two workers cannot claim
the same rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, and_, bindparam, func, insert, not_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from payout.amount import format_amount
from payout.ledger import BatchChange, Ledger
from payout.ledger import batches as ledger_batches
from payout.ledger import payouts as ledger_payouts
from payout.service.group import GroupCommitter, Job
from payout.service.tables import (
    alert_state,
    api_keys,
    idempotency,
    payer_locks,
    payout_requests,
    rate_limits,
    webhook_attempts,
    webhook_deliveries,
    webhook_messages,
)
from payout.types import BatchStatus, Network, PayoutStatus

#: Service row states (``svc_payouts.state``).
REQUESTED = "requested"
CANCELLED = "cancelled"
QUEUED = "queued"
DONE = "done"

#: What a client sees for each ledger status.
PUBLIC_STATUS = {
    PayoutStatus.PLANNED.value: "queued",
    PayoutStatus.SUBMITTED.value: "submitted",
    PayoutStatus.CONFIRMED.value: "paid",
    PayoutStatus.FAILED.value: "failed",
    PayoutStatus.SKIPPED.value: "skipped",
}
#: The webhook event of each batch status a batch reaches.
BATCH_EVENTS = {
    BatchStatus.SUBMITTED: "batch.submitted",
    BatchStatus.CONFIRMED: "batch.paid",
    BatchStatus.FAILED: "batch.failed",
}
#: A Safe payer's proposals: recorded (the batch is proposed) and released because another
#: transaction used the proposal's Safe nonce (the rows are proposed again).
PROPOSAL_EVENTS = {
    BatchStatus.PLANNED: "batch.proposed",
    BatchStatus.ABANDONED: "batch.replaced",
}
FINAL_STATUSES = ("paid", "failed", "skipped", "cancelled")
PUBLIC_STATUSES = (
    "requested",
    "queued",
    "proposed",
    "submitted",
    "paid",
    "failed",
    "skipped",
    "cancelled",
)
#: Ledger statuses of a row whose Safe transaction is proposed and not executed yet (a reverted
#: execTransaction leaves the Safe nonce unused: the same signatures can still execute it).
_AWAITING_SIGNATURES = (PayoutStatus.PLANNED.value, PayoutStatus.FAILED.value)
SCOPES = ("read", "write")
MICRO = 1_000_000


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A random public id (``po_...``, ``msg_...``): 20 bytes of randomness, URL-safe."""
    return prefix + "_" + secrets.token_hex(12)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for what was written as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _iso(value: datetime | None) -> str | None:
    v = _aware(value)
    return v.isoformat().replace("+00:00", "Z") if v is not None else None


# --- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored (never the secret)."""

    id: str
    name: str
    scopes: frozenset[str]
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class NewPayout:
    """A validated payout row of a request, ready to store."""

    network_name: str
    network: Network
    chain_id: int
    payer: str
    token: str
    token_symbol: str
    decimals: int
    payout_id: str
    recipient: str
    amount: int
    memo: str | None


class DuplicateConflict(Exception):
    """Rows whose payout id exists with another recipient or amount: (index, payout id, why)."""

    def __init__(self, conflicts: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(conflicts)} conflicting payout id(s)")
        self.conflicts = conflicts


class IdempotencyMismatch(Exception):
    """The Idempotency-Key was used before with another request body."""


@dataclass(frozen=True)
class StoredAnswer:
    """An HTTP answer stored for an Idempotency-Key (replayed as is)."""

    status_code: int
    body: dict[str, Any]


# --- cursor ---------------------------------------------------------------------------------------


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"pk:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The row key of a cursor, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not raw.startswith("pk:") or not raw[3:].isdigit():
        return None
    return int(raw[3:])


# --- the store ------------------------------------------------------------------------------------

_LEDGER_JOIN = and_(
    ledger_payouts.c.network == payout_requests.c.network,
    ledger_payouts.c.chain_id == payout_requests.c.chain_id,
    ledger_payouts.c.payer == payout_requests.c.payer,
    ledger_payouts.c.token == payout_requests.c.token,
    ledger_payouts.c.payout_id == payout_requests.c.payout_id,
)
_BATCH_JOIN = and_(
    ledger_batches.c.network == ledger_payouts.c.network,
    ledger_batches.c.chain_id == ledger_payouts.c.chain_id,
    ledger_batches.c.payer == ledger_payouts.c.payer,
    ledger_batches.c.batch_id == ledger_payouts.c.batch_id,
)
#: A service row with its ledger row and that row's batch (for Safe proposals).
_JOINED = payout_requests.outerjoin(ledger_payouts, _LEDGER_JOIN).outerjoin(
    ledger_batches, _BATCH_JOIN
)
#: The row is in a Safe proposal awaiting signatures (public status ``proposed``).
_PROPOSED = and_(
    ledger_payouts.c.status.in_(_AWAITING_SIGNATURES),
    ledger_batches.c.safe_tx_hash.is_not(None),
    ledger_batches.c.status.in_(_AWAITING_SIGNATURES),
)
_PAYOUT_COLUMNS = (
    payout_requests,
    ledger_payouts.c.status.label("ledger_status"),
    ledger_batches.c.safe_tx_hash.label("safe_tx_hash"),
    ledger_batches.c.safe_nonce.label("safe_nonce"),
    ledger_batches.c.status.label("batch_status"),
    ledger_payouts.c.batch_id,
    ledger_payouts.c.tx_hash,
    ledger_payouts.c.block_number,
    ledger_payouts.c.log_index,
    ledger_payouts.c.error.label("ledger_error"),
)


def public_status(
    state: str,
    ledger_status: str | None,
    safe_tx_hash: str | None = None,
    batch_status: str | None = None,
) -> str:
    """The status a client sees for a service row state and its ledger status (and, for a Safe
    payer, its batch: ``proposed`` while the Safe transaction awaits signatures)."""
    if state in (REQUESTED, CANCELLED):
        return state
    if ledger_status is None:
        return "queued"
    if (
        safe_tx_hash is not None
        and ledger_status in _AWAITING_SIGNATURES
        and batch_status in _AWAITING_SIGNATURES
    ):
        return "proposed"
    return PUBLIC_STATUS.get(ledger_status, ledger_status)


def _status_of(m: Any) -> str:
    return public_status(m["state"], m["ledger_status"], m["safe_tx_hash"], m["batch_status"])


def _by_payout_id(
    conn: Connection, table: Any, key: tuple[str, int, str, str], pids: Sequence[str]
) -> dict[str, Any]:
    """Rows of ``table`` (the service's or the ledger's payouts) of one scope by payout id."""
    net, chain_id, payer, token = key
    out: dict[str, Any] = {}
    for start in range(0, len(pids), 500):
        for row in conn.execute(
            select(table).where(
                table.c.network == net,
                table.c.chain_id == chain_id,
                table.c.payer == payer,
                table.c.token == token,
                table.c.payout_id.in_(list(pids[start : start + 500])),
            )
        ):
            out[row._mapping["payout_id"]] = row._mapping
    return out


def _scope_of(r: NewPayout) -> tuple[str, int, str, str]:
    return (r.network.value, r.chain_id, r.payer, r.token)


def _conflicts(
    rows: Sequence[NewPayout],
    requested: dict[tuple[tuple[str, int, str, str], str], tuple[str, str, int]],
    in_ledger: dict[tuple[tuple[str, int, str, str], str], tuple[str, int]],
) -> list[tuple[int, str, str]]:
    """Rows of a request whose payout id is used with another recipient or amount (by the
    request itself, by a stored request, or in the ledger)."""
    conflicts: list[tuple[int, str, str]] = []
    seen: dict[tuple[tuple[str, int, str, str], str], int] = {}
    for i, r in enumerate(rows):
        key = (_scope_of(r), r.payout_id)
        if key in seen:
            conflicts.append((i, r.payout_id, f"the same id as row {seen[key]}"))
            continue
        seen[key] = i
        known = requested.get(key)
        if known is not None and (known[1] != r.recipient or known[2] != r.amount):
            conflicts.append(
                (i, r.payout_id, f"already requested for {known[1]} ({known[2]} base units)")
            )
        old = in_ledger.get(key)
        if old is not None and (old[0] != r.recipient or old[1] != r.amount):
            conflicts.append(
                (i, r.payout_id, f"already in the ledger for {old[0]} ({old[1]} base units)")
            )
    return conflicts


class _RequestJob(Job[StoredAnswer]):
    """A request's rows waiting for the group writer."""

    def __init__(
        self,
        rows: Sequence[NewPayout],
        api_key_id: str,
        idempotency_key: str | None,
        body_sha256: str,
        render: Callable[[list[dict[str, Any]], int], dict[str, Any]],
    ) -> None:
        super().__init__(len(rows))
        self.rows = rows
        self.api_key_id = api_key_id
        self.idempotency_key = idempotency_key
        self.body_sha256 = body_sha256
        self.render = render


#: Most payout rows one group transaction stores (a request's rows are never split).
GROUP_MAX_ROWS = 10_000


class Store:
    """The service tables of one database (the ledger's)."""

    def __init__(self, ledger: Ledger, decimals: dict[tuple[str, str], int] | None = None) -> None:
        self.ledger = ledger
        self.engine = ledger.engine
        #: (network name, token address) -> decimals, to render amounts in token units.
        self.decimals = decimals or {}
        self._requests: GroupCommitter[_RequestJob] = GroupCommitter(
            self._commit_requests, max_size=GROUP_MAX_ROWS, name="payout-api-commit"
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (the ledger's: ``BEGIN IMMEDIATE`` on SQLite)."""
        with self.ledger._begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    # --- API keys ---------------------------------------------------------------------------------

    def create_api_key(
        self, name: str, scopes: Sequence[str], rate_limit: int | None = None
    ) -> tuple[ApiKey, str]:
        """A new key; returns it and the token shown once (``pk_<id>_<secret>``)."""
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise ValueError(f"scopes must be among {SCOPES}, got {list(scopes)}")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        stamp = now()
        with self.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=key_id,
                    name=name,
                    secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                    scopes=" ".join(sorted(set(scopes))),
                    rate_limit=rate_limit,
                    created_at=stamp,
                )
            )
        key = ApiKey(key_id, name, frozenset(scopes), rate_limit, stamp)
        return key, f"pk_{key_id}_{secret}"

    def api_keys(self) -> list[ApiKey]:
        with self.read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [self._api_key(r._mapping) for r in rows]

    @staticmethod
    def _api_key(m: Any) -> ApiKey:
        return ApiKey(
            m["id"],
            m["name"],
            frozenset(m["scopes"].split()),
            m["rate_limit"],
            _aware(m["created_at"]) or now(),
            _aware(m["revoked_at"]),
        )

    def revoke_api_key(self, key_id: str) -> bool:
        with self.write() as conn:
            done = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now())
            ).rowcount
        return bool(done)

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key a token belongs to, or None (constant-time comparison of the hash)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "pk" or not parts[1] or not parts[2]:
            return None
        with self.read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == parts[1])).first()
        if row is None:
            return None
        m = row._mapping
        digest = hashlib.sha256(parts[2].encode()).hexdigest()
        if not secrets.compare_digest(digest, m["secret_sha256"]) or m["revoked_at"] is not None:
            return None
        return self._api_key(m)

    def take_rate_tokens(self, key_id: str, rate: int, want: int, now_us: int) -> tuple[int, float]:
        """Take up to ``want`` requests from ``key_id``'s shared bucket (``rate`` per second,
        bursts up to ``rate``) at ``now_us`` (microseconds of wall time). Returns (requests
        granted, seconds until one more is available when none was)."""
        cap = rate * MICRO
        q = select(rate_limits.c.tokens, rate_limits.c.stamp).where(
            rate_limits.c.api_key_id == key_id
        )
        if self.postgres:
            q = q.with_for_update()
        with self.write() as conn:
            row = conn.execute(q).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(rate_limits).values(api_key_id=key_id, tokens=cap, stamp=now_us)
                        )
                except IntegrityError:  # another process created it first: use theirs
                    pass
                row = conn.execute(q).one()
            tokens, stamp = int(row[0]), int(row[1])
            # Refill: `rate` requests per second, i.e. `rate` millionths per microsecond.
            tokens = min(cap, tokens + max(0, now_us - stamp) * rate)
            granted = min(want, tokens // MICRO)
            tokens -= granted * MICRO
            conn.execute(
                update(rate_limits)
                .where(rate_limits.c.api_key_id == key_id)
                .values(tokens=tokens, stamp=max(now_us, stamp))
            )
        wait = 0.0 if granted else (MICRO - tokens) / (rate * MICRO)
        return granted, wait

    # --- requests ---------------------------------------------------------------------------------

    def idempotent_answer(self, key_id: str, key: str, body_sha256: str) -> StoredAnswer | None:
        """The stored answer of an Idempotency-Key (None: first use); raises on another body."""
        with self.read() as conn:
            row = conn.execute(
                select(idempotency).where(
                    idempotency.c.api_key_id == key_id, idempotency.c.key == key
                )
            ).first()
        if row is None:
            return None
        if row._mapping["body_sha256"] != body_sha256:
            raise IdempotencyMismatch(key)
        return StoredAnswer(row._mapping["status_code"], json.loads(row._mapping["response"]))

    def submit(
        self,
        rows: Sequence[NewPayout],
        *,
        api_key_id: str,
        idempotency_key: str | None,
        body_sha256: str,
        render: Callable[[list[dict[str, Any]], int], dict[str, Any]],
    ) -> StoredAnswer:
        """Store a request's rows: all or nothing, on disk when this returns.

        A payout id already requested with the same recipient and amount is returned as it is
        (not stored twice); with another recipient or amount, or already in the ledger with
        other values, the whole request is refused (:class:`DuplicateConflict`). ``render(rows,
        created)`` builds the answer body, stored with the Idempotency-Key when one is given
        (the same key with another body: :class:`IdempotencyMismatch`).

        Concurrent calls are committed together (:mod:`payout.service.group`): each request is
        checked against the stored rows and the requests before it in the same group, exactly
        as if they had been committed one by one, and answered only after the group committed.
        """
        job = _RequestJob(rows, api_key_id, idempotency_key, body_sha256, render)
        return self._requests.run(job).wait()

    def close(self) -> None:
        """Commit the requests still queued and stop the group writer."""
        self._requests.close()

    def _commit_requests(self, jobs: Sequence[_RequestJob]) -> None:
        """One transaction for every request of ``jobs`` (the group writer's ``process``)."""
        outcomes: list[StoredAnswer | Exception] = []
        for attempt in range(3):
            try:
                with self.write() as conn:
                    outcomes = self._store_requests(conn, jobs)
                break
            except IntegrityError:
                # PostgreSQL: another process stored one of the ids or keys between our reads and
                # our writes; the transaction is gone: read again (its rows are visible now).
                if attempt == 2:
                    raise
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                job.fail(outcome)
            else:
                job.finish(outcome)

    def _store_requests(
        self, conn: Connection, jobs: Sequence[_RequestJob]
    ) -> list[StoredAnswer | Exception]:
        stamp = now()
        # Everything the group's requests refer to, read once: Idempotency-Keys, service rows and
        # ledger rows by payout id.
        stored_keys: dict[tuple[str, str], tuple[str, StoredAnswer | int]] = {}
        keys_by_api_key: dict[str, list[str]] = {}
        for job in jobs:
            if job.idempotency_key is not None:
                keys_by_api_key.setdefault(job.api_key_id, []).append(job.idempotency_key)
        for key_id, keys in keys_by_api_key.items():
            unique = sorted(set(keys))
            for start in range(0, len(unique), 500):
                for row in conn.execute(
                    select(idempotency).where(
                        idempotency.c.api_key_id == key_id,
                        idempotency.c.key.in_(unique[start : start + 500]),
                    )
                ):
                    m = row._mapping
                    stored_keys[(key_id, m["key"])] = (
                        m["body_sha256"],
                        StoredAnswer(m["status_code"], json.loads(m["response"])),
                    )
        wanted: dict[tuple[str, int, str, str], set[str]] = {}
        for job in jobs:
            for r in job.rows:
                wanted.setdefault(_scope_of(r), set()).add(r.payout_id)
        #: (scope, payout id) -> (public id, recipient, amount) of the service's rows
        requested: dict[tuple[tuple[str, int, str, str], str], tuple[str, str, int]] = {}
        in_ledger: dict[tuple[tuple[str, int, str, str], str], tuple[str, int]] = {}
        for scope_key, pid_set in wanted.items():
            pids = sorted(pid_set)
            for pid, m in _by_payout_id(conn, payout_requests, scope_key, pids).items():
                requested[(scope_key, pid)] = (m["id"], m["recipient"], int(m["amount"]))
            for pid, m in _by_payout_id(conn, ledger_payouts, scope_key, pids).items():
                in_ledger[(scope_key, pid)] = (m["recipient"], int(m["amount"]))

        # The requests in order, as if committed one by one: a request sees the rows and keys of
        # the requests before it in the group.
        outcomes: list[StoredAnswer | Exception | None] = []
        plans: dict[int, tuple[list[str], int]] = {}  # job index -> (public ids, created)
        #: a request repeating an earlier one of the group (same key, same body) -> that one
        repeats: dict[int, int] = {}
        new_rows: list[dict[str, Any]] = []
        for index, job in enumerate(jobs):
            idem = (job.api_key_id, job.idempotency_key) if job.idempotency_key else None
            if idem is not None and idem in stored_keys:
                body_sha256, answer = stored_keys[idem]
                if body_sha256 != job.body_sha256:
                    outcomes.append(IdempotencyMismatch(idem[1]))
                elif isinstance(answer, StoredAnswer):
                    outcomes.append(answer)
                else:
                    # An earlier request of this group: its answer is rendered below.
                    outcomes.append(None)
                    repeats[index] = answer
                continue
            conflicts = _conflicts(job.rows, requested, in_ledger)
            if conflicts:
                outcomes.append(DuplicateConflict(conflicts))
                continue
            request_id = new_id("req")
            public_ids: list[str] = []
            created = 0
            for r in job.rows:
                key = (_scope_of(r), r.payout_id)
                found = requested.get(key)
                if found is not None:
                    public_ids.append(found[0])
                    continue
                public = new_id("po")
                new_rows.append(
                    {
                        "id": public,
                        "network_name": r.network_name,
                        "network": r.network.value,
                        "chain_id": r.chain_id,
                        "payer": r.payer,
                        "token": r.token,
                        "token_symbol": r.token_symbol,
                        "payout_id": r.payout_id,
                        "recipient": r.recipient,
                        "amount": str(r.amount),
                        "memo": r.memo,
                        # Already in the ledger (a file paid by the CLI): the worker settles it
                        # from there without paying it again.
                        "state": QUEUED if key in in_ledger else REQUESTED,
                        "api_key_id": job.api_key_id,
                        "request_id": request_id,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                )
                requested[key] = (public, r.recipient, r.amount)
                public_ids.append(public)
                created += 1
            plans[index] = (public_ids, created)
            outcomes.append(None)
            if idem is not None:
                stored_keys[idem] = (job.body_sha256, index)

        if new_rows:
            conn.execute(insert(payout_requests), new_rows)
        records = self._payouts_by_id(conn, [p for ids, _c in plans.values() for p in ids])
        answers: dict[int, StoredAnswer] = {}
        keys_rows: list[dict[str, Any]] = []
        for index, job in enumerate(jobs):
            if index in repeats:
                outcomes[index] = answers[repeats[index]]
                continue
            if index not in plans:
                continue
            ids, created = plans[index]
            answer = StoredAnswer(
                201 if created else 200, job.render([records[p] for p in ids], created)
            )
            answers[index] = answer
            outcomes[index] = answer
            if job.idempotency_key is not None:
                keys_rows.append(
                    {
                        "api_key_id": job.api_key_id,
                        "key": job.idempotency_key,
                        "body_sha256": job.body_sha256,
                        "status_code": answer.status_code,
                        "response": json.dumps(answer.body),
                        "created_at": stamp,
                    }
                )
        if keys_rows:
            conn.execute(insert(idempotency), keys_rows)
        return [o if o is not None else RuntimeError("unanswered request") for o in outcomes]

    def _payouts_by_id(self, conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):
            for row in conn.execute(
                select(*_PAYOUT_COLUMNS)
                .select_from(_JOINED)
                .where(payout_requests.c.id.in_(unique[start : start + 500]))
            ):
                found[row._mapping["id"]] = self.render(row._mapping)
        return found

    def render(self, m: Any) -> dict[str, Any]:
        """The API representation of a payout row (joined with its ledger row)."""
        decimals = self.decimals.get((m["network_name"], m["token"]))
        units = int(m["amount"])
        return {
            "id": m["id"],
            "payout_id": m["payout_id"],
            "network": m["network_name"],
            "chain_id": m["chain_id"],
            "token": m["token_symbol"],
            "token_address": m["token"],
            "payer": m["payer"],
            "recipient": m["recipient"],
            "amount": format_amount(units, decimals) if decimals is not None else None,
            "amount_base_units": str(units),
            "memo": m["memo"],
            "status": _status_of(m),
            "batch_id": m["batch_id"],
            "tx_hash": m["tx_hash"],
            "block_number": m["block_number"],
            # A Safe payer's transaction (proposed, then executed) and its Safe nonce.
            "safe_tx_hash": m["safe_tx_hash"],
            "safe_nonce": m["safe_nonce"],
            "error": m["error"] or m["ledger_error"],
            "request_id": m["request_id"],
            "created_at": _iso(m["created_at"]),
            "updated_at": _iso(m["updated_at"]),
        }

    def payout(self, public_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(*_PAYOUT_COLUMNS)
                .select_from(_JOINED)
                .where(payout_requests.c.id == public_id)
            ).first()
        return self.render(row._mapping) if row is not None else None

    def list_payouts(
        self,
        *,
        status: str | None = None,
        network: str | None = None,
        token: str | None = None,
        recipient: str | None = None,
        payout_id: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of payouts, oldest first, and the key of the last row when more follow."""
        q = select(*_PAYOUT_COLUMNS).select_from(_JOINED)
        if status in (REQUESTED, CANCELLED):
            q = q.where(payout_requests.c.state == status)
        elif status == "queued":
            q = q.where(
                payout_requests.c.state.in_([QUEUED, DONE]),
                or_(
                    ledger_payouts.c.status.is_(None),
                    and_(
                        ledger_payouts.c.status == PayoutStatus.PLANNED.value,
                        not_(_PROPOSED),
                    ),
                ),
            )
        elif status == "proposed":
            q = q.where(payout_requests.c.state.in_([QUEUED, DONE]), _PROPOSED)
        elif status is not None:
            ledger_value = {v: k for k, v in PUBLIC_STATUS.items()}[status]
            q = q.where(
                payout_requests.c.state.in_([QUEUED, DONE]),
                ledger_payouts.c.status == ledger_value,
            )
            if status == "failed":
                q = q.where(not_(_PROPOSED))
        if network is not None:
            q = q.where(payout_requests.c.network_name == network)
        if token is not None:
            q = q.where(
                or_(
                    func.lower(payout_requests.c.token_symbol) == token.lower(),
                    func.lower(payout_requests.c.token) == token.lower(),
                )
            )
        if recipient is not None:
            q = q.where(func.lower(payout_requests.c.recipient) == recipient.lower())
        if payout_id is not None:
            q = q.where(payout_requests.c.payout_id == payout_id)
        if after is not None:
            q = q.where(payout_requests.c.pk > after)
        q = q.order_by(payout_requests.c.pk).limit(limit + 1)
        with self.read() as conn:
            rows = conn.execute(q).all()
        more = len(rows) > limit
        rows = rows[:limit]
        page = [self.render(r._mapping) for r in rows]
        return page, (rows[-1]._mapping["pk"] if more and rows else None)

    def cancel(self, public_id: str) -> tuple[bool, dict[str, Any] | None]:
        """Cancel a payout still waiting in the service queue. (done?, the payout after)."""
        with self.write() as conn:
            done = conn.execute(
                update(payout_requests)
                .where(payout_requests.c.id == public_id, payout_requests.c.state == REQUESTED)
                .values(state=CANCELLED, reported=CANCELLED, updated_at=now())
            ).rowcount
            if done:
                self._emit_payout_events(conn, public_id, ["payout.cancelled"])
        return bool(done), self.payout(public_id)

    def _emit_payout_events(self, conn: Connection, public_id: str, events: list[str]) -> None:
        row = conn.execute(
            select(*_PAYOUT_COLUMNS).select_from(_JOINED).where(payout_requests.c.id == public_id)
        ).first()
        if row is None:
            return
        data = self.render(row._mapping)
        for event in events:
            self.enqueue(conn, event, data)

    # --- batches and balances ---------------------------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(ledger_batches).where(ledger_batches.c.batch_id == batch_id.lower())
            ).first()
            if row is None:
                return None
            m = row._mapping
            members = conn.execute(
                select(payout_requests.c.id)
                .select_from(payout_requests.join(ledger_payouts, _LEDGER_JOIN))
                .where(
                    ledger_payouts.c.network == m["network"],
                    ledger_payouts.c.chain_id == m["chain_id"],
                    ledger_payouts.c.payer == m["payer"],
                    ledger_payouts.c.batch_id == m["batch_id"],
                )
                .order_by(ledger_payouts.c.batch_position)
            ).all()
        return {
            "id": m["batch_id"],
            "network_kind": m["network"],
            "chain_id": m["chain_id"],
            "payer": m["payer"],
            "token_address": m["token"],
            "executor": m["executor"],
            "mode": m["mode"],
            "status": m["status"],
            "count": m["count"],
            "total_base_units": m["total"],
            "tx_hash": m["tx_hash"],
            # The key the disburser executes this batch under (once per payer).
            "replay_key": m["replay_key"],
            "nonce": m["nonce"],
            "block_number": m["block_number"],
            "gas_used": m["gas_used"],
            "fee_paid": m["fee_paid"],
            "error": m["error"],
            "payouts": [r[0] for r in members],
            "created_at": _iso(m["created_at"]),
            "confirmed_at": _iso(m["confirmed_at"]),
        }

    # --- worker -----------------------------------------------------------------------------------

    def pending_groups(self, network_name: str) -> list[tuple[str, str, int, datetime, int]]:
        """(payer, token, requested rows, oldest request, queued rows) of a network with work."""
        with self.read() as conn:
            rows = conn.execute(
                select(
                    payout_requests.c.payer,
                    payout_requests.c.token,
                    payout_requests.c.state,
                    func.count(),
                    func.min(payout_requests.c.created_at),
                )
                .where(
                    payout_requests.c.network_name == network_name,
                    payout_requests.c.state.in_([REQUESTED, QUEUED]),
                )
                .group_by(payout_requests.c.payer, payout_requests.c.token, payout_requests.c.state)
            ).all()
        groups: dict[tuple[str, str], list[Any]] = {}
        for payer, token, state, count, oldest in rows:
            g = groups.setdefault((payer, token), [0, None, 0])
            if state == REQUESTED:
                g[0] = count
                g[1] = _aware(oldest)
            else:
                g[2] = count
        return [(p, t, g[0], g[1] or now(), g[2]) for (p, t), g in groups.items()]

    @contextmanager
    def payer_lock(self, network_name: str, payer: str, holder: str) -> Iterator[bool]:
        """Hold the payer's lock row for the block (PostgreSQL: ``FOR UPDATE SKIP LOCKED`` in a
        transaction kept open on its own connection; a killed worker's lock goes with its
        connection). Yields False when another worker holds it. SQLite runs one worker: always
        True."""
        if not self.postgres:
            yield True
            return
        with self.engine.connect() as conn:
            with conn.begin():
                exists = conn.execute(
                    select(payer_locks.c.payer).where(
                        payer_locks.c.network_name == network_name, payer_locks.c.payer == payer
                    )
                ).first()
                if exists is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                insert(payer_locks).values(network_name=network_name, payer=payer)
                            )
                    except IntegrityError:
                        pass
            trans = conn.begin()
            try:
                got = conn.execute(
                    select(payer_locks.c.payer)
                    .where(payer_locks.c.network_name == network_name, payer_locks.c.payer == payer)
                    .with_for_update(skip_locked=True)
                ).first()
                if got is not None:
                    conn.execute(
                        update(payer_locks)
                        .where(
                            payer_locks.c.network_name == network_name,
                            payer_locks.c.payer == payer,
                        )
                        .values(holder=holder, updated_at=now())
                    )
                yield got is not None
            finally:
                trans.rollback()

    def claim(self, network_name: str, payer: str, token: str, limit: int) -> int:
        """Move up to ``limit`` requested rows of a group to ``queued`` (oldest first)."""
        with self.write() as conn:
            pks = [
                r[0]
                for r in conn.execute(
                    select(payout_requests.c.pk)
                    .where(
                        payout_requests.c.network_name == network_name,
                        payout_requests.c.payer == payer,
                        payout_requests.c.token == token,
                        payout_requests.c.state == REQUESTED,
                    )
                    .order_by(payout_requests.c.pk)
                    .limit(limit)
                )
            ]
            claimed = 0
            for start in range(0, len(pks), 500):
                claimed += conn.execute(
                    update(payout_requests)
                    .where(
                        payout_requests.c.pk.in_(pks[start : start + 500]),
                        payout_requests.c.state == REQUESTED,
                    )
                    .values(state=QUEUED, updated_at=now())
                ).rowcount
        return claimed

    def queued(self, network_name: str, payer: str, token: str) -> list[Any]:
        """Rows of a group handed to the ledger and not final yet, oldest first."""
        with self.read() as conn:
            return list(
                conn.execute(
                    select(payout_requests)
                    .where(
                        payout_requests.c.network_name == network_name,
                        payout_requests.c.payer == payer,
                        payout_requests.c.token == token,
                        payout_requests.c.state == QUEUED,
                    )
                    .order_by(payout_requests.c.pk)
                ).all()
            )

    def mark_failed(self, pks: Sequence[int], error: str) -> None:
        """Take rows out of the queue as failed (e.g. a ledger conflict), with a webhook each."""
        with self.write() as conn:
            for pk in pks:
                conn.execute(
                    update(payout_requests)
                    .where(payout_requests.c.pk == pk, payout_requests.c.state == QUEUED)
                    .values(state=DONE, reported="failed", error=error[:500], updated_at=now())
                )
                public = conn.execute(
                    select(payout_requests.c.id).where(payout_requests.c.pk == pk)
                ).scalar()
                if public is not None:
                    self._emit_payout_events(conn, public, ["payout.failed"])

    def sync(self, network_name: str, payer: str, token: str) -> int:
        """Announce every status change of the group's queued rows (outbox: the webhook
        messages are written in the same transaction as ``reported``) and take final rows out of
        the queue. Returns the number of events."""
        events = 0
        with self.write() as conn:
            rows = conn.execute(
                select(*_PAYOUT_COLUMNS)
                .select_from(_JOINED)
                .where(
                    payout_requests.c.network_name == network_name,
                    payout_requests.c.payer == payer,
                    payout_requests.c.token == token,
                    payout_requests.c.state == QUEUED,
                )
            ).all()
            changes: list[dict[str, Any]] = []
            messages: list[tuple[str, dict[str, Any]]] = []
            stamp = now()
            for row in rows:
                m = row._mapping
                status = _status_of(m)
                reported = m["reported"] or "queued"
                if status == reported:
                    continue
                data = self.render(m)
                data["status"] = status
                # A row seen first as paid was submitted too: announce both, in order.
                if status in ("paid", "skipped", "failed") and reported in ("queued", "proposed"):
                    messages.append(("payout.submitted", data))
                if status != "queued":
                    messages.append((f"payout.{status}", data))
                final = status in FINAL_STATUSES
                changes.append(
                    {"b_pk": m["pk"], "b_reported": status, "b_state": DONE if final else QUEUED}
                )
            if changes:
                conn.execute(
                    update(payout_requests)
                    .where(
                        payout_requests.c.pk == bindparam("b_pk"),
                        payout_requests.c.state == QUEUED,
                    )
                    .values(
                        reported=bindparam("b_reported"),
                        state=bindparam("b_state"),
                        updated_at=stamp,
                    ),
                    changes,
                )
            self.enqueue_many(conn, messages)
            events = len(messages)
        return events

    # --- webhooks ---------------------------------------------------------------------------------

    #: Endpoints every new message is delivered to: (url, event types or empty for all).
    endpoints: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def enqueue(self, conn: Connection, event_type: str, data: dict[str, Any]) -> str:
        """Write a webhook message and one pending delivery per endpoint (inside ``conn``'s
        transaction: the event exists exactly when the change it announces does)."""
        return self.enqueue_many(conn, [(event_type, data)])[0]

    def enqueue_many(
        self, conn: Connection, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        """:meth:`enqueue` for many events at once (a few statements, not two per event)."""
        if not events:
            return []
        stamp = now()
        messages = [
            {
                "id": new_id("msg"),
                "event_type": event_type,
                "payload": json.dumps(
                    {"type": event_type, "timestamp": _iso(stamp), "data": data}, sort_keys=True
                ),
                "created_at": stamp,
            }
            for event_type, data in events
        ]
        conn.execute(insert(webhook_messages), messages)
        ids = [str(m["id"]) for m in messages]
        if self.endpoints:
            pks: dict[str, int] = {}
            for start in range(0, len(ids), 500):
                for message_id, pk in conn.execute(
                    select(webhook_messages.c.id, webhook_messages.c.pk).where(
                        webhook_messages.c.id.in_(ids[start : start + 500])
                    )
                ):
                    pks[str(message_id)] = int(pk)
            deliveries = [
                {
                    "message_pk": pks[str(m["id"])],
                    "url": url,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": stamp,
                    "created_at": stamp,
                }
                for m in messages
                for url, wanted in self.endpoints
                if not wanted or m["event_type"] in wanted
            ]
            if deliveries:
                conn.execute(insert(webhook_deliveries), deliveries)
        return ids

    def enqueue_batch_event(
        self,
        conn: Connection,
        network_name: str,
        change: BatchChange,
        *,
        proposal_file: str | None = None,
    ) -> None:
        """The ``batch.*`` event of a batch status change, in the change's transaction
        (``proposal_file``: the name of a Safe proposal's file, told in ``batch.proposed``)."""
        if change.safe_tx_hash is not None and change.status in PROPOSAL_EVENTS:
            self.enqueue(
                conn,
                PROPOSAL_EVENTS[change.status],
                {
                    "network": network_name,
                    "safe": change.payer,
                    "batch_id": change.batch_id,
                    "safe_nonce": change.safe_nonce,
                    "safe_tx_hash": change.safe_tx_hash,
                    "count": change.count,
                    "total_base_units": str(change.total),
                    **(
                        {"file": proposal_file}
                        if change.status is BatchStatus.PLANNED
                        else {"detail": change.error}
                    ),
                },
            )
            return
        name = BATCH_EVENTS.get(change.status)
        if name is None:
            return
        detail = (
            f"{change.paid} paid, {change.skipped} skipped"
            if change.status is BatchStatus.CONFIRMED
            else change.error
        )
        self.enqueue(
            conn,
            name,
            {
                "network": network_name,
                "batch_id": change.batch_id,
                "tx_hash": change.tx_hash,
                "token_address": change.token,
                "count": change.count,
                "total_base_units": str(change.total),
                "paid": change.paid,
                "skipped": change.skipped,
                "detail": detail,
                **(
                    {
                        "safe": change.payer,
                        "safe_tx_hash": change.safe_tx_hash,
                        "safe_nonce": change.safe_nonce,
                    }
                    if change.safe_tx_hash is not None
                    else {}
                ),
            },
        )

    def emit(self, event_type: str, data: dict[str, Any]) -> str:
        """:meth:`enqueue` in a transaction of its own."""
        with self.write() as conn:
            return self.enqueue(conn, event_type, data)

    def claim_deliveries(self, limit: int, lease: timedelta) -> list[dict[str, Any]]:
        """Due deliveries, leased for ``lease`` (a worker that dies mid-send leaves them to be
        retried when the lease ends: at-least-once)."""
        stamp = now()
        with self.write() as conn:
            q = (
                select(
                    webhook_deliveries.c.pk,
                    webhook_deliveries.c.url,
                    webhook_deliveries.c.attempts,
                    webhook_messages.c.id,
                    webhook_messages.c.payload,
                    webhook_messages.c.created_at,
                )
                .select_from(webhook_deliveries.join(webhook_messages))
                .where(
                    webhook_deliveries.c.status == "pending",
                    webhook_deliveries.c.next_attempt_at <= stamp,
                )
                .order_by(webhook_deliveries.c.next_attempt_at)
                .limit(limit)
            )
            if self.postgres:
                q = q.with_for_update(skip_locked=True, of=webhook_deliveries)
            rows = [dict(r._mapping) for r in conn.execute(q)]
            if rows:
                conn.execute(
                    update(webhook_deliveries)
                    .where(webhook_deliveries.c.pk.in_([r["pk"] for r in rows]))
                    .values(next_attempt_at=stamp + lease)
                )
        return rows

    def record_attempt(
        self,
        delivery_pk: int,
        *,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        next_attempt: datetime | None,
    ) -> None:
        """Log one HTTP attempt; ``next_attempt`` None after a success or the last attempt."""
        from payout.service.webhook import Attempt

        self.record_attempts([Attempt(delivery_pk, status_code, error, duration_ms, next_attempt)])

    def record_attempts(self, attempts: Sequence[Any]) -> None:
        """Log a round of HTTP attempts (:class:`payout.service.webhook.Attempt`) in one
        transaction: each delivery becomes ``delivered`` (2xx), ``failed`` (no retry left) or
        waits for ``next_attempt``."""
        if not attempts:
            return
        stamp = now()
        rows = []
        for a in attempts:
            ok = a.status_code is not None and 200 <= a.status_code < 300
            status = "delivered" if ok else ("failed" if a.next_attempt is None else "pending")
            rows.append(
                {
                    "b_pk": a.delivery_pk,
                    "b_code": a.status_code,
                    "b_error": a.error,
                    "b_status": status,
                    "b_delivered": stamp if ok else None,
                    "b_next": a.next_attempt if status == "pending" else None,
                }
            )
        d = webhook_deliveries.c
        with self.write() as conn:
            conn.execute(
                insert(webhook_attempts),
                [
                    {
                        "delivery_pk": a.delivery_pk,
                        "status_code": a.status_code,
                        "error": a.error,
                        "duration_ms": a.duration_ms,
                        "created_at": stamp,
                    }
                    for a in attempts
                ],
            )
            conn.execute(
                update(webhook_deliveries)
                .where(d.pk == bindparam("b_pk"))
                .values(
                    attempts=d.attempts + 1,
                    last_status_code=bindparam("b_code"),
                    last_error=bindparam("b_error"),
                    status=bindparam("b_status"),
                    delivered_at=func.coalesce(
                        bindparam("b_delivered", type_=DateTime(timezone=True)), d.delivered_at
                    ),
                    next_attempt_at=func.coalesce(
                        bindparam("b_next", type_=DateTime(timezone=True)), d.next_attempt_at
                    ),
                ),
                rows,
            )

    def deliveries(
        self, *, message_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The delivery log (newest first), each with its attempts."""
        q = (
            select(
                webhook_deliveries,
                webhook_messages.c.id.label("message_id"),
                webhook_messages.c.event_type,
            )
            .select_from(webhook_deliveries.join(webhook_messages))
            .order_by(webhook_deliveries.c.pk.desc())
            .limit(limit)
        )
        if message_id is not None:
            q = q.where(webhook_messages.c.id == message_id)
        if status is not None:
            q = q.where(webhook_deliveries.c.status == status)
        with self.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            out = []
            for r in rows:
                tries = conn.execute(
                    select(webhook_attempts)
                    .where(webhook_attempts.c.delivery_pk == r["pk"])
                    .order_by(webhook_attempts.c.pk)
                ).all()
                out.append(
                    {
                        "message_id": r["message_id"],
                        "event_type": r["event_type"],
                        "url": r["url"],
                        "status": r["status"],
                        "attempts": r["attempts"],
                        "last_status_code": r["last_status_code"],
                        "last_error": r["last_error"],
                        "next_attempt_at": _iso(r["next_attempt_at"]),
                        "delivered_at": _iso(r["delivered_at"]),
                        "log": [
                            {
                                "status_code": t._mapping["status_code"],
                                "error": t._mapping["error"],
                                "duration_ms": t._mapping["duration_ms"],
                                "at": _iso(t._mapping["created_at"]),
                            }
                            for t in tries
                        ],
                    }
                )
        return out

    def messages(self, *, event_type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(webhook_messages).order_by(webhook_messages.c.pk.desc()).limit(limit)
        if event_type is not None:
            q = q.where(webhook_messages.c.event_type == event_type)
        with self.read() as conn:
            return [
                {
                    "id": r._mapping["id"],
                    "type": r._mapping["event_type"],
                    "payload": json.loads(r._mapping["payload"]),
                    "created_at": _iso(r._mapping["created_at"]),
                }
                for r in conn.execute(q)
            ]

    def replay(self, message_id: str) -> int | None:
        """Deliver a message again to every endpoint (new pending deliveries). None: unknown."""
        stamp = now()
        with self.write() as conn:
            row = conn.execute(
                select(webhook_messages.c.pk, webhook_messages.c.event_type).where(
                    webhook_messages.c.id == message_id
                )
            ).first()
            if row is None:
                return None
            values = [
                {
                    "message_pk": row[0],
                    "url": url,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": stamp,
                    "created_at": stamp,
                }
                for url, events in self.endpoints
                if not events or row[1] in events
            ]
            if values:
                conn.execute(insert(webhook_deliveries), values)
        return len(values)

    # --- alerts -----------------------------------------------------------------------------------

    def alert_transition(
        self, network_name: str, payer: str, asset: str, low: bool, balance: str, threshold: str
    ) -> bool:
        """Record an asset's alert state; True when it just became low (an event is due)."""
        stamp = now()
        state = "low" if low else "ok"
        with self.write() as conn:
            key = and_(
                alert_state.c.network_name == network_name,
                alert_state.c.payer == payer,
                alert_state.c.asset == asset,
            )
            before = conn.execute(select(alert_state.c.state).where(key)).scalar()
            values = {
                "state": state,
                "balance": balance,
                "threshold": threshold,
                "updated_at": stamp,
            }
            if before is None:
                conn.execute(
                    insert(alert_state).values(
                        network_name=network_name, payer=payer, asset=asset, **values
                    )
                )
            else:
                conn.execute(update(alert_state).where(key).values(**values))
        return low and before != "low"

    def alerts(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return [
                {
                    "network": m["network_name"],
                    "payer": m["payer"],
                    "asset": m["asset"],
                    "state": m["state"],
                    "balance": m["balance"],
                    "threshold": m["threshold"],
                    "updated_at": _iso(m["updated_at"]),
                }
                for m in (r._mapping for r in conn.execute(select(alert_state)))
            ]
