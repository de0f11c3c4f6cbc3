"""``payout demo``: the whole workflow on a throw-away local chain (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import console, emit_json, eth, json_option


@click.command()
@click.option("--payees", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option(
    "--blacklisted",
    type=click.IntRange(min=0),
    default=0,
    help="Have the token issuer blacklist this many payees first, to show failure prediction "
    "(their rows are excluded and stay owed).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/demo"),
    show_default=True,
    help="Where the payout file, ledger, report and anvil log go (replaced on every run).",
)
@json_option
def demo(payees: int, blacklisted: int, workdir: Path, as_json: bool) -> None:
    """Start anvil, deploy a USDC-like token and the disburser (CREATE2), pay PAYEES recipients
    through validate -> plan -> send -> report -> reconcile, print the figures, stop anvil.

    Uses only the shipped contract artifacts: no compiler, no network access.
    """
    from payout.demo import clean_workdir, run_demo

    out = console(stderr=as_json)
    clean_workdir(workdir)

    def step(text: str) -> None:
        out.print(("[bold]»[/] " if not text.startswith("  ") else "") + text)

    def event(e: object) -> None:
        from payout.pipeline import describe_event

        kind = getattr(e, "kind", "")
        if kind in ("batch-confirmed", "approve"):
            out.print("  " + describe_event(e))  # type: ignore[arg-type]

    result = run_demo(workdir, payees=payees, blacklisted=blacklisted, on_step=step, on_event=event)
    if as_json:
        emit_json(
            {
                "chain_id": result.chain_id,
                "disburser": result.disburser,
                "token": result.token,
                "payees": result.payees,
                "paid": result.paid,
                "excluded": result.excluded,
                "batches": result.batches,
                "gas_used": result.gas_used,
                "approval_gas": result.approval_gas,
                "gas_per_recipient": round(result.gas_per_recipient, 1),
                "separate_transfers_gas": result.separate_gas,
                "saving_percent": round(result.saving_percent, 2)
                if result.saving_percent is not None
                else None,
                "fee_wei": result.fee_wei,
                "reconcile_ok": result.reconcile_ok,
                "report": result.report_path,
                "ledger": result.ledger_path,
                "seconds": round(result.seconds, 2),
            }
        )
    else:
        out.print()
        out.print(
            f"[bold green]Paid {result.paid} of {result.payees} payees[/] in "
            f"{len(result.batches)} batch transaction(s) + 1 approval, {result.seconds:.1f} s."
        )
        out.print(
            f"Gas: {result.gas_used:,} for the batches + {result.approval_gas:,} for the approval "
            f"= {result.gas_per_recipient:,.0f} per recipient; fees {eth(result.fee_wei)} ETH."
        )
        if result.separate_gas:
            out.print(
                f"Separate transfers would use ~{result.separate_gas:,} gas: the batches save "
                f"{result.saving_percent:.1f}%."
            )
        out.print(f"Report: {result.report_path}   Ledger: {result.ledger_path}")
        out.print(
            "Reconcile: " + ("ledger and chain agree" if result.reconcile_ok else "MISMATCHES")
        )
    if not result.reconcile_ok or result.paid + result.excluded != result.payees:
        raise click.exceptions.Exit(1)
