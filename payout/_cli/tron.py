"""``payout tron``: TRC-20 payouts on TRON (hot wallet or native multisig), same pipeline.

    payout tron deploy     --keystore K                       deploy the disburser with tronpy
    payout tron validate   FILE --token T..                   every issue of a payout file
    payout tron plan       FILE --token T.. --payer T..       batches, energy, TRX budget
    payout tron send       FILE --token T.. --keystore K      pay from a hot wallet
    payout tron resume     --token T.. --keystore K           settle from the chain, finish
    payout tron permission --keystore OWNER --key T..:1 ...   set the multisig payout permission
    payout tron propose    FILE --token T.. --payer T.. --out DIR   unsigned multisig files
    payout tron sign       TXFILE --keystore K                add one key's signature
    payout tron review     TXFILE                             decoded batch, txIDs, weights
    payout tron broadcast  TXFILE                             send once the threshold is met
    payout tron report     [--payer T..] [--format json]      every payout with its proof
    payout tron reconcile  [--payer T..] [--token T..]        ledger vs the chain (exit 6)
    payout tron demo                                          everything on a local TRON node

Node: --node / PAYOUT_TRON_NODE_URL (a full node's HTTP API; `payout devnet tron` starts a
local one). Disburser: --disburser / PAYOUT_TRON_DISBURSER, else the registry file written by
`payout tron deploy` (deployments-tron.json).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from payout._cli.options import (
    console,
    emit_json,
    json_option,
    ledger_option,
    open_signer,
    retry_skipped_option,
    units,
)

DEFAULT_NODE = "http://127.0.0.1:8090"
F = TypeVar("F", bound=Callable[..., Any])


# --- options -------------------------------------------------------------------------------------
# click.option(...) builds a fresh Option each time it decorates, so each is declared once here.


def node_option(
    default: str | None = DEFAULT_NODE,
    help_text: str = "TRON full-node HTTP API (env PAYOUT_TRON_NODE_URL).",
) -> Callable[[F], F]:
    """``--node URL`` (env ``PAYOUT_TRON_NODE_URL``): the TRON full node every command talks to."""
    return click.option(
        "--node",
        "node_url",
        envvar="PAYOUT_TRON_NODE_URL",
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def payer_option(help_text: str, *, required: bool = False) -> Callable[[F], F]:
    """``--payer T...``: the paying account where no key says it."""
    return click.option("--payer", required=required, default=None, help=help_text)


def keystore_option(*, required: bool = False) -> Callable[[F], F]:
    """``--keystore FILE`` (env ``PAYOUT_KEYSTORE``): the only way a TRON key reaches a command."""
    return click.option(
        "--keystore",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="PAYOUT_KEYSTORE",
        required=required,
        default=None,
        help="Encrypted eth-account JSON keystore (a TRON key is a secp256k1 key; env "
        "PAYOUT_KEYSTORE). Password from PAYOUT_KEYSTORE_PASSWORD or a prompt.",
    )


def existing_file(name: str) -> Callable[[F], F]:
    """A positional argument naming a file that must exist."""
    return click.argument(name, type=click.Path(exists=True, dir_okay=False, path_type=Path))


def directory_option(*decls: str, default: Path | None, help_text: str) -> Callable[[F], F]:
    """An option naming a folder (created by the command when missing)."""
    return click.option(
        *decls,
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def _grouped(name: str, build: Callable[..., Any], *options: Callable[[F], F]) -> Callable[[F], F]:
    """Attach ``options`` to a command and pass their values to it as one argument ``name`` =
    ``build(**values)`` (``build``'s parameters are the options' parameter names)."""
    keys = tuple(inspect.signature(build).parameters)

    def deco(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            grouped = build(**{key: kwargs.pop(key) for key in keys})
            return f(*args, **{name: grouped}, **kwargs)

        for option in reversed(options):  # the first option is listed first in --help
            command = option(command)
        return command  # type: ignore[return-value]

    return deco


@dataclass(frozen=True)
class Target:
    """Where a payout goes: the node, the token and the disburser (else the registry's entry)."""

    node_url: str
    token: str
    disburser: str | None
    registry: Path

    def disburser_address(self) -> str:
        if self.disburser:
            return self.disburser
        from payout.exceptions import ConfigError
        from payout.tron.client import connect
        from payout.tron.deploy import chain_id, read_registry

        cid = chain_id(connect(self.node_url))
        found = read_registry(self.registry).get(cid)
        if found is None:
            raise ConfigError(
                f"no TRON disburser recorded for chain {cid} in {self.registry}",
                hint="deploy one with `payout tron deploy`, or pass --disburser T...",
            )
        return found

    def context(self, payer: str | None) -> Any:
        """The pipeline's context (token read, disburser code checked) for ``payer``."""
        from payout.tron.pipeline import open_context

        return open_context(
            self.node_url, token=self.token, disburser=self.disburser_address(), payer=payer
        )


@dataclass(frozen=True)
class Batching:
    """How batches are cut and priced, and how failing transfers are treated."""

    max_batch_size: int
    energy_margin: int
    mode: str

    def plan_kwargs(self) -> dict[str, Any]:
        from payout.types import PayMode

        return {
            "max_batch_size": self.max_batch_size,
            "margin_bps": self.energy_margin * 100,
            "mode": PayMode(self.mode),
        }

    def settings(self) -> Any:
        from payout.tron.executor import TronSendSettings
        from payout.types import PayMode

        return TronSendSettings(margin_bps=self.energy_margin * 100, mode=PayMode(self.mode))


registry_option = click.option(
    "--registry",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("deployments-tron.json"),
    show_default=True,
    help="TRON deployment registry (chain id -> disburser).",
)

#: --node, --token, --disburser, --registry -> ``target: Target``.
target_options = _grouped(
    "target",
    Target,
    node_option(),
    click.option(
        "--token",
        envvar="PAYOUT_TRON_TOKEN",
        required=True,
        help="TRC-20 token address T... (env PAYOUT_TRON_TOKEN).",
    ),
    click.option(
        "--disburser",
        envvar="PAYOUT_TRON_DISBURSER",
        default=None,
        help="Disburser address T... (env PAYOUT_TRON_DISBURSER; default: the registry entry "
        "for this chain). Its code is checked against the shipped artifact.",
    ),
    registry_option,
)

#: --max-batch-size, --energy-margin, --mode -> ``batching: Batching``.
batching_options = _grouped(
    "batching",
    Batching,
    click.option(
        "--max-batch-size",
        type=click.IntRange(min=1),
        default=300,
        show_default=True,
        help="Most recipients per batch (energy, 15,000 TRX fee limit and 500 KiB also bound it).",
    ),
    click.option(
        "--energy-margin",
        type=click.IntRange(min=0, max=500),
        default=20,
        show_default=True,
        help="Fee limit = simulated energy x (1 + margin %).",
    ),
    click.option(
        "--mode",
        type=click.Choice(["strict", "skip"]),
        default="strict",
        show_default=True,
        help="strict: a failing transfer reverts the batch; skip: disburseOrSkip skips and "
        "reports it.",
    ),
)


def _signer(keystore: Path) -> Any:
    from payout.tron.signer import TronSigner

    return TronSigner(open_signer(keystore, None))


def _payer(payer: str | None, keystore: Path | None) -> str:
    if payer:
        return payer
    if keystore is not None:
        from payout.tron.signer import keystore_tron_address

        return keystore_tron_address(keystore)
    raise click.UsageError("give --payer T... or --keystore FILE")


def _trx(sun: int) -> str:
    from payout.tron.energy import trx

    return trx(sun)


# --- group ---------------------------------------------------------------------------------------


@click.group()
def tron() -> None:
    """TRC-20 payouts on TRON, same pipeline as on EVM chains: hot wallet or native multisig.

    validate -> plan -> send (or propose -> sign -> broadcast) -> report; resume after a crash.
    Node: --node / PAYOUT_TRON_NODE_URL (`payout devnet tron` starts a local one).
    """


@tron.command(short_help="Deploy the disburser with tronpy; record it in the registry.")
@node_option()
@keystore_option(required=True)
@registry_option
@json_option
def deploy(node_url: str, keystore: Path, registry: Path, as_json: bool) -> None:
    """Deploy the shipped disburser with tronpy (same bytecode as on EVM chains)."""
    from payout.tron.client import connect
    from payout.tron.deploy import deploy_disburser, record_deployment

    client = connect(node_url)
    deployed = deploy_disburser(client, _signer(keystore))
    record_deployment(registry, deployed)
    data = {
        "chain_id": deployed.chain_id,
        "energy_used": deployed.energy_used,
        "registry": str(registry),
        **deployed.to_json(),
    }
    if as_json:
        emit_json(data)
        return
    console().print(
        f"Disburser deployed at [bold]{deployed.address}[/] (txID {deployed.txid}, "
        f"{deployed.energy_used:,} energy); code verified; recorded in {registry}."
    )


@tron.command(short_help="Report every issue of a payout file (exit 2 on errors).")
@existing_file("file")
@target_options
@payer_option("Payer T... (for the ledger scope; optional here).")
@json_option
def validate(file: Path, target: Target, payer: str | None, as_json: bool) -> None:
    """Report every issue of a payout file for TRON (exit 2 when there are errors)."""
    from payout.tron.pipeline import validate_file

    ctx = target.context(payer)
    manifest = validate_file(ctx, file)
    issues = [
        {
            "line": i.line,
            "column": i.column,
            "code": i.code,
            "severity": i.severity.value,
            "message": i.message,
        }
        for i in manifest.issues
    ]
    total = sum(p.amount for p in manifest.payouts)
    if as_json:
        emit_json(
            {
                "file": str(file),
                "rows": manifest.rows,
                "valid": len(manifest.payouts),
                "errors": manifest.error_count,
                "warnings": manifest.warning_count,
                "total": total,
                "token": ctx.token.address,
                "issues": issues,
            }
        )
    else:
        out = console()
        for i in manifest.issues:
            colour = "red" if i.severity.value == "error" else "yellow"
            out.print(f"[{colour}]{file}:{i.line} {i.column or ''} {i.code}[/] {i.message}")
        out.print(
            f"{manifest.rows} rows, {len(manifest.payouts)} valid, {manifest.error_count} "
            f"errors, {manifest.warning_count} warnings; total "
            f"{units(total, ctx.token.decimals)} {ctx.token.symbol}"
        )
        if manifest.error_count:
            out.print(f"Fix every listed row and run `payout tron validate {file}` again.")
    if manifest.error_count:
        # The issues are already on stdout (once; one JSON document with --json), as for
        # `payout validate`: exit 2 without repeating them as an error.
        raise click.exceptions.Exit(2)


def _print_plan(plan: Any, ctx: Any) -> None:
    from rich.table import Table

    from payout.tron.energy import disburse_tx_bytes

    out = console()
    table = Table(title=f"TRON plan: {plan.manifest.path}")
    for col in ("batch", "recipients", f"total {ctx.token.symbol}", "energy (worst case)", "bytes"):
        table.add_column(col, justify="right")
    for b in plan.batches:
        table.add_row(
            str(b.index),
            str(b.count),
            units(b.total, ctx.token.decimals),
            f"{b.cost_estimate:,}",
            f"{disburse_tx_bytes(b.count):,}",
        )
    out.print(table)
    budget = plan.budget
    model = plan.model
    out.print(
        f"Energy per recipient: {model.per_fresh:,} (new holder) / {model.per_warm:,} (holder), "
        f"per batch {model.per_batch:,} [{plan.model_source}]"
    )
    out.print(
        f"TRX pre-flight: up to {_trx(budget.needed_sun)} TRX (fee limits "
        f"{_trx(budget.fee_limits_sun)}, bandwidth {_trx(budget.bandwidth_sun)}, multisig "
        f"{_trx(budget.multisig_sun)}); payer has {_trx(budget.available_sun)} TRX"
        + ("" if budget.ok else f" [red]short by {_trx(budget.shortfall_sun)}[/]")
    )
    out.print(
        f"Token: pays {units(plan.total, ctx.token.decimals)}, payer holds "
        f"{units(plan.token_balance, ctx.token.decimals)} {ctx.token.symbol}"
        + ("" if plan.token_ok else " [red](not enough)[/]")
    )
    out.print(
        f"Separate transfers instead: ~{plan.separate_energy:,} energy and "
        f"{plan.separate_bytes:,} bytes"
    )
    for note in plan.notes:
        out.print(f"[yellow]{note}[/]")


@tron.command(short_help="Plan batches; show energy, TRX and token pre-flight.")
@existing_file("file")
@target_options
@payer_option("Payer T... (default: the keystore's address).")
@keystore_option()
@ledger_option
@batching_options
@retry_skipped_option
@json_option
def plan(
    file: Path,
    target: Target,
    payer: str | None,
    keystore: Path | None,
    ledger_url: str | None,
    batching: Batching,
    retry_skipped: bool,
    as_json: bool,
) -> None:
    """Plan energy- and size-bounded batches and show the TRX and token pre-flight.

    The plan is stored in the ledger (send and propose pick it up). Rows set aside as skipped
    are counted as still owed and planned again only with --retry-skipped (which sets them back
    to planned in the ledger)."""
    from payout.ledger import Ledger
    from payout.tron.pipeline import plan_file

    ctx = target.context(_payer(payer, keystore))
    with Ledger.open(ledger_url) as ledger:
        result = plan_file(ctx, ledger, file, **batching.plan_kwargs(), retry_skipped=retry_skipped)
    if as_json:
        emit_json(result.to_json())
    else:
        from payout._cli.render import skipped_owed_note

        _print_plan(result, ctx)
        if note := skipped_owed_note(result.skipped_still_owed):
            console().print(f"[yellow]Still owed[/]: {note}")


def _progress(as_json: bool, token: Any) -> Any:
    """Progress lines on stderr in plain words; amounts in ``token``'s units with its symbol."""
    if as_json:
        return None
    from payout.amount import format_amount
    from payout.tron.executor import EXECUTED_ELSEWHERE

    err = console(stderr=True)

    def on_event(what: str, data: dict[str, Any]) -> None:
        batch = f"batch {data.get('batch')}"
        if what == "confirmed":
            if data["txid"] == EXECUTED_ELSEWHERE:
                err.print(f"{batch} was already executed on chain by another transaction")
            else:
                err.print(f"{batch} confirmed: txID {data['txid']} ({data['energy']:,} energy)")
        elif what == "approved":
            amount = format_amount(data["amount"], token.decimals, symbol=token.symbol)
            err.print(f"approved {amount} for the disburser: txID {data['txid']}")
        elif what == "failed":
            err.print(f"{batch} failed on chain: {data.get('error', '')}")
        elif what == "rebroadcast":
            err.print(f"{batch} from an earlier run sent again as signed: txID {data['txid']}")
        elif what == "released":
            err.print(f"{batch} expired without executing: its rows are owed again")
        elif what == "waiting":
            err.print(
                f"{batch} is not executed and not expired on the node yet: its transaction "
                f"expires at {data['expires_ms']} ms, the node's head block is at "
                f"{data['head_ms']} ms. Its rows stay submitted; run `payout tron resume` again "
                "once the node's head block time has passed the expiration."
            )

    return on_event


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
        return
    from rich.table import Table

    table = Table(title="TRON batches")
    for col in ("batch", "recipients", "status", "txID", "energy", "fee TRX"):
        table.add_column(col)
    for r in [*report.settled, *report.results]:
        table.add_row(
            str(r.index),
            str(r.count),
            r.status.value,
            r.txid or "",
            f"{r.energy_used:,}",
            _trx(r.fee_sun),
        )
    console().print(table)
    data = report.to_json()
    console().print(
        f"Paid {data['paid']} recipient(s); {data['energy_used']:,} energy, "
        f"{_trx(data['fee_sun'])} TRX burned."
    )


@tron.command(short_help="Pay a file from a hot wallet (resumable, never twice).")
@existing_file("file")
@target_options
@keystore_option(required=True)
@ledger_option
@batching_options
@retry_skipped_option
@json_option
def send(
    file: Path,
    target: Target,
    keystore: Path,
    ledger_url: str | None,
    batching: Batching,
    retry_skipped: bool,
    as_json: bool,
) -> None:
    """Pay a file from a hot wallet (settles anything in flight first; resumable). Rows set
    aside as skipped (skipped on chain earlier) are paid again only with --retry-skipped."""
    from payout.ledger import Ledger
    from payout.tron.pipeline import send_file

    signer = _signer(keystore)
    ctx = target.context(signer.address)
    with Ledger.open(ledger_url) as ledger:
        report = send_file(
            ctx,
            ledger,
            signer,
            file,
            settings=batching.settings(),
            max_batch_size=batching.max_batch_size,
            on_event=_progress(as_json, ctx.token),
            retry_skipped=retry_skipped,
        )
    _print_report(report, as_json)
    if not as_json and report.skipped_still_owed:
        console().print(
            f"[yellow]Still owed[/]: {report.skipped_still_owed} row(s) of this file are set "
            "aside as skipped; pay them with `payout tron send --retry-skipped` (after fixing "
            "why they failed)."
        )


@tron.command(short_help="Settle in-flight batches from the chain, then finish.")
@target_options
@keystore_option()
@payer_option("Payer T... (settle only, without a key).")
@ledger_option
@batching_options
@json_option
def resume(
    target: Target,
    keystore: Path | None,
    payer: str | None,
    ledger_url: str | None,
    batching: Batching,
    as_json: bool,
) -> None:
    """Settle submitted batches from the chain (executed()? receipt? expired?), then, with a
    key, send the batches still planned (as they were planned). Never pays twice."""
    from payout.ledger import Ledger
    from payout.tron.pipeline import resume as do_resume

    signer = _signer(keystore) if keystore is not None else None
    ctx = target.context(signer.address if signer else _payer(payer, None))
    with Ledger.open(ledger_url) as ledger:
        report = do_resume(
            ctx,
            ledger,
            signer,
            settings=batching.settings(),
            on_event=_progress(as_json, ctx.token),
        )
    _print_report(report, as_json)


@tron.command(short_help="Set the account's multisig payout permission.")
@node_option()
@keystore_option(required=True)
@click.option(
    "--key",
    "keys",
    multiple=True,
    required=True,
    help="A key of the payout permission as T...:WEIGHT (repeat, 1-5 keys).",
)
@click.option("--threshold", type=click.IntRange(min=1), required=True)
@click.option("--name", default="payout", show_default=True, help="Permission name.")
@json_option
def permission(
    node_url: str, keystore: Path, keys: tuple[str, ...], threshold: int, name: str, as_json: bool
) -> None:
    """Install (or replace) the account's multisig payout permission: TriggerSmartContract only.

    Signed by the account's owner key (the keystore). Costs the chain's permission-update fee
    (100 TRX on mainnet). Prints the permission id to pass to `propose`.
    """
    from payout.tron.client import connect
    from payout.tron.permission import PayoutPermission, PermissionKey, set_payout_permission

    parsed = []
    for item in keys:
        address, _, weight = item.partition(":")
        parsed.append(PermissionKey(address.strip(), int(weight or 1)))
    result = set_payout_permission(
        connect(node_url),
        _signer(keystore),
        PayoutPermission(keys=tuple(parsed), threshold=threshold, name=name),
    )
    if as_json:
        emit_json(result)
    else:
        console().print(
            f"Permission {result['permission_id']} ({name}) set on {result['account']}: "
            f"threshold {threshold}, {len(parsed)} keys, TriggerSmartContract only "
            f"(txID {result['txid']})."
        )


@tron.command(short_help="Write unsigned multisig transaction files, one per batch.")
@existing_file("file")
@target_options
@payer_option("The multisig account T... that pays.", required=True)
@click.option("--permission-id", type=click.IntRange(min=2, max=9), required=True)
@directory_option(
    "--out", "out_dir", default=Path("tron-proposals"), help_text="Where the files are written."
)
@click.option(
    "--expiration-hours",
    type=click.FloatRange(min=0.01, max=24),
    default=23,
    show_default=True,
    help="How long key holders have to sign (the chain allows at most 24 h).",
)
@ledger_option
@batching_options
@json_option
def propose(
    file: Path,
    target: Target,
    payer: str,
    permission_id: int,
    out_dir: Path,
    expiration_hours: float,
    ledger_url: str | None,
    batching: Batching,
    as_json: bool,
) -> None:
    """Write one unsigned multisig transaction file per batch (approve + disburse)."""
    from payout.ledger import Ledger
    from payout.tron.pipeline import propose_file

    ctx = target.context(payer)
    with Ledger.open(ledger_url) as ledger:
        result, files = propose_file(
            ctx,
            ledger,
            file,
            out_dir,
            permission_id=permission_id,
            expiration_ms=int(expiration_hours * 3600 * 1000),
            **batching.plan_kwargs(),
        )
    if as_json:
        emit_json({"plan": result.to_json(), "files": [str(f) for f in files]})
        return
    _print_plan(result, ctx)
    for f in files:
        console().print(f"wrote {f}")
    console().print("Next: each key holder runs `payout tron sign FILE --keystore KEY`.")


@tron.command(short_help="Add one key's signature to a proposal file (offline).")
@existing_file("txfile")
@keystore_option(required=True)
@json_option
def sign(txfile: Path, keystore: Path, as_json: bool) -> None:
    """Add this key's signature to every transaction of a proposal file (offline)."""
    from payout.tron import multisig

    proposal = multisig.read_proposal(txfile)
    signer = _signer(keystore)
    multisig.sign(proposal, signer)
    multisig.write_proposal(txfile, proposal)
    report = multisig.review(proposal)
    weights = [t.weight for t in report.transactions]
    if as_json:
        emit_json({"signer": signer.address, "weights": weights, **report.to_json()})
        return
    console().print(
        f"Signed by {signer.address}: weight {min(weights)} of {report.threshold} "
        + ("(ready to broadcast)" if report.ready else "(more signatures needed)")
    )


def _proposal_token(proposal: Any, report: Any, node_url: str) -> tuple[Any, str]:
    """The token a proposal pays (as its signed disburse call names it), read through
    ``node_url``: (TokenInfo, "") or (None, why not).

    Review works offline too: without a readable node, amounts stay in base units, labelled."""
    from payout.exceptions import PayoutError
    from payout.tron.client import connect
    from payout.tron.token import token_info

    signed = [t.details["token"] for t in report.transactions if "token" in t.details]
    token = signed[0] if signed else proposal.batch.get("token")
    if not token:
        return None, "the proposal names no token"
    try:
        return token_info(connect(node_url, timeout=10.0), str(token)), ""
    except (PayoutError, ValueError) as exc:
        return None, f"the token's decimals could not be read from {node_url} ({exc})"


@tron.command(short_help="Decode a proposal: batch, txIDs, signers and weights.")
@existing_file("txfile")
@node_option(
    help_text="TRON full node to read the token's symbol and decimals from (env "
    "PAYOUT_TRON_NODE_URL); unreachable: amounts in base units."
)
@json_option
def review(txfile: Path, node_url: str, as_json: bool) -> None:
    """Decode a proposal: the batch (token, batch id, recipients, amounts) and the txIDs being
    signed, recomputed from raw_data; signers and weights so far. Amounts in token units when
    the node answers (the token's decimals and symbol), else in base units."""
    from rich.table import Table

    from payout.amount import format_amount
    from payout.tron import multisig

    proposal = multisig.read_proposal(txfile)
    report = multisig.review(proposal)
    token, unread = _proposal_token(proposal, report, node_url)

    def amount(base: int) -> str:
        if token is None:
            return f"{base} base units"
        return format_amount(base, token.decimals, symbol=token.symbol)

    if as_json:
        data = report.to_json()
        # Base units stay the machine-readable figures; token units are added next to them.
        data["token"] = (
            {"address": token.address, "symbol": token.symbol, "decimals": token.decimals}
            if token is not None
            else {"address": proposal.batch.get("token"), "unread": unread}
        )
        if token is not None:
            for t in data["transactions"]:
                details = t["details"]
                for key in ("amount", "total"):
                    if key in details:
                        details[f"{key}_units"] = format_amount(details[key], token.decimals)
                for r in details.get("recipients", []):
                    r["amount_units"] = format_amount(r["amount"], token.decimals)
        emit_json(data)
        return
    out = console()
    out.print(
        f"Payer {report.payer}, permission {report.permission_id} "
        f"({proposal.permission_name}), threshold {report.threshold}"
    )
    if token is None:
        out.print(f"[yellow]amounts in base units[/]: {unread}")
    for t in report.transactions:
        out.print(
            f"[bold]{t.label}[/] -> {t.function} on {t.contract}\n  txID {t.txid}\n"
            f"  fee limit {_trx(t.fee_limit_sun)} TRX; signed by {len(t.signers)} key(s), "
            f"weight {t.weight}/{report.threshold}"
        )
        if t.function == "approve":
            out.print(f"  approve {amount(t.details['amount'])} to {t.details['spender']}")
        if t.function in ("disburse", "disburseOrSkip"):
            out.print(f"  token {t.details['token']}, batch id {t.details['batch_id']}")
            table = Table()
            table.add_column("#", justify="right")
            table.add_column("recipient")
            table.add_column(
                f"amount ({token.symbol})" if token is not None else "amount (base units)",
                justify="right",
            )
            for i, r in enumerate(t.details["recipients"]):
                shown = (
                    format_amount(r["amount"], token.decimals)
                    if token is not None
                    else str(r["amount"])
                )
                table.add_row(str(i), r["recipient"], shown)
            out.print(table)
            out.print(f"  total {amount(t.details['total'])}")
    for p in report.problems:
        out.print(f"[red]problem:[/] {p}")
    out.print("ready to broadcast" if report.ready else "not ready")


@tron.command(short_help="Send a proposal once its signatures meet the threshold.")
@existing_file("txfile")
@node_option()
@ledger_option
@json_option
def broadcast(txfile: Path, node_url: str, ledger_url: str | None, as_json: bool) -> None:
    """Send a proposal once its signatures reach the permission's threshold on chain."""
    from payout.ledger import Ledger
    from payout.tron import multisig
    from payout.tron.client import connect

    proposal = multisig.read_proposal(txfile)
    with Ledger.open(ledger_url) as ledger:
        result = multisig.broadcast_proposal(connect(node_url), ledger, proposal)
    if as_json:
        emit_json(result.to_json())
        return
    console().print(
        f"Batch {result.index} confirmed: {result.count} recipients, txID {result.txid}, "
        f"{result.energy_used:,} energy, {_trx(result.fee_sun)} TRX."
    )


@tron.command(short_help="Everything end to end on a local TRON node (~5 s).")
@node_option(None, "Use this node instead of starting a local one.")
@click.option(
    "--payees",
    type=click.IntRange(min=1, max=5000),
    default=300,
    show_default=True,
    help="Recipients to pay (new holders).",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Most recipients per batch.",
)
@directory_option(
    "--workdir",
    default=None,
    help_text="Where the payout file and ledger go (default: a temporary folder).",
)
@click.option(
    "--block-interval",
    is_flag=True,
    help="Produce a block every 3 s like mainnet (default: instant blocks).",
)
@json_option
def demo(
    node_url: str | None,
    payees: int,
    max_batch_size: int,
    workdir: Path | None,
    block_interval: bool,
    as_json: bool,
) -> None:
    """TRC-20 payout end to end on a local TRON node: deploy a USDT-on-TRON-like token and the
    disburser with tronpy, pay PAYEES recipients in batches, compare with separate transfers."""
    from payout.tron.demo import run

    result = run(
        node_url=node_url,
        payees=payees,
        max_batch_size=max_batch_size,
        workdir=workdir,
        instant=not block_interval,
        on_event=None if as_json else _demo_echo,
    )
    if as_json:
        emit_json(result)


def _demo_echo(line: str) -> None:
    console().print(line)


@tron.command(short_help="Every TRON payout with its on-chain proof (CSV / JSON).")
@node_option()
@ledger_option
@payer_option("Only this payer T....")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File."
)
@json_option
def report(
    node_url: str,
    ledger_url: str | None,
    payer: str | None,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """Every TRON payout with its proof (payout id, recipient, amount, token, chain, txID, block,
    log index, batch id, energy share, status) as CSV or JSON."""
    import sys

    from payout.ledger import Ledger
    from payout.report import report_rows, write_csv, write_json
    from payout.tron.client import connect
    from payout.tron.token import token_info
    from payout.types import Network

    client = connect(node_url)
    cache: dict[str, tuple[str, int]] = {}

    def lookup(token: str) -> tuple[str, int]:
        if token not in cache:
            info = token_info(client, token)
            cache[token] = (info.symbol, info.decimals)
        return cache[token]

    with Ledger.open(ledger_url) as ledger:
        scopes = [
            s
            for s in ledger.scopes()
            if s.network is Network.TRON and (payer is None or s.payer == payer)
        ]
        rows = report_rows(ledger, scopes, lookup)
        writer = write_json if (as_json or fmt == "json") else write_csv
        if output is None:
            writer(rows, sys.stdout)
        else:
            from payout.files import open_private

            with open_private(output, newline="") as fh:
                count = writer(rows, fh)
            console(stderr=True).print(f"wrote {count} rows to {output}")


@tron.command(short_help="Ledger against the chain's receipts (exit 6 on a mismatch).")
@node_option()
@ledger_option
@payer_option("Only this payer T....")
@click.option("--token", default=None, help="Only this token T....")
@json_option
def reconcile(
    node_url: str, ledger_url: str | None, payer: str | None, token: str | None, as_json: bool
) -> None:
    """Report every mismatch between the ledger's TRON rows and the receipts of the disburse
    txIDs it recorded: missing, extra, wrong amount, wrong recipient, unsettled.

    Exit status 6 when there is any mismatch.
    """
    from payout._cli.reconcile import print_scope, scope_json
    from payout.config import resolve_ledger_url
    from payout.ledger import Ledger
    from payout.tron.client import connect
    from payout.tron.reconcile import reconcile as run
    from payout.types import Network

    client = connect(node_url)
    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        scopes = [
            s
            for s in ledger.scopes()
            if s.network is Network.TRON
            and (payer is None or s.payer == payer)
            and (token is None or s.token == token)
        ]
        reports = [run(client, ledger, s) for s in scopes]
    ok = all(r.ok for r in reports)
    if as_json:
        emit_json({"network": "tron", "ok": ok, "scopes": [scope_json(r) for r in reports]})
    else:
        out = console()
        if not reports:
            out.print("No TRON payouts in the ledger.")
        for r in reports:
            print_scope(out, r)
    if not ok:
        raise click.exceptions.Exit(6)
