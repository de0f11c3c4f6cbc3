"""TRC-20 payouts through the common pipeline: manifest -> plan -> ledger -> TRON executor.

Payout files are the same as on EVM chains, with TRON rows: a ``network`` column saying ``tron``
(or ``trc20``), or a file validated for TRON as a whole. Recipients are base58check ``T...``
addresses (an ``0x`` address in a TRON row is refused with a message naming the network it looks
like). Amounts use the token's decimals read from the chain; the ledger scope is (``tron``, chain
id, payer, token), so a payout id is paid at most once per payer and token, across files and runs.

* :func:`open_context` connects, reads the token and verifies the disburser's code;
* :func:`validate_file`, :func:`plan_file` (energy / fee-limit / 500 KiB bounded batches, TRX
  pre-flight, token balance, comparison with separate transfers);
* :func:`send_file` (hot wallet) and :func:`resume` (settle from the chain, then send what is
  left); :func:`propose_file` writes multisig proposal files (:mod:`payout.tron.multisig`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tronpy import Tron
from tronpy.keys import to_base58check_address

from payout.address import normalize_tron_address
from payout.batching import DEFAULT_MAX_BATCH_SIZE, plan_batches
from payout.exceptions import TronError, TronNodeError, TronTokenShortfall, TrxShortfall
from payout.ledger import Ledger, Registration
from payout.manifest import Manifest, ManifestOptions, load_manifest, read_manifest
from payout.tron import multisig
from payout.tron.client import connect
from payout.tron.deploy import chain_id as read_chain_id
from payout.tron.deploy import verify_disburser
from payout.tron.energy import (
    DEFAULT_MARGIN_BPS,
    EnergyModel,
    ResourcePrices,
    TrxBudget,
    account_resources,
    cost_model,
    disburse_tx_bytes,
    measure_model,
    read_prices,
    trigger_tx_bytes,
    trx_budget,
)
from payout.tron.executor import BatchResult, TronExecutor, TronSendSettings
from payout.tron.signer import TronSigner
from payout.tron.token import allowance, balance_of, token_info
from payout.types import (
    Batch,
    BatchStatus,
    ExecutorKind,
    Network,
    PayMode,
    PayoutStatus,
    Scope,
    TokenInfo,
)

#: Used when the payer holds no token yet (transfers cannot be simulated from it): TRON USDT's
#: published figures (64,285 energy to a holder, 130,285 to a fresh address) plus the disburser.
FALLBACK_TRANSFER_FRESH = 130_285
FALLBACK_TRANSFER_WARM = 64_285
#: Serialized size of a plain TRC-20 ``transfer`` transaction (for the comparison).
TRANSFER_CALLDATA = 4 + 64


@dataclass(frozen=True)
class TronContext:
    """Everything a TRON payout needs from the chain before planning."""

    client: Tron
    node_url: str
    chain_id: int
    token: TokenInfo
    disburser: str
    payer: str
    prices: ResourcePrices


def open_context(
    node_url: str, *, token: str, disburser: str, payer: str | None, verify: bool = True
) -> TronContext:
    """Connect, read the token's symbol/decimals and check the disburser is the shipped code.

    ``payer`` may be ``None`` for validation only (no ledger scope, no balances)."""
    client = connect(node_url)
    token_address = normalize_tron_address(token)
    disburser_address = normalize_tron_address(disburser)
    if verify:
        verify_disburser(client, disburser_address)
    return TronContext(
        client=client,
        node_url=node_url,
        chain_id=read_chain_id(client),
        token=token_info(client, token_address),
        disburser=disburser_address,
        payer=normalize_tron_address(payer) if payer else "",
        prices=read_prices(client),
    )


def manifest_options(ctx: TronContext, *, id_namespace: str = "") -> ManifestOptions:
    return ManifestOptions(
        network=Network.TRON,
        token=ctx.token,
        forbidden={
            ctx.disburser: "the disburser contract",
            ctx.token.address: "the token contract",
        },
        id_namespace=id_namespace,
    )


def validate_file(ctx: TronContext, path: Path, *, id_namespace: str = "") -> Manifest:
    """Every issue of a payout file (nothing raised for content; see ``Manifest.issues``)."""
    return read_manifest(path, manifest_options(ctx, id_namespace=id_namespace))


def scope_of(ctx: TronContext) -> Scope:
    return Scope(Network.TRON, ctx.chain_id, ctx.payer, ctx.token.address)


def pin_chain(ctx: TronContext, ledger: Ledger) -> None:
    """Pin the scope to the node's block 0 id, refusing a reset chain that kept the chain id
    (the id is only the last 4 bytes of that block id)."""
    from payout.tron.client import node_call

    genesis = str(node_call(ctx.client, lambda: ctx.client.get_block(0))["blockID"]).lower()
    ledger.pin_chain(scope_of(ctx), genesis)


@dataclass
class TronPlan:
    """A planned TRON payout and its pre-flight figures."""

    manifest: Manifest
    registration: Registration
    batches: list[Batch]
    model: EnergyModel
    model_source: str
    budget: TrxBudget
    token_balance: int
    allowance: int
    total: int
    separate_energy: int
    separate_bytes: int
    #: Notes for the operator; the still-owed count is ``skipped_still_owed`` (``to_json`` adds
    #: its note).
    notes: list[str] = field(default_factory=list)
    #: Rows set aside as skipped that this plan leaves out (still owed) / planned again.
    skipped_still_owed: int = 0
    retried_skipped: int = 0

    @property
    def token_ok(self) -> bool:
        return self.token_balance >= self.total

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.manifest.path,
            "rows": self.manifest.rows,
            "to_pay": sum(b.count for b in self.batches),
            "already_paid": len(self.registration.paid),
            "in_flight": len(self.registration.in_flight),
            "skipped_still_owed": self.skipped_still_owed,
            "retried_skipped": self.retried_skipped,
            "total": self.total,
            "energy_model": {**self.model.to_json(), "source": self.model_source},
            "batches": [
                {
                    "index": b.index,
                    "batch_id": b.batch_id_hex,
                    "count": b.count,
                    "total": b.total,
                    "energy_estimate": b.cost_estimate,
                    "tx_bytes": disburse_tx_bytes(b.count),
                }
                for b in self.batches
            ],
            "trx_budget": self.budget.to_json(),
            "token_balance": self.token_balance,
            "allowance": self.allowance,
            "separate_transfers": {"energy": self.separate_energy, "bytes": self.separate_bytes},
            "notes": self.notes + self._owed_notes(),
        }

    def _owed_notes(self) -> list[str]:
        # Kept out of ``notes``: the CLI words the still-owed line itself (as for EVM plans).
        if not self.skipped_still_owed:
            return []
        return [
            f"{self.skipped_still_owed} payout(s) set aside as skipped are still owed: "
            "pay them with `payout tron send --retry-skipped`"
        ]


def energy_model(ctx: TronContext) -> tuple[EnergyModel, str]:
    """Price recipients by simulating the token's transfer from the payer (see
    :func:`payout.tron.energy.measure_model`); published USDT figures when it holds no token."""
    if balance_of(ctx.client, ctx.token.address, ctx.payer) > 0:
        try:
            return measure_model(ctx.client, ctx.token.address, ctx.payer), "simulated"
        except TronNodeError:
            pass
    from payout.tron.energy import DISBURSER_OVERHEAD

    model = EnergyModel(
        per_batch=DISBURSER_OVERHEAD.per_batch + FALLBACK_TRANSFER_FRESH * 5 // 4,
        per_fresh=DISBURSER_OVERHEAD.per_recipient + FALLBACK_TRANSFER_FRESH,
        per_warm=DISBURSER_OVERHEAD.per_recipient + FALLBACK_TRANSFER_WARM,
    )
    return model, "published USDT figures (payer holds no token to simulate with)"


def plan_file(
    ctx: TronContext,
    ledger: Ledger,
    path: Path,
    *,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    margin_bps: int = DEFAULT_MARGIN_BPS,
    mode: PayMode = PayMode.STRICT,
    signatures: int = 1,
    permission_id: int = 0,
    id_namespace: str = "",
    command: str = "tron plan",
    retry_skipped: bool = False,
) -> TronPlan:
    """Validate (raising :class:`~payout.exceptions.ManifestError` with every issue), register
    the rows in the ledger, plan energy- and size-bounded batches, store the plan, and compute
    the pre-flight figures. Sends nothing.

    Rows the ledger has as skipped stay set aside (counted in a note) unless ``retry_skipped``:
    then they are owed again (``planned``) and planned with the rest, in file order."""
    manifest = load_manifest(path, manifest_options(ctx, id_namespace=id_namespace))
    return plan_manifest(
        ctx,
        ledger,
        manifest,
        max_batch_size=max_batch_size,
        margin_bps=margin_bps,
        mode=mode,
        signatures=signatures,
        permission_id=permission_id,
        command=command,
        retry_skipped=retry_skipped,
    )


def plan_manifest(
    ctx: TronContext,
    ledger: Ledger,
    manifest: Manifest,
    *,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    margin_bps: int = DEFAULT_MARGIN_BPS,
    mode: PayMode = PayMode.STRICT,
    signatures: int = 1,
    permission_id: int = 0,
    command: str = "tron plan",
    retry_skipped: bool = False,
    rolling_replay: bool = False,
) -> TronPlan:
    """:func:`plan_file` for rows already validated (the payout service's requests). With
    ``rolling_replay`` new batches take their replay keys from the payer's rolling word in the
    ledger (:meth:`Ledger.with_rolling_keys`) instead of the run's own word."""
    scope = scope_of(ctx)
    run_id = ledger.start_run(
        command,
        scope=scope,
        executor=ExecutorKind.TRON,
        disburser=ctx.disburser,
        source=manifest.path,
        source_sha256=manifest.sha256,
        rows=manifest.rows,
    )
    registration = ledger.register(manifest.payouts, scope, run_id=run_id)
    retried = 0
    if retry_skipped and registration.skipped:
        retry = {p.payout_id for p in registration.skipped}
        ledger.set_payout_status(scope, sorted(retry), PayoutStatus.PLANNED)
        owed = retry | {p.payout_id for p in registration.to_plan}
        registration.to_plan = [p for p in manifest.payouts if p.payout_id in owed]
        retried = len(retry)
    model, source = energy_model(ctx)
    planner = cost_model(
        model, ctx.prices, margin_bps=margin_bps, signatures=signatures, permission_id=permission_id
    )
    batches = plan_batches(
        registration.to_plan,
        network=Network.TRON,
        chain_id=ctx.chain_id,
        payer=ctx.payer,
        disburser=ctx.disburser,
        token=ctx.token.address,
        cost_model=planner,
        max_batch_size=max_batch_size,
        start_index=0,
    )
    batches = _ledger_indexes(ledger, scope, batches)
    if rolling_replay:
        batches = ledger.with_rolling_keys(batches)
    if batches:
        ledger.save_plan(batches, executor=ExecutorKind.TRON, mode=mode, run_id=run_id)
    total = sum(b.total for b in batches)
    current_allowance = allowance(ctx.client, ctx.token.address, ctx.payer, ctx.disburser)
    approvals = _approval_count(current_allowance, batches)
    approve_energy = _approve_energy(ctx, max((b.total for b in batches), default=1))
    budget = trx_budget(
        energies=[b.cost_estimate for b in batches] + [approve_energy] * approvals,
        tx_bytes=[
            disburse_tx_bytes(b.count, signatures=signatures, permission_id=permission_id)
            for b in batches
        ]
        + [trigger_tx_bytes(4 + 64, signatures=signatures)] * approvals,
        resources=account_resources(ctx.client, ctx.payer),
        prices=ctx.prices,
        margin_bps=margin_bps,
        signatures=signatures,
    )
    count = sum(b.count for b in batches)
    notes = []
    if registration.paid:
        notes.append(f"{len(registration.paid)} payout(s) already paid: not planned again")
    if registration.in_flight:
        notes.append(
            f"{len(registration.in_flight)} payout(s) are in a submitted batch: "
            "`payout tron resume` settles them first"
        )
    if retried:
        notes.append(f"{retried} payout(s) set aside as skipped earlier: planned again")
    return TronPlan(
        manifest=manifest,
        registration=registration,
        batches=batches,
        model=model,
        model_source=source,
        budget=budget,
        token_balance=balance_of(ctx.client, ctx.token.address, ctx.payer),
        allowance=current_allowance,
        total=total,
        separate_energy=count * (model.per_fresh - _overhead_per_recipient()),
        separate_bytes=count * trigger_tx_bytes(TRANSFER_CALLDATA),
        notes=notes,
        skipped_still_owed=0 if retried else len(registration.skipped),
        retried_skipped=retried,
    )


def _approve_energy(ctx: TronContext, amount: int) -> int:
    """Energy of one ``approve(disburser, amount)`` from the payer, simulated (a fresh allowance
    slot, priced by the token's energy factor)."""
    from payout.address import tron_to_evm
    from payout.disburser import encode_approve
    from payout.tron.executor import APPROVE_ENERGY_FLOOR, simulate

    data = encode_approve(tron_to_evm(ctx.disburser), amount)
    sim = simulate(ctx.client, ctx.payer, ctx.token.address, "approve(address,uint256)", data[4:])
    return max(sim.energy if sim.ok else 0, APPROVE_ENERGY_FLOOR)


def _overhead_per_recipient() -> int:
    from payout.tron.energy import DISBURSER_OVERHEAD

    return DISBURSER_OVERHEAD.per_recipient


def _approval_count(current: int, batches: list[Batch]) -> int:
    count = 0
    for b in batches:
        count += 0 if current == b.total else (2 if current else 1)
        current = 0  # each batch consumes exactly its approval
    return count


def _ledger_indexes(ledger: Ledger, scope: Scope, batches: list[Batch]) -> list[Batch]:
    """Number ``batches`` as the ledger will: a batch already planned under the same batch id
    (``tron plan`` stored it, ``tron send`` plans the same rows again) keeps its index, so both
    commands show the same batch numbers; a new batch gets the next unused index."""
    existing = ledger.batches(scope)
    planned = {b.batch_id: b.index for b in existing if b.status is BatchStatus.PLANNED}
    fresh = max((b.index for b in existing), default=-1) + 1
    numbered = []
    for b in batches:
        index = planned.get(b.batch_id_hex)
        if index is None:
            index, fresh = fresh, fresh + 1
        numbered.append(replace(b, index=index))
    return numbered


def preflight(ctx: TronContext, plan: TronPlan) -> None:
    """Refuse with the shortfall when the payer lacks tokens or TRX for the plan."""
    if not plan.token_ok:
        raise TronTokenShortfall(ctx.payer, ctx.token.address, plan.total, plan.token_balance)
    if not plan.budget.ok:
        raise TrxShortfall(ctx.payer, plan.budget.needed_sun, plan.budget.available_sun)


@dataclass
class TronSendReport:
    plan: TronPlan | None
    settled: list[BatchResult]
    results: list[BatchResult]
    #: Rows of the file the ledger has as skipped after the run (``send --retry-skipped``).
    skipped_still_owed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json() if self.plan else None,
            "settled": [r.to_json() for r in self.settled],
            "batches": [r.to_json() for r in self.results],
            "paid": sum(r.count for r in self.results if r.status is BatchStatus.CONFIRMED),
            "energy_used": sum(r.energy_used for r in self.results),
            "fee_sun": sum(r.fee_sun for r in self.results),
            "skipped_still_owed": self.skipped_still_owed,
        }


