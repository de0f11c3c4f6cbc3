"""The TRON executor: pays planned batches through the disburser from a hot wallet, crash-safely.

For each batch (the same :class:`~payout.types.Batch` and ledger as the EVM path):

1. settle first: a batch the ledger holds as ``submitted`` is settled from the chain
   (:meth:`TronExecutor.settle`) before anything new is sent;
2. approve exactly the batch total (``approve(0)`` first when another non-zero allowance is
   left: USDT's approve rule); approvals pay nobody, so they are not ledger rows, and after a crash
   the allowance already in place is reused;
3. simulate ``disburse`` (``triggerconstantcontract``): a revert is translated by
   :mod:`payout.revert` and nothing is sent; the simulated energy x margin is the fee limit;
4. build, id (locally, :mod:`payout.tron.proto`) and sign the transaction, then record it in the
   ledger *before* broadcasting it (write-ahead: txID and signed JSON);
5. broadcast, wait for the receipt and settle: confirmed with the ``BatchDisbursed`` event and
   each recipient's ``Transfer`` log, or failed (revert / OUT_OF_ENERGY: nothing moved, the rows
   stay owed).

Crash safety (``payout tron resume``): a submitted batch is confirmed if its transaction's receipt
says so or if ``executed(payer, replayKey)`` is true; rebroadcast (same signed bytes, same txID) if
it is unknown and not yet expired; released back to ``planned`` only when the chain proves it can
no longer execute: the node's head block is stamped after the transaction's expiration (java-tron
refuses a transaction whose expiration is not after the head block's time) and no block up to that
head holds it, nor did anything execute the batch id. Only the node's head block time decides
expiry, never the local clock: a node still syncing or a clock running fast would otherwise release
a transaction that is (or will be) mined, and the released rows, re-planned under a new batch id,
would be paid twice. Until the node's head passes the expiration the batch stays ``submitted`` and
resume says to run again later. The contract's once-per-payer batch id makes any resubmission
harmless.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tronpy import Tron
from tronpy.keys import to_base58check_address

from payout import fault
from payout.address import address_bytes, tron_to_evm
from payout.disburser import (
    BATCH_DISBURSED_TOPIC,
    DISBURSE_OR_SKIP_SIGNATURE,
    DISBURSE_SIGNATURE,
    TRANSFER_SKIPPED_TOPIC,
    approval_amounts,
    encode_approve,
    encode_disburse,
    row_where,
)
from payout.exceptions import (
    ContractError,
    LedgerError,
    PayoutError,
    TronError,
    TronExecutionFailed,
    TronOutOfEnergy,
    TronTransactionRejected,
    TrxShortfall,
)
from payout.ledger import AttemptRecord, BatchRecord, Ledger, PayoutOutcome
from payout.revert import TOKEN_STATE_SIGNATURES, Party, RefusalScene, diagnose, translate
from payout.tron import proto
from payout.tron.client import node_call
from payout.tron.energy import (
    DEFAULT_MARGIN_BPS,
    ResourcePrices,
    account_resources,
    bandwidth_of,
    fee_limit_for,
    read_prices,
)
from payout.tron.record import as_json
from payout.tron.signer import TronSigner
from payout.tron.token import allowance, encode_args
from payout.tron.transaction import (
    DEFAULT_EXPIRATION_MS,
    SignedTx,
    broadcast,
    ref_block,
    transaction_info,
    trigger_raw_data,
    wait_receipt,
)
from payout.types import Batch, BatchStatus, ExecutorKind, Network, PayMode, PayoutStatus, Scope

TRANSFER_TOPIC_HEX = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#: Fee limit of an approve: a TRC-20 approve is ~25-50 k energy even with a token energy factor.
APPROVE_ENERGY_FLOOR = 30_000
#: Ledger txID of a batch the chain executed by a transaction this ledger holds no receipt of.
EXECUTED_ELSEWHERE = "unknown"


@dataclass(frozen=True)
class TronSendSettings:
    """How the executor sends."""

    margin_bps: int = DEFAULT_MARGIN_BPS
    mode: PayMode = PayMode.STRICT
    expiration_ms: int = DEFAULT_EXPIRATION_MS
    receipt_timeout_s: float = 60.0
    poll_s: float = 0.25


@dataclass(frozen=True)
class Simulation:
    """A constant call's outcome."""

    ok: bool
    energy: int
    return_data: bytes
    message: str = ""


