"""``payout send FILE`` and ``payout resume``: pay from a hot wallet, crash-safe and resumable."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import (
    console,
    disburser_option,
    emit_json,
    is_interactive,
    json_option,
    ledger_option,
    open_signer,
    plan_options,
    rpc_option,
    send_options,
    send_settings,
    signer_options,
    token_option,
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@rpc_option
@token_option(required=False)
@disburser_option
@signer_options
@ledger_option
@plan_options
@send_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def send(
    file: Path,
    rpc_url: str,
    token: str | None,
    disburser: str | None,
    keystore: Path | None,
    account_alias: str | None,
    ledger_url: str | None,
    on_failure: str,
    gas_margin: int | None,
    max_batch_size: int | None,
    approval: str,
    confirmations: int,
    replace_after: float,
    fee_bump: int,
    max_fee_gwei: float | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Pay a file from a hot wallet (keystore or ape account).

    Batches still in flight from an earlier run are settled from the chain first; payout ids
    already paid are never paid again (re-running the same or an overlapping file pays only what
    is missing). Every batch is simulated before it is signed. If the process stops, run
    `payout resume`.
    """
    from payout import pipeline
    from payout._cli.render import EventPrinter, print_plan, send_json
    from payout.config import load_settings
    from payout.exceptions import InputError
    from payout.ledger import Ledger
    from payout.wallet import Wallet

    settings = load_settings(
        ledger_url=ledger_url, max_batch_size=max_batch_size, gas_margin=gas_margin
    )
    opts = pipeline.PlanOptions.from_settings(settings, on_failure=on_failure, approval=approval)
    target = pipeline.open_target(rpc_url, disburser)
    signer = open_signer(keystore, account_alias)
    wallet = Wallet(
        target.chain, signer, send_settings(confirmations, replace_after, fee_bump, max_fee_gwei)
    )
    manifest = pipeline.validate(file, target.chain, token, disburser=target.disburser.address)
    manifest.raise_for_errors()
    if other := pipeline.other_network_rows(manifest):
        click.echo(f"Note: {other} TRON row(s) are not paid here: use `payout tron`.", err=True)
    if not yes and not is_interactive():
        raise InputError(
            "refusing to send without confirmation in a non-interactive shell",
            hint="review `payout plan` first, then pass --yes",
        )
    out = console(stderr=as_json)
    printer = EventPrinter(out, show_progress=not as_json)

    def on_plan(p: pipeline.ScopePlan) -> None:
        if not as_json:
            print_plan(out, p)
        if p.batches and p.preflight.ok and not yes:
            printer.stop()
            click.confirm(
                f"Pay {p.count} recipients in {len(p.batches)} batch(es) from {wallet.address}?",
                abort=True,
                err=True,
            )
        if p.batches and p.preflight.ok:
            printer.start(p.count)

    with Ledger.open(settings.ledger_url) as ledger:
        try:
            report = pipeline.send(
                manifest, target, wallet, ledger, token, opts, on_event=printer, on_plan=on_plan
            )
        finally:
            printer.stop()
    if as_json:
        emit_json(send_json(report))
    else:
        out.print(
            f"[green]Done[/]: {report.paid_rows} recipients paid in "
            f"{len(report.results)} batch(es), {report.gas_used:,} gas; "
            f"{report.already_paid} were already paid before this run."
        )


@click.command()
@rpc_option
@disburser_option
@signer_options
@ledger_option
@send_options
@json_option
def resume(
    rpc_url: str,
    disburser: str | None,
    keystore: Path | None,
    account_alias: str | None,
    ledger_url: str | None,
    approval: str,
    confirmations: int,
    replace_after: float,
    fee_bump: int,
    max_fee_gwei: float | None,
    as_json: bool,
) -> None:
    """Finish interrupted sends: settle in-flight batches from the chain, then pay the rest.

    For every batch the ledger has in flight, the chain decides: executed (batch id and event)
    -> recorded as paid; reverted -> marked failed; still pending -> waited for (and replaced
    with a fee bump when stuck); never broadcast -> the recorded signed transaction is sent.
    Nothing is ever paid twice.
    """
    from payout import pipeline
    from payout._cli.render import EventPrinter, send_json
    from payout.config import load_settings
    from payout.ledger import Ledger
    from payout.wallet import Wallet

    settings = load_settings(ledger_url=ledger_url)
    target = pipeline.open_target(rpc_url, disburser)
    signer = open_signer(keystore, account_alias)
    wallet = Wallet(
        target.chain, signer, send_settings(confirmations, replace_after, fee_bump, max_fee_gwei)
    )
    out = console(stderr=as_json)
    printer = EventPrinter(out, show_progress=False)
    with Ledger.open(settings.ledger_url) as ledger:
        report = pipeline.resume(target, wallet, ledger, approval=approval, on_event=printer)
    if as_json:
        emit_json(send_json(report))
    elif not report.settled and not report.results:
        out.print("Nothing to resume: no batch in flight or left to send for this payer.")
    else:
        out.print(
            f"[green]Done[/]: settled {len(report.settled)} in-flight batch(es), sent "
            f"{len(report.results)} more; {report.paid_rows} recipients paid."
        )
