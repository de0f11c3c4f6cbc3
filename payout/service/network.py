"""The service's configuration file (``payout.toml``): networks, tokens, payers, alerts, webhooks.

Example::

    [service]
    ledger = "sqlite:///var/payout/ledger.sqlite"   # default: PAYOUT_LEDGER_URL / .payout/
    flush_seconds = 5          # a group's oldest request waits at most this long
    flush_rows = 500           # ... or the group is flushed as soon as it has this many rows
    on_failure = "skip"        # rows that would fail on chain: skip (report) or exclude
    alert_interval_seconds = 60

    [[service.webhooks]]
    url = "https://platform.example/hooks/payout"
    secret_env = "PAYOUT_WEBHOOK_SECRET"     # a Standard Webhooks secret (whsec_...)

    [networks.polygon]
    kind = "evm"
    rpc_url_env = "POLYGON_RPC_URL"          # or rpc_url = "..."
    executor = "wallet"                      # wallet (hot wallet) | safe (multisig) | tron
    keystore = "/etc/payout/polygon-payer.json"
    password_env = "PAYOUT_KEYSTORE_PASSWORD"
    disburser = "0x..."                      # default: the CREATE2 address
    [networks.polygon.tokens.USDC]
    address = "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"
    decimals = 6                             # checked against the chain at start
    [networks.polygon.alerts]
    USDC = "1000"                            # token units
    gas = "0.5"                              # gas coin units (MATIC/ETH/BNB; TRX on TRON)

    [networks.base]                          # a Safe payer: batches are proposed, not sent
    executor = "safe"
    safe = "0x..."                           # the paying Safe
    keystore = "/etc/payout/proposer.json"   # an owner or delegate: signs what it proposes
    safe_service_url_env = "SAFE_SERVICE_URL"    # optional Transaction Service
    safe_service_api_key_env = "SAFE_SERVICE_API_KEY"
    proposals_dir = "/var/payout/safe-proposals" # proposal files for signers
    execute = true                           # execute once signed (the executor pays gas)
    executor_keystore = "/etc/payout/executor.json"

    [networks.tron]
    kind = "tron"
    node_url_env = "TRON_NODE_URL"           # or node_url = "..."
    executor = "tron"                        # the default on a tron network
    keystore = "/etc/payout/tron-payer.json" # a TRON key is a secp256k1 key: same keystore format
    disburser = "T..."                       # required on TRON
    [networks.tron.tokens.USDT]
    address = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    decimals = 6
    [networks.tron.alerts]
    USDT = "1000"
    gas = "200"                              # TRX
    energy = "500000"                        # energy available to the payer (staked/delegated)

Values are checked when the file is loaded; every problem names the key it is about.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from payout.address import check_address
from payout.exceptions import ServiceConfigError as ServiceConfigError
from payout.types import Network

EXECUTORS = ("wallet", "safe", "tron")
#: Alert keys besides token symbols: the gas coin (ETH, BNB, POL ...; TRX on TRON) and, on TRON,
#: the payer's available energy (staked or delegated to it).
GAS = "gas"
ENERGY = "energy"
ON_FAILURE = ("skip", "exclude")


@dataclass(frozen=True)
class TokenConfig:
    """A token a network pays in: symbol (as clients name it), address, expected decimals."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True)
class SafePayerConfig:
    """How the worker pays from a Safe: it proposes batches and waits for the owners' signatures.

    ``keystore`` of the network is the proposer (an owner or a delegate of the Safe; required with
    a Transaction Service, which only accepts proposals signed by one). With ``execute`` the worker
    sends ``execTransaction`` itself once the threshold is met, paying gas from
    ``executor_keystore`` (default: the network's keystore); otherwise anyone executes and the
    worker settles the rows from the chain.
    """

    address: str
    service_url: str | None = None
    service_api_key: str | None = None
    proposals_dir: Path | None = None
    execute: bool = False
    executor_keystore: Path | None = None
    executor_password_env: str = "PAYOUT_KEYSTORE_PASSWORD"
    #: How often a waiting proposal's signatures and the Safe's nonce are read.
    poll_seconds: float = 5.0

    def proposal_file(self, nonce: int, safe_tx_hash: str, suffix: str = "") -> Path | None:
        """The file in ``proposals_dir`` the worker writes the proposal at ``nonce`` to (None
        without a folder); ``suffix`` names a companion file (``.service``)."""
        if self.proposals_dir is None:
            return None
        safe = to_checksum_address(self.address)
        return self.proposals_dir / (
            f"safe-{safe[:10]}-nonce-{nonce}-{safe_tx_hash[2:10]}{suffix}.json"
        )


