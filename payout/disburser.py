"""Python side of the disburser contract: calldata, simulation, failure prediction, receipts.

Calldata is encoded here by hand (the ABI is four fixed functions) so that a planned batch maps to
exactly one byte string, whatever library version is installed. Simulation uses ``eth_simulateV1``
so that the approval a send will need and the disburse call run together in one simulated block,
before anything is signed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import TRANSFER_TOPIC, Chain
from payout.exceptions import ContractError, PayoutError, TransferFailedError
from payout.revert import Party, ReadCall, RefusalScene, diagnose, with_context
from payout.types import UINT96_MAX, Batch, PayMode, Payout


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


DISBURSE_SIGNATURE = "disburse(address,bytes32,bytes32,uint256,uint256,bytes)"
DISBURSE_OR_SKIP_SIGNATURE = "disburseOrSkip(address,bytes32,bytes32,uint256,uint256,bytes)"
DISBURSE_NATIVE_SIGNATURE = "disburseNative(bytes32,bytes32,uint256,bytes)"
#: ABI types of the arguments of ``disburse`` / ``disburseOrSkip`` (for decoders).
DISBURSE_ARG_TYPES = ("address", "bytes32", "bytes32", "uint256", "uint256", "bytes")
SEL_DISBURSE = _selector(DISBURSE_SIGNATURE)
SEL_DISBURSE_OR_SKIP = _selector(DISBURSE_OR_SKIP_SIGNATURE)
SEL_DISBURSE_NATIVE = _selector(DISBURSE_NATIVE_SIGNATURE)
SEL_EXECUTED = _selector("executed(address,bytes32)")
SEL_APPROVE = _selector("approve(address,uint256)")
SEL_TRANSFER = _selector("transfer(address,uint256)")

BATCH_DISBURSED_TOPIC = keccak(text="BatchDisbursed(address,address,bytes32,uint256,uint256)")
TRANSFER_SKIPPED_TOPIC = keccak(text="TransferSkipped(bytes32,uint256,address,uint256)")

#: Bytes of a row's recipient; the amount follows in ``amount_bytes`` (1..12) bytes.
ROW_ADDRESS_BYTES = 20
MAX_AMOUNT_BYTES = 12


def _addr_word(address: str) -> bytes:
    raw = bytes.fromhex(to_checksum_address(address)[2:])
    return bytes(12) + raw


def _uint_word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def amount_bytes(amounts: Iterable[int]) -> int:
    """The fewest big-endian bytes (1..12) that hold every amount of a batch.

    Calldata is paid per byte (a zero byte too), so each row carries only as many amount bytes as
    the batch's largest amount needs.
    """
    largest = max(amounts, default=0)
    if largest > UINT96_MAX:
        raise ValueError(f"amount {largest} does not fit the contract's uint96")
    return max(1, (largest.bit_length() + 7) // 8)


def pack_rows(rows: Sequence[tuple[str, int]]) -> tuple[int, bytes]:
    """``(amount_bytes, packed)``: each row ``recipient (20 bytes) || amount (amount_bytes bytes,
    big-endian)``, back to back, as the contract reads them."""
    for _, amount in rows:
        if not 0 < amount <= UINT96_MAX:
            raise ValueError(f"amount {amount} does not fit the contract's uint96")
    width = amount_bytes(a for _, a in rows)
    packed = b"".join(
        bytes.fromhex(to_checksum_address(r)[2:]) + a.to_bytes(width, "big") for r, a in rows
    )
    return width, packed


def unpack_rows(width: int, packed: bytes) -> list[tuple[str, int]]:
    """Inverse of :func:`pack_rows`; ValueError when ``packed`` is not whole rows."""
    if not 1 <= width <= MAX_AMOUNT_BYTES:
        raise ValueError(f"amount width {width} is outside 1..{MAX_AMOUNT_BYTES}")
    size = ROW_ADDRESS_BYTES + width
    if len(packed) % size:
        raise ValueError(f"{len(packed)} packed bytes are not whole {size}-byte rows")
    return [
        (
            to_checksum_address("0x" + packed[i : i + ROW_ADDRESS_BYTES].hex()),
            int.from_bytes(packed[i + ROW_ADDRESS_BYTES : i + size], "big"),
        )
        for i in range(0, len(packed), size)
    ]


#: Largest decimal exponent of a native batch's encoding (10^28 < 2^96 <= 10^29).
MAX_NATIVE_EXPONENT = 28


def native_encoding(amounts: Sequence[int]) -> tuple[int, int, int]:
    """``(encoding, amount_bytes, exponent)`` of a ``disburseNative`` batch.

    A native row carries a mantissa and the batch one decimal exponent (amount = mantissa x
    10^exponent): a payout file's "0.05" ETH is 5 x 10^16 wei, one byte instead of eight. The
    exponent is the largest power of ten dividing every amount, lowered until the contract's bound
    holds (10^exponent x 2^(8 x amount_bytes) <= 2^96); ``encoding`` is
    ``amount_bytes | exponent << 8``. Amounts that share no trailing zero get exponent 0: the plain
    encoding of :func:`pack_rows`.
    """
    if not amounts:
        raise ValueError("a batch has at least one row")
    for amount in amounts:
        if not 0 < amount <= UINT96_MAX:
            raise ValueError(f"amount {amount} does not fit the contract's uint96")
    exponent = 0
    while exponent < MAX_NATIVE_EXPONENT and all(a % 10 ** (exponent + 1) == 0 for a in amounts):
        exponent += 1
    while True:
        width = amount_bytes(a // 10**exponent for a in amounts)
        if 10**exponent << (8 * width) <= 1 << 96:
            return width | exponent << 8, width, exponent
        exponent -= 1


def pack_native_rows(rows: Sequence[tuple[str, int]]) -> tuple[int, bytes]:
    """``(encoding, packed)`` of a ``disburseNative`` batch: rows of ``recipient (20 bytes) ||
    mantissa (amount_bytes bytes, big-endian)``; see :func:`native_encoding`."""
    encoding, width, exponent = native_encoding([a for _, a in rows])
    scale = 10**exponent
    packed = b"".join(
        bytes.fromhex(to_checksum_address(r)[2:]) + (a // scale).to_bytes(width, "big")
        for r, a in rows
    )
    return encoding, packed


def unpack_native_rows(encoding: int, packed: bytes) -> list[tuple[str, int]]:
    """Inverse of :func:`pack_native_rows`; ValueError for an encoding the contract refuses."""
    width, exponent = encoding & 0xFF, encoding >> 8
    if exponent > MAX_NATIVE_EXPONENT or (
        1 <= width <= MAX_AMOUNT_BYTES and 10**exponent << (8 * width) > 1 << 96
    ):
        raise ValueError(f"native encoding {encoding:#x}: amounts could reach 2^96")
    scale = 10**exponent
    return [(r, m * scale) for r, m in unpack_rows(width, packed)]


def encode_disburse_native(
    batch_id: bytes, replay_key: bytes, rows: Sequence[tuple[str, int]]
) -> bytes:
    """Calldata of ``disburseNative`` (send it with ``value`` = the sum of the amounts)."""
    if len(batch_id) != 32:
        raise ValueError("a batch id is 32 bytes")
    if len(replay_key) != 32:
        raise ValueError("a replay key is 32 bytes")
    encoding, packed = pack_native_rows(rows)
    head = batch_id + replay_key + _uint_word(encoding) + _uint_word(4 * 32)
    return SEL_DISBURSE_NATIVE + head + _bytes_tail(packed)


def _bytes_tail(data: bytes) -> bytes:
    """ABI encoding of a dynamic ``bytes`` value (length word, data, zero padding)."""
    return _uint_word(len(data)) + data + bytes(-len(data) % 32)


def encode_disburse(
    token: str,
    batch_id: bytes,
    replay_key: bytes,
    total: int,
    rows: Sequence[tuple[str, int]],
    mode: PayMode,
) -> bytes:
    """Calldata of ``disburse`` (strict) or ``disburseOrSkip`` (skip)."""
    selector = SEL_DISBURSE if mode is PayMode.STRICT else SEL_DISBURSE_OR_SKIP
    if len(batch_id) != 32:
        raise ValueError("a batch id is 32 bytes")
    if len(replay_key) != 32:
        raise ValueError("a replay key is 32 bytes")
    width, packed = pack_rows(rows)
    head = (
        _addr_word(token)
        + batch_id
        + replay_key
        + _uint_word(total)
        + _uint_word(width)
        + _uint_word(6 * 32)
    )
    return selector + head + _bytes_tail(packed)


@dataclass(frozen=True)
class DisburseCall:
    """A decoded ``disburse`` / ``disburseOrSkip`` call (what a signer reviews)."""

    mode: PayMode
    token: str
    batch_id: bytes
    replay_key: bytes
    total: int
    rows: tuple[tuple[str, int], ...]
    amount_bytes: int


def decode_disburse(data: bytes) -> DisburseCall:
    """Decode ``disburse`` / ``disburseOrSkip`` calldata; ValueError when it is neither or is
    malformed (the contract would refuse it)."""
    from eth_abi.abi import decode

    selector = bytes(data[:4])
    if selector not in (SEL_DISBURSE, SEL_DISBURSE_OR_SKIP):
        raise ValueError("not a disburse call")
    token, batch_id, replay_key, total, width, packed = decode(
        list(DISBURSE_ARG_TYPES), bytes(data[4:])
    )
    return DisburseCall(
        mode=PayMode.SKIP if selector == SEL_DISBURSE_OR_SKIP else PayMode.STRICT,
        token=to_checksum_address(token),
        batch_id=bytes(batch_id),
        replay_key=bytes(replay_key),
        total=int(total),
        rows=tuple(unpack_rows(int(width), bytes(packed))),
        amount_bytes=int(width),
    )


def _batch_rows(batch: Batch) -> list[tuple[str, int]]:
    return [(p.recipient, p.amount) for p in batch.payouts]


def batch_calldata(batch: Batch, mode: PayMode) -> bytes:
    """The disburse calldata of a planned batch."""
    return encode_disburse(
        batch.token, batch.batch_id, batch.replay_key, batch.total, _batch_rows(batch), mode
    )


def encode_approve(spender: str, amount: int) -> bytes:
    return SEL_APPROVE + _addr_word(spender) + _uint_word(amount)


def encode_transfer(to: str, amount: int) -> bytes:
    return SEL_TRANSFER + _addr_word(to) + _uint_word(amount)


def approval_amounts(current: int, needed: int) -> list[int]:
    """The ``approve`` amounts to send so that the allowance covers ``needed``.

    Nothing when it already does. Otherwise the needed amount, preceded by ``approve(0)`` when the
    current allowance is non-zero: USDT (and tokens copying it) revert on a change from one
    non-zero allowance to another, and going through zero is harmless for every other token.
    """
    if current >= needed:
        return []
    return [0, needed] if current > 0 else [needed]


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchEvent:
    """A ``BatchDisbursed`` log: proof that (payer, batch id) executed."""

    payer: str
    token: str
    batch_id: bytes
    count: int
    total: int
    tx_hash: str
    block_number: int
    log_index: int


def row_where(row: Payout) -> str:
    """Where a row is in its payout file: ``payouts.csv:5`` (``line 5`` without a file name)."""
    if not row.line:
        return row.source
    return f"{row.source}:{row.line}" if row.source else f"line {row.line}"


def _row_label(batch: Batch, index: int) -> str:
    """``payouts.csv:5``, or ``row #3 of batch 0`` when the row's file line is unknown."""
    return row_where(batch.payouts[index]) or f"row #{index} of batch {batch.index}"


