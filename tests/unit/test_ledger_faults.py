"""Database faults the operator cannot prevent become ledger errors (exit 6) with what to do, never
an internal error (exit 70): a SQLite lock held longer than the configured wait, a full disk, a
lost PostgreSQL connection. Real databases only: the lock is held by another connection, the disk
is "full" through SQLite's own page limit, the PostgreSQL backend is terminated by the server."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event

from payout._cli.main import cli
from payout.exceptions import LedgerBusyError, LedgerError, LedgerStorageError
from payout.ledger import Ledger

WAIT = 0.3  # seconds a writer waits for the lock in these tests


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def locked(sqlite_path: Path) -> Iterator[Path]:
    """Another connection holds the ledger's write lock for the whole test."""
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield sqlite_path
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_sqlite_lock_held_past_the_timeout_is_a_ledger_busy_error(locked: Path) -> None:
    started = time.monotonic()
    with pytest.raises(LedgerBusyError) as caught:
        Ledger.open(f"sqlite:///{locked}", sqlite_timeout=WAIT)
    waited = time.monotonic() - started
    assert caught.value.exit_code == 6
    assert "database is locked" in str(caught.value)
    assert "PAYOUT_SQLITE_TIMEOUT" in (caught.value.hint or "")
    # The configured wait is honoured (not the 30 s default).
    assert WAIT * 0.8 <= waited < 10


def test_lock_on_a_write_after_opening_is_a_ledger_busy_error(sqlite_path: Path) -> None:
    with Ledger.open(f"sqlite:///{sqlite_path}", sqlite_timeout=WAIT) as ledger:
        holder = sqlite3.connect(sqlite_path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(LedgerBusyError):
                ledger.start_run("send", note="waits for the lock")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # Once the other writer is gone, the same ledger works again.
        assert ledger.start_run("send") > 0


def test_cli_exits_6_with_a_hint_when_the_ledger_stays_locked(
    locked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYOUT_SQLITE_TIMEOUT", str(WAIT))
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["status", "--ledger", f"sqlite:///{locked}", "--json"]
    )
    assert result.exit_code == 6, result.output + result.stderr
    assert "Internal error" not in result.stderr
    assert "database is locked" in result.stderr
    assert "Hint:" in result.stderr


def _page_limit(pages: int) -> object:
    """A connect hook giving every new SQLite connection a page limit: SQLite answers writes past
    it with SQLITE_FULL ("database or disk is full"), exactly as on a full disk."""

    def hook(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    return hook


def test_disk_full_during_a_write_is_a_ledger_storage_error(sqlite_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{sqlite_path}")
    try:
        event.listen(ledger.engine, "connect", _page_limit(1))
        ledger.engine.dispose()  # new connections get the limit
        with pytest.raises(LedgerStorageError) as caught:
            for _ in range(50):
                ledger.start_run("send", note="x" * 4000)
        assert caught.value.exit_code == 6
        assert "disk is full" in str(caught.value)
        assert "payout resume" in (caught.value.hint or "")
    finally:
        ledger.close()


def test_cli_exits_6_when_the_disk_is_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _page_limit(1)
    event.listen(Engine, "connect", hook)
    try:
        result = CliRunner(mix_stderr=False).invoke(
            cli, ["status", "--ledger", f"sqlite:///{tmp_path / 'new.sqlite'}"]
        )
    finally:
        event.remove(Engine, "connect", hook)
    assert result.exit_code == 6, result.output + result.stderr
    assert "Internal error" not in result.stderr
    assert "disk is full" in result.stderr


@pytest.mark.postgres
def test_lost_postgresql_connection_is_a_ledger_storage_error(postgres_database: str) -> None:
    import psycopg2

    ledger = Ledger.open(postgres_database)
    try:
        with ledger.engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            admin = psycopg2.connect(postgres_database)
            admin.autocommit = True
            with admin.cursor() as cur:  # the server ends our session, as on a failover
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            admin.close()
            with pytest.raises(LedgerStorageError) as caught:
                conn.exec_driver_sql("SELECT 1")
        assert caught.value.exit_code == 6
        assert "payout resume" in (caught.value.hint or "")
        # The pool reconnects for the next operation: the server itself is fine.
        assert ledger.start_run("status") > 0
    finally:
        ledger.close()


def test_unreachable_postgresql_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError) as caught:
        Ledger.open("postgresql://payout:s3cretpassword@127.0.0.1:1/ledger")
    assert caught.value.exit_code == 6
    assert "s3cretpassword" not in str(caught.value)
