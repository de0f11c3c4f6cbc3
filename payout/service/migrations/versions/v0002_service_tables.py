"""Service tables (``payout serve``): API keys, payout requests, idempotency keys, payer locks,
webhook messages / deliveries / attempts, balance alert state.

Revision ID: 0002_service_tables
Revises: 0001_ledger_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_service_tables"
down_revision = "0001_ledger_baseline"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "svc_api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("rate_limit", sa.Integer),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "svc_payouts",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("network_name", sa.String(64), nullable=False),
        sa.Column("network", sa.String(8), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("token_symbol", sa.String(32), nullable=False),
        sa.Column("payout_id", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("memo", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reported", sa.String(16)),
        sa.Column("api_key_id", sa.String(32)),
        sa.Column("request_id", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint(
            "network", "chain_id", "payer", "token", "payout_id", name="uq_svc_payout_scope"
        ),
    )
    op.create_index(
        "ix_svc_payouts_state", "svc_payouts", ["state", "network_name", "payer", "token"]
    )
    op.create_table(
        "svc_idempotency",
        sa.Column("api_key_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "svc_payer_locks",
        sa.Column("network_name", sa.String(64), primary_key=True),
        sa.Column("payer", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128)),
        sa.Column("updated_at", TZ),
    )
    op.create_table(
        "svc_webhook_messages",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "svc_webhook_deliveries",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "message_pk", sa.Integer, sa.ForeignKey("svc_webhook_messages.pk"), nullable=False
        ),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index(
        "ix_svc_deliveries_due", "svc_webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "svc_webhook_attempts",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_pk", sa.Integer, sa.ForeignKey("svc_webhook_deliveries.pk"), nullable=False
        ),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_svc_attempts_delivery", "svc_webhook_attempts", ["delivery_pk"])
    op.create_table(
        "svc_alerts",
        sa.Column("network_name", sa.String(64), primary_key=True),
        sa.Column("payer", sa.String(64), primary_key=True),
        sa.Column("asset", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("balance", sa.String(80), nullable=False),
        sa.Column("threshold", sa.String(80), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "svc_alerts",
        "svc_webhook_attempts",
        "svc_webhook_deliveries",
        "svc_webhook_messages",
        "svc_payer_locks",
        "svc_idempotency",
        "svc_payouts",
        "svc_api_keys",
    ):
        op.drop_table(table)
