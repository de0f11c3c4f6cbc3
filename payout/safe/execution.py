"""Execute signed Safe payout transactions: check, order, simulate, send, wait, record.

For each transaction of a proposal, in nonce order:

1. the review must be clean (hashes recomputed, calldata decoded, code checked on chain);
2. the chain decides what is left to do: a batch already executed by this Safe is recorded as paid
   (never sent again); a nonce below the Safe's that did not pay the batch was consumed by another
   transaction (:class:`~payout.exceptions.SafeNonceConsumed`); a nonce above it waits;
3. every signature is verified (EIP-712, eth_sign, on-chain approveHash, EIP-1271 contract owner),
   on-chain approvals missing from the file are picked up, and the executor counts when it is an
   owner; ``threshold`` valid signatures are chosen and encoded in ascending owner order;
4. ``execTransaction`` is simulated with ``eth_call``; a revert is translated from its ``GSxxx``
   code, and an inner failure (GS013) is explained by simulating the inner calls from the Safe;
5. the outer transaction is signed and recorded in the ledger *before* it is broadcast
   (write-ahead, like the hot-wallet path), sent, waited for (with the fee bumps of
   :class:`~payout.wallet.Wallet`), and its receipt decoded per row into the ledger.

A crash anywhere is finished by running ``execute`` (or ``payout resume``) again: the disburser's
``executed(safe, batchId)`` and the ``BatchDisbursed`` event are the truth, so nothing pays twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout import fault
from payout.chain import Chain
from payout.disburser import BatchReceipt, Disburser
from payout.exceptions import (
    ContractError,
    LedgerNotFoundError,
    PayoutError,
    SafeBatchSuperseded,
    SafeExecutionFailed,
    SafeNonceConsumed,
    SafeNonceNotReady,
    SafeThresholdNotMet,
)
from payout.executor import record_paid, record_signed, recorded_in_flight
from payout.ledger import Ledger
from payout.safe.gs_code import GS_CODES, decode_gs_revert, find_gs_code
from payout.safe.multisend import decode_multisend
from payout.safe.proposal import (
    SIG_APPROVED_HASH,
    SIG_CONTRACT,
    SIG_EIP712,
    SIG_ETH_SIGN,
    OwnerSignature,
    Proposal,
    ProposedTx,
    SafeTxFields,
)
from payout.safe.review import require_clean, review_proposal
from payout.safe.safe_state import SafeState, read_nonce, read_safe
from payout.safe.signature import (
    SignatureCheck,
    approved_hash_word,
    check_signature,
    discover_onchain_approvals,
    encode_signatures,
    hashes_of,
)
from payout.types import Batch, BatchStatus, ExecutorKind, Network, Payout, PayoutStatus
from payout.wallet import Inflight, PreparedTx, SendSettings, Wallet

SEL_EXEC_TRANSACTION = keccak(
    text="execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
)[:4]
EXECUTION_SUCCESS_TOPIC = keccak(text="ExecutionSuccess(bytes32,uint256)")
EXECUTION_FAILURE_TOPIC = keccak(text="ExecutionFailure(bytes32,uint256)")

#: Cheapest signatures first when more than the threshold are available.
_KIND_COST = {SIG_EIP712: 0, SIG_ETH_SIGN: 0, SIG_APPROVED_HASH: 1, SIG_CONTRACT: 2}


class BatchRecorder(Protocol):
    """Where execution records what happens to a batch (the ledger, through an adapter)."""

    def check_payable(self, batch: Batch) -> None:
        """Raise if any payout of ``batch`` is already paid or in flight under another batch."""

    def submitted(self, batch: Batch, signed: PreparedTx) -> None:
        """The execTransaction carrying ``batch`` is signed (called before each broadcast)."""

    def confirmed(self, batch: Batch, receipt: BatchReceipt) -> None:
        """``batch`` is executed on chain; ``receipt`` has the per-row outcome."""

    def failed(self, batch: Batch, tx_hash: str, reason: str) -> None:
        """The transaction ``tx_hash`` was mined but did not pay ``batch``."""


@dataclass(frozen=True)
class ExecutionResult:
    """What happened to one Safe transaction."""

    nonce: int
    batch_index: int
    batch_id: bytes
    #: ``paid`` (this run executed it) or ``already paid`` (found executed on chain).
    outcome: str
    tx_hash: str | None
    block_number: int | None
    gas_used: int | None
    receipt: BatchReceipt | None
    signatures_used: tuple[SignatureCheck, ...] = ()


@dataclass(frozen=True)
class PreparedExecution:
    """A Safe transaction ready to send: signatures chosen, simulated, gas estimated."""

    tx: ProposedTx
    checks: tuple[SignatureCheck, ...]
    calldata: bytes
    gas: int


# --- helpers -------------------------------------------------------------------------------------


def exec_transaction_calldata(fields: SafeTxFields, signatures: bytes) -> bytes:
    """Calldata of ``execTransaction`` for ``fields`` and the encoded ``signatures``."""
    return SEL_EXEC_TRANSACTION + abi_encode(
        [
            "address",
            "uint256",
            "bytes",
            "uint8",
            "uint256",
            "uint256",
            "uint256",
            "address",
            "address",
            "bytes",
        ],
        [
            fields.to,
            fields.value,
            fields.data,
            fields.operation,
            fields.safe_tx_gas,
            fields.base_gas,
            fields.gas_price,
            fields.gas_token,
            fields.refund_receiver,
            signatures,
        ],
    )


def pipeline_batch(proposal: Proposal, tx: ProposedTx) -> Batch:
    """The :class:`~payout.types.Batch` a Safe transaction pays (for the ledger and receipts)."""
    info = tx.batch
    payouts = tuple(
        Payout(payout_id=p.payout_id, recipient=p.recipient, amount=p.amount, token=info.token)
        for p in info.payouts
    )
    return Batch(
        index=info.index,
        batch_id=info.batch_id,
        network=Network.EVM,
        chain_id=proposal.chain_id,
        payer=proposal.safe,
        token=info.token,
        disburser=info.disburser,
        payouts=payouts,
        total=info.total,
        cost_estimate=0,
        extra={"safe_nonce": tx.nonce},
        replay_key=info.replay_key,
    )


def _raw_call(chain: Chain, sender: str, to: str, data: bytes) -> tuple[bool, bytes, str]:
    """``eth_call`` returning (success, return or revert data, node message), untranslated."""
    from web3.types import RPCEndpoint

    params = [
        {
            "from": to_checksum_address(sender),
            "to": to_checksum_address(to),
            "data": "0x" + data.hex(),
        },
        "latest",
    ]
    response = chain.w3.provider.make_request(RPCEndpoint("eth_call"), params)
    error = response.get("error")
    if error:
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        raw = error.get("data") if isinstance(error, dict) else None
        if isinstance(raw, dict):
            raw = raw.get("data")
        revert = bytes.fromhex(raw[2:]) if isinstance(raw, str) and raw.startswith("0x") else b""
        return False, revert, message
    result = str(response.get("result", "0x"))
    return True, bytes.fromhex(result[2:]), ""


def _inner_failure(chain: Chain, proposal: Proposal, tx: ProposedTx) -> str:
    """Why the inner calls of ``tx`` revert, simulated from the Safe's address."""
    try:
        calls = decode_multisend(tx.safe_tx.data)
        results = chain.simulate(
            proposal.safe, [{"to": c.to, "data": c.data, "value": c.value} for c in calls]
        )
    except PayoutError as exc:
        return f"(could not simulate the inner calls: {exc})"
    for index, result in enumerate(results):
        if not result.success:
            what = "the disburse call" if index == len(results) - 1 else f"approve call {index + 1}"
            return f"{what} reverts: {result.error}"
    return "the inner calls succeed when simulated alone (the state may have changed)"