@dataclass(frozen=True)
class BatchResult:
    """What happened to one batch."""

    batch_id: str
    index: int
    count: int
    total: int
    status: BatchStatus
    txid: str | None = None
    block_number: int | None = None
    energy_used: int = 0
    energy_estimate: int = 0
    fee_limit_sun: int = 0
    fee_sun: int = 0
    net_usage: int = 0
    approvals: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return as_json(self)


def batch_rows(batch: Batch) -> list[tuple[str, int]]:
    """The rows of a TRON batch as the contract sees them: (0x + 20-byte account id, no 0x41;
    amount)."""
    return [
        ("0x" + address_bytes(Network.TRON, p.recipient).hex(), p.amount) for p in batch.payouts
    ]


def disburse_signature(mode: PayMode) -> str:
    """The disburser function a batch calls in ``mode``."""
    return DISBURSE_SIGNATURE if mode is PayMode.STRICT else DISBURSE_OR_SKIP_SIGNATURE


def disburse_calldata(batch: Batch, mode: PayMode = PayMode.STRICT) -> bytes:
    """``disburse`` / ``disburseOrSkip`` calldata of a TRON batch (selector included)."""
    return encode_disburse(
        tron_to_evm(batch.token),
        batch.batch_id,
        batch.replay_key,
        batch.total,
        batch_rows(batch),
        mode,
    )


def simulate(
    client: Tron, owner: str, contract: str, signature: str, parameter: bytes
) -> Simulation:
    """``triggerconstantcontract`` keeping the revert data (tronpy drops it)."""
    reply: dict[str, Any] = node_call(
        client,
        lambda: client.provider.make_request(
            "wallet/triggerconstantcontract",
            {
                "owner_address": to_base58check_address(owner),
                "contract_address": to_base58check_address(contract),
                "function_selector": signature,
                "parameter": parameter.hex(),
                "visible": True,
            },
        ),
    )
    result = reply.get("result") or {}
    outputs = reply.get("constant_result") or [""]
    data = bytes.fromhex(outputs[0] or "")
    failed = (
        bool(result.get("code")) or bool(result.get("message")) or result.get("result") is False
    )
    message = str(result.get("message", ""))
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        message = bytes.fromhex(message).decode()
    return Simulation(
        ok=not failed, energy=int(reply.get("energy_used", 0)), return_data=data, message=message
    )


def executed(client: Tron, disburser: str, payer: str, replay_key: bytes) -> bool:
    """``executed(payer, replayKey)`` on the disburser: the chain's word on whether a batch ran."""
    sim = simulate(
        client,
        disburser,
        disburser,
        "executed(address,bytes32)",
        bytes.fromhex(encode_args(["address", "bytes32"], [payer, replay_key])),
    )
    if not sim.ok or len(sim.return_data) < 32:
        raise TronError(f"cannot read executed() from the disburser {disburser}: {sim.message}")
    return int.from_bytes(sim.return_data[:32], "big") != 0


def _receipt_failed(info: dict[str, Any]) -> bool:
    return (
        info.get("result") == "FAILED"
        or (info.get("receipt") or {}).get("result", "SUCCESS") != "SUCCESS"
    )


def _revert_data(info: dict[str, Any]) -> bytes:
    results = info.get("contractResult") or [""]
    try:
        return bytes.fromhex(results[0] or "")
    except ValueError:
        return b""


def _fee_sun(info: dict[str, Any]) -> int:
    receipt = info.get("receipt") or {}
    return int(info.get("fee", 0)) or int(receipt.get("energy_fee", 0)) + int(
        receipt.get("net_fee", 0)
    )


def _log_address(log: dict[str, Any]) -> str:
    raw = str(log.get("address", ""))
    raw = raw[2:] if raw.startswith("0x") else raw
    if len(raw) == 40:
        raw = "41" + raw
    return str(to_base58check_address(raw))


@dataclass(frozen=True)
class ReceiptLogs:
    """What one receipt's logs say about one batch id: the ``BatchDisbursed`` total (None when
    the event is absent), the positions the disburser reported skipped, and every token
    ``Transfer`` sent by the disburser as (log index, 20-byte recipient, amount)."""

    paid_total: int | None
    skipped: frozenset[int]
    transfers: tuple[tuple[int, bytes, int], ...]


