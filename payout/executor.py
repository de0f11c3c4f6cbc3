"""Executors turn planned batches into transactions; this module holds the EVM hot-wallet one and
the chain-truth settlement every EVM executor (hot wallet, Safe) shares.

The rules that make a crash harmless, in order:

1. A batch's transaction is signed, then recorded in the ledger (hash, nonce, signed bytes), and
   only then broadcast (write-ahead). A fee-bump replacement is recorded the same way first.
2. On resume, every ``submitted`` batch is settled from the chain before anything is sent:
   ``executed(payer, batchId)`` and the ``BatchDisbursed`` event say whether it paid; a mined
   revert says it did not; a transaction still in the node's pool is waited for; the recorded
   signed bytes are re-broadcast if the node never saw them; a nonce used by something else while
   the batch did not execute releases the rows to be planned again.
3. Even if all that failed, the contract executes a batch id at most once per payer.

Safe and TRON executors reuse :func:`settle_from_receipt` / :func:`outcomes_of` (EVM) or mirror
the same steps with their own chain client (TRON).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from payout.chain import Chain
from payout.disburser import (
    BatchReceipt,
    Disburser,
    approval_amounts,
    batch_calldata,
    encode_approve,
)
from payout.exceptions import BatchReverted as BatchReverted
from payout.exceptions import ContractError, LedgerError, RecordedBroadcastRefused, RpcRejected
from payout.fault import checkpoint
from payout.ledger import BatchRecord, Ledger, PayoutOutcome
from payout.types import Batch, BatchStatus, ExecutorKind, PayMode, PayoutStatus
from payout.wallet import Inflight, PreparedTx, Wallet

# --- events for progress displays ----------------------------------------------------------------


@dataclass(frozen=True)
class ExecutionEvent:
    """Something the executor did, for progress bars and logs (the library never prints).

    ``kind``: ``approve``, ``settled`` (an open batch settled from the chain), ``batch-signed``,
    ``batch-confirmed``, ``batch-skipped-already-paid``, ``batch-failed``, ``replaced``.
    ``count`` is recipients, except for ``approve``: the approved amount in base units, with the
    token's ``symbol`` and ``decimals`` so a reader can show token units.
    """

    kind: str
    batch_index: int | None = None
    batch_id: str | None = None
    tx_hash: str | None = None
    count: int = 0
    detail: str = ""
    symbol: str = ""
    decimals: int | None = None


OnEvent = Callable[[ExecutionEvent], None]


def _ignore(_event: ExecutionEvent) -> None:
    return None


@dataclass(frozen=True)
class BatchResult:
    """Final state of one batch after :meth:`HotWalletExecutor.execute` or ``settle``."""

    batch_id: str
    status: BatchStatus
    tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    fee_wei: int | None = None
    paid: int = 0
    skipped: int = 0
    paid_total: int = 0
    detail: str = ""
    #: The chain had already executed the batch (an earlier run, another process, a lost
    #: ledger): recorded from its event, not paid by this run.
    found_executed: bool = False
    #: Why a reverted batch failed (decoded from the chain), when known.
    cause: ContractError | None = field(default=None, compare=False)


@contextlib.contextmanager
def recorded_in_flight(
    batch: Batch, tx_hash: str, *, then: str = "`payout resume`"
) -> Iterator[None]:
    """Around the broadcast (and wait) of a transaction already recorded for ``batch``: a node
    refusal then says that the batch is in flight in the ledger and what settles it (``then``),
    never that the ledger is unchanged."""
    try:
        yield
    except RpcRejected as exc:
        raise RecordedBroadcastRefused(
            exc.method, exc.detail, batch.batch_id_hex, tx_hash, then
        ) from exc


class Executor(Protocol):
    """What the pipeline needs from an executor (hot wallet now; Safe and TRON plug in)."""

    kind: ExecutorKind

    def settle(self, record: BatchRecord) -> BatchResult:
        """Settle one ``submitted`` batch from the chain (never sends a new batch transaction)."""
        ...

    def execute(self, batch: Batch, mode: PayMode) -> BatchResult:
        """Pay one planned batch (recorded write-ahead) and settle it."""
        ...


# --- shared EVM settlement -----------------------------------------------------------------------


def outcomes_of(decoded: BatchReceipt) -> list[PayoutOutcome]:
    """Per-row ledger outcomes of a decoded batch receipt."""
    return [
        PayoutOutcome(
            r.payout_id,
            PayoutStatus.CONFIRMED if r.paid else PayoutStatus.SKIPPED,
            r.log_index,
            r.gas_share,
            None if r.paid else "transfer failed on chain (skip-and-report mode)",
        )
        for r in decoded.rows
    ]


def record_paid(ledger: Ledger, batch: Batch, decoded: BatchReceipt) -> None:
    """Record ``batch`` as executed from its decoded receipt (per-row log index and gas share)."""
    ledger.record_confirmation(
        batch.scope,
        batch.batch_id,
        tx_hash=decoded.tx_hash,
        block_number=decoded.block_number,
        gas_used=decoded.gas_used,
        fee_paid=decoded.fee_wei,
        paid_total=decoded.event.total if decoded.event else None,
        outcomes=outcomes_of(decoded),
    )


def settle_from_receipt(
    ledger: Ledger, disburser: Disburser, batch: Batch, receipt: dict[str, Any]
) -> BatchResult:
    """Record a mined batch transaction (success: per-row outcomes; revert: failed rows)."""
    decoded = disburser.decode_receipt(batch, receipt)
    if not decoded.status:
        # A revert proves nothing was paid only if no other transaction executed the batch id
        # (a second process sending the same planned batch with another nonce loses the race
        # and reverts). Recording such rows as failed would make paid rows owed again.
        executed = executed_receipt(disburser.chain, disburser, batch, [])
        if executed is not None:
            return settle_from_receipt(ledger, disburser, batch, executed)
        cause = disburser.revert_cause(batch, receipt)
        why = f"reverted: {cause}" if cause is not None else "reverted"
        ledger.record_failure(
            batch.scope,
            batch.batch_id,
            error=f"transaction {decoded.tx_hash} {why}"[:500],
            tx_hash=decoded.tx_hash,
            block_number=decoded.block_number,
            gas_used=decoded.gas_used,
            fee_paid=decoded.fee_wei,
        )
        return BatchResult(
            batch.batch_id_hex,
            BatchStatus.FAILED,
            decoded.tx_hash,
            decoded.block_number,
            decoded.gas_used,
            decoded.fee_wei,
            detail=why,
            cause=cause,
        )
    assert decoded.event is not None
    record_paid(ledger, batch, decoded)
    paid = sum(1 for r in decoded.rows if r.paid)
    return BatchResult(
        batch.batch_id_hex,
        BatchStatus.CONFIRMED,
        decoded.tx_hash,
        decoded.block_number,
        decoded.gas_used,
        decoded.fee_wei,
        paid=paid,
        skipped=len(decoded.rows) - paid,
        paid_total=decoded.event.total,
    )


def executed_receipt(
    chain: Chain, disburser: Disburser, batch: Batch, tx_hashes: Sequence[str], from_block: int = 0
) -> dict[str, Any] | None:
    """The receipt of the transaction that executed ``batch``, or None if it did not execute.

    The contract's ``executed`` flag is the authority; our own recorded hashes are tried first,
    then the ``BatchDisbursed`` event finds a transaction we do not know (another process, a
    lost ledger, a Safe execution).
    """
    if not disburser.executed(batch.payer, batch.replay_key):
        return None
    for tx_hash in reversed(tx_hashes):
        receipt = chain.receipt(tx_hash)
        if receipt is not None and int(str(receipt["status"]), 16) == 1:
            return receipt
    event = disburser.find_batch(batch.payer, batch.batch_id, from_block=from_block)
    if event is None:
        raise LedgerError(
            f"the chain says batch {batch.batch_id_hex} executed, but no BatchDisbursed event "
            f"was found from block {from_block}",
            hint="the RPC node may prune logs; use an archive/full node, then `payout resume`",
        )
    receipt = chain.receipt(event.tx_hash)
    if receipt is None:
        raise LedgerError(
            f"no receipt for {event.tx_hash} (batch {batch.batch_id_hex})",
            hint="retry with another RPC node",
        )
    return receipt


def record_signed(
    ledger: Ledger,
    batch: Batch,
    prepared: PreparedTx,
    *,
    extra_fees: dict[str, int | str] | None = None,
    safe_nonce: int | None = None,
    safe_tx_hash: str | None = None,
    note: str | None = None,
) -> None:
    """Write-ahead for any EVM executor: record the signed transaction carrying ``batch`` (hash,
    nonce, signed bytes, fee fields) before it is broadcast, so a crash can always be settled."""
    ledger.record_submission(
        batch.scope,
        batch.batch_id,
        tx_hash=prepared.tx_hash,
        nonce=prepared.nonce,
        raw_tx="0x" + prepared.signed.raw.hex(),
        fees={
            "maxFeePerGas": prepared.fees.max_fee,
            "maxPriorityFeePerGas": prepared.fees.max_priority_fee,
            "gas": prepared.gas,
            **(extra_fees or {}),
        },
        safe_nonce=safe_nonce,
        safe_tx_hash=safe_tx_hash,
        note=note,
    )


# --- the hot wallet -------------------------------------------------------------------------------


@dataclass
class Allowance:
    """How the executor keeps the disburser approved (see ``--approve``)."""

    #: ``run``: approve what the remaining batches need at once; ``batch``: each batch's total.
    mode: str = "run"
    #: For ``run``: the total of the batches still to send (set by the pipeline).
    remaining: int = 0


@dataclass
class HotWalletExecutor:
    """Pays batches from a hot wallet (EOA) through the disburser, crash-safe (see module doc)."""

    chain: Chain
    wallet: Wallet
    disburser: Disburser
    ledger: Ledger
    allowance: Allowance = field(default_factory=Allowance)
    on_event: OnEvent = _ignore
    #: Where to search for batch events when our hashes do not explain an executed batch.
    from_block: int = 0

    kind: ExecutorKind = ExecutorKind.WALLET

    @property
    def payer(self) -> str:
        return self.wallet.address

    # --- approvals ----------------------------------------------------------------------------

    def ensure_allowance(self, token: str, needed: int) -> None:
        """Approve the disburser for ``needed`` when the allowance is lower (via zero if needed)."""
        self.wallet.wait_idle()  # an approval still pending from a crashed run counts
        current = self.chain.allowance(token, self.payer, self.disburser.address)
        for amount in approval_amounts(current, needed):
            receipt = self.wallet.transact(
                token, encode_approve(self.disburser.address, amount), label=f"approve {amount}"
            )
            info = self.chain.token(token)  # cached: planning read it already
            self.on_event(
                ExecutionEvent(
                    "approve",
                    tx_hash=str(receipt["transactionHash"]),
                    count=amount,
                    symbol=info.symbol,
                    decimals=info.decimals,
                )
            )

    # --- settling open batches ----------------------------------------------------------------

    def settle(self, record: BatchRecord) -> BatchResult:
        batch = self.ledger.load_batch(record.scope, record.batch_id)
        hashes = [a.tx_hash for a in record.attempts if a.tx_hash]
        receipt = executed_receipt(self.chain, self.disburser, batch, hashes, self.from_block)
        if receipt is not None:
            result = settle_from_receipt(self.ledger, self.disburser, batch, receipt)
            self._settled(batch, result, "executed on chain")
            return result
        # Not executed. Did one of our transactions revert?
        for tx_hash in hashes:
            mined = self.chain.receipt(tx_hash)
            if mined is not None and int(str(mined["status"]), 16) == 0:
                result = settle_from_receipt(self.ledger, self.disburser, batch, mined)
                self._settled(batch, result, "reverted on chain")
                return result
        # Nothing mined. Read the nonce first: a receipt cannot appear for a nonce already passed.
        nonce = record.nonce
        latest = self.chain.nonce(batch.payer, "latest")
        if self.wallet.find_receipt(hashes) is None and (nonce is None or latest > nonce):
            if self.disburser.executed(batch.payer, batch.replay_key):
                return self.settle(self.ledger.batch(record.scope, record.batch_id))
            reason = (
                f"nonce {nonce} was used by another transaction; the batch did not execute"
                if nonce is not None
                else "no transaction was recorded for the batch"
            )
            self.ledger.release_batch(record.scope, record.batch_id, reason=reason)
            result = BatchResult(batch.batch_id_hex, BatchStatus.ABANDONED, detail=reason)
            self._settled(batch, result, reason)
            return result
        # Our nonce is still open: wait for what is in the pool, or re-send the recorded bytes.
        versions: list[PreparedTx] = []
        for attempt in record.attempts:
            prepared = self._prepared_from_attempt(batch, attempt, record.mode)
            if prepared is not None and prepared.nonce == nonce:
                versions.append(prepared)
        if not versions:
            raise LedgerError(
                f"batch {batch.batch_id_hex} is submitted with nonce {nonce} but no signed "
                "transaction was recorded",
                hint="wait until the nonce is used or stuck transactions clear, then resume",
            )
        in_pool = [v for v in versions if self.chain.transaction(v.tx_hash) is not None]
        write_ahead = self._write_ahead(batch, record.mode)
        if not in_pool:
            try:
                self.wallet.broadcast(versions[-1])
            except RpcRejected:
                # The recorded bytes are no longer acceptable (fees rose past their cap): the same
                # transaction with today's fees, recorded first like any replacement.
                replacement = self.wallet.replacement(versions[-1])
                write_ahead(replacement)
                versions.append(replacement)
                with recorded_in_flight(batch, replacement.tx_hash):
                    self.wallet.broadcast(replacement)
        inflight = Inflight(versions[-1].nonce, list(versions))
        with recorded_in_flight(batch, versions[-1].tx_hash):
            receipt = self.wallet.wait(inflight, on_signed=write_ahead)
        result = self._settle_mined(batch, receipt)
        self._settled(batch, result, "finished after resume")
        return result

    def _settled(self, batch: Batch, result: BatchResult, how: str) -> None:
        self.on_event(
            ExecutionEvent(
                "settled",
                batch.index,
                batch.batch_id_hex,
                result.tx_hash,
                batch.count,
                f"{result.status}: {how}",
            )
        )

    def _prepared_from_attempt(
        self, batch: Batch, attempt: Any, mode: PayMode
    ) -> PreparedTx | None:
        from payout.chain import FeeData
        from payout.signer import SignedTransaction

        if not attempt.raw_tx or attempt.nonce is None or not attempt.tx_hash:
            return None
        fees = attempt.fees or {}
        max_fee = int(fees.get("maxFeePerGas", 0))
        tip = int(fees.get("maxPriorityFeePerGas", 0))
        raw = bytes.fromhex(
            attempt.raw_tx[2:] if attempt.raw_tx.startswith("0x") else attempt.raw_tx
        )
        return PreparedTx(
            nonce=int(attempt.nonce),
            to=self.disburser.address,
            data=batch_calldata(batch, PayMode(fees.get("mode", mode.value))),
            value=0,
            gas=int(fees.get("gas", 0)),
            fees=FeeData(base_fee=0, max_priority_fee=tip, max_fee=max_fee),
            signed=SignedTransaction(raw=raw, tx_hash=str(attempt.tx_hash)),
        )

    # --- paying a batch -----------------------------------------------------------------------

    def _write_ahead(
        self, batch: Batch, mode: PayMode | None = None
    ) -> Callable[[PreparedTx], None]:
        def record(prepared: PreparedTx) -> None:
            record_signed(
                self.ledger,
                batch,
                prepared,
                extra_fees={"mode": (mode or _mode_of(prepared.data)).value},
                note="replacement" if self._is_replacement(batch, prepared) else None,
            )
            if self._is_replacement(batch, prepared):
                self.on_event(
                    ExecutionEvent("replaced", batch.index, batch.batch_id_hex, prepared.tx_hash)
                )

        return record

    def _is_replacement(self, batch: Batch, prepared: PreparedTx) -> bool:
        try:
            record = self.ledger.batch(batch.scope, batch.batch_id)
        except LedgerError:
            return False
        return any(
            a.nonce == prepared.nonce and a.tx_hash != prepared.tx_hash for a in record.attempts
        )

    def execute(self, batch: Batch, mode: PayMode) -> BatchResult:
        """Pay ``batch``: approve if needed, simulate (gas estimate), sign, record, send, settle."""
        # The key recorded before any send is the one to send and to ask about.
        batch = self.ledger.stored_key(batch)
        # The chain first: a batch executed by another process or before a lost ledger is
        # recorded from its event, never paid again.
        if self.disburser.executed(batch.payer, batch.replay_key):
            receipt = executed_receipt(self.chain, self.disburser, batch, [], self.from_block)
            assert receipt is not None
            self.ledger.record_submission(
                batch.scope,
                batch.batch_id,
                tx_hash=str(receipt["transactionHash"]),
                note="found executed on chain",
            )
            result = replace(
                settle_from_receipt(self.ledger, self.disburser, batch, receipt),
                found_executed=True,
                detail="found already executed on chain; not paid by this run",
            )
            self.on_event(
                ExecutionEvent(
                    "batch-skipped-already-paid",
                    batch.index,
                    batch.batch_id_hex,
                    result.tx_hash,
                    batch.count,
                )
            )
            return result
        if self.allowance.mode == "batch":
            self.ensure_allowance(batch.token, batch.total)
        else:
            self.ensure_allowance(batch.token, max(self.allowance.remaining, batch.total))
        data = batch_calldata(batch, mode)
        # eth_estimateGas runs the batch against the current state: the last simulation before
        # signing. A revert raises a translated ContractError and nothing is signed.
        gas = self.wallet.estimate_gas(self.disburser.address, data, label=f"batch {batch.index}")
        prepared = self.wallet.prepare(
            self.disburser.address, data, gas=gas, nonce=self.wallet.reserve_nonce()
        )
        write_ahead = self._write_ahead(batch, mode)
        write_ahead(prepared)
        self.on_event(
            ExecutionEvent(
                "batch-signed", batch.index, batch.batch_id_hex, prepared.tx_hash, batch.count
            )
        )
        checkpoint("before-broadcast")
        with recorded_in_flight(batch, prepared.tx_hash):
            self.wallet.broadcast(prepared)
            checkpoint("after-broadcast")
            receipt = self.wallet.wait(Inflight(prepared.nonce, [prepared]), on_signed=write_ahead)
        checkpoint("after-receipt")
        result = self._settle_mined(batch, receipt)
        if self.allowance.mode == "run":
            self.allowance.remaining = max(0, self.allowance.remaining - batch.total)
        return result

    def _settle_mined(self, batch: Batch, receipt: dict[str, Any]) -> BatchResult:
        result = settle_from_receipt(self.ledger, self.disburser, batch, receipt)
        checkpoint("after-settle")
        if result.status is BatchStatus.FAILED:
            self.on_event(
                ExecutionEvent("batch-failed", batch.index, batch.batch_id_hex, result.tx_hash)
            )
            raise BatchReverted(batch.batch_id_hex, str(result.tx_hash), result.cause)
        self.on_event(
            ExecutionEvent(
                "batch-confirmed",
                batch.index,
                batch.batch_id_hex,
                result.tx_hash,
                batch.count,
                f"{result.paid} paid, {result.skipped} skipped",
            )
        )
        return result


def _mode_of(data: bytes) -> PayMode:
    from payout.disburser import SEL_DISBURSE_OR_SKIP

    return PayMode.SKIP if data[:4] == SEL_DISBURSE_OR_SKIP else PayMode.STRICT