def explain_revert(
    chain: Chain, proposal: Proposal, tx: ProposedTx, revert: bytes, message: str
) -> SafeExecutionFailed:
    """Turn an execTransaction revert into a clear error (GS code + inner cause)."""
    gs = decode_gs_revert(revert) or find_gs_code(message)
    if gs is None:
        from payout.revert import translate

        inner = translate(revert or None, context="execTransaction")
        return SafeExecutionFailed(
            tx.nonce, None, str(inner), "Run `payout safe review FILE` for the decoded transaction."
        )
    meaning = gs.meaning
    if gs.code == "GS013":
        meaning += "; " + _inner_failure(chain, proposal, tx)
    return SafeExecutionFailed(tx.nonce, gs.code, meaning, gs.hint)


def choose_signatures(checks: Sequence[SignatureCheck], threshold: int) -> list[SignatureCheck]:
    """``threshold`` valid signatures from distinct owners, cheapest kinds first."""
    best: dict[str, SignatureCheck] = {}
    for check in checks:
        if not check.valid:
            continue
        current = best.get(check.owner)
        if current is None or _KIND_COST[check.kind] < _KIND_COST[current.kind]:
            best[check.owner] = check
    ranked = sorted(best.values(), key=lambda c: (_KIND_COST[c.kind], int(c.owner, 16)))
    return ranked[:threshold]