@dataclass(frozen=True)
class NetworkConfig:
    """One network of the service (an EVM chain or TRON)."""

    name: str
    kind: Network
    url: str
    executor: str
    tokens: dict[str, TokenConfig]
    keystore: Path | None = None
    password_env: str = "PAYOUT_KEYSTORE_PASSWORD"
    disburser: str | None = None
    #: Alert thresholds in display units: token symbol -> amount, ``gas`` -> gas coin amount,
    #: ``energy`` (TRON) -> energy units.
    alerts: dict[str, Decimal] = field(default_factory=dict)
    #: A Safe payer (``executor = "safe"``): see :class:`SafePayerConfig`.
    safe: SafePayerConfig | None = None

    def token(self, symbol_or_address: str) -> TokenConfig | None:
        """The token named by symbol (case-insensitive) or address, or None."""
        key = symbol_or_address.strip()
        for t in self.tokens.values():
            if t.symbol.lower() == key.lower() or t.address.lower() == key.lower():
                return t
        return None


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where events are delivered and the Standard Webhooks secret they are signed with."""

    url: str
    secret: str
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceConfig:
    """The whole ``payout.toml``."""

    path: str
    networks: dict[str, NetworkConfig]
    ledger_url: str | None = None
    flush_seconds: float = 5.0
    flush_rows: int = 500
    on_failure: str = "skip"
    alert_interval_seconds: float = 60.0
    webhooks: tuple[WebhookEndpoint, ...] = ()
    #: Webhook retry schedule: first retry after this many seconds, doubling, capped, at most
    #: ``webhook_max_attempts`` attempts.
    webhook_backoff_seconds: float = 1.0
    webhook_backoff_cap_seconds: float = 600.0
    webhook_max_attempts: int = 20
    #: Requests per second an API key may make when it has no limit of its own.
    default_rate_limit: int = 100


def _get(table: dict[str, Any], key: str, kind: type, path: str, where: str, default: Any) -> Any:
    value = table.get(key, default)
    if value is default:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ServiceConfigError(path, f"{where}{key}", f"must be a {kind.__name__}")
    return value


def _secret(table: dict[str, Any], path: str, where: str) -> str:
    env = table.get("secret_env")
    if env is not None:
        value = os.environ.get(str(env))
        if not value:
            raise ServiceConfigError(path, f"{where}secret_env", f"${env} is not set")
        return value
    value = table.get("secret")
    if not isinstance(value, str) or not value:
        raise ServiceConfigError(path, f"{where}secret", "set secret_env (or secret)")
    return value


def _url(table: dict[str, Any], key: str, path: str, where: str) -> str:
    env = table.get(f"{key}_env")
    if env is not None:
        value = os.environ.get(str(env))
        if not value:
            raise ServiceConfigError(path, f"{where}{key}_env", f"${env} is not set")
        return value
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ServiceConfigError(path, f"{where}{key}", f"set {key} or {key}_env")
    return value


def _optional_url(table: dict[str, Any], key: str, path: str, where: str) -> str | None:
    if table.get(key) is None and table.get(f"{key}_env") is None:
        return None
    return _url(table, key, path, where)


_SAFE_KEYS = (
    "safe",
    "safe_service_url",
    "safe_service_url_env",
    "safe_service_api_key",
    "safe_service_api_key_env",
    "proposals_dir",
    "execute",
    "executor_keystore",
    "executor_password_env",
    "safe_poll_seconds",
)


def _safe_payer(
    name: str, table: dict[str, Any], path: str, base: Path, keystore: str | None
) -> SafePayerConfig:
    where = f"networks.{name}."
    raw = _get(table, "safe", str, path, where, None)
    if raw is None:
        raise ServiceConfigError(path, f"{where}safe", "the paying Safe's address")
    address, _code, message = check_address(Network.EVM, raw)
    if address is None:
        raise ServiceConfigError(path, f"{where}safe", message or "not an address")
    service_url = _optional_url(table, "safe_service_url", path, where)
    if service_url is not None and not service_url.startswith(("http://", "https://")):
        raise ServiceConfigError(path, f"{where}safe_service_url", "an http(s) URL")
    api_key: str | None = None
    if table.get("safe_service_api_key_env") is not None or table.get("safe_service_api_key"):
        api_key = _url(table, "safe_service_api_key", path, where)
    if service_url is not None and keystore is None:
        raise ServiceConfigError(
            path,
            f"{where}keystore",
            "a Transaction Service only accepts proposals signed by an owner or delegate: "
            "set the proposer's keystore",
        )
    execute = _get(table, "execute", bool, path, where, False)
    executor = _get(table, "executor_keystore", str, path, where, None) or keystore
    if execute and executor is None:
        raise ServiceConfigError(
            path, f"{where}executor_keystore", "execute = true needs a key that pays the gas"
        )
    proposals = _get(table, "proposals_dir", str, path, where, None)
    poll = _get(table, "safe_poll_seconds", float, path, where, 5.0)
    if poll <= 0:
        raise ServiceConfigError(path, f"{where}safe_poll_seconds", "a positive number")
    return SafePayerConfig(
        address=address,
        service_url=service_url,
        service_api_key=api_key,
        proposals_dir=base / (proposals or f"safe-proposals/{name}"),
        execute=execute,
        executor_keystore=(base / executor) if executor else None,
        executor_password_env=_get(
            table,
            "executor_password_env",
            str,
            path,
            where,
            _get(table, "password_env", str, path, where, "PAYOUT_KEYSTORE_PASSWORD"),
        ),
        poll_seconds=poll,
    )


def _network(name: str, table: dict[str, Any], path: str, base: Path) -> NetworkConfig:
    where = f"networks.{name}."
    kind_text = _get(table, "kind", str, path, where, "evm")
    try:
        kind = Network(kind_text)
    except ValueError:
        raise ServiceConfigError(path, f"{where}kind", "must be evm or tron") from None
    executor = _get(table, "executor", str, path, where, "tron" if kind is Network.TRON else "")
    executor = executor or "wallet"
    if executor not in EXECUTORS:
        raise ServiceConfigError(path, f"{where}executor", f"must be one of {EXECUTORS}")
    if (executor == "tron") != (kind is Network.TRON):
        raise ServiceConfigError(
            path, f"{where}executor", f"executor {executor} does not pay on a {kind} network"
        )
    url = _url(table, "node_url" if kind is Network.TRON else "rpc_url", path, where)
    tokens: dict[str, TokenConfig] = {}
    raw_tokens = _get(table, "tokens", dict, path, where, {})
    if not raw_tokens:
        raise ServiceConfigError(path, f"{where}tokens", "configure at least one token")
    for symbol, t in raw_tokens.items():
        tw = f"{where}tokens.{symbol}."
        if not isinstance(t, dict):
            raise ServiceConfigError(path, tw[:-1], "must be a table with address and decimals")
        address, _code, message = check_address(kind, _get(t, "address", str, path, tw, ""))
        if address is None:
            raise ServiceConfigError(path, f"{tw}address", message or "not an address")
        decimals = _get(t, "decimals", int, path, tw, None)
        if decimals is None or not 0 <= decimals <= 36:
            raise ServiceConfigError(path, f"{tw}decimals", "an integer from 0 to 36")
        tokens[symbol] = TokenConfig(symbol, address, decimals)
    keystore = _get(table, "keystore", str, path, where, None)
    disburser = _get(table, "disburser", str, path, where, None)
    if disburser is None and kind is Network.TRON:
        raise ServiceConfigError(
            path, f"{where}disburser", "the disburser's T... address (`payout tron deploy`)"
        )
    if disburser is not None:
        checked, _code, message = check_address(kind, disburser)
        if checked is None:
            raise ServiceConfigError(path, f"{where}disburser", message or "not an address")
        disburser = checked
    alerts: dict[str, Decimal] = {}
    for key, value in _get(table, "alerts", dict, path, where, {}).items():
        if key == ENERGY and kind is not Network.TRON:
            raise ServiceConfigError(
                path, f"{where}alerts.{key}", "energy alerts exist on TRON networks only"
            )
        if key not in (GAS, ENERGY) and key not in tokens:
            raise ServiceConfigError(
                path,
                f"{where}alerts.{key}",
                "name a configured token symbol, gas"
                + (" or energy" if kind is Network.TRON else ""),
            )
        try:
            threshold = Decimal(str(value))
        except InvalidOperation:
            raise ServiceConfigError(path, f"{where}alerts.{key}", "not a number") from None
        if isinstance(value, float) or not threshold.is_finite() or threshold < 0:
            raise ServiceConfigError(
                path, f"{where}alerts.{key}", 'a non-negative amount as text, e.g. "1000"'
            )
        alerts[key] = threshold
    safe: SafePayerConfig | None = None
    if executor == "safe":
        safe = _safe_payer(name, table, path, base, keystore)
    else:
        stray = [k for k in _SAFE_KEYS if k in table]
        if stray:
            raise ServiceConfigError(
                path, f"{where}{stray[0]}", 'only for a Safe payer (executor = "safe")'
            )
    return NetworkConfig(
        name=name,
        kind=kind,
        url=url,
        executor=executor,
        tokens=tokens,
        keystore=(base / keystore) if keystore else None,
        password_env=_get(table, "password_env", str, path, where, "PAYOUT_KEYSTORE_PASSWORD"),
        disburser=disburser,
        alerts=alerts,
        safe=safe,
    )


def parse_config(
    data: dict[str, Any], path: str = "payout.toml", base: Path | None = None
) -> ServiceConfig:
    """Check a parsed ``payout.toml`` (paths are relative to ``base``)."""
    base = base or Path.cwd()
    service = _get(data, "service", dict, path, "", {})
    networks_raw = _get(data, "networks", dict, path, "", {})
    if not networks_raw:
        raise ServiceConfigError(path, "networks", "configure at least one network")
    networks = {}
    for name, table in networks_raw.items():
        if not isinstance(table, dict):
            raise ServiceConfigError(path, f"networks.{name}", "must be a table")
        networks[name] = _network(name, table, path, base)
    hooks = []
    for i, hook in enumerate(_get(service, "webhooks", list, path, "service.", [])):
        where = f"service.webhooks[{i}]."
        if not isinstance(hook, dict):
            raise ServiceConfigError(path, where[:-1], "must be a table with url and secret_env")
        url = _get(hook, "url", str, path, where, "")
        if not url.startswith(("http://", "https://")):
            raise ServiceConfigError(path, f"{where}url", "an http(s) URL")
        events = tuple(_get(hook, "events", list, path, where, []))
        hooks.append(WebhookEndpoint(url, _secret(hook, path, where), events))
    on_failure = _get(service, "on_failure", str, path, "service.", "skip")
    if on_failure not in ON_FAILURE:
        raise ServiceConfigError(path, "service.on_failure", f"one of {ON_FAILURE}")
    flush_rows = _get(service, "flush_rows", int, path, "service.", 500)
    if flush_rows < 1:
        raise ServiceConfigError(path, "service.flush_rows", "at least 1")
    return ServiceConfig(
        path=path,
        networks=networks,
        ledger_url=_get(service, "ledger", str, path, "service.", None),
        flush_seconds=_get(service, "flush_seconds", float, path, "service.", 5.0),
        flush_rows=flush_rows,
        on_failure=on_failure,
        alert_interval_seconds=_get(
            service, "alert_interval_seconds", float, path, "service.", 60.0
        ),
        webhooks=tuple(hooks),
        webhook_backoff_seconds=_get(
            service, "webhook_backoff_seconds", float, path, "service.", 1.0
        ),
        webhook_backoff_cap_seconds=_get(
            service, "webhook_backoff_cap_seconds", float, path, "service.", 600.0
        ),
        webhook_max_attempts=_get(service, "webhook_max_attempts", int, path, "service.", 20),
        default_rate_limit=_get(service, "rate_limit", int, path, "service.", 100),
    )


def load_config(path: str | os.PathLike[str]) -> ServiceConfig:
    """Read and check ``payout.toml``."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServiceConfigError(str(p), "", "file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ServiceConfigError(str(p), "", f"cannot be read: {exc}") from None
    return parse_config(data, str(p), p.resolve().parent)
