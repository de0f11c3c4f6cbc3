"""Files the toolkit writes are private (0600) even under a permissive umask: the ledger (and its
-wal/-shm files), reports, registries, exports. They name who is paid how much."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from payout._cli.main import cli
from payout.deployment import Deployment, record_deployment, write_standard_json
from payout.files import open_private, write_private_text
from payout.ledger import Ledger


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_ledger_and_its_wal_files_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        ledger.start_run("send")  # a write: the -wal and -shm files exist now
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert [f.exists() for f in files] == [True, True, True]
        assert [oct(mode(f)) for f in files] == ["0o600"] * 3


def test_report_file_is_0600_even_over_an_existing_world_readable_file(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    out = tmp_path / "report.csv"
    out.write_text("old")
    out.chmod(0o644)
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["report", "--ledger", f"sqlite:///{ledger}", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert oct(mode(out)) == "0o600"
    assert "old" not in out.read_text()


def test_registry_and_verification_export_are_0600(tmp_path: Path) -> None:
    registry = tmp_path / "deployments.json"
    record_deployment(
        registry,
        Deployment(
            chain_id=1,
            address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            code_hash="0x" + "00" * 32,
            tx_hash=None,
            block_number=None,
            salt="0x" + "00" * 32,
        ),
    )
    assert oct(mode(registry)) == "0o600"
    export = tmp_path / "standard.json"
    write_standard_json(export)
    assert oct(mode(export)) == "0o600"


def test_private_writers(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    write_private_text(a, "{}\n")
    assert oct(mode(a)) == "0o600" and a.read_text() == "{}\n"
    assert not (tmp_path / "a.json.tmp").exists()
    b = tmp_path / "b.csv"
    with open_private(b) as fh:
        fh.write("x")
    assert oct(mode(b)) == "0o600"
