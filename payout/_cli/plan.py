"""``payout plan FILE``: batches, simulation, predicted failures, cost and pre-flight. Read-only."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import (
    console,
    disburser_option,
    emit_json,
    json_option,
    ledger_option,
    payer_option,
    plan_options,
    resolve_payer,
    rpc_option,
    signer_options,
    token_option,
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@rpc_option
@token_option(required=False)
@disburser_option
@payer_option
@signer_options
@ledger_option
@plan_options
@click.option(
    "--approve",
    "approval",
    type=click.Choice(["run", "batch"]),
    default="run",
    show_default=True,
    help="How send will approve the disburser (affects the simulation and the fee estimate).",
)
@json_option
def plan(
    file: Path,
    rpc_url: str,
    token: str | None,
    disburser: str | None,
    payer: str | None,
    keystore: Path | None,
    account_alias: str | None,
    ledger_url: str | None,
    on_failure: str,
    gas_margin: int | None,
    max_batch_size: int | None,
    approval: str,
    as_json: bool,
) -> None:
    """Plan gas-bounded batches and simulate every one before anything is signed.

    Rows the ledger already paid are left out. Exit status: 2 if rows are predicted to fail and
    --on-failure is refuse, 5 if the payer cannot cover tokens or fees (send would refuse).
    """
    from payout import pipeline
    from payout.config import load_settings
    from payout.exceptions import InputError
    from payout.ledger import Ledger

    who = resolve_payer(payer, keystore, account_alias)
    if who is None:
        raise InputError(
            "no payer", hint="pass --payer ADDRESS, --keystore FILE or --account ALIAS"
        )
    settings = load_settings(
        ledger_url=ledger_url, max_batch_size=max_batch_size, gas_margin=gas_margin
    )
    opts = pipeline.PlanOptions.from_settings(settings, on_failure=on_failure, approval=approval)
    target = pipeline.open_target(rpc_url, disburser)
    manifest = pipeline.validate(file, target.chain, token, disburser=target.disburser.address)
    with Ledger.open(settings.ledger_url) as ledger:
        plans = pipeline.plan(manifest, target, who, token, opts, ledger=ledger)
    if other := pipeline.other_network_rows(manifest):
        click.echo(f"Note: {other} TRON row(s) are not planned here: use `payout tron`.", err=True)
    if as_json:
        from payout._cli.render import plan_json

        emit_json({"file": str(file), "scopes": [plan_json(p) for p in plans]})
    else:
        from payout._cli.render import print_plan

        out = console()
        for p in plans:
            print_plan(out, p)
    if any(p.failures for p in plans) and on_failure == "refuse":
        click.secho(
            "Error: rows are predicted to fail; choose --on-failure exclude or skip",
            fg="red",
            err=True,
        )
        raise click.exceptions.Exit(2)
    if not all(p.preflight.ok for p in plans):
        click.secho("Error: the payer cannot cover this payout (see shortfall)", fg="red", err=True)
        raise click.exceptions.Exit(5)