@dataclass(frozen=True)
class RowFailure:
    """A row whose transfer fails in simulation (index within its batch)."""

    index: int
    payout_id: str
    recipient: str
    amount: int
    reason: str
    #: The row's physical line in its payout file (0: unknown) and the file.
    line: int = 0
    source: str = ""

    @property
    def where(self) -> str:
        """``payouts.csv:5``, or "" when the row's place in a file is unknown."""
        if not self.line:
            return ""
        return f"{self.source}:{self.line}" if self.source else f"line {self.line}"

    @property
    def label(self) -> str:
        """``id-3 (payouts.csv:5)``: the row as an operator finds it in the file."""
        return f"{self.payout_id} ({self.where})" if self.where else self.payout_id


@dataclass(frozen=True)
class BatchSimulation:
    """What simulating one batch (with the approvals it needs) predicts."""

    batch_index: int
    mode: PayMode
    ok: bool
    gas_used: int
    failures: tuple[RowFailure, ...] = ()
    error: ContractError | None = None
    #: Gas of the approvals simulated before the batch (zero when the allowance sufficed).
    approval_gas: int = 0
    #: The payer already executed this batch id: nothing to simulate, the chain has the result.
    already_executed: bool = False


@dataclass(frozen=True)
class RowResult:
    """One row of a mined batch: paid (with its Transfer log) or skipped on chain."""

    payout_id: str
    recipient: str
    amount: int
    paid: bool
    log_index: int | None
    gas_share: int


