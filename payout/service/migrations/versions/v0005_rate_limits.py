"""Per-key rate limit buckets (``svc_rate_limits``), shared by every API process on the database.

Revision ID: 0005_rate_limits
Revises: 0004_replay_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_rate_limits"
down_revision = "0004_replay_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "svc_rate_limits",
        sa.Column("api_key_id", sa.String(32), primary_key=True),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("stamp", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("svc_rate_limits")