def collect_checks(
    chain: Chain, proposal: Proposal, tx: ProposedTx, state: SafeState, executor: str
) -> list[SignatureCheck]:
    """Every signature that may count: the file's, on-chain approvals, and the executor."""
    hashes = hashes_of(proposal, tx)
    sigs: list[OwnerSignature] = list(tx.signatures)
    sigs.extend(discover_onchain_approvals(chain, proposal, tx, state, hashes))
    executor = to_checksum_address(executor)
    if state.is_owner(executor) and all(s.owner != executor for s in sigs):
        # The account sending execTransaction is an owner: the Safe accepts v = 1 for msg.sender.
        sigs.append(OwnerSignature(executor, SIG_APPROVED_HASH, approved_hash_word(executor)))
    return [
        check_signature(chain, proposal, tx, s, state, executor=executor, hashes=hashes)
        for s in sigs
    ]


def prepare_execution(
    chain: Chain,
    proposal: Proposal,
    tx: ProposedTx,
    state: SafeState,
    wallet: Wallet,
) -> PreparedExecution:
    """Check signatures against the threshold, simulate, and estimate gas (nothing is sent)."""
    checks = collect_checks(chain, proposal, tx, state, wallet.address)
    chosen = choose_signatures(checks, state.threshold)
    if len(chosen) < state.threshold:
        valid_owners = {c.owner for c in chosen}
        missing = [o for o in state.owners if o not in valid_owners]
        raise SafeThresholdNotMet(tx.nonce, len(chosen), state.threshold, missing)
    calldata = exec_transaction_calldata(tx.safe_tx, encode_signatures(chosen))
    ok, data, message = _raw_call(chain, wallet.address, proposal.safe, calldata)
    if not ok:
        raise explain_revert(chain, proposal, tx, data, message)
    if data[-32:] != (1).to_bytes(32, "big"):
        raise SafeExecutionFailed(
            tx.nonce, None, "execTransaction returned false", "Run `payout safe review FILE`."
        )
    try:
        gas = wallet.estimate_gas(proposal.safe, calldata, label=f"Safe transaction {tx.nonce}")
    except ContractError as exc:
        raise SafeExecutionFailed(
            tx.nonce, None, f"gas estimation failed: {exc}", "Run `payout safe review FILE`."
        ) from exc
    return PreparedExecution(tx, tuple(chosen), calldata, gas)


def _find_receipt_of_event(
    chain: Chain, disburser: Disburser, proposal: Proposal, batch: Batch
) -> BatchReceipt | None:
    event = disburser.find_batch(proposal.safe, batch.batch_id)
    if event is None:
        return None
    receipt = chain.receipt(event.tx_hash)
    if receipt is None:
        return None
    return disburser.decode_receipt(batch, receipt)


def _safe_outcome(receipt: dict[str, Any], safe: str, safe_tx_hash: bytes) -> bool | None:
    """True for ExecutionSuccess, False for ExecutionFailure of this safeTxHash, None if absent."""
    for log in receipt.get("logs", []):
        if str(log.get("address", "")).lower() != safe.lower() or not log.get("topics"):
            continue
        topics = [bytes.fromhex(str(t)[2:]) for t in log["topics"]]
        data = bytes.fromhex(str(log.get("data", "0x"))[2:])
        # 1.3.0 logs the hash in the data, 1.4.1 as an indexed topic.
        logged = topics[1] if len(topics) > 1 else data[:32]
        if (
            topics[0] in (EXECUTION_SUCCESS_TOPIC, EXECUTION_FAILURE_TOPIC)
            and logged == safe_tx_hash
        ):
            return topics[0] == EXECUTION_SUCCESS_TOPIC
    return None


# --- the ledger -----------------------------------------------------------------------------------