def send_file(
    ctx: TronContext,
    ledger: Ledger,
    signer: TronSigner,
    path: Path,
    *,
    settings: TronSendSettings | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    retry_skipped: bool = False,
) -> TronSendReport:
    """Pay a file from a hot wallet: settle what is in flight, plan, pre-flight, send.
    Rows set aside as skipped are paid again only with ``retry_skipped``."""
    settings = settings or TronSendSettings()
    manifest = load_manifest(path, manifest_options(ctx))
    return send_manifest(
        ctx,
        ledger,
        signer,
        manifest,
        settings=settings,
        max_batch_size=max_batch_size,
        on_event=on_event,
        retry_skipped=retry_skipped,
    )


def send_manifest(
    ctx: TronContext,
    ledger: Ledger,
    signer: TronSigner,
    manifest: Manifest,
    *,
    settings: TronSendSettings | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    retry_skipped: bool = False,
    command: str = "tron send",
    rolling_replay: bool = False,
) -> TronSendReport:
    """:func:`send_file` for rows already validated (the payout service's worker; it passes
    ``rolling_replay``, see :func:`plan_manifest`)."""
    settings = settings or TronSendSettings()
    if signer.address != ctx.payer:
        raise TronError(f"the key is {signer.address}, the payer is {ctx.payer}")
    executor = TronExecutor(
        ctx.client,
        ledger,
        signer,
        ctx.disburser,
        settings=settings,
        prices=ctx.prices,
        on_event=on_event,
    )
    pin_chain(ctx, ledger)
    settled = executor.settle_open(scope_of(ctx))
    plan = plan_manifest(
        ctx,
        ledger,
        manifest,
        max_batch_size=max_batch_size,
        margin_bps=settings.margin_bps,
        mode=settings.mode,
        command=command,
        retry_skipped=retry_skipped,
        rolling_replay=rolling_replay,
    )
    preflight(ctx, plan)
    results = [executor.send_batch(b) for b in plan.batches]
    owed = ledger.payouts(
        scope_of(ctx),
        status=PayoutStatus.SKIPPED,
        payout_ids=[p.payout_id for p in plan.manifest.payouts],
    )
    return TronSendReport(plan=plan, settled=settled, results=results, skipped_still_owed=len(owed))


