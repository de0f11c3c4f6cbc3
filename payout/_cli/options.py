"""Options and parameter types shared by every command group.

Environment variables (every option below can also come from them):
  PAYOUT_RPC_URL               EVM JSON-RPC endpoint
  PAYOUT_LEDGER_URL            ledger database URL (sqlite:///path or postgresql://...)
  PAYOUT_KEYSTORE_PASSWORD     password for an encrypted keystore (else prompted)
  PAYOUT_SAFE_SERVICE_URL      Safe Transaction Service base URL
  PAYOUT_SAFE_SERVICE_API_KEY  its API key
  PAYOUT_TRON_NODE_URL         TRON full-node HTTP API endpoint
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(f)


def rpc_option(f: F) -> F:
    return click.option(
        "--rpc-url",
        envvar="PAYOUT_RPC_URL",
        default="http://127.0.0.1:8545",
        show_default=True,
        help="EVM JSON-RPC endpoint (env PAYOUT_RPC_URL).",
    )(f)


def ledger_option(f: F) -> F:
    return click.option(
        "--ledger",
        "ledger_url",
        envvar="PAYOUT_LEDGER_URL",
        default=None,
        help="Ledger database URL: sqlite:///path.sqlite or postgresql://user@host/db "
        "(env PAYOUT_LEDGER_URL; default: .payout/ledger.sqlite in the current folder).",
    )(f)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (ints stay ints: amounts are base units)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
