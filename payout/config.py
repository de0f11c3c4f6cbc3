"""Settings that do not come from the payout file: where the ledger lives and planning bounds.

Precedence: explicit argument > environment variable > default. The library reads no config file;
the CLI passes its options through :func:`load_settings`.

==========================  =====================================================================
``PAYOUT_LEDGER_URL``       ledger database URL (default ``sqlite:///<cwd>/.payout/ledger.sqlite``)
``PAYOUT_MAX_BATCH_SIZE``   most payouts in one batch (default 500)
``PAYOUT_GAS_MARGIN``       gas kept free under the 16,777,216 tx cap (default 1,000,000)
``PAYOUT_BASE_GAS``         per-batch gas of the disburser (default 60,000, conservative)
``PAYOUT_RECIPIENT_GAS``    per-recipient gas, worst case (default 26,500, conservative)
``PAYOUT_SQLITE_TIMEOUT``   seconds a SQLite writer waits for the lock (default 30)
==========================  =====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from payout.batching import (
    DEFAULT_BASE_GAS,
    DEFAULT_GAS_MARGIN,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_PER_RECIPIENT_GAS,
    LinearCostModel,
    evm_gas_model,
)
from payout.exceptions import ConfigError
from payout.redact import redact_text, redact_url, url_secrets

__all__ = [
    "Settings",
    "default_ledger_path",
    "load_settings",
    "redact_text",
    "redact_url",
    "resolve_ledger_url",
    "sqlite_timeout_from_env",
    "sqlite_url",
    "url_secrets",
]

#: Ledger location relative to the current directory when nothing else is configured.
DEFAULT_LEDGER_DIR = ".payout"
DEFAULT_LEDGER_FILE = "ledger.sqlite"


def default_ledger_path(cwd: str | os.PathLike[str] | None = None) -> Path:
    """``<cwd>/.payout/ledger.sqlite``."""
    return Path(cwd or os.getcwd()).resolve() / DEFAULT_LEDGER_DIR / DEFAULT_LEDGER_FILE


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """SQLAlchemy URL of a SQLite file (absolute, so a later ``cd`` does not change it)."""
    return "sqlite:///" + str(Path(path).expanduser().resolve())


def resolve_ledger_url(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """The ledger URL: ``explicit`` > ``PAYOUT_LEDGER_URL`` > ``.payout/ledger.sqlite`` in ``cwd``.

    A bare file path (no ``://``) is taken as a SQLite file.
    """
    environ = os.environ if env is None else env
    url = explicit or environ.get("PAYOUT_LEDGER_URL") or ""
    if not url:
        return sqlite_url(default_ledger_path(cwd))
    if "://" not in url:
        return sqlite_url(url)
    if not url.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
        raise ConfigError(
            f"unsupported ledger URL {redact_url(url)}",
            hint="Use sqlite:///path/ledger.sqlite or postgresql://user:pass@host/db.",
        )
    if url.startswith("postgres:"):  # the libpq spelling; SQLAlchemy wants "postgresql"
        url = "postgresql:" + url[len("postgres:") :]
    if url.startswith("postgresql:"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the toolkit ships psycopg2.
        url = "postgresql+psycopg2:" + url[len("postgresql:") :]
    return url


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def sqlite_timeout_from_env(env: Mapping[str, str] | None = None) -> float:
    """``PAYOUT_SQLITE_TIMEOUT`` in seconds (fractions allowed), default 30."""
    environ = os.environ if env is None else env
    raw = environ.get("PAYOUT_SQLITE_TIMEOUT", "").strip()
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"PAYOUT_SQLITE_TIMEOUT={raw!r} is not a number of seconds") from None
    if value < 0:
        raise ConfigError(f"PAYOUT_SQLITE_TIMEOUT={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class Settings:
    ledger_url: str
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    gas_margin: int = DEFAULT_GAS_MARGIN
    base_gas: int = DEFAULT_BASE_GAS
    per_recipient_gas: int = DEFAULT_PER_RECIPIENT_GAS
    sqlite_timeout: float = 30.0

    def gas_model(self) -> LinearCostModel:
        return evm_gas_model(
            base_gas=self.base_gas,
            per_recipient_gas=self.per_recipient_gas,
            margin_gas=self.gas_margin,
        )


def load_settings(
    *,
    ledger_url: str | None = None,
    max_batch_size: int | None = None,
    gas_margin: int | None = None,
    base_gas: int | None = None,
    per_recipient_gas: int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings from explicit values, then the environment, then defaults."""
    environ = os.environ if env is None else env
    settings = Settings(
        ledger_url=resolve_ledger_url(ledger_url, env=environ, cwd=cwd),
        max_batch_size=max_batch_size
        if max_batch_size is not None
        else _env_int(environ, "PAYOUT_MAX_BATCH_SIZE", DEFAULT_MAX_BATCH_SIZE),
        gas_margin=gas_margin
        if gas_margin is not None
        else _env_int(environ, "PAYOUT_GAS_MARGIN", DEFAULT_GAS_MARGIN),
        base_gas=base_gas
        if base_gas is not None
        else _env_int(environ, "PAYOUT_BASE_GAS", DEFAULT_BASE_GAS),
        per_recipient_gas=per_recipient_gas
        if per_recipient_gas is not None
        else _env_int(environ, "PAYOUT_RECIPIENT_GAS", DEFAULT_PER_RECIPIENT_GAS),
        sqlite_timeout=sqlite_timeout_from_env(environ),
    )
    if settings.max_batch_size < 1:
        raise ConfigError(f"maximum batch size {settings.max_batch_size} must be at least 1")
    return settings
