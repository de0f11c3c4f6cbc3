"""Schema migrations of the payout database (ledger + service tables) with Alembic.

The chain of revisions lives in ``payout/service/migrations/versions``: ``0001_ledger_baseline``
(the ledger as the CLI writes it at schema version 1), then ``0002_service_tables``. A ledger
created before migrations existed has ``ledger_meta`` but no ``alembic_version``: it is stamped at
the baseline (its rows untouched) and upgraded from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from payout.config import redact_url, resolve_ledger_url
from payout.exceptions import LedgerUnavailableError
from payout.ledger import SCHEMA_VERSION

BASELINE = "0001_ledger_baseline"
#: Schema version of the ledger the baseline describes (``payout.ledger.SCHEMA_VERSION`` then).
BASELINE_LEDGER_VERSION = 1


@dataclass(frozen=True)
class UpgradeResult:
    """What :func:`upgrade` did: revision before (None: none) and after, and whether a
    pre-Alembic ledger was stamped at the baseline."""

    before: str | None
    after: str
    stamped_existing: bool


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "payout.service:migrations")
    return cfg


def head_revision() -> str:
    """The newest revision this toolkit knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        from pathlib import Path

        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)


def current_revision(url: str | None = None) -> str | None:
    """The database's Alembic revision (None: never migrated)."""
    resolved = resolve_ledger_url(url)
    engine = _engine(resolved)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str | None = None, revision: str = "head") -> UpgradeResult:
    """Bring the database at ``url`` (default: the ledger URL) to ``revision``.

    Safe to run at every start: an up-to-date database is left alone. On PostgreSQL the upgrade
    holds an advisory lock so several workers starting together migrate once.
    """
    resolved = resolve_ledger_url(url)
    try:
        engine = _engine(resolved)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Released at commit: workers starting together run the migrations one by one.
                conn.execute(text("SELECT pg_advisory_xact_lock(7263541)"))
            tables = set(inspect(conn).get_table_names())
            before = MigrationContext.configure(conn).get_current_revision()
            cfg = _config()
            cfg.attributes["connection"] = conn
            stamped = False
            if before is None and "ledger_meta" in tables:
                version = conn.execute(
                    text("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
                ).scalar()
                # A ledger a newer CLI created (or upgraded in place) is stamped at the baseline
                # too: the later revisions add their tables and columns only where missing.
                if not BASELINE_LEDGER_VERSION <= int(version or 0) <= SCHEMA_VERSION:
                    raise LedgerUnavailableError(
                        redact_url(resolved),
                        f"its ledger schema version {version} is not one migrations start from "
                        f"({BASELINE_LEDGER_VERSION} to {SCHEMA_VERSION})",
                    )
                command.stamp(cfg, BASELINE)
                stamped = True
            command.upgrade(cfg, revision)
            after = MigrationContext.configure(conn).get_current_revision()
        engine.dispose()
    except SQLAlchemyError as exc:
        raise LedgerUnavailableError(redact_url(resolved), str(exc)) from exc
    return UpgradeResult(before, after or "", stamped)
