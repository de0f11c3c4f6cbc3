"""Dashboard settings: where the ledger is, which chains it may read, who may log in.

==============================  =================================================================
``PAYOUT_LEDGER_URL``           the ledger (as for every command)
``PAYOUT_RPC_URL``              EVM endpoint for token facts, balances, Safe state and reconcile
``PAYOUT_TRON_NODE_URL``        TRON node for TRON token facts, balances and reconcile
``PAYOUT_DISBURSER``            disburser address to reconcile against (default: the registry's)
``PAYOUT_DASHBOARD_KEYS``       JSON key file (see :mod:`payout.dashboard.auth`)
``PAYOUT_DASHBOARD_SECRET``     session signing secret (hex, >= 16 bytes; random per process when
                                unset, so sessions then end when the server restarts)
``PAYOUT_SAFE_PROPOSALS_DIR``   folder of proposal / signature files whose signatures are shown
                                (``payout serve`` reads every Safe network's ``proposals_dir``)
``PAYOUT_MIN_GAS_WEI``          gas coin below which an EVM payer is low (default 0.01 coin)
``PAYOUT_MIN_TRX_SUN``          TRX below which a TRON payer is low (default 100 TRX)
==============================  =================================================================
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from payout.config import resolve_ledger_url
from payout.dashboard.auth import KeyChecker, KeyStore, SessionSigner
from payout.exceptions import ConfigError

DEFAULT_MIN_GAS_WEI = 10**16
DEFAULT_MIN_TRX_SUN = 100 * 10**6


@dataclass(frozen=True)
class SafeNetwork:
    """A Safe payer network of ``payout serve`` whose proposals the Safe page shows.

    ``name`` is the network's name in ``payout.toml`` (the page's label), ``rpc_url`` its EVM
    endpoint (owners, threshold, signatures and token facts are read there), ``safe`` the paying
    Safe and ``proposals_dir`` the folder its proposal files are written to.
    """

    name: str
    rpc_url: str
    safe: str
    proposals_dir: Path | None = None


@dataclass
class DashboardConfig:
    """Everything the dashboard needs; build with :func:`config_from_env` or directly (tests)."""

    ledger_url: str
    keys: KeyChecker
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    rpc_url: str | None = None
    tron_node_url: str | None = None
    disburser: str | None = None
    proposals_dir: Path | None = None
    #: Every Safe payer network (``payout serve``): their proposals are shown, each read from its
    #: own chain and folder.
    safe_networks: tuple[SafeNetwork, ...] = ()
    min_gas_wei: int = DEFAULT_MIN_GAS_WEI
    min_trx_sun: int = DEFAULT_MIN_TRX_SUN
    #: Set the cookie's Secure flag (behind HTTPS). Off for plain-HTTP local use and tests.
    secure_cookie: bool = False

    @property
    def signer(self) -> SessionSigner:
        return SessionSigner(self.session_secret)


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def config_from_env(env: Mapping[str, str] | None = None) -> DashboardConfig:
    """Settings from the environment (see the module doc)."""
    environ = os.environ if env is None else env
    key_file = environ.get("PAYOUT_DASHBOARD_KEYS")
    if not key_file:
        raise ConfigError(
            "PAYOUT_DASHBOARD_KEYS is not set: nobody could log in to the dashboard",
            hint="Point it at a JSON list of {name, role, sha256} entries.",
        )
    secret_hex = environ.get("PAYOUT_DASHBOARD_SECRET", "").strip()
    try:
        secret = bytes.fromhex(secret_hex) if secret_hex else secrets.token_bytes(32)
    except ValueError:
        raise ConfigError("PAYOUT_DASHBOARD_SECRET must be hex") from None
    proposals = environ.get("PAYOUT_SAFE_PROPOSALS_DIR")
    return DashboardConfig(
        ledger_url=resolve_ledger_url(None, env=environ),
        keys=KeyStore.from_file(key_file),
        session_secret=secret,
        rpc_url=environ.get("PAYOUT_RPC_URL") or None,
        tron_node_url=environ.get("PAYOUT_TRON_NODE_URL") or None,
        disburser=environ.get("PAYOUT_DISBURSER") or None,
        proposals_dir=Path(proposals) if proposals else None,
        min_gas_wei=_int(environ, "PAYOUT_MIN_GAS_WEI", DEFAULT_MIN_GAS_WEI),
        min_trx_sun=_int(environ, "PAYOUT_MIN_TRX_SUN", DEFAULT_MIN_TRX_SUN),
        secure_cookie=environ.get("PAYOUT_DASHBOARD_SECURE_COOKIE", "") in ("1", "true", "yes"),
    )
