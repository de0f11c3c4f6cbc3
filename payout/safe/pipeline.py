"""The Safe executor inside the payout pipeline: manifest -> plan -> ledger -> Safe -> reconcile.

``propose_payouts`` registers a validated file's payouts in the same ledger as the hot-wallet path
(scope: network, chain, payer = the Safe, token), plans gas-bounded batches with deterministic ids,
simulates each batch from the Safe's address, stores the plan (executor ``safe``) and builds the
proposal. Payouts already paid are not planned again; payouts in a proposal that can still execute
(its Safe nonce is not used yet) are not proposed twice. Payouts the ledger set aside as skipped
(excluded, or skipped on chain by skip-and-report mode) are still owed: they are counted
(``skipped_still_owed``) and proposed again only with ``retry_skipped``.

``execute_file`` executes a signed proposal and records every step in the ledger (write-ahead);
``settle_safe_batches`` settles Safe batches from the chain after a crash (``payout resume`` calls
it for batches whose executor is ``safe``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from payout import history
from payout.batching import DEFAULT_BASE_GAS, DEFAULT_GAS_MARGIN, evm_gas_model, plan_batches
from payout.chain import Chain
from payout.deployment import verify_disburser
from payout.disburser import BatchSimulation, Disburser, RowFailure
from payout.exceptions import ContractError, FundsError, InputError, LedgerNotFoundError
from payout.exceptions import SimulationRefused as SimulationRefused
from payout.executor import executed_receipt
from payout.ledger import Ledger, Registration
from payout.safe.execution import ExecutionResult, LedgerRecorder, execute_proposal, pipeline_batch
from payout.safe.proposal import Proposal, build_proposal, load_proposal, save_proposal
from payout.safe.safe_state import SafeState, read_safe
from payout.safe.service import SafeService
from payout.safe.signature import hashes_of
from payout.types import (
    Batch,
    BatchStatus,
    ExecutorKind,
    Network,
    PayMode,
    Payout,
    PayoutStatus,
    Scope,
    TokenInfo,
)
from payout.wallet import Wallet

#: Gas a Safe transaction adds to a disburse call: execTransaction with its signature checks (an
#: EIP-1271 owner costs most), the MultiSendCallOnly delegatecall and the approval(s).
SAFE_OVERHEAD_GAS = 150_000
#: Per recipient, the Safe path copies the packed word through execTransaction and multiSend, and
#: SafeL2 (the variant most chains use) logs the whole calldata again (8 gas per byte). Measured:
#: a 500-recipient batch costs 234,302 gas more through a 2-of-3 SafeL2 1.4.1 than sent directly.
SAFE_PER_RECIPIENT_EXTRA_GAS = 400

ON_FAILURE_CHOICES = ("refuse", "exclude", "skip")


def safe_gas_model(gas_margin: int | None = None, per_recipient_gas: int | None = None) -> object:
    """The batch cost model for Safe batches (direct disburse model plus the Safe's overhead)."""
    from payout.batching import DEFAULT_PER_RECIPIENT_GAS

    return evm_gas_model(
        base_gas=DEFAULT_BASE_GAS + SAFE_OVERHEAD_GAS,
        per_recipient_gas=(per_recipient_gas or DEFAULT_PER_RECIPIENT_GAS)
        + SAFE_PER_RECIPIENT_EXTRA_GAS,
        margin_gas=DEFAULT_GAS_MARGIN if gas_margin is None else gas_margin,
    )


@dataclass
class ProposeOutcome:
    """What ``propose_payouts`` did."""

    registration: Registration
    proposal: Proposal | None
    #: Payout ids left out because a proposal that can still execute already pays them.
    pending: list[str] = field(default_factory=list)
    #: Safe nonces of those pending proposals.
    pending_nonces: list[int] = field(default_factory=list)
    #: Batches found executed on chain (e.g. through the Safe web app) and recorded as paid.
    settled: list[str] = field(default_factory=list)
    #: Rows excluded because simulation predicts they fail (``--on-failure exclude``).
    excluded: list[RowFailure] = field(default_factory=list)
    simulations: list[BatchSimulation] = field(default_factory=list)
    mode: PayMode = PayMode.STRICT
    state: SafeState | None = None
    #: Rows of the file the ledger has as skipped after this run: still owed, proposed only by
    #: a run with ``retry_skipped``.
    skipped_still_owed: int = 0
    #: Rows set aside as skipped before this run that its proposal pays (``retry_skipped``).
    retried_skipped: int = 0
    #: Rows this run set out to propose (owed, not in a pending proposal), before any exclusion.
    to_pay: int = 0


# --- settling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    batch_id: str
    outcome: str  # confirmed | failed | pending | open


def settle_safe_batch(chain: Chain, ledger: Ledger, scope: Scope, batch_id: str) -> Settlement:
    """Settle one Safe batch of the ledger from the chain (never sends anything).

    ``confirmed``: the disburser executed it for the Safe (recorded with its receipt).
    ``failed``: its execTransaction was mined and reverted, or vanished from the node; the Safe
    nonce is unused, so the same signed proposal can be executed again.
    ``pending``: an execTransaction is still waiting in the node. ``open``: nothing to settle.
    """
    record = ledger.batch(scope, batch_id)
    batch = ledger.load_batch(scope, batch_id)
    disburser = Disburser(chain, record.disburser)
    recorder = LedgerRecorder(ledger)
    if record.status is BatchStatus.CONFIRMED:
        return Settlement(batch_id, "confirmed")
    # The chain is the authority: once the batch id executed, its rows are paid, and a missing
    # event or receipt (pruned logs, a flaky node) must stop us, never mark the rows failed.
    hashes = [a.tx_hash for a in record.attempts if a.tx_hash is not None]
    receipt = executed_receipt(chain, disburser, batch, hashes)
    if receipt is not None:
        recorder.confirmed(
            _with_nonce(batch, record.safe_nonce), disburser.decode_receipt(batch, receipt)
        )
        return Settlement(batch_id, "confirmed")
    if record.status is not BatchStatus.SUBMITTED:
        return Settlement(batch_id, "open")
    for attempt in reversed(record.attempts):
        if attempt.tx_hash is None or attempt.status != "pending":
            continue
        receipt = chain.receipt(attempt.tx_hash)
        if receipt is not None and receipt.get("blockNumber") is not None:
            ledger.record_failure(
                scope,
                batch_id,
                error="execTransaction was mined without paying the batch (reverted)",
                tx_hash=attempt.tx_hash,
                block_number=int(str(receipt["blockNumber"]), 16),
            )
            return Settlement(batch_id, "failed")
        if chain.transaction(attempt.tx_hash) is not None:
            return Settlement(batch_id, "pending")
    ledger.record_failure(
        scope, batch_id, error="execTransaction never reached the chain (dropped or not sent)"
    )
    return Settlement(batch_id, "failed")


def _with_nonce(batch: Batch, safe_nonce: int | None) -> Batch:
    if safe_nonce is None:
        return batch
    from dataclasses import replace

    return replace(batch, extra={**batch.extra, "safe_nonce": safe_nonce})


def settle_safe_batches(
    chain: Chain, ledger: Ledger, scope: Scope | None = None
) -> list[Settlement]:
    """Settle every submitted Safe batch (``payout resume`` calls this for executor ``safe``)."""
    out = []
    for record in ledger.batches(scope, status=BatchStatus.SUBMITTED, executor=ExecutorKind.SAFE):
        if scope is None and record.scope.chain_id != chain.chain_id:
            continue
        out.append(settle_safe_batch(chain, ledger, record.scope, record.batch_id))
    return out


def _pending_proposals(
    chain: Chain, ledger: Ledger, scope: Scope, state: SafeState, outcome: ProposeOutcome
) -> set[str]:
    """Payout ids of Safe proposals that can still execute; records batches executed outside."""
    pending: set[str] = set()
    candidates = ledger.batches(
        scope,
        status=[BatchStatus.PLANNED, BatchStatus.FAILED, BatchStatus.SUBMITTED],
        executor=ExecutorKind.SAFE,
    )
    for record in candidates:
        if record.safe_nonce is None:
            continue
        if settle_safe_batch(chain, ledger, scope, record.batch_id).outcome == "confirmed":
            outcome.settled.append(record.batch_id)
            continue
        if record.safe_nonce >= state.nonce:
            ids = [r.payout_id for r in ledger.payouts(scope, batch_id=record.batch_id)]
            pending.update(ids)
            outcome.pending_nonces.append(record.safe_nonce)
    return pending


# --- proposing -----------------------------------------------------------------------------------


def propose_payouts(
    chain: Chain,
    ledger: Ledger,
    *,
    safe: str,
    payouts: Sequence[Payout],
    token: TokenInfo,
    disburser: str | None = None,
    mode: PayMode = PayMode.STRICT,
    on_failure: str = "refuse",
    max_batch_size: int | None = None,
    gas_margin: int | None = None,
    start_nonce: int | None = None,
    multisend: str | None = None,
    service: SafeService | None = None,
    source: str | None = None,
    source_sha256: str | None = None,
    retry_skipped: bool = False,
    rolling_replay: bool = False,
) -> ProposeOutcome:
    """Register, plan, simulate and propose ``payouts`` for ``safe`` (see the module docstring).

    With ``retry_skipped`` the rows the ledger has as skipped are planned with the rest, in file
    order; they go back to ``planned`` only once the proposal is built, so a refused run (funds,
    predicted failures) leaves them set aside. With ``rolling_replay`` new batches take their
    replay keys from the Safe's rolling word in the ledger (:meth:`Ledger.with_rolling_keys`,
    the payout service's small proposals) instead of the run's own word.
    """
    outcome = _propose(
        chain,
        ledger,
        safe=safe,
        payouts=payouts,
        token=token,
        disburser=disburser,
        mode=mode,
        on_failure=on_failure,
        max_batch_size=max_batch_size,
        gas_margin=gas_margin,
        start_nonce=start_nonce,
        multisend=multisend,
        service=service,
        source=source,
        source_sha256=source_sha256,
        retry_skipped=retry_skipped,
        rolling_replay=rolling_replay,
    )
    owed = ledger.payouts(
        outcome.registration.scope,
        status=PayoutStatus.SKIPPED,
        payout_ids=[p.payout_id for p in payouts],
    )
    outcome.skipped_still_owed = len(owed)
    return outcome


def _propose(
    chain: Chain,
    ledger: Ledger,
    *,
    safe: str,
    payouts: Sequence[Payout],
    token: TokenInfo,
    disburser: str | None,
    mode: PayMode,
    on_failure: str,
    max_batch_size: int | None,
    gas_margin: int | None,
    start_nonce: int | None,
    multisend: str | None,
    service: SafeService | None,
    source: str | None,
    source_sha256: str | None,
    retry_skipped: bool,
    rolling_replay: bool,
) -> ProposeOutcome:
    if on_failure not in ON_FAILURE_CHOICES:
        raise InputError(f"--on-failure must be one of {', '.join(ON_FAILURE_CHOICES)}")
    disburser = verify_disburser(chain, disburser)
    state = read_safe(chain, safe)
    scope = Scope(Network.EVM, state.chain_id, state.address, token.address)
    run_id = ledger.start_run(
        "safe propose",
        scope=scope,
        executor=ExecutorKind.SAFE,
        disburser=disburser,
        source=source,
        source_sha256=source_sha256,
        rows=len(payouts),
    )
    history.pin(ledger, chain, [scope])
    registration = ledger.register(list(payouts), scope, run_id=run_id)
    # A lost ledger: batches the Safe executed that the ledger does not know are adopted (their
    # payout ids verify) or block their rows (refused, `payout recover` resolves them).
    if history.guard(ledger, Disburser(chain, disburser), scope, list(payouts)).adopted:
        registration = ledger.register(list(payouts), scope, run_id=run_id)
    outcome = ProposeOutcome(registration=registration, proposal=None, mode=mode, state=state)
    pending = _pending_proposals(chain, ledger, scope, state, outcome)
    # Rows set aside as skipped join the owed rows in file order when the operator asked.
    retry = {p.payout_id for p in registration.skipped} if retry_skipped else set()
    owed = {p.payout_id for p in registration.to_plan} | retry
    candidates = [p for p in registration.to_plan + registration.skipped if p.payout_id in owed]
    order = {p.payout_id: i for i, p in enumerate(payouts)}
    candidates.sort(key=lambda p: order.get(p.payout_id, len(order)))
    outcome.pending = [p.payout_id for p in candidates if p.payout_id in pending]
    rows = [p for p in candidates if p.payout_id not in pending]
    outcome.to_pay = len(rows)
    if not rows:
        return outcome
    from payout.batching import DEFAULT_MAX_BATCH_SIZE

    model = safe_gas_model(gas_margin)

    def plan(rows_now: Sequence[Payout]) -> list[Batch]:
        return plan_batches(
            rows_now,
            chain_id=state.chain_id,
            payer=state.address,
            disburser=disburser,
            token=token.address,
            cost_model=model,  # type: ignore[arg-type]
            max_batch_size=max_batch_size or DEFAULT_MAX_BATCH_SIZE,
        )

    batches = plan(rows)
    balance = chain.token_balance(token.address, state.address)
    needed = sum(b.total for b in batches)
    if balance < needed:
        from payout.amount import format_amount

        def show(amount: int) -> str:
            return format_amount(amount, token.decimals, symbol=token.symbol, grouping=True)

        raise FundsError(
            f"the Safe {state.address} holds {show(balance)}, the plan pays {show(needed)} "
            f"(short by {show(needed - balance)})",
            hint="Fund the Safe with the token first (nothing was proposed).",
        )
    d = Disburser(chain, disburser)
    allowance = chain.allowance(token.address, state.address, disburser)
    failures: list[RowFailure] = []
    sims: list[BatchSimulation] = []
    for batch in batches:
        sim = d.simulate(batch, mode, allowance=allowance)
        if sim.ok and not sim.failures:
            sims.append(sim)
            continue
        predicted = d.predict_failures(batch, allowance=allowance)
        if not predicted.failures:
            raise sim.error or ContractError(f"batch {batch.index} would revert")
        failures.extend(predicted.failures)
        sims.append(predicted)
    if failures:
        if on_failure == "refuse":
            raise SimulationRefused(failures)
        if on_failure == "exclude":
            bad = {f.payout_id for f in failures}
            reasons = {f.payout_id: f.reason for f in failures}
            for pid in bad:
                ledger.set_payout_status(
                    scope, [pid], PayoutStatus.SKIPPED, error=f"excluded: {reasons[pid]}"[:500]
                )
            outcome.excluded = failures
            rows = [p for p in rows if p.payout_id not in bad]
            if not rows:
                return outcome
            batches = plan(rows)
        else:
            mode = PayMode.SKIP
            outcome.mode = mode
    outcome.simulations = sims
    queued = list(outcome.pending_nonces)
    if service is not None:
        queued += service.queued_nonces(state.address, state.nonce)
    # A batch the ledger already has keeps the replay key it recorded first.
    batches = (
        ledger.with_rolling_keys(batches) if rolling_replay else ledger.with_stored_keys(batches)
    )
    # Built before the ledger is written: a proposal that cannot be built stores no plan and
    # leaves rows set aside as skipped where they were.
    proposal = build_proposal(
        chain,
        state.address,
        batches,
        token_symbol=token.symbol,
        token_decimals=token.decimals,
        mode=mode,
        queued_nonces=queued,
        start_nonce=start_nonce,
        multisend=multisend,
        state=state,
    )
    if retry:
        again = [p.payout_id for b in batches for p in b.payouts if p.payout_id in retry]
        ledger.set_payout_status(scope, again, PayoutStatus.PLANNED)
        outcome.retried_skipped = len(again)
    ledger.save_plan(batches, executor=ExecutorKind.SAFE, mode=mode, run_id=run_id)
    for tx in proposal.transactions:
        ledger.annotate_batch(
            scope,
            tx.batch.batch_id,
            safe_nonce=tx.nonce,
            safe_tx_hash="0x" + tx.safe_tx_hash.hex(),
        )
    outcome.proposal = proposal
    return outcome


# --- executing -----------------------------------------------------------------------------------


def execute_file(
    chain: Chain,
    ledger: Ledger,
    path: Path,
    wallet: Wallet,
    *,
    nonces: Sequence[int] | None = None,
    service: SafeService | None = None,
    on_progress: Callable[[ExecutionResult], None] | None = None,
) -> list[ExecutionResult]:
    """Execute a signed proposal file and record the outcome in ``ledger``.

    With a ``service``, confirmations posted there are merged in first (and saved to the file).
    """
    proposal = load_proposal(path)
    history.pin(ledger, chain, [pipeline_batch(proposal, tx).scope for tx in proposal.transactions])
    if service is not None:
        merged = service.pull_signatures(proposal)
        if merged != proposal:
            save_proposal(merged, path)
            proposal = merged
    recorder = LedgerRecorder(
        ledger,
        safe_tx_hashes={
            tx.batch.batch_id: "0x" + hashes_of(proposal, tx).safe_tx_hash.hex()
            for tx in proposal.transactions
        },
    )
    for tx in proposal.transactions:
        if nonces is not None and tx.nonce not in nonces:
            continue
        batch = pipeline_batch(proposal, tx)
        try:
            record = ledger.batch(batch.scope, batch.batch_id)
        except LedgerNotFoundError:
            continue  # execute_proposal refuses it with a clear message
        if record.status is BatchStatus.SUBMITTED:
            settled = settle_safe_batch(chain, ledger, batch.scope, record.batch_id)
            if settled.outcome == "pending":
                _wait_pending(chain, ledger, batch, record.batch_id)
    return execute_proposal(
        chain, proposal, wallet, recorder=recorder, nonces=nonces, on_progress=on_progress
    )


def _wait_pending(
    chain: Chain, ledger: Ledger, batch: Batch, batch_id: str, timeout: float = 300.0
) -> None:
    """An execTransaction from an earlier run is still in the node: let it finish first."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settle_safe_batch(chain, ledger, batch.scope, batch_id).outcome != "pending":
            return
        time.sleep(0.5)
