"""Alembic environment of the payout database: runs on the connection :mod:`payout.service.migrate`
passes in (``config.attributes["connection"]``); no alembic.ini, no URL of its own."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
