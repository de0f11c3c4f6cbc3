"""Helpers of the service tests with several networks: payout.toml tables of EVM and TRON
networks."""

from __future__ import annotations

from pathlib import Path

from support.tron_payout import PASSWORD as TRON_PASSWORD
from support.tron_payout import TronEnv

#: The TRON payer's keystore password reaches `payout serve` through this variable only.
TRON_PASSWORD_ENV = "PAYOUT_TEST_TRON_PASSWORD"


def tron_env_vars() -> dict[str, str]:
    return {TRON_PASSWORD_ENV: TRON_PASSWORD}


def network_table(
    name: str,
    *,
    kind: str,
    url: str,
    keystore: Path,
    disburser: str,
    token: tuple[str, str],
    password_env: str = "PAYOUT_KEYSTORE_PASSWORD",
    alerts: dict[str, str] | None = None,
) -> str:
    """``[networks.NAME]`` of a hot-wallet payer; ``token`` is (symbol, address), 6 decimals."""
    alert_lines = "".join(f'{k} = "{v}"\n' for k, v in (alerts or {}).items())
    return f"""
[networks.{name}]
kind = "{kind}"
{"node_url" if kind == "tron" else "rpc_url"} = "{url}"
executor = "{"tron" if kind == "tron" else "wallet"}"
keystore = "{keystore}"
password_env = "{password_env}"
disburser = "{disburser}"
[networks.{name}.tokens.{token[0]}]
address = "{token[1]}"
decimals = 6
[networks.{name}.alerts]
{alert_lines}
"""


def tron_network(env: TronEnv, name: str = "tron", alerts: dict[str, str] | None = None) -> str:
    """``[networks.NAME]`` paying ``env``'s token (USDT) from its payer with the TRON executor."""
    return network_table(
        name,
        kind="tron",
        url=env.node.url,
        keystore=env.payer_keystore,
        disburser=env.disburser,
        token=("USDT", env.token),
        password_env=TRON_PASSWORD_ENV,
        alerts=alerts,
    )


def service_header(ledger_url: str, webhook_url: str | None, flush_seconds: float = 0.3) -> str:
    hooks = (
        f'[[service.webhooks]]\nurl = "{webhook_url}"\nsecret_env = "PAYOUT_TEST_WEBHOOK_SECRET"\n'
        if webhook_url
        else ""
    )
    return f"""[service]
ledger = "{ledger_url}"
flush_seconds = {flush_seconds}
flush_rows = 500
webhook_backoff_seconds = 0.05
webhook_backoff_cap_seconds = 0.5
rate_limit = 1000
{hooks}
"""
