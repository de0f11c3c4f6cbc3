"""``payout demo``: the whole workflow on a throw-away local chain (what `make demo` runs first).

``--executor safe`` (default): a 2-of-3 Safe pays the payees (propose -> two signers sign ->
execute -> report). ``--executor wallet``: a hot wallet (validate -> plan -> send -> report).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from payout._cli.options import console, emit_json, eth, json_option

if TYPE_CHECKING:
    from payout.demo import DemoResult


@click.command()
@click.option(
    "--executor",
    type=click.Choice(["safe", "wallet"]),
    default="safe",
    show_default=True,
    help="Who pays: a 2-of-3 Safe multisig, or a hot wallet.",
)
@click.option("--payees", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option(
    "--blacklisted",
    type=click.IntRange(min=0),
    default=0,
    help="(wallet) Have the token issuer blacklist this many payees first, to show failure "
    "prediction (their rows are excluded and stay owed).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/demo"),
    show_default=True,
    help="Where the payout file, proposal, ledger, report and anvil log go (replaced on every "
    "run).",
)
@json_option
def demo(executor: str, payees: int, blacklisted: int, workdir: Path, as_json: bool) -> None:
    """Start anvil, deploy a USDC-like token and the disburser (CREATE2), pay PAYEES recipients,
    print the figures (batches, gas, gas per recipient, saving against separate transfers, where
    the report and ledger are), stop anvil.

    Uses only shipped contract artifacts (the disburser, the demo token, safe-eth-py's Safe
    contracts): no compiler, no network access.
    """
    from payout.demo import clean_workdir, run_demo, run_safe
    from payout.exceptions import InputError

    if blacklisted and executor != "wallet":
        raise InputError(
            "--blacklisted applies to the hot-wallet demo", hint="add --executor wallet"
        )
    out = console(stderr=as_json)
    clean_workdir(workdir)

    def step(text: str) -> None:
        out.print(("[bold]»[/] " if not text.startswith("  ") else "") + text)

    def event(e: object) -> None:
        from payout._cli.render import describe_event

        kind = getattr(e, "kind", "")
        if kind in ("batch-confirmed", "approve"):
            out.print("  " + describe_event(e))  # type: ignore[arg-type]

    if executor == "safe":
        result = run_safe(workdir, payees=payees, on_step=step)
    else:
        result = run_demo(
            workdir, payees=payees, blacklisted=blacklisted, on_step=step, on_event=event
        )
    if as_json:
        emit_json(_demo_json(result))
    else:
        _print_demo(out, result)
    if not result.reconcile_ok or result.paid + result.excluded != result.payees:
        raise click.exceptions.Exit(1)


def _demo_json(result: DemoResult) -> dict[str, Any]:
    return {
        "executor": result.executor,
        "chain_id": result.chain_id,
        "payer": result.payer,
        "threshold": result.threshold,
        "signers": result.signers,
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
        "proposal": result.proposal_path,
        "seconds": round(result.seconds, 2),
    }


def _print_demo(out: Any, result: DemoResult) -> None:
    out.print()
    if result.executor == "safe":
        out.print(
            f"[bold green]Paid {result.paid} of {result.payees} payees[/] from Safe "
            f"{result.payer} ({result.threshold}, signed by {len(result.signers)} owners) in "
            f"{len(result.batches)} Safe transaction(s), {result.seconds:.1f} s."
        )
        gas = f"Gas: {result.gas_used:,} for the batches (approvals included)"
    else:
        out.print(
            f"[bold green]Paid {result.paid} of {result.payees} payees[/] from {result.payer} "
            f"in {len(result.batches)} batch transaction(s) + 1 approval, {result.seconds:.1f} s."
        )
        gas = f"Gas: {result.gas_used:,} for the batches + {result.approval_gas:,} for the approval"
    for i, b in enumerate(result.batches):
        label = f"Safe nonce {b['safe_nonce']}" if "safe_nonce" in b else f"batch {i}"
        out.print(
            f"  {label}: {b['paid']} paid, {b['gas_used'] or 0:,} gas, block {b['block']}, "
            f"tx {b['tx_hash']}"
        )
    out.print(
        f"{gas} = {result.gas_per_recipient:,.0f} per recipient; fees {eth(result.fee_wei)} ETH."
    )
    if result.separate_gas:
        out.print(
            f"Separate transfers would use ~{result.separate_gas:,} gas "
            f"(~{result.separate_gas / max(result.paid, 1):,.0f} per recipient): the batches "
            f"save {result.saving_percent:.1f}%."
        )
    out.print(f"Report: {result.report_path}   Ledger: {result.ledger_path}")
    if result.proposal_path:
        out.print(f"Signed Safe proposal: {result.proposal_path}")
    out.print("Reconcile: " + ("ledger and chain agree" if result.reconcile_ok else "MISMATCHES"))
