"""``payout reconcile``: the ledger against the chain's batch events and token Transfer logs."""

from __future__ import annotations

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
    from payout.types import Network

    target = pipeline.open_target(rpc_url, disburser)
    with Ledger.open(resolve_ledger_url(ledger_url)) as ledger:
        scopes = [
            s
            for s in ledger.scopes()
            if s.network is Network.EVM
            and s.chain_id == target.chain_id
            and (payer is None or s.payer == payer)
            and (token is None or s.token == token)
        ]
        reports = [
            run(target.chain, target.disburser, ledger, s, from_block=from_block) for s in scopes
        ]
    if as_json:
        emit_json(
            {
                "chain_id": target.chain_id,
                "ok": all(r.ok for r in reports),
                "scopes": [
                    {
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
                    for r in reports
                ],
            }
        )
    else:
        out = console()
        if not reports:
            out.print(f"No payouts in the ledger for chain {target.chain_id}.")
        for r in reports:
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
    if not all(r.ok for r in reports):
        raise click.exceptions.Exit(6)