class LedgerRecorder:
    """Records Safe executions in the pipeline's ledger, like the hot-wallet path does.

    The batch must be in the ledger exactly as proposed (same payouts, same order, still owed), so
    a stale proposal whose payouts were re-planned elsewhere is refused before it can pay twice.
    """

    def __init__(self, ledger: Ledger, *, safe_tx_hashes: dict[bytes, str] | None = None) -> None:
        self.ledger = ledger
        self.safe_tx_hashes = safe_tx_hashes or {}

    def check_payable(self, batch: Batch) -> None:
        hex_id = batch.batch_id_hex
        try:
            record = self.ledger.batch(batch.scope, batch.batch_id)
        except LedgerNotFoundError as exc:
            raise SafeBatchSuperseded(
                hex_id, "it is not in this ledger (use the proposer's --ledger)"
            ) from exc
        if record.status in (BatchStatus.CONFIRMED, BatchStatus.ABANDONED):
            raise SafeBatchSuperseded(hex_id, f"the ledger has it as {record.status}")
        if record.executor is not ExecutorKind.SAFE:
            raise SafeBatchSuperseded(hex_id, f"it was planned for the {record.executor} executor")
        rows = self.ledger.payouts(batch.scope, batch_id=batch.batch_id)
        rows.sort(key=lambda r: r.batch_position if r.batch_position is not None else -1)
        stored = [(r.payout_id, r.recipient, r.amount) for r in rows]
        wanted = [(p.payout_id, p.recipient, p.amount) for p in batch.payouts]
        if stored != wanted:
            raise SafeBatchSuperseded(hex_id, "its payouts were re-planned since it was proposed")
        bad = [
            r.payout_id
            for r in rows
            if r.status not in (PayoutStatus.PLANNED, PayoutStatus.SUBMITTED, PayoutStatus.FAILED)
        ]
        if bad:
            raise SafeBatchSuperseded(hex_id, f"payout {bad[0]} is no longer owed")
        if record.status is BatchStatus.FAILED:
            # A reverted Safe transaction left the Safe nonce unused: the same signatures can run
            # again once the batch is planned again.
            self.ledger.save_plan([batch], executor=ExecutorKind.SAFE, mode=record.mode)

    def submitted(self, batch: Batch, signed: PreparedTx) -> None:
        record_signed(
            self.ledger,
            batch,
            signed,
            safe_nonce=batch.extra.get("safe_nonce"),
            safe_tx_hash=self.safe_tx_hashes.get(batch.batch_id),
        )

    def confirmed(self, batch: Batch, receipt: BatchReceipt) -> None:
        record = self.ledger.batch(batch.scope, batch.batch_id)
        if record.status is BatchStatus.CONFIRMED:
            return
        if record.status in (BatchStatus.PLANNED, BatchStatus.FAILED):
            # Executed by someone else (the Safe web app, another executor): the chain is the truth.
            if record.status is BatchStatus.FAILED:
                self.ledger.save_plan([batch], executor=ExecutorKind.SAFE, mode=record.mode)
            self.ledger.record_submission(
                batch.scope,
                batch.batch_id,
                tx_hash=receipt.tx_hash,
                safe_nonce=batch.extra.get("safe_nonce"),
                safe_tx_hash=self.safe_tx_hashes.get(batch.batch_id),
                note="found executed on chain",
            )
        record_paid(self.ledger, batch, receipt)

    def failed(self, batch: Batch, tx_hash: str, reason: str) -> None:
        self.ledger.record_failure(batch.scope, batch.batch_id, error=reason, tx_hash=tx_hash)


# --- the run --------------------------------------------------------------------------------------


def execute_proposal(
    chain: Chain,
    proposal: Proposal,
    wallet: Wallet,
    *,
    recorder: BatchRecorder | None = None,
    nonces: Sequence[int] | None = None,
    on_progress: Callable[[ExecutionResult], None] | None = None,
) -> list[ExecutionResult]:
    """Execute the proposal's transactions (or those with ``nonces``) in nonce order.

    Transactions whose batch is already executed on chain are recorded and skipped. Stops at the
    first transaction that cannot execute (raising a :class:`~payout.exceptions.SafeError`); what
    was executed before it is recorded.
    """
    review = review_proposal(chain, proposal, executor=wallet.address)
    require_clean(review)
    disburser = Disburser(chain, proposal.disburser)
    selected = sorted(
        (t for t in proposal.transactions if nonces is None or t.nonce in nonces),
        key=lambda t: t.nonce,
    )
    results: list[ExecutionResult] = []
    for tx in selected:
        result = execute_one(chain, proposal, tx, wallet, disburser, recorder)
        results.append(result)
        if on_progress is not None:
            on_progress(result)
    return results


