"""``payout status`` and ``payout report``: what the ledger knows, per payer and token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from payout._cli.options import (
    ADDRESS,
    console,
    emit_json,
    json_option,
    ledger_option,
    rpc_option,
    units,
)


def _scope_filters(f: Any) -> Any:
    f = click.option("--chain-id", type=int, default=None, help="Only this chain.")(f)
    f = click.option("--token", type=ADDRESS, default=None, help="Only this token.")(f)
    f = click.option("--payer", type=ADDRESS, default=None, help="Only this payer.")(f)
    return f


def _scopes(ledger: Any, payer: str | None, token: str | None, chain_id: int | None) -> list[Any]:
    return [
        s
        for s in ledger.scopes()
        if (payer is None or s.payer == payer)
        and (token is None or s.token == token)
        and (chain_id is None or s.chain_id == chain_id)
    ]


def _token_lookup(rpc_url: str) -> Any:
    """(symbol, decimals) from the chain, or None (amounts then stay in base units)."""
    from payout.chain import Chain
    from payout.exceptions import ChainError

    chain = Chain(rpc_url, timeout=5, retries=0)
    cache: dict[str, tuple[str, int] | None] = {}
    warned: list[bool] = []

    def lookup(token: str) -> tuple[str, int] | None:
        if not token.startswith("0x"):
            return None  # a TRON token: `payout tron report` reads it from the TRON node
        if token not in cache:
            try:
                info = chain.token(token)
                cache[token] = (info.symbol, info.decimals)
            except ChainError as exc:
                cache[token] = None
                if not warned:
                    warned.append(True)
                    click.echo(
                        f"Note: token decimals unavailable ({exc}); amounts in base units.",
                        err=True,
                    )
        return cache[token]

    return lookup


@click.command()
@ledger_option
@rpc_option
@_scope_filters
@json_option
def status(
    ledger_url: str | None,
    rpc_url: str,
    payer: str | None,
    token: str | None,
    chain_id: int | None,
    as_json: bool,
) -> None:
    """Rows per status with totals, batches in flight (resume them) and batches still to send."""
    from payout.config import resolve_ledger_url
    from payout.ledger import Ledger
    from payout.report import status as ledger_status

    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        summaries = ledger_status(ledger, _scopes(ledger, payer, token, chain_id))
    lookup = _token_lookup(rpc_url) if summaries else None
    if as_json:
        emit_json(
            {
                "ledger": resolve_ledger_url(ledger_url).split("://")[0],
                "scopes": [
                    _status_json(s, lookup(s.scope.token) if lookup else None) for s in summaries
                ],
            }
        )
        return
    out = console()
    if not summaries:
        out.print("The ledger has no payouts yet.")
        return
    from rich.table import Table

    for s in summaries:
        info = lookup(s.scope.token) if lookup else None
        sym = info[0] if info else "base units"
        out.print(
            f"[bold]{s.scope.network.value} chain {s.scope.chain_id}[/] payer {s.scope.payer} "
            f"token {s.scope.token} ({sym})"
        )
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("status")
        table.add_column("rows", justify="right")
        table.add_column(f"amount {sym}", justify="right")
        for st, (count, amount) in sorted(s.counts.items(), key=lambda kv: kv[0].value):
            table.add_row(st.value, str(count), units(amount, info[1]) if info else str(amount))
        out.print(table)
        out.print(
            f"  batches: {s.confirmed_batches} confirmed ({s.gas_used:,} gas), "
            f"{len(s.open_batches)} in flight, {len(s.planned_batches)} planned"
        )
        if s.open_batches:
            out.print("  [yellow]in flight[/]: run `payout resume` to settle them from the chain")
            for b in s.open_batches:
                out.print(f"    batch {b.index} {b.batch_id} tx {b.tx_hash} nonce {b.nonce}")


def _status_json(s: Any, info: tuple[str, int] | None) -> dict[str, Any]:
    return {
        "network": s.scope.network.value,
        "chain_id": s.scope.chain_id,
        "payer": s.scope.payer,
        "token": s.scope.token,
        "symbol": info[0] if info else None,
        "decimals": info[1] if info else None,
        "rows": {st.value: {"count": c, "amount_base_units": a} for st, (c, a) in s.counts.items()},
        "owed": {"count": s.owed[0], "amount_base_units": s.owed[1]},
        "batches": {
            "confirmed": s.confirmed_batches,
            "in_flight": [
                {"index": b.index, "batch_id": b.batch_id, "tx_hash": b.tx_hash, "nonce": b.nonce}
                for b in s.open_batches
            ],
            "planned": len(s.planned_batches),
        },
        "gas_used": s.gas_used,
        "fee_paid_wei": s.fee_paid,
    }


@click.command()
@ledger_option
@rpc_option
@_scope_filters
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
    payer: str | None,
    token: str | None,
    chain_id: int | None,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """Every payout with its proof: payout id, recipient, amount, token, chain, tx hash, block,
    log index, batch id, gas share, status (CSV or JSON; --json is --format json)."""
    from payout.config import resolve_ledger_url
    from payout.ledger import Ledger
    from payout.report import report_rows, write_csv, write_json

    fmt = "json" if as_json else fmt
    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        scopes = _scopes(ledger, payer, token, chain_id)
        rows = report_rows(ledger, scopes, _token_lookup(rpc_url))
        writer = write_json if fmt == "json" else write_csv
        if output is None:
            writer(rows, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                n = writer(rows, fh)
            click.echo(f"Wrote {n} rows to {output}", err=True)