def resume(
    ctx: TronContext,
    ledger: Ledger,
    signer: TronSigner | None,
    *,
    settings: TronSendSettings | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> TronSendReport:
    """Settle every submitted batch from the chain; with a key, also send planned batches."""
    settings = settings or TronSendSettings()
    executor = TronExecutor(
        ctx.client,
        ledger,
        signer,
        ctx.disburser,
        settings=settings,
        prices=ctx.prices,
        on_event=on_event,
    )
    scope = scope_of(ctx)
    pin_chain(ctx, ledger)
    settled = executor.settle_open(scope)
    results: list[BatchResult] = []
    if signer is not None:
        for record in ledger.batches(scope, status=BatchStatus.PLANNED, executor=ExecutorKind.TRON):
            results.append(executor.send_batch(ledger.load_batch(scope, record.batch_id)))
    return TronSendReport(plan=None, settled=settled, results=results)


def propose_file(
    ctx: TronContext,
    ledger: Ledger,
    path: Path,
    out_dir: Path,
    *,
    permission_id: int,
    expiration_ms: int = multisig.DEFAULT_PROPOSAL_EXPIRATION_MS,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    margin_bps: int = DEFAULT_MARGIN_BPS,
    mode: PayMode = PayMode.STRICT,
) -> tuple[TronPlan, list[Path]]:
    """Plan a file for a multisig payer and write one unsigned proposal file per batch."""
    from payout.tron.permission import permission_by_id

    pin_chain(ctx, ledger)
    permission = permission_by_id(ctx.client, ctx.payer, permission_id)
    keys = sorted((int(k.get("weight", 1)) for k in permission.get("keys", [])), reverse=True)
    threshold = int(permission.get("threshold", 1))
    signatures, acc = 0, 0
    for weight in keys:  # fewest signatures that can reach the threshold: size bound per file
        if acc >= threshold:
            break
        acc += weight
        signatures += 1
    signatures = max(len(keys), signatures)  # worst case: every key signs
    executor = TronExecutor(ctx.client, ledger, None, ctx.disburser, prices=ctx.prices)
    executor.settle_open(scope_of(ctx))
    plan = plan_file(
        ctx,
        ledger,
        path,
        max_batch_size=max_batch_size,
        margin_bps=margin_bps,
        mode=mode,
        signatures=signatures,
        permission_id=permission_id,
        command="tron propose",
    )
    preflight(ctx, plan)
    written = []
    for batch in plan.batches:
        proposal = multisig.propose(
            ctx.client,
            ledger,
            batch,
            permission_id=permission_id,
            mode=mode,
            expiration_ms=expiration_ms,
            margin_bps=margin_bps,
        )
        target = out_dir / f"tron-batch-{batch.index:04d}-{batch.batch_id.hex()[:12]}.json"
        multisig.write_proposal(target, proposal)
        written.append(target)
    return plan, written


def payer_of(address: str) -> str:
    return str(to_base58check_address(address))
