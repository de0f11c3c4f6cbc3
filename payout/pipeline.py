"""The EVM payout pipeline: manifest -> plan -> ledger -> executor -> reconcile.

One function per CLI command, each returning a plain result object the CLI renders (and the demo
reuses). Nothing here prints or prompts.

``validate``  read the file with the token's decimals from the chain.
``plan``      register nothing; cut gas-bounded batches, simulate each one with the approvals it
              needs (``eth_simulateV1``), predict failing rows, estimate the cost against
              separate transfers, check balances and allowance. Read-only.
``send``      settle what a previous run left in flight, register the file in the ledger, plan,
              simulate, refuse on a shortfall, save the plan, then pay batch by batch
              (write-ahead, see :mod:`payout.executor`).
``resume``    settle in-flight batches from the chain, then pay the saved plan's remaining batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eth_utils.address import to_checksum_address

from payout import history
from payout.batching import evm_gas_model, plan_batches
from payout.chain import Chain, FeeData, TokenInfo
from payout.config import Settings
from payout.deployment import verify_disburser
from payout.disburser import (
    BatchSimulation,
    Disburser,
    RowFailure,
    approval_amounts,
    encode_transfer,
)
from payout.exceptions import InputError, PayoutError, PlanError
from payout.exceptions import PredictedFailures as PredictedFailures
from payout.exceptions import Shortfall as Shortfall
from payout.exceptions import SimulationFailed as SimulationFailed
from payout.executor import Allowance, BatchResult, HotWalletExecutor, OnEvent
from payout.ledger import BatchRecord, Ledger
from payout.manifest import Manifest, ManifestOptions, read_manifest
from payout.redact import redact_url
from payout.types import (
    TX_GAS_CAP,
    Batch,
    BatchStatus,
    ExecutorKind,
    Network,
    PayMode,
    Payout,
    PayoutStatus,
    Scope,
)
from payout.types import TokenInfo as ManifestToken
from payout.wallet import Wallet

OnFailure = Literal["refuse", "exclude", "skip"]

#: Extra gas per recipient in skip-and-report mode (a balanceOf after every transfer), worst case:
#: ~820 measured with an OpenZeppelin-style token (``make bench``, ``skip_extra_per_recipient``),
#: plus head room for a proxied token's balanceOf (e.g. USDC: a delegatecall per read).
SKIP_MODE_EXTRA_GAS = 3_000
#: Rows sampled to estimate the cost of paying everyone with separate transfers.
SEPARATE_TRANSFER_SAMPLE = 64
#: Re-planning rounds (after excluding failing rows or shrinking over-heavy batches).
_PLAN_ROUNDS = 8


# --- context --------------------------------------------------------------------------------------


@dataclass
class Target:
    """The chain and the verified disburser a run pays through."""

    chain: Chain
    disburser: Disburser

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id


def open_target(rpc_url: str, disburser: str | None = None) -> Target:
    """Connect and check the disburser's code against the shipped artifact (refuses otherwise)."""
    return target_on(Chain(rpc_url), disburser)


def target_on(chain: Chain, disburser: str | None = None) -> Target:
    """:func:`open_target` on an open connection."""
    return Target(chain, Disburser(chain, verify_disburser(chain, disburser)))


def _manifest_token(info: TokenInfo, chain_id: int) -> ManifestToken:
    return ManifestToken(info.address, info.symbol, info.decimals, Network.EVM, chain_id)


def validate(
    path: Path, chain: Chain, token: str | None, *, disburser: str | None = None
) -> Manifest:
    """Read and validate a payout file; decimals and symbols of every token come from the chain."""
    default = _manifest_token(chain.token(token), chain.chain_id) if token else None

    def resolve(network: Network, address: str) -> ManifestToken:
        return _manifest_token(chain.token(address), chain.chain_id)

    forbidden: dict[str, str] = {}
    if disburser:
        forbidden[to_checksum_address(disburser)] = "the disburser contract (funds would be stuck)"
    options = ManifestOptions(
        network=Network.EVM, token=default, resolve_token=resolve, forbidden=forbidden
    )
    return read_manifest(path, options)


# --- plan -----------------------------------------------------------------------------------------


@dataclass
class Preflight:
    """Liquidity check of one (payer, token) plan."""

    token_balance: int
    token_needed: int
    native_balance: int
    fee_needed: int
    allowance: int
    approvals: list[int]
    shortfalls: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.shortfalls