def receipt_logs(
    info: dict[str, Any], disburser: str, token: str, batch_id: bytes, payer: str | None = None
) -> ReceiptLogs:
    """Decode a receipt's logs (TRON log addresses and topics are hex without 0x41/0x).

    Rows are paid by the disburser (after its pull from the payer), or in small batches straight
    from ``payer`` by ``transferFrom``; the pull itself (to the disburser) is no row."""
    disburser20 = address_bytes(Network.TRON, disburser)
    senders = {disburser20}
    if payer is not None:
        senders.add(address_bytes(Network.TRON, payer))
    batch_topic = BATCH_DISBURSED_TOPIC.hex()
    skip_topic = TRANSFER_SKIPPED_TOPIC.hex()
    paid_total: int | None = None
    transfers: list[tuple[int, bytes, int]] = []
    skipped: set[int] = set()
    for index, log in enumerate(info.get("log") or []):
        topics = [str(t).removeprefix("0x") for t in log.get("topics") or []]
        if not topics:
            continue
        address = _log_address(log)
        data = bytes.fromhex(str(log.get("data", "")).removeprefix("0x"))
        if address == disburser and topics[0] == batch_topic and len(topics) == 4:
            if bytes.fromhex(topics[3]) == batch_id:
                paid_total = int.from_bytes(data[32:64], "big")
        elif address == disburser and topics[0] == skip_topic and len(topics) == 2:
            if bytes.fromhex(topics[1]) == batch_id:
                skipped.add(int.from_bytes(data[0:32], "big"))
        elif address == token and topics[0] == TRANSFER_TOPIC_HEX and len(topics) == 3:
            sender, to = bytes.fromhex(topics[1])[12:], bytes.fromhex(topics[2])[12:]
            if sender in senders and to != disburser20:
                transfers.append((index, to, int.from_bytes(data[:32], "big")))
    return ReceiptLogs(paid_total, frozenset(skipped), tuple(transfers))


def decode_outcomes(
    batch: Batch, info: dict[str, Any], mode: PayMode
) -> tuple[list[PayoutOutcome], int | None]:
    """Per-row outcomes (log index of the recipient's Transfer, energy share, skipped rows) and the
    ``BatchDisbursed`` total, from a receipt's logs. Raises if the batch event is missing."""
    decoded = receipt_logs(info, batch.disburser, batch.token, batch.batch_id, batch.payer)
    paid_total = decoded.paid_total
    transfers = decoded.transfers
    skipped = decoded.skipped
    if paid_total is None:
        raise TronError(f"batch {batch.batch_id_hex}: the receipt has no BatchDisbursed event")
    energy = int((info.get("receipt") or {}).get("energy_usage_total", 0))
    shares = _split(energy, batch.count)
    outcomes: list[PayoutOutcome] = []
    cursor = 0
    for position, p in enumerate(batch.payouts):
        if position in skipped:
            outcomes.append(
                PayoutOutcome(
                    p.payout_id, PayoutStatus.SKIPPED, None, shares[position], "skipped on chain"
                )
            )
            continue
        want = address_bytes(Network.TRON, p.recipient)
        log_index = None
        while cursor < len(transfers):
            idx, to, amount = transfers[cursor]
            cursor += 1
            if to == want and amount == p.amount:
                log_index = idx
                break
        outcomes.append(
            PayoutOutcome(p.payout_id, PayoutStatus.CONFIRMED, log_index, shares[position])
        )
    # The batch event is the chain's own total: rows are only recorded as paid when they add up
    # to it (a skip the logs did not name must never become a payment in the ledger).
    not_skipped = sum(p.amount for i, p in enumerate(batch.payouts) if i not in skipped)
    if not_skipped != paid_total:
        raise TronError(
            f"batch {batch.batch_id_hex}: BatchDisbursed reports {paid_total} paid but the rows "
            f"not reported skipped add up to {not_skipped}",
            hint="The ledger was left unchanged; reconcile this batch before paying again.",
        )
    _ = mode
    return outcomes, paid_total


def _split(total: int, count: int) -> list[int]:
    if count <= 0:
        return []
    share, rest = divmod(total, count)
    return [share + (1 if i < rest else 0) for i in range(count)]


