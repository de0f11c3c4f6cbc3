"""The ledger's chain pin and on-chain batch tables (``scope_chain``, ``chain_batches``: lost-ledger
recovery). Created only where missing: ``Ledger.open`` of a newer CLI may have created them
already on a stamped ledger.

Revision ID: 0003_scope_chain
Revises: 0002_service_tables
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_scope_chain"
down_revision = "0002_service_tables"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "scope_chain" not in existing:
        op.create_table(
            "scope_chain",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("network", sa.String(8), nullable=False),
            sa.Column("chain_id", sa.BigInteger, nullable=False),
            sa.Column("payer", sa.String(64), nullable=False),
            sa.Column("token", sa.String(64), nullable=False),
            sa.Column("genesis", sa.String(80)),
            sa.Column("disburser", sa.String(64)),
            sa.Column("scanned_block", sa.BigInteger),
            sa.Column("created_at", TZ, nullable=False),
            sa.Column("updated_at", TZ, nullable=False),
            sa.UniqueConstraint("network", "chain_id", "payer", "token", name="uq_scope_chain"),
        )
    if "chain_batches" not in existing:
        op.create_table(
            "chain_batches",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("network", sa.String(8), nullable=False),
            sa.Column("chain_id", sa.BigInteger, nullable=False),
            sa.Column("payer", sa.String(64), nullable=False),
            sa.Column("token", sa.String(64), nullable=False),
            sa.Column("batch_id", sa.String(66), nullable=False),
            sa.Column("tx_hash", sa.String(80), nullable=False),
            sa.Column("block_number", sa.BigInteger, nullable=False),
            sa.Column("log_index", sa.Integer, nullable=False),
            sa.Column("executor", sa.String(16), nullable=False),
            sa.Column("rows", sa.Text, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("created_at", TZ, nullable=False),
            sa.Column("updated_at", TZ, nullable=False),
            sa.UniqueConstraint("network", "chain_id", "payer", "batch_id", name="uq_chain_batch"),
        )


def downgrade() -> None:
    op.drop_table("chain_batches")
    op.drop_table("scope_chain")
