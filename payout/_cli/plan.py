"""``payout plan FILE``: batches, simulation, predicted failures, cost and pre-flight. Read-only."""

from __future__ import annotations

import click

from payout._cli.options import (
    PayoutFileArgs,
    approve_option,
    console,
    emit_json,
    json_option,
    open_payout_file,
    payer_option,
    payout_file_options,
    resolve_payer,
)


@click.command()
@payout_file_options
@payer_option
@approve_option(
    "How send will approve the disburser (affects the simulation and the fee estimate)."
)
@json_option
def plan(args: PayoutFileArgs, payer: str | None, approval: str, as_json: bool) -> None:
    """Plan gas-bounded batches and simulate every one before anything is signed.

    Rows the ledger already paid are left out; rows it set aside as skipped are counted as still
    owed and planned again only with --retry-skipped (plan writes nothing either way).

    Exit status: 2 if rows are predicted to fail and --on-failure is refuse, 5 if the payer
    cannot cover tokens or fees (send would refuse).
    """
    from payout import pipeline
    from payout.exceptions import InputError
    from payout.ledger import Ledger

    who = resolve_payer(payer, args.keystore, args.account_alias)
    if who is None:
        raise InputError(
            "no payer", hint="pass --payer ADDRESS, --keystore FILE or --account ALIAS"
        )
    run = open_payout_file(args, approval=approval)
    with Ledger.open(run.settings.ledger_url) as ledger:
        plans = pipeline.plan(run.manifest, run.target, who, args.token, run.opts, ledger=ledger)
    if as_json:
        from payout._cli.render import plan_json

        emit_json(
            {
                "file": str(args.file),
                "scopes": [plan_json(p) for p in plans],
                "skipped_still_owed": sum(p.previously_skipped for p in plans),
                "retried_skipped": sum(p.retried_skipped for p in plans),
            }
        )
    else:
        from payout._cli.render import print_plan, skipped_owed_note

        out = console()
        for p in plans:
            print_plan(out, p)
        if note := skipped_owed_note(sum(p.previously_skipped for p in plans)):
            out.print(f"[yellow]Still owed[/]: {note}")
    if any(p.failures for p in plans) and args.on_failure == "refuse":
        click.secho(
            "Error: rows are predicted to fail; choose --on-failure exclude or skip",
            fg="red",
            err=True,
        )
        raise click.exceptions.Exit(2)
    if not all(p.preflight.ok for p in plans):
        click.secho("Error: the payer cannot cover this payout (see shortfall)", fg="red", err=True)
        raise click.exceptions.Exit(5)
