"""Building, identifying, signing and broadcasting TRON transactions.

tronpy asks the node for a transaction's id (``wallet/getsignweight``) and signs whatever id comes
back; its offline builder leaves the memo and ``Permission_id`` out of the id. Here every id is
computed locally from ``raw_data`` with the protobuf serializer (:func:`payout.tron.proto.txid`),
so we only ever sign what we built and reviewed, offline or not, multisig or not. tronpy still
carries the transaction to the node (:meth:`tronpy.Tron.broadcast`) and reads receipts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tronpy import Tron
from tronpy import exceptions as tronpy_errors
from tronpy.keys import to_hex_address
from tronpy.tron import Transaction

from payout.exceptions import TronExecutionFailed, TronNodeError, TronTransactionRejected
from payout.tron import proto
from payout.tron.client import node_call, node_url_of
from payout.tron.signer import TronSigner

TRIGGER_TYPE_URL = "type.googleapis.com/protocol.TriggerSmartContract"
#: java-tron refuses an expiration more than 24 h after the head block.
MAX_EXPIRATION_MS = 24 * 3600 * 1000
DEFAULT_EXPIRATION_MS = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class RefBlock:
    """TaPoS reference: a recent block the transaction is bound to."""

    number: int
    block_id: str
    timestamp_ms: int

    @property
    def ref_block_bytes(self) -> str:
        return self.block_id[12:16]

    @property
    def ref_block_hash(self) -> str:
        return self.block_id[16:32]


def ref_block(client: Tron) -> RefBlock:
    """The latest solid block (what tronpy binds transactions to)."""
    info = node_call(client, lambda: client.provider.make_request("wallet/getnodeinfo"))
    solid = str(info.get("solidityBlock", ""))
    num_part, _, block_id = solid.partition(",ID:")
    if not block_id:
        raise TronNodeError(node_url_of(client), f"getnodeinfo has no solidityBlock: {info}")
    head = node_call(client, lambda: client.get_latest_block())
    head_ms = int(((head.get("block_header") or {}).get("raw_data") or {}).get("timestamp", 0))
    return RefBlock(
        number=int(num_part.replace("Num:", "")), block_id=block_id, timestamp_ms=head_ms
    )


def trigger_raw_data(
    *,
    owner: str,
    contract: str,
    data: bytes,
    fee_limit_sun: int,
    ref: RefBlock,
    expiration_ms: int = DEFAULT_EXPIRATION_MS,
    permission_id: int | None = None,
    call_value: int = 0,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """JSON ``raw_data`` of a ``TriggerSmartContract`` call (the shape tronpy and java-tron use)."""
    if not 0 < expiration_ms <= MAX_EXPIRATION_MS:
        raise ValueError(f"expiration must be within 24 h, got {expiration_ms} ms")
    # The chain checks expiration against its head block's time: a local clock running behind
    # the chain must not produce transactions that are expired on arrival.
    ts = max(now_ms(), ref.timestamp_ms) if timestamp_ms is None else timestamp_ms
    value: dict[str, Any] = {
        "owner_address": to_hex_address(owner),
        "contract_address": to_hex_address(contract),
        "data": data.hex(),
    }
    if call_value:
        value["call_value"] = call_value
    entry: dict[str, Any] = {
        "parameter": {"value": value, "type_url": TRIGGER_TYPE_URL},
        "type": "TriggerSmartContract",
    }
    if permission_id:
        entry["Permission_id"] = permission_id
    return {
        "contract": [entry],
        "ref_block_bytes": ref.ref_block_bytes,
        "ref_block_hash": ref.ref_block_hash,
        "expiration": ts + expiration_ms,
        "timestamp": ts,
        "fee_limit": fee_limit_sun,
    }


@dataclass
class SignedTx:
    """A transaction with its locally computed id and the signatures collected so far."""

    raw_data: dict[str, Any]
    txid: str
    signatures: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, raw_data: dict[str, Any]) -> SignedTx:
        return cls(raw_data=raw_data, txid=proto.txid(raw_data))

    @property
    def expiration_ms(self) -> int:
        return int(self.raw_data["expiration"])

    def to_json(self) -> dict[str, Any]:
        return {
            "txID": self.txid,
            "raw_data": self.raw_data,
            "raw_data_hex": proto.raw_data_bytes(self.raw_data).hex(),
            "signature": list(self.signatures),
        }


def broadcast(client: Tron, tx: SignedTx) -> str:
    """Send a signed transaction; returns its id. Node refusals raise
    :class:`~payout.exceptions.TronTransactionRejected` (with java-tron's code); a DUP_TRANSACTION
    refusal is not an error (the transaction is already known)."""
    carrier = Transaction(
        dict(tx.raw_data), client=None, txid=tx.txid, permission=None, signature=list(tx.signatures)
    )
    carrier._client = client
    try:
        node_call(client, lambda: client.broadcast(carrier))
    except TronTransactionRejected as exc:
        if exc.code == "DUP_TRANSACTION_ERROR":
            return tx.txid
        raise
    return tx.txid


def transaction_info(client: Tron, txid: str) -> dict[str, Any] | None:
    """The receipt of ``txid`` (``gettransactioninfobyid``); ``None`` while it is not in a block."""
    try:
        info: dict[str, Any] = node_call(client, lambda: client.get_transaction_info(txid))
    except tronpy_errors.TransactionNotFound:
        return None
    return info or None


def transaction_known(client: Tron, txid: str) -> bool:
    """Whether the node knows ``txid`` at all (pending or in a block)."""
    try:
        found = node_call(client, lambda: client.get_transaction(txid))
    except tronpy_errors.TransactionNotFound:
        return False
    return bool(found)


def wait_receipt(
    client: Tron,
    txid: str,
    *,
    timeout_s: float = 60.0,
    poll_s: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll for the receipt of ``txid``; raises :class:`TronNodeError` after ``timeout_s``."""
    deadline = clock() + timeout_s
    while True:
        info = transaction_info(client, txid)
        if info is not None:
            return info
        if clock() >= deadline:
            raise TronNodeError(
                node_url_of(client),
                f"no receipt for {txid} after {timeout_s:.0f} s (it may still be mined: "
                "`payout tron resume` checks the chain before resending)",
            )
        time.sleep(poll_s)


def send_call(
    client: Tron,
    signer: TronSigner,
    contract: str,
    data: bytes,
    *,
    fee_limit_sun: int,
    call_value: int = 0,
    timeout_s: float = 60.0,
    poll_s: float = 0.25,
) -> dict[str, Any]:
    """Sign, send and wait for one contract call from a hot key; returns the receipt. A failed
    execution raises :class:`~payout.exceptions.TronExecutionFailed` (revert data kept on it)."""
    raw = trigger_raw_data(
        owner=signer.address,
        contract=contract,
        data=data,
        fee_limit_sun=fee_limit_sun,
        ref=ref_block(client),
        call_value=call_value,
    )
    tx = SignedTx.build(raw)
    tx.signatures.append(signer.sign_txid(tx.txid))
    broadcast(client, tx)
    info = wait_receipt(client, tx.txid, timeout_s=timeout_s, poll_s=poll_s)
    receipt = info.get("receipt") or {}
    if info.get("result") == "FAILED" or receipt.get("result", "SUCCESS") != "SUCCESS":
        error = TronExecutionFailed(tx.txid, str(receipt.get("result", "FAILED")), "")
        error.receipt = info  # type: ignore[attr-defined]
        raise error
    return info
