"""Renderers shared by plan, send, resume and demo: rich tables for people, dicts for ``--json``."""

from __future__ import annotations

from typing import Any

from payout._cli.options import eth, gwei, units
from payout.disburser import RowFailure
from payout.executor import BatchResult, ExecutionEvent
from payout.manifest import Manifest
from payout.pipeline import LeftOpen, ResumeReport, ScopePlan, SendReport, SettledBatch
from payout.types import ExecutorKind


def manifest_json(m: Manifest) -> dict[str, Any]:
    return {
        "file": m.path,
        "format": m.format,
        "sha256": m.sha256,
        "rows": m.rows,
        "valid_rows": len(m.payouts),
        "errors": m.error_count,
        "warnings": m.warning_count,
        "ok": m.ok,
        "tokens": {
            addr: {"symbol": t.symbol, "decimals": t.decimals} for addr, t in m.tokens.items()
        },
        "totals": [
            {"network": net.value, "token": tok, "count": c, "total_base_units": total}
            for (net, tok), (c, total) in m.totals().items()
        ],
        "issues": [
            {
                "file": i.file,
                "line": i.line,
                "unit": i.unit,
                "column": i.column,
                "code": i.code,
                "severity": i.severity.value,
                "message": i.message,
            }
            for i in m.issues
        ],
    }


def _failure_json(f: RowFailure, decimals: int) -> dict[str, Any]:
    return {
        "payout_id": f.payout_id,
        "recipient": f.recipient,
        "amount": units(f.amount, decimals),
        "amount_base_units": f.amount,
        "reason": f.reason,
        "source": f.source,
        "line": f.line,
    }


def plan_json(p: ScopePlan) -> dict[str, Any]:
    d = p.token.decimals
    sims = {s.batch_index: s for s in p.simulations}
    return {
        "chain_id": p.scope.chain_id,
        "payer": p.scope.payer,
        "token": {"address": p.token.address, "symbol": p.token.symbol, "decimals": d},
        "mode": p.mode.value,
        "payouts": p.count,
        "total": units(p.total, d),
        "total_base_units": p.total,
        "already_paid": p.already_paid,
        "in_flight": p.in_flight,
        "previously_skipped": p.previously_skipped,
        "skipped_still_owed": p.previously_skipped,
        "retried_skipped": p.retried_skipped,
        "batches": [
            {
                "index": b.index,
                "batch_id": b.batch_id_hex,
                "count": b.count,
                "total": units(b.total, d),
                "total_base_units": b.total,
                "gas_estimate": b.cost_estimate,
                "gas_simulated": sims[b.index].gas_used if b.index in sims else None,
                "simulated": b.index in sims,
                "already_executed": sims[b.index].already_executed if b.index in sims else False,
                "predicted_failures": [
                    f.payout_id for f in (sims[b.index].failures if b.index in sims else ())
                ],
            }
            for b in p.batches
        ],
        "predicted_failures": [_failure_json(f, d) for f in p.failures],
        "excluded": [_failure_json(f, d) for f in p.excluded],
        "gas": {
            "batches": p.gas_total,
            "approval": p.approval_gas,
            "separate_transfers": p.separate_gas_total,
            "saving_percent": round(p.gas_saving_percent, 2)
            if p.gas_saving_percent is not None
            else None,
        },
        "fees": {
            "base_fee_wei": p.fees.base_fee,
            "max_priority_fee_wei": p.fees.max_priority_fee,
            "max_fee_wei": p.fees.max_fee,
            "expected_cost_wei": p.expected_fee_wei,
            "separate_transfers_cost_wei": p.separate_fee_wei,
        },
        "preflight": {
            "ok": p.preflight.ok,
            "token_balance": p.preflight.token_balance,
            "token_needed": p.preflight.token_needed,
            "native_balance_wei": p.preflight.native_balance,
            "fees_needed_wei": p.preflight.fee_needed,
            "allowance": p.preflight.allowance,
            "approvals_to_send": p.preflight.approvals,
            "shortfalls": p.preflight.shortfalls,
        },
    }