@dataclass
class ScopePlan:
    """The plan for one (payer, token)."""

    scope: Scope
    token: TokenInfo
    mode: PayMode
    batches: list[Batch]
    simulations: list[BatchSimulation]
    #: Rows predicted to fail: left out (exclude), skipped on chain (skip) or blocking (refuse).
    failures: list[RowFailure]
    excluded: list[RowFailure]
    already_paid: int
    in_flight: int
    #: Rows the ledger has as skipped (set aside earlier) that this plan leaves out: still owed.
    previously_skipped: int
    fees: FeeData
    gas_total: int
    approval_gas: int
    separate_gas_total: int | None
    preflight: Preflight
    #: Rows the ledger had as skipped that this plan pays again (``retry_skipped``).
    retried_skipped: int = 0

    @property
    def count(self) -> int:
        return sum(b.count for b in self.batches)

    @property
    def total(self) -> int:
        return sum(b.total for b in self.batches)

    @property
    def expected_fee_wei(self) -> int:
        return (self.gas_total + self.approval_gas) * (
            self.fees.base_fee + self.fees.max_priority_fee
        )

    @property
    def separate_fee_wei(self) -> int | None:
        if self.separate_gas_total is None:
            return None
        return self.separate_gas_total * (self.fees.base_fee + self.fees.max_priority_fee)

    @property
    def gas_saving_percent(self) -> float | None:
        if not self.separate_gas_total:
            return None
        return 100.0 * (1 - (self.gas_total + self.approval_gas) / self.separate_gas_total)