@dataclass(frozen=True)
class BatchReceipt:
    """A mined batch transaction, decoded per row."""

    tx_hash: str
    block_number: int
    status: bool
    gas_used: int
    effective_gas_price: int
    event: BatchEvent | None
    rows: tuple[RowResult, ...] = field(default=())

    @property
    def fee_wei(self) -> int:
        return self.gas_used * self.effective_gas_price


def _hex_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(str(value), 16)


def _topic_bytes(value: Any) -> bytes:
    return bytes.fromhex(str(value)[2:])


def _decode_batch_event(log: Mapping[str, Any]) -> BatchEvent:
    topics = [_topic_bytes(t) for t in log["topics"]]
    data = _topic_bytes(log["data"])
    return BatchEvent(
        payer=to_checksum_address("0x" + topics[1][12:].hex()),
        token=to_checksum_address("0x" + topics[2][12:].hex()),
        batch_id=topics[3],
        count=int.from_bytes(data[0:32], "big"),
        total=int.from_bytes(data[32:64], "big"),
        tx_hash=str(log.get("transactionHash", "")),
        block_number=_hex_int(log.get("blockNumber", 0)),
        log_index=_hex_int(log.get("logIndex", 0)),
    )


#: Public names of the helpers :mod:`payout.history` reads the chain's record of a batch with.
decode_batch_event = _decode_batch_event
addr_word = _addr_word