def print_plan(console: Any, p: ScopePlan) -> None:
    from rich.table import Table

    d = p.token.decimals
    sym = p.token.symbol
    sims = {s.batch_index: s for s in p.simulations}
    console.print(
        f"[bold]Plan[/] chain {p.scope.chain_id}, payer {p.scope.payer}, token {sym} "
        f"({p.token.address}, {d} decimals), mode {p.mode.value}"
    )
    if p.already_paid or p.in_flight or p.previously_skipped:
        console.print(
            f"  already paid: {p.already_paid}, in flight: {p.in_flight}, "
            f"set aside earlier: {p.previously_skipped} (not planned again)"
        )
    if p.retried_skipped:
        console.print(
            f"  set aside earlier and planned again (--retry-skipped): {p.retried_skipped}"
        )
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in (
        ("batch", "right"),
        ("recipients", "right"),
        (f"total {sym}", "right"),
        ("gas (simulated)", "right"),
        ("batch id", "left"),
        ("note", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for b in p.batches:
        sim = sims.get(b.index)
        note = ""
        if sim is None:
            gas = f"~{b.cost_estimate:,} (model)"
        else:
            gas = f"{sim.gas_used:,}"
            if sim.already_executed:
                note = "already executed on chain"
            elif sim.failures:
                note = f"{len(sim.failures)} row(s) fail"
        table.add_row(
            str(b.index), str(b.count), units(b.total, d), gas, b.batch_id_hex[:18] + "…", note
        )
    console.print(table)
    console.print(
        f"  {p.count} payouts, {units(p.total, d)} {sym} in {len(p.batches)} batch(es); "
        f"gas {p.gas_total:,} + approval {p.approval_gas:,}"
    )
    fee_line = (
        f"  cost at {gwei(p.fees.base_fee + p.fees.max_priority_fee)} gwei: "
        f"{eth(p.expected_fee_wei)} ETH"
    )
    if p.separate_gas_total:
        fee_line += (
            f"; separate transfers: {p.separate_gas_total:,} gas = "
            f"{eth(p.separate_fee_wei or 0)} ETH (saving {p.gas_saving_percent:.1f}%)"
        )
    console.print(fee_line)
    pf = p.preflight
    approvals = (
        "none needed"
        if not pf.approvals
        else " then ".join(f"approve({units(a, d)})" for a in pf.approvals)
    )
    console.print(
        f"  pre-flight: {units(pf.token_balance, d)} {sym} held / {units(pf.token_needed, d)} "
        f"needed; {eth(pf.native_balance)} ETH held / {eth(pf.fee_needed)} ETH max fees; "
        f"allowance {units(pf.allowance, d)} ({approvals})"
    )
    for f in p.failures:
        console.print(
            f"  [yellow]predicted failure[/] {f.label} -> {f.recipient} "
            f"{units(f.amount, d)} {sym}: {f.reason}"
        )
    for f in p.excluded:
        console.print(
            f"  [yellow]excluded[/] {f.label} -> {f.recipient} {units(f.amount, d)} {sym}: "
            f"{f.reason}"
        )
    for s in pf.shortfalls:
        console.print(f"  [red]shortfall[/] {s}")


def result_json(r: BatchResult) -> dict[str, Any]:
    return {
        "batch_id": r.batch_id,
        "status": r.status.value,
        "tx_hash": r.tx_hash,
        "block_number": r.block_number,
        "gas_used": r.gas_used,
        "fee_wei": r.fee_wei,
        "paid": r.paid,
        "skipped": r.skipped,
        "paid_total_base_units": r.paid_total,
        "detail": r.detail,
        "found_executed": r.found_executed,
    }


def send_json(report: SendReport) -> dict[str, Any]:
    return {
        "settled_from_chain": [result_json(r) for r in report.settled],
        "batches": [result_json(r) for r in report.results],
        "plans": [plan_json(p) for p in report.plans],
        "already_paid": report.already_paid,
        "paid_rows": report.paid_rows,
        "found_executed_batches": len(report.found_executed),
        "found_executed_rows": report.found_executed_rows,
        "gas_used": report.gas_used,
        "retried_skipped": report.retried_skipped,
        "skipped_still_owed": report.skipped_still_owed,
        "recovered_rows": report.recovered_rows,
        "replanned": report.replanned,
    }


def send_summary(report: SendReport) -> str:
    """The "Done" line of a send: what this run paid, and apart, batches found already executed
    on chain (an earlier run, another process, a lost ledger) that it only recorded."""
    sent = [r for r in report.results if not r.found_executed]
    text = (
        f"[green]Done[/]: {report.paid_rows} recipients paid in {len(sent)} batch(es), "
        f"{report.gas_used:,} gas; {report.already_paid} were already paid before this run."
    )
    if report.found_executed:
        text += (
            f" {len(report.found_executed)} batch(es) ({report.found_executed_rows} recipients) "
            "were found already executed on chain and recorded; this run did not pay them."
        )
    return text


def skipped_owed_note(count: int) -> str | None:
    """The line telling an operator that rows set aside as skipped are still owed."""
    if not count:
        return None
    return (
        f"{count} row(s) of this file are set aside as skipped and still owed; "
        "pay them with `--retry-skipped` (after fixing why they failed)."
    )


def _batch_ref(b: SettledBatch | LeftOpen) -> dict[str, Any]:
    return {
        "network": b.scope.network.value,
        "chain_id": b.scope.chain_id,
        "payer": b.scope.payer,
        "token": b.scope.token,
        "batch_id": b.batch_id,
        "index": b.index,
    }


def _settled_json(b: SettledBatch) -> dict[str, Any]:
    return {
        **_batch_ref(b),
        "status": b.outcome,
        "tx_hash": b.tx_hash,
        "paid": b.paid,
        "detail": b.detail,
    }


def _left_json(b: LeftOpen) -> dict[str, Any]:
    return {**_batch_ref(b), "status": b.status.value, "reason": b.reason}


def resume_json(
    report: ResumeReport, *, signer: str | None, tron_node: str | None
) -> dict[str, Any]:
    """``payout resume --json``: one section per executor kind; the hot wallet's figures also
    stay at the top level, where the first version of this output put them."""
    wallet = report.wallet or SendReport()
    left = {kind: [_left_json(b) for b in report.left(kind)] for kind in ExecutorKind}
    return {
        **send_json(wallet),
        "wallet": {
            "signer": signer,
            "settled": [result_json(r) for r in wallet.settled],
            "sent": [result_json(r) for r in wallet.results],
            "left_open": left[ExecutorKind.WALLET],
        },
        "safe": {
            "settled": [_settled_json(b) for b in report.safe],
            "left_open": left[ExecutorKind.SAFE],
        },
        "tron": {
            "node": tron_node,
            "settled": [_settled_json(b) for b in report.tron],
            "left_open": left[ExecutorKind.TRON],
        },
        "left_open": len(report.left_open),
        "owed_rows": len(report.owed),
        "owed": [
            {
                "network": o.scope.network.value,
                "chain_id": o.scope.chain_id,
                "payer": o.scope.payer,
                "token": o.scope.token,
                "payout_id": o.payout_id,
                "recipient": o.recipient,
                "amount": o.amount,
                "status": o.status.value,
                "batch_id": o.batch_id,
                "reason": o.reason,
            }
            for o in report.owed
        ],
    }


def print_resume(console: Any, report: ResumeReport) -> None:
    """One section per executor kind: what was settled, sent, and left open (and why)."""
    from rich.table import Table

    wallet = report.wallet
    done: dict[ExecutorKind, list[tuple[str, str, str, str, str]]] = {k: [] for k in ExecutorKind}
    if wallet is not None:
        for how, results in (("settled", wallet.settled), ("sent", wallet.results)):
            done[ExecutorKind.WALLET] += [
                (how, r.batch_id, r.status.value, r.tx_hash or "", f"{r.paid} paid {r.detail}")
                for r in results
            ]
    for b in report.safe + report.tron:
        done[b.executor].append(
            ("settled", b.batch_id, b.outcome, b.tx_hash or "", f"{b.paid} paid {b.detail}")
        )
    if not report.left_open and not any(done.values()) and not report.owed:
        console.print("Nothing to resume: no batch in flight or left to send, no row owed.")
        return
    for kind in ExecutorKind:
        entries, left = done[kind], report.left(kind)
        if not entries and not left:
            continue
        counts = [f"{sum(1 for e in entries if e[0] == how)} {how}" for how in ("settled", "sent")]
        console.print(f"[bold]{kind.value}[/]: " + ", ".join([*counts, f"{len(left)} left open"]))
        if entries:
            table = Table(show_edge=False, pad_edge=False)
            for col in ("", "batch", "status", "tx", "detail"):
                table.add_column(col)
            for how, batch_id, state, tx, detail in entries:
                table.add_row(how, batch_id, state, tx, detail.strip())
            console.print(table)
        by_reason: dict[str, list[LeftOpen]] = {}
        for lo in left:
            by_reason.setdefault(lo.reason, []).append(lo)
        for reason, batches in by_reason.items():
            console.print(f"  [yellow]left open[/]: {reason}")
            for lo in batches:
                console.print(
                    f"    batch {lo.index} {lo.batch_id} ({lo.status.value}; payer "
                    f"{lo.scope.payer}, chain {lo.scope.chain_id})"
                )
    settled_paid = sum(b.paid for b in report.safe + report.tron)
    console.print(
        (
            ("[yellow]Resumed[/]" if report.owed else "[green]Done[/]")
            + f": {wallet.paid_rows} recipients paid by the hot wallet; "
            + (
                f"{len(wallet.found_executed)} batch(es) ({wallet.found_executed_rows} "
                "recipients) found already executed on chain, not paid by this run; "
                if wallet.found_executed
                else ""
            )
            if wallet
            else ""
        )
        + f"{settled_paid} recipients of Safe/TRON batches settled as paid; "
        f"{len(report.left_open)} batch(es) left open."
    )
    _print_owed(console, report)


def _print_owed(console: Any, report: ResumeReport) -> None:
    """Every row still owed, grouped by what pays it (the first 50 of each group)."""
    if not report.owed:
        return
    console.print(f"[red]Still owed[/]: {len(report.owed)} row(s)")
    groups: dict[str, list[Any]] = {}
    for o in report.owed:
        groups.setdefault(o.reason, []).append(o)
    for reason, rows in groups.items():
        console.print(f"  {len(rows)} {reason}")
        for o in rows[:50]:
            console.print(
                f"    {o.payout_id} {o.recipient} {o.amount} base units ({o.status.value}; "
                f"payer {o.scope.payer}, token {o.scope.token}, chain {o.scope.chain_id})"
            )
        if len(rows) > 50:
            console.print(f"    ... and {len(rows) - 50} more (`payout status`, --json)")


def token_amount(amount: int, decimals: int | None, symbol: str) -> str:
    """``120.623457 USDC``; base units, labelled, when the token's decimals are unknown."""
    from payout.amount import format_amount

    if decimals is None:
        return f"{amount} base units (token decimals unknown)"
    return format_amount(amount, decimals, symbol=symbol or "tokens")


def _tx(tx_hash: str | None) -> str:
    return f" (tx {tx_hash})" if tx_hash else ""


def describe_event(event: ExecutionEvent) -> str:
    """One line in plain words per executor event.

    For example ``batch-confirmed`` -> ``batch 0 confirmed on chain: ...``.
    """
    where = f"batch {event.batch_index}" if event.batch_index is not None else "a batch"
    recipients = f"{event.count} recipient(s)"
    kind = event.kind
    if kind == "approve":
        amount = token_amount(event.count, event.decimals, event.symbol)
        return f"approved {amount} for the disburser{_tx(event.tx_hash)}"
    if kind == "batch-signed":
        return f"{where} signed and recorded ({recipients}), sending{_tx(event.tx_hash)}"
    if kind == "batch-confirmed":
        return f"{where} confirmed on chain: {event.detail or recipients}{_tx(event.tx_hash)}"
    if kind == "batch-skipped-already-paid":
        return (
            f"{where} was already executed on chain: recorded as paid ({recipients}), nothing "
            f"sent{_tx(event.tx_hash)}"
        )
    if kind == "batch-failed":
        return f"{where} reverted on chain: its recipients are still owed{_tx(event.tx_hash)}"
    if kind == "replaced":
        return f"{where} was slow to confirm: re-sent with a higher fee{_tx(event.tx_hash)}"
    if kind == "settled":
        status, _sep, how = event.detail.partition(": ")
        outcome = f"{status} ({how})" if how else status
        return f"{where} from an earlier run settled from the chain: {outcome}{_tx(event.tx_hash)}"
    return f"{where}: {kind} {event.detail}{_tx(event.tx_hash)}".strip()


class EventPrinter:
    """Prints executor events and drives a progress bar (recipients paid / planned)."""

    def __init__(self, console: Any, *, show_progress: bool = True) -> None:
        self.console = console
        self.show_progress = show_progress
        self.progress: Any = None
        self.task: Any = None

    def start(self, total: int) -> None:
        """Show a progress bar over ``total`` recipients (a new one per plan)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.stop()
        if not self.show_progress or not total:
            return
        self.progress = Progress(
            TextColumn("paying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("recipients"),
            console=self.console,
            transient=False,
        )
        self.task = self.progress.add_task("pay", total=total)
        self.progress.start()

    def __call__(self, event: ExecutionEvent) -> None:
        counts = event.kind in ("batch-confirmed", "batch-skipped-already-paid", "settled")
        if counts and self.progress is not None and self.task is not None:
            self.progress.advance(self.task, event.count)
        if event.kind == "batch-signed":
            return
        self.console.print("  " + describe_event(event))

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
            self.task = None
