"""Replay keys of the disburser's bitmap: ``batches.replay_key`` (the key each batch is executed
under, recorded before it is sent) and ``replay_words`` (the open rolling word of each scope, for
the service's small runs). Added only where missing: ``Ledger.open`` of a newer CLI may have added
them already on a stamped ledger. Sets the ledger schema version to 2.

Revision ID: 0004_replay_keys
Revises: 0003_scope_chain
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_replay_keys"
down_revision = "0003_scope_chain"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "replay_key" not in {c["name"] for c in inspector.get_columns("batches")}:
        op.add_column("batches", sa.Column("replay_key", sa.String(66)))
    if "replay_words" not in set(inspector.get_table_names()):
        op.create_table(
            "replay_words",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("network", sa.String(8), nullable=False),
            sa.Column("chain_id", sa.BigInteger, nullable=False),
            sa.Column("payer", sa.String(64), nullable=False),
            sa.Column("token", sa.String(64), nullable=False),
            sa.Column("word_key", sa.String(64), nullable=False),
            sa.Column("next_bit", sa.Integer, nullable=False),
            sa.Column("created_at", TZ, nullable=False),
            sa.Column("updated_at", TZ, nullable=False),
            sa.UniqueConstraint("network", "chain_id", "payer", "token", name="uq_replay_word"),
        )
    op.execute("UPDATE ledger_meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_table("replay_words")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("replay_key")
    op.execute("UPDATE ledger_meta SET value = '1' WHERE key = 'schema_version'")
