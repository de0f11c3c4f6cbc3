"""``payout reconcile``: the ledger against the chain's batch events and token Transfer logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from payout._cli.options import (
    ADDRESS,
    console,
    disburser_option,
    emit_json,
    json_option,
    ledger_option,
    rpc_option,
)

if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

    from payout.reconcile import ReconcileReport
    from payout.types import Scope


@click.command()
@rpc_option
@ledger_option
@disburser_option
@click.option("--payer", type=ADDRESS, default=None, help="Only this payer.")
@click.option("--token", type=ADDRESS, default=None, help="Only this token.")
@click.option(
    "--from-block",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="First block to read events from (e.g. the disburser's deployment block).",
)
@json_option
def reconcile(
    rpc_url: str,
    ledger_url: str | None,
    disburser: str | None,
    payer: str | None,
    token: str | None,
    from_block: int,
    as_json: bool,
) -> None:
    """Report every mismatch: missing, extra, wrong amount, wrong recipient, unsettled.

    Exit status 6 when there is any mismatch.
    """
    from payout import pipeline
    from payout.config import resolve_ledger_url
    from payout.ledger import Ledger
    from payout.reconcile import reconcile as run

    target = pipeline.open_target(rpc_url, disburser)
    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        wanted = [
            s
            for s in ledger.scopes()
            if (payer is None or s.payer == payer) and (token is None or s.token == token)
        ]
        scopes = [s for s in wanted if _not_reconciled(s, target.chain_id) is None]
        reports = [
            run(target.chain, target.disburser, ledger, s, from_block=from_block) for s in scopes
        ]
    skipped = [(s, why) for s in wanted if (why := _not_reconciled(s, target.chain_id))]
    if as_json:
        emit_json(
            {
                "chain_id": target.chain_id,
                "ok": all(r.ok for r in reports),
                "scopes": [scope_json(r) for r in reports],
                # Scopes of the ledger this run did not compare with any chain, and why; they
                # do not make ``ok`` false (nothing was found wrong), but they were not checked.
                "not_reconciled": [
                    {
                        "network": s.network.value,
                        "chain_id": s.chain_id,
                        "payer": s.payer,
                        "token": s.token,
                        "reason": why,
                    }
                    for s, why in skipped
                ],
            }
        )
    else:
        out = console()
        if not reports:
            out.print(f"No payouts in the ledger for chain {target.chain_id}.")
        for s, why in skipped:
            out.print(
                f"[yellow]not reconciled[/] {s.network.value} chain {s.chain_id} payer "
                f"{s.payer} token {s.token}: {why}"
            )
        for r in reports:
            print_scope(out, r)
    if not all(r.ok for r in reports):
        raise click.exceptions.Exit(6)


def _not_reconciled(scope: Scope, chain_id: int) -> str | None:
    """Why ``payout reconcile`` on ``chain_id`` leaves ``scope`` out (None: it reconciles it)."""
    from payout.types import Network

    if scope.network is Network.TRON:
        return (
            "TRON scopes are reconciled against a TRON node: run `payout tron reconcile` "
            "(--node / PAYOUT_TRON_NODE_URL)"
        )
    if scope.chain_id != chain_id:
        return f"on chain {scope.chain_id}, not {chain_id}: run again with --rpc-url of that chain"
    return None


def scope_json(r: ReconcileReport) -> dict[str, Any]:
    """One scope's reconciliation as JSON (shared by ``payout tron reconcile``)."""
    return {
        "payer": r.scope.payer,
        "token": r.scope.token,
        "ok": r.ok,
        "batches_on_chain": r.batches_on_chain,
        "transfers_on_chain": r.transfers_on_chain,
        "rows_paid_in_ledger": r.rows_paid_in_ledger,
        "amount_on_chain": r.amount_on_chain,
        "amount_in_ledger": r.amount_in_ledger,
        "counts": r.counts(),
        "mismatches": [m.as_dict() for m in r.mismatches],
    }


def print_scope(out: Console, r: ReconcileReport) -> None:
    """One scope's verdict and up to 200 mismatches (shared by ``payout tron reconcile``)."""
    verdict = "[green]OK[/]" if r.ok else f"[red]{len(r.mismatches)} mismatch(es)[/]"
    out.print(
        f"{verdict} payer {r.scope.payer} token {r.scope.token}: "
        f"{r.batches_on_chain} batches and {r.transfers_on_chain} transfers on chain, "
        f"{r.rows_paid_in_ledger} rows paid in the ledger"
    )
    for m in r.mismatches[:200]:
        out.print(
            f"  [red]{m.kind}[/] payout {m.payout_id or '-'} batch {m.batch_id} "
            f"tx {m.tx_hash or '-'} log {m.log_index if m.log_index is not None else '-'}"
            f": expected {m.expected or '-'}, chain {m.actual or '-'} ({m.detail})"
        )
    if len(r.mismatches) > 200:
        out.print(f"  ... {len(r.mismatches) - 200} more (use --json)")