def execute_one(
    chain: Chain,
    proposal: Proposal,
    tx: ProposedTx,
    wallet: Wallet,
    disburser: Disburser,
    recorder: BatchRecorder | None,
) -> ExecutionResult:
    """Execute one Safe transaction (see the module docstring for the steps)."""
    batch = pipeline_batch(proposal, tx)
    done = _already_paid(chain, disburser, proposal, tx, batch, recorder)
    if done is not None:
        return done
    state = read_safe(chain, proposal.safe)
    if tx.nonce < state.nonce:
        raise SafeNonceConsumed(tx.nonce, state.nonce, batch.batch_id_hex)
    if tx.nonce > state.nonce:
        raise SafeNonceNotReady(tx.nonce, state.nonce)
    if recorder is not None:
        recorder.check_payable(batch)
    prepared = prepare_execution(chain, proposal, tx, state, wallet)

    def on_signed(signed: PreparedTx) -> None:
        # Write-ahead: the ledger knows the transaction hash before the node does.
        if recorder is not None:
            recorder.submitted(batch, signed)

    signed = wallet.prepare(
        proposal.safe, prepared.calldata, gas=prepared.gas, nonce=wallet.reserve_nonce()
    )
    on_signed(signed)
    fault.checkpoint("before-broadcast")
    inflight = Inflight(signed.nonce, [signed])
    # Recorded write-ahead: a refusal leaves the batch in flight in the ledger, and says so.
    with (
        recorded_in_flight(batch, signed.tx_hash)
        if recorder is not None
        else contextlib.nullcontext()
    ):
        wallet.broadcast(signed)
        fault.checkpoint("after-broadcast")
        receipt = _wait(chain, proposal, tx, wallet, inflight, on_signed)
    fault.checkpoint("after-receipt")
    tx_hash = str(receipt["transactionHash"])
    safe_tx_hash = hashes_of(proposal, tx).safe_tx_hash
    if (
        int(str(receipt["status"]), 16) != 1
        or _safe_outcome(receipt, proposal.safe, safe_tx_hash) is not True
    ):
        # Another executor may have paid this batch first (same Safe nonce, earlier in the block):
        # our revert then proves nothing, and recording a failure would make paid rows owed again.
        done = _already_paid(chain, disburser, proposal, tx, batch, recorder)
        if done is not None:
            return done
        reason = "execTransaction reverted on chain"
        if recorder is not None:
            recorder.failed(batch, tx_hash, reason)
        raise SafeExecutionFailed(
            tx.nonce,
            None,
            f"{reason} ({tx_hash})",
            "Nothing was paid for this batch; run `payout safe review FILE` and execute again.",
        )
    decoded = disburser.decode_receipt(batch, receipt)
    if recorder is not None:
        recorder.confirmed(batch, decoded)
    return ExecutionResult(
        tx.nonce,
        batch.index,
        batch.batch_id,
        "paid",
        tx_hash,
        decoded.block_number,
        decoded.gas_used,
        decoded,
        prepared.checks,
    )


def _already_paid(
    chain: Chain,
    disburser: Disburser,
    proposal: Proposal,
    tx: ProposedTx,
    batch: Batch,
    recorder: BatchRecorder | None,
) -> ExecutionResult | None:
    """The result for a batch the chain already executed (recorded when its event is found)."""
    if not disburser.executed(proposal.safe, batch.replay_key):
        return None
    decoded = _find_receipt_of_event(chain, disburser, proposal, batch)
    if recorder is not None and decoded is not None:
        recorder.confirmed(batch, decoded)
    return ExecutionResult(
        tx.nonce,
        batch.index,
        batch.batch_id,
        "already paid",
        decoded.tx_hash if decoded else None,
        decoded.block_number if decoded else None,
        decoded.gas_used if decoded else None,
        decoded,
    )


def _wait(
    chain: Chain,
    proposal: Proposal,
    tx: ProposedTx,
    wallet: Wallet,
    inflight: Inflight,
    on_signed: Callable[[PreparedTx], None],
) -> dict[str, Any]:
    from payout.wallet import NonceConsumed

    try:
        return wallet.wait(inflight, on_signed=on_signed, label=f"Safe transaction {tx.nonce}")
    except NonceConsumed:
        # The wallet has already looked for a late receipt of every version of ours, so the
        # executor's account nonce moved without our transaction: another transaction of the
        # executor took it. The Safe nonce and the batch tell whether the batch still needs paying.
        if read_nonce(chain, proposal.safe) > tx.nonce:
            raise SafeNonceConsumed(
                tx.nonce, read_nonce(chain, proposal.safe), "0x" + tx.batch.batch_id.hex()
            ) from None
        raise


def send_settings_for_tests() -> SendSettings:
    """Fast polling for local chains (anvil mines on arrival)."""
    return SendSettings(poll_interval=0.05, receipt_timeout=60.0)


__all__ = [
    "GS_CODES",
    "BatchRecorder",
    "ExecutionResult",
    "PreparedExecution",
    "choose_signatures",
    "exec_transaction_calldata",
    "execute_one",
    "execute_proposal",
    "explain_revert",
    "pipeline_batch",
    "prepare_execution",
]