@dataclass(frozen=True)
class PlanOptions:
    on_failure: OnFailure = "refuse"
    max_batch_size: int = 500
    gas_margin: int = 1_000_000
    base_gas: int = 60_000
    per_recipient_gas: int = 26_500
    approval: str = "run"
    #: Plan rows the ledger has as ``skipped`` (excluded or skipped on chain earlier) again.
    retry_skipped: bool = False
    #: Replay keys from the scope's rolling word in the ledger instead of the run's own word
    #: (:meth:`Ledger.allocate_replay_key`): for callers that send many tiny runs (the payout
    #: service's flushes), so that consecutive runs share one storage word of the contract.
    rolling_replay: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> PlanOptions:
        values: dict[str, Any] = {
            "max_batch_size": settings.max_batch_size,
            "gas_margin": settings.gas_margin,
            "base_gas": settings.base_gas,
            "per_recipient_gas": settings.per_recipient_gas,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def gas_limit(self) -> int:
        return TX_GAS_CAP - self.gas_margin


def _known(ledger: Ledger | None, scope: Scope, rows: Sequence[Payout]) -> dict[str, Any]:
    if ledger is None:
        return {}
    return {r.payout_id: r for r in ledger.payouts(scope, payout_ids=[p.payout_id for p in rows])}


def _cut(
    rows: Sequence[Payout],
    target: Target,
    payer: str,
    token: str,
    opts: PlanOptions,
    mode: PayMode,
    max_size: int,
) -> list[Batch]:
    extra = SKIP_MODE_EXTRA_GAS if mode is PayMode.SKIP else 0
    model = evm_gas_model(
        base_gas=opts.base_gas,
        per_recipient_gas=opts.per_recipient_gas + extra,
        margin_gas=opts.gas_margin,
    )
    return plan_batches(
        rows,
        network=Network.EVM,
        chain_id=target.chain_id,
        payer=payer,
        disburser=target.disburser.address,
        token=token,
        cost_model=model,
        max_batch_size=max_size,
    )


def _simulate_all(
    target: Target, batches: Sequence[Batch], mode: PayMode, allowance: int, approve_to: int
) -> list[BatchSimulation]:
    out = []
    for b in batches:
        if target.disburser.executed(b.payer, b.replay_key):
            # Paid before (a lost ledger, another process): send records it from the chain.
            out.append(BatchSimulation(b.index, mode, True, 0, already_executed=True))
            continue
        if mode is PayMode.STRICT:
            sim = target.disburser.predict_failures(b, allowance=allowance)
            if sim.ok and not sim.failures:
                sim = target.disburser.simulate(
                    b, PayMode.STRICT, allowance=allowance, approve_to=approve_to
                )
        else:
            sim = target.disburser.predict_failures(b, allowance=allowance)
        out.append(sim)
    return out


def separate_transfer_gas(
    chain: Chain, payer: str, token: str, rows: Sequence[Payout], *, block: str = "latest"
) -> int | None:
    """Gas of paying ``rows`` with one plain ``transfer`` transaction each (sampled, simulated
    against ``block``'s state: before a payout, to compare with what it cost)."""
    if not rows:
        return 0
    step = max(1, len(rows) // SEPARATE_TRANSFER_SAMPLE)
    sample = list(rows[::step])[:SEPARATE_TRANSFER_SAMPLE]
    try:
        results = chain.simulate(
            payer,
            [{"to": token, "data": encode_transfer(p.recipient, p.amount)} for p in sample],
            block=block,
        )
    except PayoutError:
        return None
    ok = [r.gas_used for r in results if r.success]
    if not ok:
        return None
    return sum(ok) * len(rows) // len(ok)


def plan_scope(
    target: Target,
    payer: str,
    token: TokenInfo,
    rows: Sequence[Payout],
    opts: PlanOptions,
    *,
    ledger: Ledger | None = None,
    exclude_ids: Sequence[str] = (),
) -> ScopePlan:
    """Plan one (payer, token) group of rows: batches, simulations, cost, pre-flight. Read-only.

    With a ledger, rows already paid or in flight are left out (and counted); rows set aside as
    skipped are left out and counted too, unless ``opts.retry_skipped`` plans them again.
    """
    chain = target.chain
    payer = to_checksum_address(payer)
    scope = Scope(Network.EVM, target.chain_id, payer, token.address)
    known = _known(ledger, scope, rows)
    todo: list[Payout] = []
    paid = in_flight = skipped_before = retried = 0
    for p in rows:
        record = known.get(p.payout_id)
        if record is None or record.status in (PayoutStatus.PLANNED, PayoutStatus.FAILED):
            todo.append(p)
        elif record.status is PayoutStatus.SKIPPED and opts.retry_skipped:
            todo.append(p)
            retried += 1
        elif record.status is PayoutStatus.CONFIRMED:
            paid += 1
        elif record.status is PayoutStatus.SUBMITTED:
            in_flight += 1
        else:
            skipped_before += 1
    excluded_ids = set(exclude_ids)
    todo = [p for p in todo if p.payout_id not in excluded_ids]

    allowance = chain.allowance(token.address, payer, target.disburser.address)
    balance = chain.token_balance(token.address, payer)
    mode = PayMode.SKIP if opts.on_failure == "skip" else PayMode.STRICT
    max_size = opts.max_batch_size
    excluded: list[RowFailure] = []
    failures: list[RowFailure] = []
    fees = chain.fee_data()
    batches: list[Batch] = []
    sims: list[BatchSimulation] = []
    for _round in range(_PLAN_ROUNDS):
        batches = _cut(todo, target, payer, token.address, opts, mode, max_size) if todo else []
        run_total = sum(b.total for b in batches)
        largest = max((b.total for b in batches), default=0)
        if largest > balance:
            # Every batch would fail its pull: the pre-flight below names the shortfall.
            sims = []
            break
        approve_to = run_total if opts.approval == "run" else 0
        sims = _simulate_all(target, batches, mode, allowance, approve_to)
        for sim in sims:
            if not sim.ok and sim.error is not None:
                raise SimulationFailed(sim.batch_index, sim.error)
        failures = [f for s in sims for f in s.failures]
        if failures and opts.on_failure == "exclude":
            excluded += failures
            bad = {f.payout_id for f in failures}
            todo = [p for p in todo if p.payout_id not in bad]
            continue
        heaviest = max(sims, key=lambda s: s.gas_used, default=None)
        if heaviest is not None and heaviest.gas_used > opts.gas_limit:
            # The worst-case model underestimated this token: shrink the batches and plan again.
            count = batches[heaviest.batch_index - batches[0].index].count
            max_size = max(1, count * opts.gas_limit // heaviest.gas_used - 1)
            continue
        break
    else:
        raise PlanError(
            f"could not fit the batches under {opts.gas_limit:,} gas after {_PLAN_ROUNDS} "
            "attempts (simulated gas keeps exceeding the bound)",
            hint="lower --max-batch-size or --gas-margin",
        )
    gas_total = sum(s.gas_used for s in sims)
    approval_gas = max((s.approval_gas for s in sims), default=0)
    if not sims:
        gas_total = sum(b.cost_estimate for b in batches)
    # Batches the chain already executed (a lost ledger, another process) cost nothing more.
    done = {s.batch_index for s in sims if s.already_executed}
    total = sum(b.total for b in batches if b.index not in done)
    approvals = approval_amounts(allowance, total) if opts.approval == "run" else []
    native = chain.native_balance(payer)
    gas_with_margin = (gas_total + approval_gas * max(1, len(approvals))) * 11 // 10
    fee_needed = gas_with_margin * fees.max_fee
    shortfalls = []
    if balance < total:
        shortfalls.append(
            f"token balance {balance} < {total} needed (short by {total - balance} base units "
            f"of {token.symbol})"
        )
    if native < fee_needed:
        shortfalls.append(
            f"gas coin balance {native} wei < {fee_needed} wei of estimated fees at "
            f"{fees.max_fee} wei/gas (short by {fee_needed - native} wei)"
        )
    preflight = Preflight(balance, total, native, fee_needed, allowance, approvals, shortfalls)
    separate = separate_transfer_gas(
        chain, payer, token.address, [p for b in batches for p in b.payouts]
    )
    return ScopePlan(
        scope=scope,
        token=token,
        mode=mode,
        batches=batches,
        simulations=sims,
        failures=failures if opts.on_failure != "exclude" else [],
        excluded=excluded,
        already_paid=paid,
        in_flight=in_flight,
        previously_skipped=skipped_before,
        fees=fees,
        gas_total=gas_total,
        approval_gas=approval_gas,
        separate_gas_total=separate,
        preflight=preflight,
        retried_skipped=retried,
    )


def other_network_rows(manifest: Manifest) -> int:
    """Rows of the file this EVM pipeline leaves alone (TRON rows: ``payout tron send``)."""
    return sum(1 for p in manifest.payouts if p.network is not Network.EVM)


def group_rows(manifest: Manifest, default_token: str | None) -> dict[str, list[Payout]]:
    """EVM rows of a manifest by token address (file order kept)."""
    groups: dict[str, list[Payout]] = {}
    for p in manifest.payouts:
        if p.network is not Network.EVM:
            continue
        token = p.token or default_token
        if token is None:
            raise InputError(
                f"row {p.payout_id} has no token and no --token was given",
                hint="pass --token ADDRESS or add a token column",
            )
        groups.setdefault(to_checksum_address(token), []).append(p)
    return groups


def plan(
    manifest: Manifest,
    target: Target,
    payer: str,
    default_token: str | None,
    opts: PlanOptions,
    *,
    ledger: Ledger | None = None,
) -> list[ScopePlan]:
    """Plan every token group of a validated manifest (read-only).

    Rows that executed batches the ledger does not know verifiably paid (a lost ledger) are left
    out and counted as already paid; rows matching an unverifiable one are refused
    (:class:`payout.history.UnverifiedChainBatches`), as ``send`` would."""
    manifest.raise_for_errors()
    out = []
    for token_address, rows in group_rows(manifest, default_token).items():
        token = target.chain.token(token_address)
        scope = Scope(Network.EVM, target.chain_id, to_checksum_address(payer), token.address)
        if ledger is not None:
            history.pin(ledger, target.chain, [scope])
        paid, blocked = history.preview(target.disburser, scope, rows, ledger)
        if blocked:
            raise history.UnverifiedChainBatches(scope, blocked)
        scope_plan = plan_scope(
            target, payer, token, rows, opts, ledger=ledger, exclude_ids=sorted(paid)
        )
        scope_plan.already_paid += len(paid)
        out.append(scope_plan)
    return out


# --- send / resume --------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What a send or resume did."""

    settled: list[BatchResult] = field(default_factory=list)
    results: list[BatchResult] = field(default_factory=list)
    plans: list[ScopePlan] = field(default_factory=list)
    already_paid: int = 0
    #: Rows of the file the ledger has as skipped after this run: still owed, paid only by a
    #: run with ``retry_skipped``.
    skipped_still_owed: int = 0
    #: Rows set aside as skipped before this run that it planned again (``retry_skipped``).
    retried_skipped: int = 0
    #: Rows found paid on chain by batches the ledger did not know (a lost ledger), recorded as
    #: paid by this run (included in ``already_paid``).
    recovered_rows: int = 0
    #: Rows owed before this run with no live batch that this run planned again (resume).
    replanned: int = 0

    @property
    def paid_rows(self) -> int:
        """Rows paid by this run's transactions (and by earlier runs' in-flight ones it settled);
        batches found already executed on chain are counted apart (:attr:`found_executed`)."""
        return sum(r.paid for r in self.results + self.settled if not r.found_executed)

    @property
    def found_executed(self) -> list[BatchResult]:
        """Batches the chain had already executed before this run (recorded, not paid now)."""
        return [r for r in self.results + self.settled if r.found_executed]

    @property
    def found_executed_rows(self) -> int:
        return sum(r.paid for r in self.found_executed)

    @property
    def gas_used(self) -> int:
        return sum(r.gas_used or 0 for r in self.results + self.settled if not r.found_executed)


def settle_open(executor: HotWalletExecutor, ledger: Ledger, chain_id: int) -> list[BatchResult]:
    """Settle every submitted batch of this payer on this chain from the chain (see executor)."""
    out = []
    for record in ledger.open_batches():
        scope = record.scope
        if (
            scope.network is Network.EVM
            and scope.chain_id == chain_id
            and scope.payer == executor.payer
            and record.executor is ExecutorKind.WALLET
        ):
            out.append(executor.settle(record))
    return out


def send(
    manifest: Manifest,
    target: Target,
    wallet: Wallet,
    ledger: Ledger,
    default_token: str | None,
    opts: PlanOptions,
    *,
    on_event: OnEvent | None = None,
    on_plan: Callable[[ScopePlan], None] | None = None,
) -> SendReport:
    """Pay a validated file from a hot wallet. Resumable; pays every payout id at most once."""
    manifest.raise_for_errors()
    executor = HotWalletExecutor(
        target.chain,
        wallet,
        target.disburser,
        ledger,
        allowance=Allowance(opts.approval),
        on_event=on_event or (lambda _e: None),
    )
    report = SendReport()
    groups = group_rows(manifest, default_token)
    history.pin(
        ledger,
        target.chain,
        [r.scope for r in ledger.open_batches()]
        + [
            Scope(Network.EVM, target.chain_id, wallet.address, target.chain.token(t).address)
            for t in groups
        ],
    )
    report.settled = settle_open(executor, ledger, target.chain_id)
    # A transaction of a run whose ledger is lost may still wait in the pool: once mined, the
    # chain's record below shows it (never plan around a batch that may still execute).
    wallet.wait_idle()
    run_id = ledger.start_run(
        "send",
        executor=ExecutorKind.WALLET,
        disburser=target.disburser.address,
        source=manifest.path,
        source_sha256=manifest.sha256,
        rows=len(manifest.payouts),
    )
    scoped: list[tuple[Scope, list[Payout]]] = []
    for token_address, rows in groups.items():
        token = target.chain.token(token_address)
        scope = Scope(Network.EVM, target.chain_id, wallet.address, token.address)
        scoped.append((scope, rows))
        registration = ledger.register(rows, scope, run_id=run_id)
        # A lost ledger: batches the chain executed for this payer that the ledger does not
        # know are adopted (their payout ids verify) or block their rows (refused).
        recovered = history.guard(ledger, target.disburser, scope, rows)
        if recovered.adopted:
            registration = ledger.register(rows, scope, run_id=run_id)
            report.recovered_rows += recovered.adopted_rows
        report.already_paid += len(registration.paid)
        # Rows set aside as skipped go to the planner too, in file order: it counts them as
        # still owed, or plans them again when the operator asked (retry_skipped).
        retry = {p.payout_id for p in registration.skipped}
        owed = {p.payout_id for p in registration.to_plan} | retry
        to_plan = [p for p in rows if p.payout_id in owed]
        scope_plan = plan_scope(target, wallet.address, token, to_plan, opts, ledger=ledger)
        if scope_plan.failures and opts.on_failure == "refuse":
            raise PredictedFailures(scope_plan.failures)
        if scope_plan.excluded:
            ledger.set_payout_status(
                scope,
                [f.payout_id for f in scope_plan.excluded],
                PayoutStatus.SKIPPED,
                error="excluded before sending: " + scope_plan.excluded[0].reason[:200],
            )
        report.plans.append(scope_plan)
        if on_plan is not None:
            on_plan(scope_plan)
        if not scope_plan.preflight.ok:
            raise Shortfall(wallet.address, scope_plan.preflight.shortfalls)
        if not scope_plan.batches:
            continue
        if opts.retry_skipped and retry:
            # Only now, with nothing left to refuse: a refused run leaves them set aside.
            again = [
                p.payout_id for b in scope_plan.batches for p in b.payouts if p.payout_id in retry
            ]
            ledger.set_payout_status(scope, again, PayoutStatus.PLANNED)
            report.retried_skipped += len(again)
        batches = (
            ledger.with_rolling_keys(scope_plan.batches)
            if opts.rolling_replay
            else ledger.with_stored_keys(scope_plan.batches)
        )
        # Write-ahead: each batch's replay key is recorded before anything is sent (a batch
        # already in the ledger keeps the key it was first recorded with).
        ledger.save_plan(batches, executor=ExecutorKind.WALLET, mode=scope_plan.mode, run_id=run_id)
        executor.allowance.remaining = scope_plan.total
        for batch in batches:
            report.results.append(executor.execute(batch, scope_plan.mode))
    report.skipped_still_owed = _skipped_still_owed(ledger, scoped)
    return report


def _skipped_still_owed(ledger: Ledger, scoped: Sequence[tuple[Scope, list[Payout]]]) -> int:
    """Rows of the file the ledger has as skipped (excluded, or skipped on chain): still owed."""
    count = 0
    for scope, rows in scoped:
        count += len(
            ledger.payouts(
                scope, status=PayoutStatus.SKIPPED, payout_ids=[p.payout_id for p in rows]
            )
        )
    return count


def resume(
    target: Target,
    wallet: Wallet,
    ledger: Ledger,
    *,
    approval: str = "run",
    on_event: OnEvent | None = None,
) -> SendReport:
    """Finish what earlier runs left: settle in-flight batches, then pay the saved plan's rest."""
    executor = HotWalletExecutor(
        target.chain,
        wallet,
        target.disburser,
        ledger,
        allowance=Allowance(approval),
        on_event=on_event or (lambda _e: None),
    )
    report = SendReport()
    mine = [
        s
        for s in ledger.scopes()
        if s.network is Network.EVM and s.chain_id == target.chain_id and s.payer == wallet.address
    ]
    history.pin(ledger, target.chain, mine + [r.scope for r in ledger.open_batches()])
    report.settled = settle_open(executor, ledger, target.chain_id)
    pending = [
        r
        for r in ledger.batches(status=BatchStatus.PLANNED, executor=ExecutorKind.WALLET)
        if r.scope.network is Network.EVM
        and r.scope.chain_id == target.chain_id
        and r.scope.payer == wallet.address
    ]
    by_token: dict[str, int] = {}
    for r in pending:
        by_token[r.scope.token] = by_token.get(r.scope.token, 0) + r.total
    for record in pending:
        if record.disburser != target.disburser.address:
            raise InputError(
                f"batch {record.batch_id} was planned for disburser {record.disburser}, not "
                f"{target.disburser.address}",
                hint="pass --disburser with the address used when the batch was planned",
            )
        batch = ledger.load_batch(record.scope, record.batch_id)
        executor.allowance.remaining = by_token[record.scope.token]
        report.results.append(executor.execute(batch, record.mode))
        by_token[record.scope.token] -= record.total
    for scope in mine:
        _replan_owed(target, executor, ledger, scope, approval, report)
    return report


def _replan_owed(
    target: Target,
    executor: HotWalletExecutor,
    ledger: Ledger,
    scope: Scope,
    approval: str,
    report: SendReport,
) -> None:
    """Pay the scope's rows that are owed but in no live batch (a batch released because its
    nonce went to another transaction, a reverted batch, a kill between register and plan):
    checked against the chain's record first, planned again, simulated, paid. Rows that cannot
    be paid now (predicted failures, a shortfall) stay owed and are listed by the caller."""
    rows = [r.to_payout() for r in ledger.owed_without_batch(scope)]
    if not rows:
        return
    recovered = history.guard(ledger, target.disburser, scope, rows)
    if recovered.adopted:
        report.recovered_rows += recovered.adopted_rows
        rows = [r.to_payout() for r in ledger.owed_without_batch(scope)]
        if not rows:
            return
    token = target.chain.token(scope.token)
    plan = plan_scope(
        target, scope.payer, token, rows, PlanOptions(approval=approval), ledger=ledger
    )
    report.plans.append(plan)
    if plan.failures or not plan.preflight.ok or not plan.batches:
        return
    ledger.save_plan(plan.batches, executor=ExecutorKind.WALLET, mode=plan.mode)
    report.replanned += plan.count
    executor.allowance.remaining = plan.total
    for batch in plan.batches:
        report.results.append(executor.execute(batch, plan.mode))


@dataclass(frozen=True)
class OwedRow:
    """A row the ledger still owes after ``resume``, and what pays it."""

    scope: Scope
    payout_id: str
    recipient: str
    amount: int
    status: PayoutStatus
    batch_id: str | None
    reason: str


def owed_rows(ledger: Ledger, chain_id: int | None = None) -> list[OwedRow]:
    """Every row of the ledger that is not paid (planned, submitted, failed, skipped); ``chain_id``
    is the EVM chain this run reached (rows of other EVM chains need its --rpc-url)."""
    out: list[OwedRow] = []
    statuses = (
        PayoutStatus.PLANNED,
        PayoutStatus.SUBMITTED,
        PayoutStatus.FAILED,
        PayoutStatus.SKIPPED,
    )
    for scope in ledger.scopes():
        live = {
            b.batch_id: b
            for b in ledger.batches(scope, status=[BatchStatus.PLANNED, BatchStatus.SUBMITTED])
        }
        for r in ledger.payouts(scope, status=statuses):
            batch = live.get(r.batch_id or "")
            if r.status is PayoutStatus.SKIPPED:
                reason = "set aside as skipped: `send FILE --retry-skipped` pays it"
            elif batch is not None:
                reason = f"in {batch.status.value} {batch.executor.value} batch {batch.index}"
            elif scope.network is Network.EVM and chain_id not in (None, scope.chain_id):
                reason = f"in no batch, on chain {scope.chain_id}: `payout resume --rpc-url` of it"
            elif scope.network is Network.TRON:
                reason = "in no batch: `payout tron send FILE` (or `tron resume`) pays it"
            else:
                reason = (
                    "in no batch: `payout resume --keystore FILE` of the payer pays it "
                    "(a Safe payer: `payout safe propose FILE`)"
                )
            if r.status is not PayoutStatus.SKIPPED and r.error:
                reason += f" ({r.error[:120]})"
            out.append(
                OwedRow(scope, r.payout_id, r.recipient, r.amount, r.status, r.batch_id, reason)
            )
    return out


# --- resume every kind of open batch ------------------------------------------------------------


@dataclass(frozen=True)
class SettledBatch:
    """An open Safe or TRON batch after :func:`resume_ledger` asked its chain."""

    executor: ExecutorKind
    scope: Scope
    batch_id: str
    index: int
    #: ``confirmed``, ``failed`` (still owed), ``abandoned`` (released, still owed), ``pending``
    #: (still waiting in the node), ``submitted`` (TRON: not yet expired), ``open``.
    outcome: str
    tx_hash: str | None = None
    paid: int = 0
    detail: str = ""


@dataclass(frozen=True)
class LeftOpen:
    """A batch :func:`resume_ledger` did not settle or send, and what settles it."""

    executor: ExecutorKind
    scope: Scope
    batch_id: str
    index: int
    status: BatchStatus
    reason: str


@dataclass
class ResumeReport:
    """What ``payout resume`` did for each executor kind of the ledger."""

    #: The hot wallet's settle-and-send (None without a signer).
    wallet: SendReport | None = None
    safe: list[SettledBatch] = field(default_factory=list)
    tron: list[SettledBatch] = field(default_factory=list)
    left_open: list[LeftOpen] = field(default_factory=list)
    #: Rows still owed when resume finished (the CLI exits non-zero while there are any).
    owed: list[OwedRow] = field(default_factory=list)

    def left(self, kind: ExecutorKind) -> list[LeftOpen]:
        return [b for b in self.left_open if b.executor is kind]


def _left(record: BatchRecord, reason: str) -> LeftOpen:
    return LeftOpen(
        record.executor, record.scope, record.batch_id, record.index, record.status, reason
    )


def resume_ledger(
    ledger: Ledger,
    *,
    rpc_url: str,
    disburser: str | None = None,
    wallet_of: Callable[[Chain], Wallet] | None = None,
    tron_node_url: str | None = None,
    approval: str = "run",
    on_event: OnEvent | None = None,
) -> ResumeReport:
    """Settle every open batch of the ledger by executor kind, then send the hot wallet's rest.

    * Safe batches on the EVM endpoint's chain: settled from the chain
      (:func:`payout.safe.pipeline.settle_safe_batches`; never sends anything).
    * TRON batches, when ``tron_node_url`` is given: settled per scope by the TRON pipeline's
      resume without a key (a recorded, unexpired transaction is re-broadcast as signed; nothing
      new is signed). Planned TRON batches are left to ``payout tron resume --keystore``.
    * Hot-wallet batches of the payer ``wallet_of`` signs for (it builds the wallet on the EVM
      chain; None: no signer): :func:`resume` (settle, then send the saved plan's rest).

    Everything not handled is listed in :attr:`ResumeReport.left_open` with what to run. The EVM
    endpoint is only contacted when an EVM batch or a signer needs it, so a TRON-only ledger
    resumes without one.
    """
    report = ResumeReport()
    open_batches = ledger.open_batches()
    planned = ledger.batches(status=BatchStatus.PLANNED)
    chain: Chain | None = None

    def evm() -> Chain:
        nonlocal chain
        if chain is None:
            chain = Chain(rpc_url)
        return chain

    safe_open = [r for r in open_batches if r.executor is ExecutorKind.SAFE]
    if safe_open:
        report.safe, left = _resume_safe(evm(), ledger, safe_open)
        report.left_open += left
    tron_records = [r for r in open_batches if r.executor is ExecutorKind.TRON]
    report.tron, left = _resume_tron(ledger, tron_records, tron_node_url)
    report.left_open += left
    report.left_open += [
        _left(r, "planned for a TRON hot wallet: `payout tron resume --keystore FILE` sends it")
        for r in planned
        if r.executor is ExecutorKind.TRON
    ]
    report.left_open += [
        _left(
            r,
            "proposed to the Safe, not executed yet: collect the signatures, then "
            "`payout safe execute FILE`",
        )
        for r in planned
        if r.executor is ExecutorKind.SAFE
    ]
    wallet_records = [r for r in open_batches + planned if r.executor is ExecutorKind.WALLET]
    if wallet_of is None:
        report.left_open += [
            _left(r, "needs the payer's key: `payout resume --keystore FILE` (or --account)")
            for r in wallet_records
        ]
        report.owed = owed_rows(ledger, chain.chain_id if chain is not None else None)
        return report
    target = target_on(evm(), disburser)
    wallet = wallet_of(target.chain)
    report.wallet = resume(target, wallet, ledger, approval=approval, on_event=on_event)
    for r in wallet_records:
        if r.scope.network is not Network.EVM or r.scope.chain_id != target.chain_id:
            report.left_open.append(
                _left(r, f"on chain {r.scope.chain_id}: pass --rpc-url of that chain")
            )
        elif r.scope.payer != wallet.address:
            report.left_open.append(
                _left(r, f"paid by {r.scope.payer}: run `payout resume` with that payer's key")
            )
    report.owed = owed_rows(ledger, target.chain_id)
    return report


def _resume_safe(
    chain: Chain, ledger: Ledger, records: Sequence[BatchRecord]
) -> tuple[list[SettledBatch], list[LeftOpen]]:
    from payout.safe.pipeline import settle_safe_batch

    here = [r for r in records if r.scope.chain_id == chain.chain_id]
    left = [
        _left(r, f"a Safe batch on chain {r.scope.chain_id}: pass --rpc-url of that chain")
        for r in records
        if r.scope.chain_id != chain.chain_id
    ]
    history.pin(ledger, chain, [r.scope for r in here])
    for address in {r.disburser for r in here}:
        verify_disburser(chain, address)
    settled = []
    for r in here:
        outcome = settle_safe_batch(chain, ledger, r.scope, r.batch_id).outcome
        after = ledger.batch(r.scope, r.batch_id)
        detail = {
            "confirmed": "executed by the Safe",
            "failed": "not executed; the Safe nonce is unused: `payout safe execute FILE` runs "
            "the signed proposal again",
            "pending": "its execTransaction is still in the node's pool: resume again later",
        }.get(outcome, "")
        settled.append(
            SettledBatch(
                ExecutorKind.SAFE,
                r.scope,
                r.batch_id,
                r.index,
                outcome,
                after.tx_hash,
                r.count if outcome == "confirmed" else 0,
                detail,
            )
        )
    return settled, left


def _resume_tron(
    ledger: Ledger, records: Sequence[BatchRecord], node_url: str | None
) -> tuple[list[SettledBatch], list[LeftOpen]]:
    if not records:
        return [], []
    if node_url is None:
        return [], [
            _left(
                r,
                "run `payout tron resume` (or give `payout resume` --tron-node / "
                "PAYOUT_TRON_NODE_URL)",
            )
            for r in records
        ]
    from payout.tron.pipeline import open_context
    from payout.tron.pipeline import resume as tron_resume

    by_scope: dict[Scope, list[BatchRecord]] = {}
    for r in records:
        by_scope.setdefault(r.scope, []).append(r)
    settled: list[SettledBatch] = []
    left: list[LeftOpen] = []
    for scope, group in by_scope.items():
        try:
            ctx = open_context(
                node_url, token=scope.token, disburser=group[0].disburser, payer=scope.payer
            )
            if ctx.chain_id != scope.chain_id:
                left += [
                    _left(
                        r,
                        f"on TRON chain {scope.chain_id}; {redact_url(node_url)} is {ctx.chain_id}",
                    )
                    for r in group
                ]
                continue
            result = tron_resume(ctx, ledger, None)
        except PayoutError as exc:
            left += [
                _left(r, f"could not settle it through {redact_url(node_url)}: {exc}")
                for r in group
            ]
            continue
        settled += [
            SettledBatch(
                ExecutorKind.TRON,
                scope,
                b.batch_id,
                b.index,
                b.status.value,
                b.txid,
                b.count if b.status is BatchStatus.CONFIRMED else 0,
                b.note,
            )
            for b in result.settled
        ]
    return settled, left


# --- recover: resolve batches found on chain that the ledger cannot verify ----------------------


def recover_file(
    manifest: Manifest,
    target: Target,
    ledger: Ledger,
    payer: str,
    default_token: str | None,
    *,
    adopt: Sequence[str] = (),
    unrelated: Sequence[str] = (),
) -> list[history.Recovery]:
    """``payout recover FILE``: read the payer's executed batches the ledger does not know, adopt
    the verified ones as paying the file's rows, then apply the operator's decisions: ``adopt``
    (transaction hashes whose batches paid the matching rows although their ids do not verify)
    and ``unrelated`` (transactions that did not pay this file's rows). Registers the file. The
    returned reports list the rows still blocked (``send`` refuses them)."""
    manifest.raise_for_errors()
    payer = to_checksum_address(payer)
    out = []
    for token_address, rows in group_rows(manifest, default_token).items():
        token = target.chain.token(token_address)
        scope = Scope(Network.EVM, target.chain_id, payer, token.address)
        history.pin(ledger, target.chain, [scope])
        ledger.register(rows, scope)
        history.scan(ledger, target.disburser, scope)
        history.mark_unrelated(ledger, scope, unrelated)
        out.append(history.recover(ledger, target.disburser, scope, rows, adopt_unverified=adopt))
    return out
