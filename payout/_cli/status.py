"""``payout status`` and ``payout report``: what the ledger knows, per network, payer and token.

A ledger may mix EVM scopes (hot wallet, Safe) and TRON scopes. Token symbols and decimals come
from each scope's own chain (``--rpc-url`` for the EVM chain it serves, ``--tron-node`` for TRON);
a scope whose chain cannot be read is shown in base units, labelled, with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from payout._cli.options import (
    ANY_ADDRESS,
    console,
    emit_json,
    json_option,
    ledger_option,
    rpc_option,
    tron_node_option,
    units,
)


def _ledger_view(f: Any) -> Any:
    """The ledger, where to read token facts (EVM endpoint, TRON node) and the scope filters."""
    f = click.option("--chain-id", type=int, default=None, help="Only this chain.")(f)
    f = click.option(
        "--token", type=ANY_ADDRESS, default=None, help="Only this token (0x... or T...)."
    )(f)
    f = click.option(
        "--payer", type=ANY_ADDRESS, default=None, help="Only this payer (0x... or T...)."
    )(f)
    return ledger_option(rpc_option(tron_node_option(f)))


def _scopes(ledger: Any, payer: str | None, token: str | None, chain_id: int | None) -> list[Any]:
    return [
        s
        for s in ledger.scopes()
        if (payer is None or s.payer == payer)
        and (token is None or s.token == token)
        and (chain_id is None or s.chain_id == chain_id)
    ]


def _resolver(rpc_url: str, tron_node_url: str | None) -> Any:
    from payout.report import TokenResolver

    return TokenResolver(rpc_url, tron_node_url)


def _print_notes(resolver: Any) -> None:
    for note in resolver.notes:
        click.echo(f"Note: amounts in base units where {note}.", err=True)


#: What to run for batches in flight, by executor.
_RESUME_HINT = {
    "wallet": "`payout resume` settles them from the chain",
    "safe": "`payout resume` settles them from the chain",
    "tron": "`payout resume --tron-node URL` (or `payout tron resume`) settles them",
}


@click.command()
@_ledger_view
@json_option
def status(
    ledger_url: str | None,
    rpc_url: str,
    tron_node_url: str | None,
    payer: str | None,
    token: str | None,
    chain_id: int | None,
    as_json: bool,
) -> None:
    """Rows per status with totals, batches in flight (resume them) and batches still to send,
    for every scope of the ledger (EVM hot wallet, Safe, TRON)."""
    from payout.config import resolve_ledger_url
    from payout.ledger import Ledger
    from payout.report import status as ledger_status

    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        summaries = ledger_status(ledger, _scopes(ledger, payer, token, chain_id))
    resolver = _resolver(rpc_url, tron_node_url)
    facts = [(s, resolver(s.scope)) for s in summaries]
    if as_json:
        emit_json(
            {
                "ledger": resolve_ledger_url(ledger_url).split("://")[0],
                "scopes": [_status_json(s, info, resolver.reason(s.scope)) for s, info in facts],
            }
        )
        return
    out = console()
    if not summaries:
        out.print("The ledger has no payouts yet.")
        return
    from rich.table import Table

    for s, info in facts:
        if info:
            label, unit = f"{info[0]}, {info[1]} decimals", info[0]
        else:
            label, unit = "symbol unknown: amounts in base units", "base units"
        out.print(
            f"[bold]{s.scope.network.value} chain {s.scope.chain_id}[/] payer {s.scope.payer} "
            f"token {s.scope.token} ({label})"
        )
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("status")
        table.add_column("rows", justify="right")
        table.add_column(f"amount ({unit})", justify="right")
        for st, (count, amount) in sorted(s.counts.items(), key=lambda kv: kv[0].value):
            table.add_row(st.value, str(count), units(amount, info[1]) if info else str(amount))
        out.print(table)
        out.print(
            f"  batches: {s.confirmed_batches} confirmed ({s.gas_used:,} {s.cost_unit}), "
            f"{len(s.open_batches)} in flight, {len(s.planned_batches)} planned"
        )
        for kind in dict.fromkeys(b.executor.value for b in s.open_batches):
            out.print(f"  [yellow]in flight[/] ({kind}): {_RESUME_HINT[kind]}")
        for b in s.open_batches:
            where = (
                f" Safe nonce {b.safe_nonce}"
                if b.safe_nonce is not None
                else (f" nonce {b.nonce}" if b.nonce is not None else "")
            )
            out.print(f"    batch {b.index} {b.batch_id} tx {b.tx_hash}{where}")
    _print_notes(resolver)


def _status_json(s: Any, info: tuple[str, int] | None, reason: str | None) -> dict[str, Any]:
    def amount(base: int) -> dict[str, Any]:
        return {"amount_base_units": base, "amount": units(base, info[1]) if info else None}

    return {
        "network": s.scope.network.value,
        "chain_id": s.scope.chain_id,
        "payer": s.scope.payer,
        "token": s.scope.token,
        "symbol": info[0] if info else None,
        "decimals": info[1] if info else None,
        "token_unknown_reason": reason,
        "rows": {st.value: {"count": c, **amount(a)} for st, (c, a) in s.counts.items()},
        "owed": {"count": s.owed[0], **amount(s.owed[1])},
        "batches": {
            "confirmed": s.confirmed_batches,
            "in_flight": [
                {
                    "index": b.index,
                    "batch_id": b.batch_id,
                    "executor": b.executor.value,
                    "tx_hash": b.tx_hash,
                    "nonce": b.nonce,
                    "safe_nonce": b.safe_nonce,
                }
                for b in s.open_batches
            ],
            "planned": len(s.planned_batches),
        },
        "cost_unit": s.cost_unit,
        "gas_used": s.gas_used,
        "fee_unit": s.fee_unit,
        "fee_paid": s.fee_paid,
        # Kept for EVM consumers of the first version of this output.
        "fee_paid_wei": s.fee_paid if s.fee_unit == "wei" else None,
    }


@click.command()
@_ledger_view
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (default: stdout).",
)
@json_option
def report(
    ledger_url: str | None,
    rpc_url: str,
    tron_node_url: str | None,
    payer: str | None,
    token: str | None,
    chain_id: int | None,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """Every payout with its proof: payout id, recipient, amount, token, chain, tx hash, block,
    log index, batch id, gas share, status (CSV or JSON; --json is --format json).

    Rows of every scope (EVM hot wallet, Safe, TRON). Where a scope's chain cannot be read the
    `amount`, `symbol` and `decimals` columns are empty and `amount_base_units` is exact."""
    from payout.config import resolve_ledger_url
    from payout.ledger import Ledger
    from payout.report import scope_report_rows, write_csv, write_json

    fmt = "json" if as_json else fmt
    resolver = _resolver(rpc_url, tron_node_url)
    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        scopes = _scopes(ledger, payer, token, chain_id)
        rows = scope_report_rows(ledger, scopes, resolver)
        writer = write_json if fmt == "json" else write_csv
        if output is None:
            writer(rows, sys.stdout)
        else:
            from payout.files import open_private

            with open_private(output, newline="") as fh:
                n = writer(rows, fh)
            click.echo(f"Wrote {n} rows to {output}", err=True)
    _print_notes(resolver)
