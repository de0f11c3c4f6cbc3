"""Settings: ledger location and planning bounds from arguments, environment, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from payout.config import load_settings, redact_url, resolve_ledger_url
from payout.exceptions import ConfigError


def test_default_ledger_is_dot_payout_in_cwd(tmp_path: Path) -> None:
    url = resolve_ledger_url(None, env={}, cwd=tmp_path)
    assert url == f"sqlite:///{tmp_path.resolve()}/.payout/ledger.sqlite"


def test_explicit_beats_environment(tmp_path: Path) -> None:
    env = {"PAYOUT_LEDGER_URL": "sqlite:////env.sqlite"}
    assert resolve_ledger_url("sqlite:////cli.sqlite", env=env) == "sqlite:////cli.sqlite"
    assert resolve_ledger_url(None, env=env) == "sqlite:////env.sqlite"


def test_bare_path_is_a_sqlite_file(tmp_path: Path) -> None:
    assert resolve_ledger_url(str(tmp_path / "x.db"), env={}) == f"sqlite:///{tmp_path / 'x.db'}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg2://u:p@h/db"),
        ("postgres://u@h:5433/db", "postgresql+psycopg2://u@h:5433/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
    ],
)
def test_postgres_urls_use_the_shipped_driver(given: str, expected: str) -> None:
    assert resolve_ledger_url(given, env={}) == expected


def test_unsupported_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"mysql://u:\*\*\*@h"):
        resolve_ledger_url("mysql://u:secret@h/db", env={})


def test_passwords_are_redacted() -> None:
    assert redact_url("postgresql://alice:s3cret@db:5432/x") == "postgresql://alice:***@db:5432/x"
    assert redact_url("sqlite:////a/b.sqlite") == "sqlite:////a/b.sqlite"


def test_settings_from_environment(tmp_path: Path) -> None:
    env = {
        "PAYOUT_MAX_BATCH_SIZE": "300",
        "PAYOUT_GAS_MARGIN": "2_000_000",
        "PAYOUT_RECIPIENT_GAS": "30000",
    }
    settings = load_settings(env=env, cwd=tmp_path, base_gas=70_000)
    assert (settings.max_batch_size, settings.gas_margin, settings.per_recipient_gas) == (
        300,
        2_000_000,
        30_000,
    )
    model = settings.gas_model()
    assert model.estimate(1) == 100_000 and model.limit == 16_777_216 - 2_000_000


def test_bad_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PAYOUT_MAX_BATCH_SIZE"):
        load_settings(env={"PAYOUT_MAX_BATCH_SIZE": "many"}, cwd=tmp_path)
    with pytest.raises(ConfigError):
        load_settings(env={}, cwd=tmp_path, max_batch_size=0)
