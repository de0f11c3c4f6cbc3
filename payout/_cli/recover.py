"""``payout recover FILE``: after a lost ledger, settle which of the file's rows the chain says
are already paid (see :mod:`payout.history`)."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import (
    ADDRESS,
    console,
    disburser_option,
    emit_json,
    json_option,
    ledger_option,
    rpc_option,
    token_option,
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@rpc_option
@token_option(required=False)
@disburser_option
@ledger_option
@click.option("--payer", type=ADDRESS, required=True, help="The payer (EOA or Safe) address.")
@click.option(
    "--adopt",
    "adopt",
    multiple=True,
    metavar="TX",
    help="This transaction's batch paid the file's rows with its recipients and amounts: record "
    "them as paid even though their payout ids do not reproduce its batch id.",
)
@click.option(
    "--unrelated",
    "unrelated",
    multiple=True,
    metavar="TX",
    help="This transaction did not pay this file's rows (e.g. last month's payout): stop "
    "matching its batch against files.",
)
@json_option
def recover(
    file: Path,
    rpc_url: str,
    token: str | None,
    disburser: str | None,
    ledger_url: str | None,
    payer: str,
    adopt: tuple[str, ...],
    unrelated: tuple[str, ...],
    as_json: bool,
) -> None:
    """Match a payout file against the payer's batches executed on chain that the ledger does
    not know (a lost or replaced ledger).

    Batches whose payout ids reproduce their batch id are recorded as paid automatically (send
    does the same before paying). Rows matching a batch that cannot be verified are listed;
    decide with --adopt TX (paid by it) or --unrelated TX (not paid by it), then send. Exit
    status 6 while rows stay blocked.
    """
    from payout import pipeline
    from payout.config import load_settings
    from payout.ledger import Ledger

    settings = load_settings(ledger_url=ledger_url)
    target = pipeline.open_target(rpc_url, disburser)
    manifest = pipeline.validate(file, target.chain, token, disburser=target.disburser.address)
    with Ledger.open(settings.ledger_url) as ledger:
        reports = pipeline.recover_file(
            manifest, target, ledger, payer, token, adopt=adopt, unrelated=unrelated
        )
    blocked = [b for r in reports for b in r.blocked]
    if as_json:
        emit_json(
            {
                "adopted": [
                    {"token": r.scope.token, "batch_id": b, "tx_hash": t, "rows": n}
                    for r in reports
                    for b, t, n in r.adopted
                ],
                "blocked": [
                    {
                        "payout_id": b.payout.payout_id,
                        "recipient": b.payout.recipient,
                        "amount": b.payout.amount,
                        "line": b.payout.line,
                        "tx_hash": b.tx_hash,
                        "batch_id": b.batch_id,
                    }
                    for b in blocked
                ],
            }
        )
    else:
        out = console()
        for r in reports:
            for batch_id, tx, n in r.adopted:
                out.print(f"[green]adopted[/] {n} row(s) as paid by batch {batch_id} (tx {tx})")
        for b in blocked:
            out.print(
                f"[red]blocked[/] {b.payout.payout_id} (line {b.payout.line}) "
                f"{b.payout.recipient} {b.payout.amount} base units: tx {b.tx_hash}"
            )
        out.print(
            f"{sum(r.adopted_rows for r in reports)} row(s) recorded as paid from the chain; "
            f"{len(blocked)} row(s) blocked."
        )
    if blocked:
        raise click.exceptions.Exit(6)