def split_gas(gas_used: int, count: int) -> list[int]:
    """Split a batch's gas over its rows so that the shares add up exactly."""
    if count <= 0:
        return []
    share, rest = divmod(gas_used, count)
    return [share + (1 if i < rest else 0) for i in range(count)]


class Disburser:
    """A deployed disburser on one chain (its code is checked by :mod:`payout.deployment`)."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)

    def executed(self, payer: str, replay_key: bytes) -> bool:
        """Whether ``payer`` already executed ``replay_key`` (the chain's once-only record; see
        :func:`payout.batching.derive_replay_keys`)."""
        if len(replay_key) != 32:
            raise ValueError("a replay key is 32 bytes")
        data = self.chain.call(self.address, SEL_EXECUTED + _addr_word(payer) + replay_key)
        return int.from_bytes(data[:32], "big") == 1

    def batch_events(
        self,
        payer: str,
        *,
        batch_ids: Sequence[bytes] | None = None,
        token: str | None = None,
        from_block: int = 0,
        to_block: int | str = "latest",
        chunk: int = 50_000,
    ) -> list[BatchEvent]:
        """``BatchDisbursed`` events of ``payer`` (optionally only some batch ids / one token)."""
        topics: list[bytes | Sequence[bytes] | None] = [
            BATCH_DISBURSED_TOPIC,
            _addr_word(payer),
            _addr_word(token) if token is not None else None,
            list(batch_ids) if batch_ids else None,
        ]
        logs = _chunked_logs(self.chain, self.address, topics, from_block, to_block, chunk)
        return [_decode_batch_event(log) for log in logs]

    def find_batch(
        self, payer: str, batch_id: bytes, *, from_block: int = 0, chunk: int = 50_000
    ) -> BatchEvent | None:
        """The event proving ``batch_id`` executed, or None.

        Searched backwards from the head in ``chunk``-block windows: the batch being settled was
        almost always executed recently, so a long chain is rarely scanned from ``from_block``.
        """
        topics: list[bytes | Sequence[bytes] | None] = [
            BATCH_DISBURSED_TOPIC,
            _addr_word(payer),
            None,
            batch_id,
        ]
        end = self.chain.block_number()
        while end >= from_block:
            start = max(from_block, end - chunk + 1)
            logs = self.chain.logs(
                address=self.address, topics=topics, from_block=start, to_block=end
            )
            if logs:
                return _decode_batch_event(logs[0])
            end = start - 1
        return None

    # --- why a batch fails -------------------------------------------------------------------

    def reader(self, block: str = "latest") -> ReadCall:
        """Read-only calls at ``block`` for :func:`payout.revert.diagnose` (None on failure)."""

        def read(to: str, data: bytes) -> bytes | None:
            try:
                return self.chain.call(to, data, block=block, context="reading the token state")
            except PayoutError:
                return None

        return read

    def diagnose(
        self,
        batch: Batch,
        error: ContractError,
        *,
        rows: Mapping[int, int] | None = None,
        block: str = "latest",
    ) -> ContractError:
        """``error`` with its cause named when the token's pause or blacklist explains it (see
        :func:`payout.revert.diagnose`). ``rows`` maps the failing call's recipient indexes to
        indexes in ``batch`` (default: the batch itself was called). A failed transfer no token
        state explains still names its row (payout id, file and line)."""
        positions = {i: i for i in range(batch.count)} if rows is None else rows
        scene = RefusalScene(
            token=batch.token,
            payer=Party("payer", batch.payer),
            disburser=Party("disburser", self.address),
            recipients={
                i: Party("recipient", batch.payouts[j].recipient, _row_label(batch, j))
                for i, j in positions.items()
            },
        )
        named = diagnose(error, self.reader(block), scene)
        if (
            named is error
            and type(error) is TransferFailedError
            and not error.row
            and error.index in positions
        ):
            j = positions[error.index]
            named = TransferFailedError(
                error.index,
                error.cause,
                error.reason_data,
                row=f"{batch.payouts[j].payout_id}, {_row_label(batch, j)}",
            )
            named = with_context(named, getattr(error, "context", None))
        return named

    def revert_cause(self, batch: Batch, receipt: Mapping[str, Any]) -> ContractError | None:
        """Why a mined batch transaction reverted: it is run again (``eth_call``, same sender and
        calldata) on the state of the block it was mined in, and the revert is translated and
        diagnosed. None when that cannot be read back."""
        tx_hash = str(receipt["transactionHash"])
        tx = self.chain.transaction(tx_hash)
        if tx is None:
            return None
        block = hex(_hex_int(receipt["blockNumber"]))
        data = bytes.fromhex(str(tx.get("input") or tx.get("data") or "0x")[2:])
        try:
            self.chain.call(
                str(tx["to"]),
                data,
                sender=str(tx["from"]),
                block=block,
                context=f"run again at block {int(block, 16)}",
            )
        except ContractError as exc:
            return self.diagnose(batch, exc, block=block)
        except PayoutError:
            return None
        gas, used = _hex_int(tx.get("gas", 0)), _hex_int(receipt["gasUsed"])
        if gas and used * 64 >= gas * 63:
            return ContractError(
                f"transaction {tx_hash} ran out of gas ({used:,} of its {gas:,} gas limit)",
                hint="the batch needs more gas than was given; `payout resume` or send again "
                "estimates it anew",
            )
        return None

    # --- simulation -------------------------------------------------------------------------

    def _approval_calls(self, token: str, current: int, needed: int) -> list[dict[str, Any]]:
        return [
            {"to": token, "data": encode_approve(self.address, amount)}
            for amount in approval_amounts(current, needed)
        ]

    def simulate(
        self,
        batch: Batch,
        mode: PayMode,
        *,
        allowance: int,
        approve_to: int | None = None,
    ) -> BatchSimulation:
        """Simulate ``batch`` from its payer, preceded by the approvals a send would make.

        ``allowance`` is the payer's current allowance; ``approve_to`` the amount a send would
        approve when it is too low (default: the batch total). In skip mode the rows whose
        transfer fails are returned as :class:`RowFailure` (from the ``TransferSkipped`` logs).
        """
        needed = batch.total if approve_to is None else max(approve_to, batch.total)
        calls = self._approval_calls(batch.token, allowance, needed)
        calls.append({"to": self.address, "data": batch_calldata(batch, mode)})
        results = self.chain.simulate(batch.payer, calls)
        approvals, main = results[:-1], results[-1]
        approval_gas = sum(r.gas_used for r in approvals)
        for r in approvals:
            if not r.success:
                error = None if r.error is None else self.diagnose(batch, r.error, rows={})
                return BatchSimulation(
                    batch.index, mode, False, 0, error=error, approval_gas=approval_gas
                )
        if not main.success:
            error = None if main.error is None else self.diagnose(batch, main.error)
            return BatchSimulation(
                batch.index, mode, False, main.gas_used, error=error, approval_gas=approval_gas
            )
        failures = tuple(
            self._failure_from_log(batch, log)
            for log in main.logs
            if _is_skip_log(log, self.address, batch.batch_id)
        )
        return BatchSimulation(
            batch.index, mode, True, main.gas_used, failures=failures, approval_gas=approval_gas
        )

    def _failure_from_log(self, batch: Batch, log: Mapping[str, Any]) -> RowFailure:
        data = _topic_bytes(log["data"])
        index = int.from_bytes(data[0:32], "big")
        row = batch.payouts[index]
        return RowFailure(index, row.payout_id, row.recipient, row.amount, "", row.line, row.source)

    def explain_failure(self, batch: Batch, failure: RowFailure, *, allowance: int) -> RowFailure:
        """Find out why one row fails: simulate it alone in strict mode and translate the revert."""
        from dataclasses import replace

        calls = self._approval_calls(batch.token, allowance, failure.amount)
        calls.append(
            {
                "to": self.address,
                "data": encode_disburse(
                    batch.token,
                    keccak(batch.batch_id + b"explain"),
                    keccak(batch.replay_key + b"explain"),
                    failure.amount,
                    [(failure.recipient, failure.amount)],
                    PayMode.STRICT,
                ),
            }
        )
        main = self.chain.simulate(batch.payer, calls)[-1]
        error: Any = main.error
        named = (
            self.diagnose(batch, error, rows={0: failure.index})
            if isinstance(error, ContractError)
            else error
        )
        # A single-row batch: the token's own reason (the cause) says more than "row #0 failed".
        cause = getattr(error, "cause", None)
        if named is not error:
            error = named
        elif isinstance(cause, ContractError):
            error = cause
        reason = str(error) if error is not None else "the transfer moves no tokens"
        if reason.startswith("simulated call: "):
            reason = reason[len("simulated call: ") :]
        return replace(failure, reason=reason)

    def predict_failures(self, batch: Batch, *, allowance: int) -> BatchSimulation:
        """Skip-mode simulation with a reason for every failing row."""
        sim = self.simulate(batch, PayMode.SKIP, allowance=allowance)
        if not sim.ok or not sim.failures:
            return sim
        explained = tuple(self.explain_failure(batch, f, allowance=allowance) for f in sim.failures)
        return BatchSimulation(
            sim.batch_index,
            sim.mode,
            sim.ok,
            sim.gas_used,
            failures=explained,
            approval_gas=sim.approval_gas,
        )

    # --- receipts ------------------------------------------------------------------------------

    def decode_receipt(self, batch: Batch, receipt: Mapping[str, Any]) -> BatchReceipt:
        """Per-row outcome of a mined batch transaction.

        Paid rows are matched, in order, to the token's ``Transfer`` logs from the disburser;
        rows named by ``TransferSkipped`` logs were not paid. A mismatch between the logs and the
        batch (another amount, another recipient) raises :class:`ContractError`: the reconcile
        command then shows the details.
        """
        tx_hash = str(receipt["transactionHash"])
        status = _hex_int(receipt["status"]) == 1
        gas_used = _hex_int(receipt["gasUsed"])
        price = _hex_int(receipt.get("effectiveGasPrice", 0))
        block = _hex_int(receipt["blockNumber"])
        logs = list(receipt.get("logs", []))
        if not status:
            return BatchReceipt(tx_hash, block, False, gas_used, price, None, ())
        event = None
        skipped: set[int] = set()
        transfers: list[Mapping[str, Any]] = []
        token_lower = batch.token.lower()
        # Rows are paid from the disburser (after one pull from the payer), or, in small batches,
        # straight from the payer by transferFrom; the pull itself (to the disburser) is no row.
        sources = {bytes.fromhex(self.address[2:]), bytes.fromhex(batch.payer[2:])}
        me = bytes.fromhex(self.address[2:])
        for log in logs:
            address = str(log["address"]).lower()
            topics = log["topics"]
            if address == self.address.lower() and topics:
                topic0 = _topic_bytes(topics[0])
                if topic0 == BATCH_DISBURSED_TOPIC:
                    candidate = _decode_batch_event(log)
                    if candidate.batch_id == batch.batch_id:
                        event = candidate
                elif topic0 == TRANSFER_SKIPPED_TOPIC and _topic_bytes(topics[1]) == batch.batch_id:
                    skipped.add(int.from_bytes(_topic_bytes(log["data"])[0:32], "big"))
            elif (
                address == token_lower
                and topics
                and len(topics) == 3
                and _topic_bytes(topics[0]) == TRANSFER_TOPIC
                and _topic_bytes(topics[1])[12:] in sources
                and _topic_bytes(topics[2])[12:] != me
            ):
                transfers.append(log)
        if event is None:
            raise ContractError(
                f"transaction {tx_hash} succeeded but has no BatchDisbursed event for batch "
                f"{batch.batch_id_hex}",
                hint="run `payout reconcile` to compare the ledger with the chain",
            )
        paid_indexes = [i for i in range(batch.count) if i not in skipped]
        shares = split_gas(gas_used, batch.count)
        rows: list[RowResult] = []
        transfer_iter = iter(transfers)
        for i, p in enumerate(batch.payouts):
            if i in skipped:
                rows.append(RowResult(p.payout_id, p.recipient, p.amount, False, None, shares[i]))
                continue
            log = next(transfer_iter, None)
            if log is None:
                raise ContractError(
                    f"transaction {tx_hash}: fewer Transfer logs than paid rows "
                    f"({len(transfers)} < {len(paid_indexes)})",
                    hint="the token behaves unexpectedly; run `payout reconcile`",
                )
            to = to_checksum_address("0x" + _topic_bytes(log["topics"][2])[12:].hex())
            value = int.from_bytes(_topic_bytes(log["data"])[:32], "big")
            if to != p.recipient or value != p.amount:
                raise ContractError(
                    f"transaction {tx_hash}: row {i} ({p.payout_id}) expected {p.amount} to "
                    f"{p.recipient}, the Transfer log says {value} to {to}",
                    hint="run `payout reconcile` to see every mismatch",
                )
            rows.append(
                RowResult(
                    p.payout_id, p.recipient, p.amount, True, _hex_int(log["logIndex"]), shares[i]
                )
            )
        return BatchReceipt(tx_hash, block, True, gas_used, price, event, tuple(rows))


def _is_skip_log(log: Mapping[str, Any], disburser: str, batch_id: bytes) -> bool:
    topics = log.get("topics") or []
    return (
        str(log.get("address", "")).lower() == disburser.lower()
        and len(topics) >= 2
        and _topic_bytes(topics[0]) == TRANSFER_SKIPPED_TOPIC
        and _topic_bytes(topics[1]) == batch_id
    )


def _chunked_logs(
    chain: Chain,
    address: str | Sequence[str] | None,
    topics: Sequence[bytes | Sequence[bytes] | None],
    from_block: int,
    to_block: int | str,
    chunk: int,
) -> list[dict[str, Any]]:
    """``eth_getLogs`` over a block range in chunks (public nodes cap the range per request)."""
    end = chain.block_number() if not isinstance(to_block, int) else to_block
    out: list[dict[str, Any]] = []
    start = from_block
    while start <= end:
        stop = min(start + chunk - 1, end)
        out.extend(chain.logs(address=address, topics=topics, from_block=start, to_block=stop))
        start = stop + 1
    return out
