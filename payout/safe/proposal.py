"""Safe transactions for planned batches, and the proposal file that carries them between signers.

One Safe transaction per planned batch: a DELEGATECALL from the Safe to the canonical
MultiSendCallOnly library with inner CALLs

1. ``token.approve(disburser, 0)`` only when a non-zero allowance is already set (USDT refuses to
   change one non-zero allowance into another),
2. ``token.approve(disburser, total)``: exactly the batch total, never more,
3. ``disburser.disburse(token, batchId, total, packed)`` (or ``disburseOrSkip`` in skip mode).

``safeTxGas``, ``baseGas`` and ``gasPrice`` are 0 and ``gasToken`` / ``refundReceiver`` the zero
address: an inner revert then reverts the whole Safe transaction (``GS013``) without using the Safe
nonce, so the batch can simply be executed again once the cause is fixed, and nobody is refunded
from the Safe.

Nonces: consecutive from ``max(on-chain nonce, highest queued nonce + 1)``, where queued nonces come
from other pending proposal files and from the Transaction Service when one is configured.

The proposal file (JSON, ``format: payout-safe-proposal/2``; /2 added each batch's replay key)
holds every SafeTx field, the chain id,
the Safe address and version, the safeTxHash, the decoded batch (count, total, token, batch id,
payout ids, recipients and amounts) and the signatures collected so far. Nothing in it is trusted:
:mod:`payout.safe.review` recomputes every hash and decodes the calldata before anyone signs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.disburser import encode_approve, encode_disburse
from payout.exceptions import BatchNotForSafe as BatchNotForSafe
from payout.exceptions import InputError, SafeProposalFileError
from payout.exceptions import NoMultiSendLibrary as NoMultiSendLibrary
from payout.safe.multisend import (
    OPERATION_CALL,
    OPERATION_DELEGATECALL,
    PREFERRED_ORDER,
    InnerCall,
    MultiSendLibrary,
    canonical_library,
    code_matches,
    encode_multisend,
)
from payout.safe.safe_state import SafeState, read_safe
from payout.types import Batch, PayMode

FORMAT = "payout-safe-proposal/2"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


#: Signature kinds stored in a proposal file.
SIG_EIP712 = "eip712"
SIG_ETH_SIGN = "eth_sign"
SIG_APPROVED_HASH = "approved_hash"
SIG_CONTRACT = "contract"
SIGNATURE_KINDS = (SIG_EIP712, SIG_ETH_SIGN, SIG_APPROVED_HASH, SIG_CONTRACT)


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SafeTxFields:
    """The ten fields an owner signs (EIP-712 ``SafeTx``)."""

    to: str
    value: int
    data: bytes
    operation: int
    safe_tx_gas: int
    base_gas: int
    gas_price: int
    gas_token: str
    refund_receiver: str
    nonce: int


@dataclass(frozen=True)
class PayoutRow:
    """One recipient of a batch as the proposer claims it (review checks it on the calldata)."""

    payout_id: str
    recipient: str
    amount: int


@dataclass(frozen=True)
class BatchInfo:
    """The batch a Safe transaction pays, decoded for humans."""

    index: int
    batch_id: bytes
    mode: PayMode
    token: str
    disburser: str
    total: int
    payouts: tuple[PayoutRow, ...]
    #: The key the disburser executes once per payer (recorded in the ledger before proposing).
    replay_key: bytes = b""

    @property
    def count(self) -> int:
        return len(self.payouts)

    @property
    def payout_ids(self) -> tuple[str, ...]:
        return tuple(p.payout_id for p in self.payouts)


@dataclass(frozen=True)
class OwnerSignature:
    """One owner's signature of a Safe transaction.

    ``signature`` is the 65-byte ``r || s || v`` word for ``eip712`` / ``eth_sign`` (v + 4) /
    ``approved_hash`` (v = 1, r = owner). For ``contract`` (an owner that is itself a Safe) it is
    empty and ``inner`` holds that owner Safe's own signatures of its SafeMessage (the parent's
    SafeTx preimage); the EIP-1271 signature is assembled from them at execution.
    """

    owner: str
    kind: str
    signature: bytes = b""
    inner: tuple[OwnerSignature, ...] = ()


@dataclass(frozen=True)
class ProposedTx:
    """One Safe transaction (one batch) of a proposal."""

    safe_tx: SafeTxFields
    safe_tx_hash: bytes
    batch: BatchInfo
    signatures: tuple[OwnerSignature, ...] = ()

    @property
    def nonce(self) -> int:
        return self.safe_tx.nonce


@dataclass(frozen=True)
class TokenRef:
    address: str
    symbol: str
    decimals: int


@dataclass(frozen=True)
class Proposal:
    """Everything signers need, for one Safe on one chain."""

    chain_id: int
    safe: str
    safe_version: str
    multisend: str
    token: TokenRef
    disburser: str
    transactions: tuple[ProposedTx, ...]
    created_at: int = field(default_factory=lambda: int(time.time()))
    #: Owners and threshold when proposed (informative: review and execution read the chain).
    owners: tuple[str, ...] = ()
    threshold: int = 0

    def by_nonce(self, nonce: int) -> ProposedTx:
        for tx in self.transactions:
            if tx.nonce == nonce:
                return tx
        raise KeyError(nonce)

    def with_transactions(self, transactions: Iterable[ProposedTx]) -> Proposal:
        return replace(self, transactions=tuple(transactions))


# --- hashing -------------------------------------------------------------------------------------


def eip712_payload(
    fields: SafeTxFields, *, safe: str, chain_id: int, version: str
) -> dict[str, Any]:
    """The EIP-712 typed data of a SafeTx (what a wallet shows and signs)."""
    from safe_eth.safe import SafeTx

    tx = SafeTx(
        None,  # type: ignore[arg-type]  # no RPC needed: nonce, version and chain id are given
        to_checksum_address(safe),
        to_checksum_address(fields.to),
        fields.value,
        fields.data,
        fields.operation,
        fields.safe_tx_gas,
        fields.base_gas,
        fields.gas_price,
        to_checksum_address(fields.gas_token),
        to_checksum_address(fields.refund_receiver),
        safe_nonce=fields.nonce,
        safe_version=version,
        chain_id=chain_id,
    )
    payload: dict[str, Any] = tx.eip712_structured_data
    # safe-eth-py adds a ``dataGas`` alias for pre-1.0 Safes; wallets want exactly the typed fields.
    payload["message"].pop("dataGas", None)
    return payload


@dataclass(frozen=True)
class SafeTxHashes:
    """The three hashes a hardware wallet shows for a SafeTx (all recomputed, never read)."""

    domain_hash: bytes
    message_hash: bytes
    safe_tx_hash: bytes
    preimage: bytes


def safe_tx_hashes(fields: SafeTxFields, *, safe: str, chain_id: int, version: str) -> SafeTxHashes:
    """Domain separator, SafeTx struct hash and safeTxHash = keccak(0x1901 || domain || struct)."""
    from safe_eth.eth.eip712 import eip712_encode

    prefix, domain_hash, message_hash = eip712_encode(
        eip712_payload(fields, safe=safe, chain_id=chain_id, version=version)
    )
    preimage = bytes(prefix) + bytes(domain_hash) + bytes(message_hash)
    return SafeTxHashes(bytes(domain_hash), bytes(message_hash), keccak(preimage), preimage)


# --- building ------------------------------------------------------------------------------------


def disburse_calldata(batch: BatchInfo) -> bytes:
    """Calldata of ``disburse`` / ``disburseOrSkip`` for ``batch`` (the hot-wallet encoder)."""
    rows = [(p.recipient, p.amount) for p in batch.payouts]
    return encode_disburse(
        batch.token, batch.batch_id, batch.replay_key, batch.total, rows, batch.mode
    )


def inner_calls(batch: BatchInfo, *, reset_allowance: bool) -> list[InnerCall]:
    """The MultiSend inner CALLs of one batch (approve 0 first when ``reset_allowance``)."""
    calls = []
    if reset_allowance:
        calls.append(InnerCall(OPERATION_CALL, batch.token, 0, encode_approve(batch.disburser, 0)))
    calls.append(
        InnerCall(OPERATION_CALL, batch.token, 0, encode_approve(batch.disburser, batch.total))
    )
    calls.append(InnerCall(OPERATION_CALL, batch.disburser, 0, disburse_calldata(batch)))
    return calls


def batch_info(batch: Batch, mode: PayMode) -> BatchInfo:
    """The Safe view of a planned :class:`~payout.types.Batch`."""
    rows = tuple(PayoutRow(p.payout_id, p.recipient, p.amount) for p in batch.payouts)
    return BatchInfo(
        index=batch.index,
        batch_id=batch.batch_id,
        mode=mode,
        token=to_checksum_address(batch.token),
        disburser=to_checksum_address(batch.disburser),
        total=batch.total,
        payouts=rows,
        replay_key=batch.replay_key,
    )


def find_multisend(chain: Chain, preferred: str | None = None) -> MultiSendLibrary:
    """The canonical MultiSendCallOnly to use on this chain, its code checked."""
    candidates = [preferred] if preferred else list(PREFERRED_ORDER)
    for address in candidates:
        library = canonical_library(address)
        if library is None:
            raise InputError(
                f"{address} is not a canonical MultiSendCallOnly library",
                hint="Safe batches may only delegatecall MultiSendCallOnly 1.4.1 or 1.3.0.",
            )
        if code_matches(library, chain.code(library.address)):
            return library
    raise NoMultiSendLibrary(chain.chain_id)


def next_nonce(onchain_nonce: int, queued_nonces: Iterable[int]) -> int:
    """First free nonce: ``max(on-chain nonce, highest queued nonce + 1)``."""
    highest = max((n for n in queued_nonces if n >= onchain_nonce), default=None)
    return onchain_nonce if highest is None else max(onchain_nonce, highest + 1)


def build_proposal(
    chain: Chain,
    safe: str,
    batches: Sequence[Batch],
    *,
    token_symbol: str,
    token_decimals: int,
    mode: PayMode = PayMode.STRICT,
    queued_nonces: Iterable[int] = (),
    start_nonce: int | None = None,
    multisend: str | None = None,
    state: SafeState | None = None,
    allowance: int | None = None,
) -> Proposal:
    """One Safe transaction per batch, consecutive nonces, hashes computed locally.

    Every batch must be planned with the Safe as payer, for one token and one disburser on this
    chain. ``start_nonce`` overrides the nonce choice (it may not be below the on-chain nonce).
    ``allowance``: the Safe's allowance to the disburser to plan for (default: read from the
    chain); rebuilding a proposal made earlier passes the one it was built with.
    """
    if not batches:
        raise InputError("nothing to propose: the plan has no batch left to pay")
    state = state or read_safe(chain, safe)
    library = find_multisend(chain, multisend)
    token = to_checksum_address(batches[0].token)
    disburser = to_checksum_address(batches[0].disburser)
    for batch in batches:
        if to_checksum_address(batch.payer) != state.address:
            raise BatchNotForSafe(batch.index, f"its payer is {batch.payer}, not {state.address}")
        if batch.chain_id != state.chain_id:
            raise BatchNotForSafe(batch.index, f"it is for chain {batch.chain_id}")
        if to_checksum_address(batch.token) != token:
            raise BatchNotForSafe(batch.index, "one proposal pays a single token")
        if to_checksum_address(batch.disburser) != disburser:
            raise BatchNotForSafe(batch.index, "one proposal uses a single disburser")
    nonce = next_nonce(state.nonce, queued_nonces)
    if start_nonce is not None:
        if start_nonce < state.nonce:
            raise InputError(
                f"nonce {start_nonce} is already used (the Safe is at nonce {state.nonce})",
                hint="Leave --nonce out to use the next free one.",
            )
        nonce = start_nonce
    if allowance is None:
        allowance = chain.allowance(token, state.address, disburser)
    txs = []
    for offset, batch in enumerate(batches):
        info = batch_info(batch, mode)
        # After a batch the disburser has pulled exactly its total, leaving the allowance at 0,
        # so only the first transaction can meet an allowance that is already set.
        calls = inner_calls(info, reset_allowance=offset == 0 and allowance != 0)
        fields = SafeTxFields(
            to=library.address,
            value=0,
            data=encode_multisend(calls),
            operation=OPERATION_DELEGATECALL,
            safe_tx_gas=0,
            base_gas=0,
            gas_price=0,
            gas_token=ZERO_ADDRESS,
            refund_receiver=ZERO_ADDRESS,
            nonce=nonce + offset,
        )
        hashes = safe_tx_hashes(
            fields, safe=state.address, chain_id=state.chain_id, version=state.version
        )
        txs.append(ProposedTx(safe_tx=fields, safe_tx_hash=hashes.safe_tx_hash, batch=info))
    return Proposal(
        chain_id=state.chain_id,
        safe=state.address,
        safe_version=state.version,
        multisend=library.address,
        token=TokenRef(token, token_symbol, token_decimals),
        disburser=disburser,
        transactions=tuple(txs),
        owners=state.owners,
        threshold=state.threshold,
    )


# --- file format ---------------------------------------------------------------------------------


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _sig_to_json(sig: OwnerSignature) -> dict[str, Any]:
    out: dict[str, Any] = {"owner": sig.owner, "type": sig.kind}
    if sig.kind == SIG_CONTRACT:
        out["signatures"] = [_sig_to_json(s) for s in sig.inner]
    else:
        out["signature"] = _hex(sig.signature)
    return out


def proposal_to_json(proposal: Proposal) -> dict[str, Any]:
    """The proposal as a JSON-ready dict (amounts as decimal strings: they may exceed 2**53)."""
    return {
        "format": FORMAT,
        "createdAt": proposal.created_at,
        "chainId": proposal.chain_id,
        "safe": {
            "address": proposal.safe,
            "version": proposal.safe_version,
            "owners": list(proposal.owners),
            "threshold": proposal.threshold,
        },
        "multiSendCallOnly": proposal.multisend,
        "token": {
            "address": proposal.token.address,
            "symbol": proposal.token.symbol,
            "decimals": proposal.token.decimals,
        },
        "disburser": proposal.disburser,
        "transactions": [
            {
                "nonce": tx.safe_tx.nonce,
                "safeTxHash": _hex(tx.safe_tx_hash),
                "safeTx": {
                    "to": tx.safe_tx.to,
                    "value": str(tx.safe_tx.value),
                    "data": _hex(tx.safe_tx.data),
                    "operation": tx.safe_tx.operation,
                    "safeTxGas": str(tx.safe_tx.safe_tx_gas),
                    "baseGas": str(tx.safe_tx.base_gas),
                    "gasPrice": str(tx.safe_tx.gas_price),
                    "gasToken": tx.safe_tx.gas_token,
                    "refundReceiver": tx.safe_tx.refund_receiver,
                    "nonce": tx.safe_tx.nonce,
                },
                "batch": {
                    "index": tx.batch.index,
                    "batchId": _hex(tx.batch.batch_id),
                    "replayKey": _hex(tx.batch.replay_key),
                    "mode": str(tx.batch.mode),
                    "token": tx.batch.token,
                    "disburser": tx.batch.disburser,
                    "count": tx.batch.count,
                    "total": str(tx.batch.total),
                    "payoutIds": list(tx.batch.payout_ids),
                    "payouts": [
                        [p.payout_id, p.recipient, str(p.amount)] for p in tx.batch.payouts
                    ],
                },
                "signatures": [_sig_to_json(s) for s in tx.signatures],
            }
            for tx in proposal.transactions
        ],
    }


def _req(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{where}.{key}: wrong type {type(value).__name__}")
    return value


def _int(obj: Any, key: str, where: str) -> int:
    value = _req(obj, key, (int, str), where)
    try:
        number = int(value)
    except ValueError as exc:
        raise ValueError(f"{where}.{key}: not an integer") from exc
    if number < 0:
        raise ValueError(f"{where}.{key}: negative")
    return number


def _bytes(obj: Any, key: str, where: str) -> bytes:
    value = _req(obj, key, str, where)
    if not value.startswith("0x"):
        raise ValueError(f"{where}.{key}: not 0x-hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ValueError(f"{where}.{key}: not 0x-hex") from exc


def _address(obj: Any, key: str, where: str) -> str:
    value = _req(obj, key, str, where)
    try:
        return str(to_checksum_address(value))
    except ValueError as exc:
        raise ValueError(f"{where}.{key}: not an address") from exc


def _sig_from_json(obj: Any, where: str) -> OwnerSignature:
    owner = _address(obj, "owner", where)
    kind = _req(obj, "type", str, where)
    if kind not in SIGNATURE_KINDS:
        raise ValueError(f"{where}.type: unknown signature type {kind!r}")
    if kind == SIG_CONTRACT:
        inner = tuple(
            _sig_from_json(s, f"{where}.signatures[{i}]")
            for i, s in enumerate(_req(obj, "signatures", list, where))
        )
        return OwnerSignature(owner, kind, b"", inner)
    signature = _bytes(obj, "signature", where)
    if len(signature) != 65:
        raise ValueError(f"{where}.signature: {len(signature)} bytes, expected 65")
    return OwnerSignature(owner, kind, signature)


def proposal_from_json(data: Any) -> Proposal:
    """Parse a proposal dict; raises ``ValueError`` naming the bad field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a Safe payout proposal (format is not {FORMAT!r})")
    safe_obj = _req(data, "safe", dict, "$")
    token_obj = _req(data, "token", dict, "$")
    txs = []
    for i, raw in enumerate(_req(data, "transactions", list, "$")):
        where = f"transactions[{i}]"
        st = _req(raw, "safeTx", dict, where)
        sw = f"{where}.safeTx"
        fields = SafeTxFields(
            to=_address(st, "to", sw),
            value=_int(st, "value", sw),
            data=_bytes(st, "data", sw),
            operation=_int(st, "operation", sw),
            safe_tx_gas=_int(st, "safeTxGas", sw),
            base_gas=_int(st, "baseGas", sw),
            gas_price=_int(st, "gasPrice", sw),
            gas_token=_address(st, "gasToken", sw),
            refund_receiver=_address(st, "refundReceiver", sw),
            nonce=_int(st, "nonce", sw),
        )
        b = _req(raw, "batch", dict, where)
        bw = f"{where}.batch"
        rows = []
        for j, row in enumerate(_req(b, "payouts", list, bw)):
            if not (
                isinstance(row, list) and len(row) == 3 and all(isinstance(x, str) for x in row)
            ):
                raise ValueError(f"{bw}.payouts[{j}]: expected [id, recipient, amount]")
            try:
                rows.append(PayoutRow(row[0], str(to_checksum_address(row[1])), int(row[2])))
            except ValueError as exc:
                raise ValueError(f"{bw}.payouts[{j}]: {exc}") from exc
        mode_text = _req(b, "mode", str, bw)
        try:
            mode = PayMode(mode_text)
        except ValueError as exc:
            raise ValueError(f"{bw}.mode: unknown mode {mode_text!r}") from exc
        batch = BatchInfo(
            index=_int(b, "index", bw),
            batch_id=_bytes(b, "batchId", bw),
            mode=mode,
            token=_address(b, "token", bw),
            disburser=_address(b, "disburser", bw),
            total=_int(b, "total", bw),
            payouts=tuple(rows),
            replay_key=_bytes(b, "replayKey", bw),
        )
        sigs = tuple(
            _sig_from_json(s, f"{where}.signatures[{k}]")
            for k, s in enumerate(_req(raw, "signatures", list, where))
        )
        txs.append(
            ProposedTx(
                safe_tx=fields,
                safe_tx_hash=_bytes(raw, "safeTxHash", where),
                batch=batch,
                signatures=sigs,
            )
        )
    return Proposal(
        chain_id=_int(data, "chainId", "$"),
        safe=_address(safe_obj, "address", "$.safe"),
        safe_version=_req(safe_obj, "version", str, "$.safe"),
        multisend=_address(data, "multiSendCallOnly", "$"),
        token=TokenRef(
            _address(token_obj, "address", "$.token"),
            _req(token_obj, "symbol", str, "$.token"),
            _int(token_obj, "decimals", "$.token"),
        ),
        disburser=_address(data, "disburser", "$"),
        transactions=tuple(txs),
        created_at=_int(data, "createdAt", "$"),
        owners=tuple(str(to_checksum_address(o)) for o in safe_obj.get("owners", [])),
        threshold=int(safe_obj.get("threshold", 0)),
    )


def load_proposal(path: Path) -> Proposal:
    """Read a proposal file; any problem raises :class:`SafeProposalFileError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SafeProposalFileError(str(path), "file not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafeProposalFileError(str(path), f"not readable JSON ({exc})") from exc
    try:
        return proposal_from_json(data)
    except ValueError as exc:
        raise SafeProposalFileError(str(path), str(exc)) from exc


def save_proposal(proposal: Proposal, path: Path) -> None:
    """Write atomically (temp file + rename): a crash never leaves half a proposal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(proposal_to_json(proposal), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def queued_nonces_in(directory: Path, *, chain_id: int, safe: str, onchain_nonce: int) -> list[int]:
    """Nonces of other pending proposals (same chain and Safe) stored in ``directory``."""
    nonces: list[int] = []
    if not directory.is_dir():
        return nonces
    safe = to_checksum_address(safe)
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            continue
        try:
            proposal = proposal_from_json(data)
        except ValueError:
            continue
        if proposal.chain_id != chain_id or proposal.safe != safe:
            continue
        nonces.extend(tx.nonce for tx in proposal.transactions if tx.nonce >= onchain_nonce)
    return nonces
