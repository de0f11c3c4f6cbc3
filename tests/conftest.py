"""Fixtures shared by every test layer.

PostgreSQL is real: ``postgres_url`` starts a throw-away cluster from Debian's server binaries
(``/usr/lib/postgresql/*/bin``; ``make test`` installs them through ``tools/ensure-postgres``) on a
free port in a temporary directory, and stops it at the end of the session. Set
``PAYOUT_TEST_POSTGRES_URL`` to use an existing server instead. If the cluster cannot start, every
test that needs it FAILS with the server log: a PostgreSQL ledger that was never tested must not
look
like a passing suite.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from payout.ledger import Ledger

START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
            "(run tools/ensure-postgres, or set PAYOUT_TEST_POSTGRES_URL)"
        )
    return Path(candidates[-1]).parent


class _Cluster:
    """A temporary PostgreSQL cluster run by the ``postgres`` user when we are root."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="payout-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root: hand the directory to the postgres account.
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        result = subprocess.run(
            [*self.as_user, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
                f"\n{self.server_log()}"
            )

    def server_log(self) -> str:
        try:
            return "server log:\n" + self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no server log)"

    def start(self) -> str:
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data),
            "-U", "postgres",
            "-A", "trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.data),
            "-l", str(self.log),
            "-o", options,
            "-w",
            "-t", str(START_TIMEOUT_S),
            "start",
        )  # fmt: skip
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                      "-t", "30", "stop")  # fmt: skip
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server (maintenance database) for the whole session."""
    external = os.environ.get("PAYOUT_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    cluster: _Cluster | None = None
    try:
        cluster = _Cluster()
        url = cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError, KeyError) as exc:
        if cluster is not None:
            shutil.rmtree(cluster.root, ignore_errors=True)
        pytest.fail(
            f"PostgreSQL could not be started for the ledger tests: {exc}\n"
            "Install Debian's postgresql package (tools/ensure-postgres) or set "
            "PAYOUT_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the session's server; dropped afterwards."""
    import psycopg2

    name = "payout_" + uuid.uuid4().hex[:12]
    base, _, _ = postgres_url.rpartition("/")
    admin = psycopg2.connect(postgres_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"{base}/{name}"
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Ledger URL for each backend: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """An open, empty ledger on each backend."""
    opened = Ledger.open(ledger_url)
    try:
        yield opened
    finally:
        opened.close()
