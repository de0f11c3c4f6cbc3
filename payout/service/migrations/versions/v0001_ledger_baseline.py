"""The ledger as ``payout/ledger.py`` writes it at schema version 1 (before Alembic).

A ledger created by the CLI before migrations existed is *stamped* at this revision (its tables are
already there); an empty database gets them created here.

Revision ID: 0001_ledger_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger_baseline"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("executor", sa.String(16)),
        sa.Column("network", sa.String(8)),
        sa.Column("chain_id", sa.BigInteger),
        sa.Column("payer", sa.String(64)),
        sa.Column("token", sa.String(64)),
        sa.Column("disburser", sa.String(64)),
        sa.Column("source", sa.Text),
        sa.Column("source_sha256", sa.String(64)),
        sa.Column("rows", sa.Integer),
        sa.Column("note", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(8), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("payout_id", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("memo", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("line", sa.Integer),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.String(66)),
        sa.Column("batch_position", sa.Integer),
        sa.Column("tx_hash", sa.String(80)),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("log_index", sa.Integer),
        sa.Column("gas_share", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint(
            "network", "chain_id", "payer", "token", "payout_id", name="uq_payout_scope"
        ),
    )
    op.create_index("ix_payouts_batch", "payouts", ["network", "chain_id", "payer", "batch_id"])
    op.create_index(
        "ix_payouts_status", "payouts", ["network", "chain_id", "payer", "token", "status"]
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(8), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(66), nullable=False),
        sa.Column("batch_index", sa.Integer, nullable=False),
        sa.Column("disburser", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("executor", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("total", sa.String(80), nullable=False),
        sa.Column("cost_estimate", sa.BigInteger),
        sa.Column("cost_unit", sa.String(16)),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("nonce", sa.BigInteger),
        sa.Column("tx_hash", sa.String(80)),
        sa.Column("safe_nonce", sa.BigInteger),
        sa.Column("safe_tx_hash", sa.String(80)),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("gas_used", sa.String(40)),
        sa.Column("fee_paid", sa.String(80)),
        sa.Column("paid_total", sa.String(80)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("submitted_at", TZ),
        sa.Column("confirmed_at", TZ),
        sa.UniqueConstraint("network", "chain_id", "payer", "batch_id", name="uq_batch_payer"),
    )
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_pk", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("tx_hash", sa.String(80)),
        sa.Column("nonce", sa.BigInteger),
        sa.Column("raw_tx", sa.Text),
        sa.Column("fees", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_attempts_batch", "attempts", ["batch_pk"])
    op.create_index("ix_attempts_tx", "attempts", ["tx_hash"])
    op.execute("INSERT INTO ledger_meta (key, value) VALUES ('schema_version', '1')")


def downgrade() -> None:
    for table in ("attempts", "batches", "payouts", "runs", "ledger_meta"):
        op.drop_table(table)
