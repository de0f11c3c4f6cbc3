"""``payout send FILE`` and ``payout resume``: pay from a hot wallet, crash-safe and resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from payout._cli.options import (
    PayoutFileArgs,
    console,
    disburser_option,
    emit_json,
    is_interactive,
    json_option,
    ledger_option,
    open_payout_file,
    open_signer,
    payout_file_options,
    rpc_option,
    send_options,
    send_settings,
    signer_options,
    tron_node_option,
)


@click.command()
@payout_file_options
@send_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def send(
    args: PayoutFileArgs,
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
    is missing). Rows set aside as skipped (excluded, or skipped on chain) are still owed and
    are paid again only with --retry-skipped. Every batch is simulated before it is signed. If
    the process stops, run `payout resume`.
    """
    from payout import pipeline
    from payout._cli.render import (
        EventPrinter,
        print_plan,
        send_json,
        send_summary,
        skipped_owed_note,
    )
    from payout.exceptions import InputError
    from payout.ledger import Ledger
    from payout.wallet import Wallet

    run = open_payout_file(args, approval=approval)
    run.manifest.raise_for_errors()
    signer = open_signer(args.keystore, args.account_alias)
    wallet = Wallet(
        run.target.chain,
        signer,
        send_settings(confirmations, replace_after, fee_bump, max_fee_gwei),
    )
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

    with Ledger.open(run.settings.ledger_url) as ledger:
        try:
            report = pipeline.send(
                run.manifest,
                run.target,
                wallet,
                ledger,
                args.token,
                run.opts,
                on_event=printer,
                on_plan=on_plan,
            )
        finally:
            printer.stop()
    if as_json:
        emit_json(send_json(report))
    else:
        if report.recovered_rows:
            out.print(
                f"Found on chain: {report.recovered_rows} row(s) paid by batches this ledger did "
                "not know (a lost or replaced ledger); recorded as paid, not paid again."
            )
        out.print(
            send_summary(report)
            + (
                f" Planned again with --retry-skipped: {report.retried_skipped} row(s) set "
                "aside as skipped earlier."
                if report.retried_skipped
                else ""
            )
        )
        if note := skipped_owed_note(report.skipped_still_owed):
            out.print(f"[yellow]Still owed[/]: {note}")


@click.command()
@rpc_option
@disburser_option
@signer_options
@ledger_option
@send_options
@tron_node_option
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
    tron_node_url: str | None,
    as_json: bool,
) -> None:
    """Finish interrupted payouts: settle every open batch of the ledger from its chain, then
    send the hot wallet's remaining planned batches.

    Hot wallet (needs --keystore/--account): executed (batch id and event) -> recorded as paid;
    reverted -> failed; still pending -> waited for (and replaced with a fee bump when stuck);
    never broadcast -> the recorded signed transaction is sent. Safe batches are settled from the
    chain (nothing is sent). TRON batches are settled through --tron-node / PAYOUT_TRON_NODE_URL,
    otherwise left open for `payout tron resume`. Nothing is ever paid twice.
    """
    from payout import pipeline
    from payout._cli.render import EventPrinter, print_resume, resume_json
    from payout.config import load_settings
    from payout.ledger import Ledger
    from payout.wallet import Wallet

    settings = load_settings(ledger_url=ledger_url)
    signer = (
        open_signer(keystore, account_alias)
        if keystore is not None or account_alias is not None
        else None
    )
    sending = send_settings(confirmations, replace_after, fee_bump, max_fee_gwei)

    def wallet_of(chain: Any) -> Wallet:
        assert signer is not None
        return Wallet(chain, signer, sending)

    out = console(stderr=as_json)
    with Ledger.open(settings.ledger_url) as ledger:
        report = pipeline.resume_ledger(
            ledger,
            rpc_url=rpc_url,
            disburser=disburser,
            wallet_of=wallet_of if signer is not None else None,
            tron_node_url=tron_node_url,
            approval=approval,
            on_event=EventPrinter(out, show_progress=False),
        )
    if as_json:
        emit_json(
            resume_json(
                report,
                signer=signer.address if signer is not None else None,
                tron_node=tron_node_url,
            )
        )
    else:
        print_resume(out, report)
    if report.owed:
        # Never "done" while the ledger still owes rows: they are listed above.
        from payout.exceptions import RowsStillOwed

        owed = RowsStillOwed(len(report.owed))
        click.secho(f"Error: {owed}", fg="red", err=True)
        click.echo(f"Hint: {owed.hint}", err=True)
        raise click.exceptions.Exit(owed.exit_code)
