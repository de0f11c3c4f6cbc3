"""Options, parameter types and renderers shared by every command group.

Environment variables (every option below can also come from them):
  PAYOUT_RPC_URL               EVM JSON-RPC endpoint
  PAYOUT_RPC_RETRIES           retries of a request whose answer was lost (default 7)
  PAYOUT_RPC_RETRY_SECONDS     time bound of those retries per request (default 120)
  PAYOUT_SQLITE_TIMEOUT        seconds a SQLite ledger writer waits for the lock (default 30)
  PAYOUT_LEDGER_URL            ledger database URL (sqlite:///path or postgresql://...)
  PAYOUT_KEYSTORE_PASSWORD     password for an encrypted keystore (else prompted)
  PAYOUT_KEYSTORE              keystore file of the payer
  PAYOUT_ACCOUNT               ape account alias of the payer
  PAYOUT_TOKEN                 default token address
  PAYOUT_DISBURSER             disburser address (default: the CREATE2 address, same everywhere)
  PAYOUT_SAFE_SERVICE_URL      Safe Transaction Service base URL
  PAYOUT_SAFE_SERVICE_API_KEY  its API key
  PAYOUT_TRON_NODE_URL         TRON full-node HTTP API endpoint
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


# --- output ---------------------------------------------------------------------------------------


def _mark_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj["json"] = True
    return value


def json_option(f: F) -> F:
    """``--json``: machine-readable output on stdout (errors too, as ``{"error": ...}``)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_mark_json,
        is_eager=True,
        help="Print JSON instead of tables.",
    )(f)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (ints stay ints: amounts are base units)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def console(*, stderr: bool = False) -> Any:
    """A rich console (stdout for results, stderr for progress)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def units(amount: int, decimals: int) -> str:
    """Base units as token units, exactly (``12500000``, 6 -> ``12.50``)."""
    from payout.amount import format_amount

    return format_amount(amount, decimals)


def gwei(wei: int) -> str:
    return f"{Decimal(wei) / Decimal(10**9):.4f}".rstrip("0").rstrip(".")


def eth(wei: int) -> str:
    return f"{Decimal(wei) / Decimal(10**18):.8f}".rstrip("0").rstrip(".") or "0"


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


# --- common options -------------------------------------------------------------------------------


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


class AddressType(click.ParamType):
    """An EVM address (EIP-55 checksum enforced when mixed case); returns the checksummed form."""

    name = "ADDRESS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from payout.address import normalize_evm_address
        from payout.exceptions import PayoutError

        try:
            return normalize_evm_address(str(value))
        except PayoutError as exc:
            self.fail(str(exc), param, ctx)


ADDRESS = AddressType()


class AnyAddressType(click.ParamType):
    """An EVM (``0x``, EIP-55 when mixed case) or TRON (``T...``) address, in canonical form."""

    name = "ADDRESS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from payout.address import normalize_address
        from payout.exceptions import PayoutError
        from payout.types import Network

        text = str(value).strip()
        network = Network.EVM if text[:2].lower() == "0x" else Network.TRON
        try:
            return normalize_address(network, text)
        except PayoutError as exc:
            self.fail(str(exc), param, ctx)


#: Filters over a ledger that may hold EVM and TRON scopes.
ANY_ADDRESS = AnyAddressType()


def tron_node_option(f: F) -> F:
    """``--tron-node URL`` for commands that also look at TRON scopes of the ledger."""
    return click.option(
        "--tron-node",
        "tron_node_url",
        envvar="PAYOUT_TRON_NODE_URL",
        default=None,
        help="TRON full-node HTTP endpoint for the ledger's TRON scopes "
        "(env PAYOUT_TRON_NODE_URL).",
    )(f)


def token_option(required: bool = True) -> Callable[[F], F]:
    def deco(f: F) -> F:
        return click.option(
            "--token",
            type=ADDRESS,
            envvar="PAYOUT_TOKEN",
            required=required,
            help="ERC-20 token address (env PAYOUT_TOKEN); decimals and symbol are read from the "
            "chain.",
        )(f)

    return deco


def disburser_option(f: F) -> F:
    return click.option(
        "--disburser",
        type=ADDRESS,
        envvar="PAYOUT_DISBURSER",
        default=None,
        help="Disburser address (default: the deterministic CREATE2 address, the same on every "
        "chain). Its code is always checked against the shipped artifact.",
    )(f)


def signer_options(f: F) -> F:
    """``--keystore FILE`` or ``--account ALIAS`` (never a raw key)."""
    f = click.option(
        "--account",
        "account_alias",
        envvar="PAYOUT_ACCOUNT",
        default=None,
        help="ape account alias (keyfile or hardware wallet plugin) (env PAYOUT_ACCOUNT).",
    )(f)
    f = click.option(
        "--keystore",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="PAYOUT_KEYSTORE",
        default=None,
        help="eth-account JSON keystore of the payer (env PAYOUT_KEYSTORE); password from "
        "PAYOUT_KEYSTORE_PASSWORD or a prompt.",
    )(f)
    return f


def payer_option(f: F) -> F:
    return click.option(
        "--payer",
        type=ADDRESS,
        default=None,
        help="Payer address, when no signer is given (read-only commands). Defaults to the "
        "keystore's / account's address.",
    )(f)


def open_signer(keystore: Path | None, account_alias: str | None) -> Any:
    """The signer chosen on the command line (prompts for the password on a terminal)."""
    from payout.signer import open_signer as _open

    def prompt(label: str) -> str:
        return str(click.prompt(label, hide_input=True, err=True))

    return _open(
        keystore=keystore,
        alias=account_alias,
        prompt=prompt if is_interactive() else None,
    )


def resolve_payer(
    payer: str | None, keystore: Path | None, account_alias: str | None
) -> str | None:
    """The payer address without unlocking anything (keystores store their address in clear)."""
    if payer:
        return payer
    if keystore is not None:
        from payout.signer import keystore_address

        return keystore_address(keystore)
    if account_alias is not None:
        from payout.signer import ape_alias_address

        return ape_alias_address(account_alias)
    return None


def retry_skipped_option(f: F) -> F:
    """``--retry-skipped``: plan the rows the ledger set aside as skipped again."""
    return click.option(
        "--retry-skipped",
        is_flag=True,
        default=False,
        help="Also pay the rows of this file the ledger has as skipped (excluded before sending "
        "or skipped on chain by an earlier run): they are still owed and are planned again only "
        "with this flag.",
    )(f)


def plan_options(f: F) -> F:
    """Batch bounds, pay mode and whether rows set aside as skipped are planned again."""
    f = retry_skipped_option(f)
    f = click.option(
        "--on-failure",
        type=click.Choice(["refuse", "exclude", "skip"]),
        default="refuse",
        show_default=True,
        help="When simulation predicts failing rows (e.g. a blacklisted recipient): refuse, "
        "exclude those rows (they stay owed, status skipped), or pay in skip-and-report mode "
        "(disburseOrSkip: failing transfers are skipped on chain and reported).",
    )(f)
    f = click.option(
        "--gas-margin",
        type=click.IntRange(min=0),
        default=None,
        help="Gas kept free under the 16,777,216 per-transaction cap (default 1,000,000; "
        "env PAYOUT_GAS_MARGIN).",
    )(f)
    f = click.option(
        "--max-batch-size",
        type=click.IntRange(min=1),
        default=None,
        help="Most recipients in one batch (default 500; env PAYOUT_MAX_BATCH_SIZE).",
    )(f)
    return f


def send_options(f: F) -> F:
    """Confirmations, stuck-transaction replacement, fee caps."""
    f = click.option(
        "--max-fee-gwei",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Never offer a max fee per gas above this (replacements included).",
    )(f)
    f = click.option(
        "--fee-bump",
        type=click.IntRange(min=10, max=500),
        default=20,
        show_default=True,
        help="Percent fee increase when replacing a stuck transaction.",
    )(f)
    f = click.option(
        "--replace-after",
        type=click.FloatRange(min=0),
        default=180.0,
        show_default=True,
        help="Seconds without a receipt before a transaction is replaced with higher fees.",
    )(f)
    f = click.option(
        "--confirmations",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Blocks that must include/follow a batch before it counts as confirmed.",
    )(f)
    return approve_option(
        "Approve the disburser for what the whole run still needs (one approval), or for each "
        "batch's total just before it."
    )(f)


def approve_option(help: str) -> Callable[[F], F]:
    """``--approve run|batch`` (how the disburser is approved; ``plan`` simulates it)."""
    return click.option(
        "--approve",
        "approval",
        type=click.Choice(["run", "batch"]),
        default="run",
        show_default=True,
        help=help,
    )


@dataclass(frozen=True)
class PayoutFileArgs:
    """The options ``plan`` and ``send`` share (see :func:`payout_file_options`)."""

    file: Path
    rpc_url: str
    token: str | None
    disburser: str | None
    keystore: Path | None
    account_alias: str | None
    ledger_url: str | None
    on_failure: str
    gas_margin: int | None
    max_batch_size: int | None
    retry_skipped: bool = False


def payout_file_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """FILE, --rpc-url, --token, --disburser, the signer, the ledger and the batch bounds, handed
    to the command as one :class:`PayoutFileArgs` (its first argument, ``args``)."""
    names = tuple(PayoutFileArgs.__dataclass_fields__)

    @functools.wraps(f)
    def command(**kwargs: Any) -> Any:
        args = PayoutFileArgs(**{name: kwargs.pop(name) for name in names})
        return f(args, **kwargs)

    decorated: Callable[..., Any] = command
    for deco in reversed(
        (
            click.argument("file", type=click.Path(dir_okay=False, path_type=Path)),
            rpc_option,
            token_option(required=False),
            disburser_option,
            signer_options,
            ledger_option,
            plan_options,
        )
    ):
        decorated = deco(decorated)
    return decorated


@dataclass
class PayoutFile:
    """A payout file ready to plan: settings, plan options, the checked disburser, the rows."""

    settings: Any
    opts: Any
    target: Any
    manifest: Any


def open_payout_file(args: PayoutFileArgs, *, approval: str) -> PayoutFile:
    """Load the settings, check the disburser's code and validate the file with the token's
    decimals from the chain; notes on stderr the TRON rows this EVM command leaves alone."""
    from payout import pipeline
    from payout.config import load_settings

    settings = load_settings(
        ledger_url=args.ledger_url, max_batch_size=args.max_batch_size, gas_margin=args.gas_margin
    )
    opts = pipeline.PlanOptions.from_settings(
        settings, on_failure=args.on_failure, approval=approval, retry_skipped=args.retry_skipped
    )
    target = pipeline.open_target(args.rpc_url, args.disburser)
    manifest = pipeline.validate(
        args.file, target.chain, args.token, disburser=target.disburser.address
    )
    if other := pipeline.other_network_rows(manifest):
        click.echo(f"Note: {other} TRON row(s) are left to `payout tron`.", err=True)
    return PayoutFile(settings, opts, target, manifest)


def send_settings(
    confirmations: int, replace_after: float, fee_bump: int, max_fee_gwei: float | None
) -> Any:
    from payout.wallet import SendSettings

    cap = int(Decimal(str(max_fee_gwei)) * 10**9) if max_fee_gwei is not None else None
    return SendSettings(
        confirmations=confirmations,
        replace_after=replace_after,
        fee_bump_percent=fee_bump,
        max_fee_cap=cap,
        poll_interval=0.25 if replace_after < 5 else 1.0,
    )