@dataclass
class TronExecutor:
    """Sends planned TRON batches from one hot-wallet key, recording everything in the ledger.

    Without a ``signer`` it only settles (``resume``, multisig broadcasts): it never signs.
    """

    client: Tron
    ledger: Ledger
    signer: TronSigner | None
    disburser: str
    settings: TronSendSettings = field(default_factory=TronSendSettings)
    prices: ResourcePrices | None = None
    on_event: Callable[[str, dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        self.disburser = str(to_base58check_address(self.disburser))
        if self.prices is None:
            self.prices = read_prices(self.client)

    @property
    def payer(self) -> str:
        if self.signer is None:
            raise TronError("this executor has no key: it can settle batches but not send them")
        return self.signer.address

    def _emit(self, what: str, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event(what, data)

    # --- one transaction -------------------------------------------------------------------------

    def wait(self, txid: str) -> dict[str, Any]:
        """The receipt of ``txid`` (within the settings' timeout)."""
        return wait_receipt(
            self.client,
            txid,
            timeout_s=self.settings.receipt_timeout_s,
            poll_s=self.settings.poll_s,
        )

    def _sign(self, contract: str, data: bytes, fee_limit_sun: int) -> SignedTx:
        raw = trigger_raw_data(
            owner=self.payer,
            contract=contract,
            data=data,
            fee_limit_sun=fee_limit_sun,
            ref=ref_block(self.client),
            expiration_ms=self.settings.expiration_ms,
        )
        tx = SignedTx.build(raw)
        assert self.signer is not None
        tx.signatures.append(self.signer.sign_txid(tx.txid))
        return tx

    def _approve(self, token: str, amount: int) -> str:
        """Send one ``approve(disburser, amount)`` and wait for it; returns the txID."""
        assert self.prices is not None
        data = encode_approve(tron_to_evm(self.disburser), amount)
        sim = simulate(self.client, self.payer, token, "approve(address,uint256)", data[4:])
        if not sim.ok:
            raise translate(sim.return_data, context=f"approve({amount}) of {token}")
        fee_limit = fee_limit_for(
            max(sim.energy, APPROVE_ENERGY_FLOOR), self.prices, self.settings.margin_bps
        )
        tx = self._sign(token, data, fee_limit)
        broadcast(self.client, tx)
        info = self.wait(tx.txid)
        if _receipt_failed(info):
            raise TronExecutionFailed(
                tx.txid, str((info.get("receipt") or {}).get("result", "FAILED")), "approve failed"
            )
        self._emit("approved", token=token, amount=amount, txid=tx.txid)
        return tx.txid

    def ensure_allowance(self, token: str, total: int) -> tuple[str, ...]:
        """Make the disburser's allowance cover ``total`` (exactly), USDT-style. Returns txIDs."""
        current = allowance(self.client, token, self.payer, self.disburser)
        return tuple(self._approve(token, amount) for amount in approval_amounts(current, total))

    # --- batches ---------------------------------------------------------------------------------

    def simulate_batch(self, batch: Batch) -> Simulation:
        mode = self.settings.mode
        return simulate(
            self.client,
            batch.payer,
            batch.disburser,
            disburse_signature(mode),
            disburse_calldata(batch, mode)[4:],
        )

    def diagnose(self, batch: Batch, error: ContractError) -> ContractError:
        """``error`` with its cause named from the token's own state (paused, payer, disburser
        or recipient blacklisted; see :func:`payout.revert.diagnose`), read with
        ``triggerconstantcontract``."""

        def read(to: str, data: bytes) -> bytes | None:
            signature = TOKEN_STATE_SIGNATURES.get(data[:4])
            if signature is None:
                return None
            try:
                answer = simulate(self.client, batch.payer, to, signature, data[4:])
            except PayoutError:
                return None
            return answer.return_data if answer.ok else None

        scene = RefusalScene(
            token=batch.token,
            payer=Party("payer", batch.payer),
            disburser=Party("disburser", batch.disburser),
            recipients={
                i: Party("recipient", p.recipient, row_where(p))
                for i, p in enumerate(batch.payouts)
            },
        )
        return diagnose(error, read, scene)

    def send_batch(self, batch: Batch) -> BatchResult:
        """Pay one planned batch (see the module doc). Raises on anything that stops the run;
        the ledger always says where the batch stands."""
        assert self.prices is not None
        if batch.payer != self.payer:
            raise TronError(
                f"batch {batch.batch_id_hex} is planned for payer {batch.payer}, "
                f"the key is {self.payer}"
            )
        record = self.ledger.batch(batch.scope, batch.batch_id)
        if record.status is BatchStatus.SUBMITTED:
            return self.settle(record)
        if record.status is BatchStatus.CONFIRMED:
            return _result_of(record, note="already confirmed")
        # The key recorded before any send is the one to send and to ask about.
        batch = self.ledger.stored_key(batch)
        if executed(self.client, batch.disburser, batch.payer, batch.replay_key):
            raise LedgerError(
                f"batch {batch.batch_id_hex} is planned in the ledger but already executed "
                "on chain",
                hint="Another ledger or process paid it; reconcile before paying again.",
            )
        approvals = self.ensure_allowance(batch.token, batch.total)
        sim = self.simulate_batch(batch)
        if not sim.ok:
            raise self.diagnose(
                batch,
                translate(
                    sim.return_data,
                    context=f"simulating batch {batch.index} ({batch.batch_id_hex})",
                ),
            )
        fee_limit = fee_limit_for(sim.energy, self.prices, self.settings.margin_bps)
        tx = self._sign(batch.disburser, disburse_calldata(batch, self.settings.mode), fee_limit)
        self._emit(
            "signed",
            batch=batch.index,
            batch_id=batch.batch_id_hex,
            count=batch.count,
            txid=tx.txid,
            fee_limit=fee_limit,
            energy=sim.energy,
        )
        self._preflight_trx(fee_limit, tx)
        self.ledger.record_submission(
            batch.scope,
            batch.batch_id,
            tx_hash=tx.txid,
            raw_tx=json.dumps(tx.to_json(), separators=(",", ":")),
            fees={
                "fee_limit_sun": fee_limit,
                "energy_estimate": sim.energy,
                "expiration": tx.expiration_ms,
            },
            note="tron hot wallet",
        )
        fault.checkpoint("before-broadcast")
        try:
            broadcast(self.client, tx)
        except TronTransactionRejected as refused:
            raise refused.after_write_ahead() from None
        self._emit(
            "broadcast",
            batch=batch.index,
            batch_id=batch.batch_id_hex,
            count=batch.count,
            txid=tx.txid,
        )
        fault.checkpoint("after-broadcast")
        info = self.wait(tx.txid)
        fault.checkpoint("after-receipt")
        result = self.settle_receipt(batch, tx.txid, info, fee_limit)
        return BatchResult(
            **{**result.__dict__, "approvals": approvals, "energy_estimate": sim.energy}
        )

    def _preflight_trx(self, fee_limit: int, tx: SignedTx) -> None:
        assert self.prices is not None
        res = account_resources(self.client, self.payer)
        need_bw = bandwidth_of(len(proto.raw_data_bytes(tx.raw_data)) + 3 + 67 * len(tx.signatures))
        need = max(0, fee_limit - res.energy_left * self.prices.energy_sun)
        if need_bw > res.bandwidth_left:
            need += need_bw * self.prices.bandwidth_sun
        if res.balance_sun < need:
            raise TrxShortfall(self.payer, need, res.balance_sun)

    def settle_receipt(
        self,
        batch: Batch,
        txid: str,
        info: dict[str, Any],
        fee_limit: int,
        *,
        raise_failure: bool = True,
    ) -> BatchResult:
        """Record a mined batch transaction: confirmed (rows with their Transfer logs) or failed
        (the rows stay owed; the translated cause is raised, or with ``raise_failure=False``
        returned as the result's note)."""
        receipt = info.get("receipt") or {}
        energy = int(receipt.get("energy_usage_total", 0))
        block = int(info.get("blockNumber", 0))
        fee = _fee_sun(info)
        mined: dict[str, Any] = {
            "tx_hash": txid,
            "block_number": block,
            "gas_used": energy,
            "fee_paid": fee,
        }

        def outcome(status: BatchStatus, **extra: Any) -> BatchResult:
            return BatchResult(
                batch_id=batch.batch_id_hex,
                index=batch.index,
                count=batch.count,
                total=batch.total,
                status=status,
                txid=txid,
                block_number=block,
                energy_used=energy,
                fee_limit_sun=fee_limit,
                fee_sun=fee,
                **extra,
            )

        assert self.prices is not None
        if _receipt_failed(info) and executed(
            self.client, batch.disburser, batch.payer, batch.replay_key
        ):
            # This transaction reverted because another one executed the batch id (a second
            # sender of the same payer, a copy of a multisig file): the rows were paid. Recording
            # them as failed would make them owed, and a re-plan under another batch id pays twice.
            return self._settle_executed_elsewhere(batch, note=f"{txid} reverted")
        if _receipt_failed(info):
            result = str(receipt.get("result", info.get("result", "FAILED")))
            limit = fee_limit // self.prices.energy_sun if fee_limit else 0
            # A token call that runs out of energy inside the batch makes the disburser revert
            # (TransferFailed) with the little energy kept back for the caller: a revert that
            # burned (nearly) the whole limit is an energy problem, not a token refusal.
            exhausted = limit > 0 and energy * 100 >= limit * 95
            if result == "OUT_OF_ENERGY" or (result == "REVERT" and exhausted):
                error: TronError | ContractError = TronOutOfEnergy(txid, fee_limit, energy)
            elif result == "REVERT":
                error = self.diagnose(
                    batch, translate(_revert_data(info), context=f"batch {batch.index} reverted")
                )
            else:
                error = TronExecutionFailed(txid, result, str(info.get("resMessage", "")))
            self.ledger.record_failure(batch.scope, batch.batch_id, error=str(error), **mined)
            self._emit(
                "failed",
                batch=batch.index,
                batch_id=batch.batch_id_hex,
                count=batch.count,
                txid=txid,
                error=str(error),
            )
            if raise_failure:
                raise error
            return outcome(BatchStatus.FAILED, note=str(error))
        outcomes, paid_total = decode_outcomes(batch, info, self.settings.mode)
        self.ledger.record_confirmation(
            batch.scope, batch.batch_id, paid_total=paid_total, outcomes=outcomes, **mined
        )
        self._emit(
            "confirmed",
            batch=batch.index,
            batch_id=batch.batch_id_hex,
            count=batch.count,
            txid=txid,
            energy=energy,
        )
        # Bandwidth points: staked / free ones used, plus bytes paid for in TRX.
        net_usage = int(receipt.get("net_usage", 0)) + (
            int(receipt.get("net_fee", 0)) // self.prices.bandwidth_sun
        )
        return outcome(BatchStatus.CONFIRMED, net_usage=net_usage)

    def _settle_executed_elsewhere(self, batch: Batch, *, note: str) -> BatchResult:
        """Record a batch that ``executed(payer, replayKey)`` says ran, by a transaction whose
        receipt this ledger does not hold. Strict mode pays every row or none, so its rows are
        confirmed; in skip mode only that receipt could say which rows were skipped (still owed),
        so the ledger is left unchanged and the command stops."""
        record = self.ledger.batch(batch.scope, batch.batch_id)
        if record.mode is not PayMode.STRICT:
            raise LedgerError(
                f"batch {batch.batch_id_hex} was executed on chain by a transaction this ledger "
                f"did not record ({note}); in {record.mode.value} mode its skipped rows are known "
                "only from that transaction's TransferSkipped logs",
                hint="Find the executing transaction and reconcile this batch before paying again; "
                "the ledger was left unchanged.",
            )
        self.ledger.record_confirmation(
            batch.scope, batch.batch_id, tx_hash=EXECUTED_ELSEWHERE, block_number=0
        )
        self._emit(
            "confirmed",
            batch=batch.index,
            batch_id=batch.batch_id_hex,
            count=batch.count,
            txid=EXECUTED_ELSEWHERE,
            energy=0,
        )
        return _result_of(
            self.ledger.batch(batch.scope, batch.batch_id),
            note=f"executed on chain by another transaction ({note})",
        )

    # --- settling after a crash ------------------------------------------------------------------

    def settle(self, record: BatchRecord) -> BatchResult:
        """Settle a ``submitted`` batch from the chain (see the module doc)."""
        batch = self.ledger.load_batch(record.scope, record.batch_id)
        pending = [a for a in record.attempts if a.tx_hash and a.status == "pending"]
        # Expiry is judged by the node's head block time alone: java-tron includes a transaction
        # only while its expiration is after the head block's time, so once a block stamped past
        # the expiration exists and no block up to it holds the transaction, it can never run. The
        # local clock never decides (a syncing node or a fast clock would release a transaction
        # that is, or will be, mined). Read BEFORE asking the chain: a transaction mined between
        # the checks below and a later head reading would look expired and unmined.
        head_ms = _head_time_ms(self.client)
        for attempt in reversed(pending):
            assert attempt.tx_hash is not None
            info = transaction_info(self.client, attempt.tx_hash)
            if info is not None:
                fee_limit = int(attempt.fees.get("fee_limit_sun", 0) or 0)
                return self.settle_receipt(
                    batch, attempt.tx_hash, info, fee_limit, raise_failure=False
                )
        if executed(self.client, batch.disburser, batch.payer, batch.replay_key):
            # Paid by a transaction this ledger did not record (e.g. a copy of a multisig file
            # broadcast elsewhere): the chain is the source of truth.
            return self._settle_executed_elsewhere(batch, note="no receipt of this ledger's")
        for attempt in reversed(pending):
            if not attempt.raw_tx:
                continue
            tx = _signed_from_json(attempt.raw_tx)
            if tx.signatures and tx.expiration_ms > head_ms:
                try:
                    broadcast(self.client, tx)
                except TronTransactionRejected as refused:
                    # Refused possibly because it was mined meanwhile: then settle from its receipt.
                    if transaction_info(self.client, tx.txid) is None:
                        if not refused.expired:
                            raise refused.after_write_ahead() from None
                        # The node will not take it now, but no block past its expiration exists
                        # yet (another node may still include it): not provably dead.
                        return self._still_open(record, batch, head_ms)
                self._emit(
                    "rebroadcast",
                    batch=batch.index,
                    batch_id=batch.batch_id_hex,
                    count=batch.count,
                    txid=tx.txid,
                )
                info = self.wait(tx.txid)
                fee_limit = int(attempt.fees.get("fee_limit_sun", 0) or 0)
                return self.settle_receipt(batch, tx.txid, info, fee_limit, raise_failure=False)
        if any(_expiration_of(a) > head_ms for a in pending):
            # A multisig proposal still collecting signatures, a transaction in flight, or a node
            # whose head has not yet passed the expiration (idle or syncing).
            return self._still_open(record, batch, head_ms)
        # Not executed, in no block up to a head stamped past every expiration: it can never run.
        self.ledger.release_batch(
            record.scope, record.batch_id, reason="expired on TRON without executing"
        )
        self._emit("released", batch=batch.index, batch_id=batch.batch_id_hex, count=batch.count)
        return _result_of(
            self.ledger.batch(record.scope, record.batch_id), note="expired; rows back to planned"
        )

    def _still_open(self, record: BatchRecord, batch: Batch, head_ms: int) -> BatchResult:
        """A submitted batch that is not executed and not provably expired: it stays submitted."""
        pending = [a for a in record.attempts if a.tx_hash and a.status == "pending"]
        expires_ms = max((_expiration_of(a) for a in pending), default=0)
        self._emit("waiting", batch=batch.index, expires_ms=expires_ms, head_ms=head_ms)
        return _result_of(
            record,
            note=(
                f"not executed yet and not expired on the node: its transaction expires at "
                f"{expires_ms} ms (unix), the node's head block is at {head_ms} ms; the rows stay "
                "submitted. Run `payout tron resume` again once the node's head block time has "
                "passed the expiration (it is released only then)"
            ),
        )

    def settle_open(self, scope: Scope) -> list[BatchResult]:
        """Settle every submitted TRON batch of ``scope``."""
        out = []
        for record in self.ledger.open_batches(scope):
            if record.executor is ExecutorKind.TRON:
                out.append(self.settle(record))
        return out

    def send_all(self, batches: Sequence[Batch]) -> list[BatchResult]:
        return [self.send_batch(b) for b in batches]


def _head_time_ms(client: Tron) -> int:
    block = node_call(client, lambda: client.get_latest_block())
    return int(((block.get("block_header") or {}).get("raw_data") or {}).get("timestamp", 0))


def _expiration_of(attempt: AttemptRecord) -> int:
    """The expiration (ms) the ledger recorded for an attempt's transaction (0 if none)."""
    return int(attempt.fees.get("expiration", 0) or 0)


def _signed_from_json(text: str) -> SignedTx:
    doc = json.loads(text)
    return SignedTx(
        raw_data=doc["raw_data"], txid=doc["txID"], signatures=list(doc.get("signature") or [])
    )


def _result_of(record: BatchRecord, *, note: str = "") -> BatchResult:
    return BatchResult(
        batch_id=record.batch_id,
        index=record.index,
        count=record.count,
        total=record.total,
        status=record.status,
        txid=record.tx_hash,
        block_number=record.block_number,
        energy_used=record.gas_used or 0,
        fee_sun=record.fee_paid or 0,
        note=note,
    )
