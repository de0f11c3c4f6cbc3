"""The service's tables, next to the ledger's in the same database (``svc_`` prefix).

The ledger (:mod:`payout.ledger`) stays the source of truth for what is paid; these tables hold
what only the service knows: who asked for a payout and with which idempotency key, cancellations,
API keys, webhook messages and their deliveries, balance alert state, the per-payer lock rows
workers take. Schema changes go through Alembic (:mod:`payout.service.migrate`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from payout.ledger import SCOPE_KEY, scope_columns

service_metadata = MetaData()

#: API keys: only the SHA-256 of the secret is stored; ``scopes`` is a space-separated set of
#: ``read`` / ``write``.
api_keys = Table(
    "svc_api_keys",
    service_metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("rate_limit", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

#: One row per requested payout. ``state``: ``requested`` (queued in the service, cancellable),
#: ``cancelled``, ``queued`` (handed to the ledger by a worker), ``done`` (final in the ledger).
#: ``reported`` is the last status announced by webhook. The ledger row has the same
#: (network, chain_id, payer, token, payout_id).
payout_requests = Table(
    "svc_payouts",
    service_metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("network_name", String(64), nullable=False),
    *scope_columns(),
    Column("token_symbol", String(32), nullable=False),
    Column("payout_id", String(128), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("amount", String(40), nullable=False),
    Column("memo", Text),
    Column("state", String(16), nullable=False),
    Column("reported", String(16)),
    Column("api_key_id", String(32)),
    Column("request_id", String(40)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(*SCOPE_KEY, "payout_id", name="uq_svc_payout_scope"),
    Index("ix_svc_payouts_state", "state", "network_name", "payer", "token"),
)

#: Idempotency-Key records: the same key and body replay the stored answer.
idempotency = Table(
    "svc_idempotency",
    service_metadata,
    Column("api_key_id", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("body_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: One row per (network name, payer): a worker holds ``SELECT ... FOR UPDATE SKIP LOCKED`` on it
#: while it plans and sends for that payer, so two workers never use one payer's nonce.
payer_locks = Table(
    "svc_payer_locks",
    service_metadata,
    Column("network_name", String(64), primary_key=True),
    Column("payer", String(64), primary_key=True),
    Column("holder", String(128)),
    Column("updated_at", DateTime(timezone=True)),
)

webhook_messages = Table(
    "svc_webhook_messages",
    service_metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: One row per (message, endpoint): ``pending`` until a 2xx answer (``delivered``) or the last
#: attempt failed (``failed``; the replay endpoint makes it ``pending`` again).
webhook_deliveries = Table(
    "svc_webhook_deliveries",
    service_metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("message_pk", Integer, ForeignKey("svc_webhook_messages.pk"), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_svc_deliveries_due", "status", "next_attempt_at"),
)

#: The delivery log: every HTTP attempt with its answer.
webhook_attempts = Table(
    "svc_webhook_attempts",
    service_metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("delivery_pk", Integer, ForeignKey("svc_webhook_deliveries.pk"), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_svc_attempts_delivery", "delivery_pk"),
)

#: Balance alert state per (network, payer, asset): ``low`` after a balance.low event, ``ok``
#: again once the balance is back above the threshold (one event per crossing, not per check).
alert_state = Table(
    "svc_alerts",
    service_metadata,
    Column("network_name", String(64), primary_key=True),
    Column("payer", String(64), primary_key=True),
    Column("asset", String(32), primary_key=True),
    Column("state", String(8), nullable=False),
    Column("balance", String(80), nullable=False),
    Column("threshold", String(80), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: The token bucket of each API key's rate limit, shared by every API process on this database:
#: ``tokens`` in millionths of a request, ``stamp`` the bucket's last update in microseconds since
#: the Unix epoch (integers: no float rounding in the arithmetic).
rate_limits = Table(
    "svc_rate_limits",
    service_metadata,
    Column("api_key_id", String(32), primary_key=True),
    Column("tokens", BigInteger, nullable=False),
    Column("stamp", BigInteger, nullable=False),
)
