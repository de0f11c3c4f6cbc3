"""Owner signatures of Safe transactions: create, verify, merge, and assemble for execution.

Four kinds, all accepted by Safe 1.3.0 / 1.4.1:

``eip712``
    The owner signs the SafeTx typed data (hardware wallets show the domain and message hashes).
``eth_sign``
    The owner signs the safeTxHash as a personal message; the Safe expects ``v + 4``.
``approved_hash``
    The owner called ``approveHash(safeTxHash)`` on the Safe (or is the account executing it).
``contract``
    The owner is a contract (another Safe). Its own owners sign a SafeMessage whose message is the
    parent's SafeTx preimage; the parent Safe asks it through the legacy EIP-1271 entry point
    ``isValidSignature(bytes,bytes)`` (what Safe 1.3.0 / 1.4.1 call), answered by its fallback
    handler.

Verification never trusts the file: hashes are recomputed, ECDSA signatures recovered, on-chain
approvals and contract signatures asked from the chain, and ownership read from the Safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.exceptions import (
    ContractError,
    SafeProposalFileError,
    SafeSignatureRejected,
    SignerError,
)
from payout.safe.proposal import (
    SIG_APPROVED_HASH,
    SIG_CONTRACT,
    SIG_EIP712,
    SIG_ETH_SIGN,
    OwnerSignature,
    Proposal,
    ProposedTx,
    SafeTxHashes,
    eip712_payload,
    safe_tx_hashes,
)
from payout.safe.safe_state import SafeState, is_hash_approved, read_safe
from payout.signer import Signer
from payout.wallet import Wallet

#: keccak("SafeMessage(bytes message)")
SAFE_MSG_TYPEHASH = keccak(text="SafeMessage(bytes message)")
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
#: ``isValidSignature(bytes,bytes)`` (legacy EIP-1271) and its magic return value.
_IS_VALID_SIGNATURE_LEGACY = keccak(text="isValidSignature(bytes,bytes)")[:4]
EIP1271_LEGACY_MAGIC = bytes.fromhex("20c13b0b")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def hashes_of(proposal: Proposal, tx: ProposedTx) -> SafeTxHashes:
    """Recomputed hashes of ``tx`` (the file's ``safeTxHash`` is never used)."""
    return safe_tx_hashes(
        tx.safe_tx, safe=proposal.safe, chain_id=proposal.chain_id, version=proposal.safe_version
    )


# --- owner-Safe (contract owner) messages --------------------------------------------------------


def safe_message_typed_data(owner_safe: str, chain_id: int, message: bytes) -> dict[str, Any]:
    """EIP-712 SafeMessage that an owner Safe's own owners sign for it."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "SafeMessage": [{"name": "message", "type": "bytes"}],
        },
        "primaryType": "SafeMessage",
        "domain": {"chainId": chain_id, "verifyingContract": to_checksum_address(owner_safe)},
        "message": {"message": "0x" + message.hex()},
    }


def safe_message_hash(owner_safe: str, chain_id: int, message: bytes) -> bytes:
    """``getMessageHashForSafe(ownerSafe, message)`` of the CompatibilityFallbackHandler."""
    domain = keccak(
        abi_encode(["bytes32", "uint256", "address"], [_DOMAIN_TYPEHASH, chain_id, owner_safe])
    )
    struct = keccak(abi_encode(["bytes32", "bytes32"], [SAFE_MSG_TYPEHASH, keccak(message)]))
    return keccak(b"\x19\x01" + domain + struct)


# --- ECDSA helpers ------------------------------------------------------------------------------


def _split(sig: bytes) -> tuple[int, int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def recover_eoa(digest: bytes, sig: bytes) -> str | None:
    """Signer of a 65-byte ``r || s || v`` over ``digest`` (v 27/28), None if unrecoverable.

    High-s signatures are refused like the Safe's ``ecrecover`` would accept them but wallets never
    produce them: a malleated signature is a sign of tampering.
    """
    r, s, v = _split(sig)
    if v not in (27, 28) or not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        return None
    try:
        return str(Account._recover_hash(digest, vrs=(v, r, s)))
    except Exception:  # eth_keys raises BadSignature and friends
        return None


def eth_sign_digest(safe_tx_hash: bytes) -> bytes:
    """The digest an ``eth_sign`` / ``personal_sign`` of the safeTxHash signs."""
    return bytes(_hash_eip191_message(encode_defunct(primitive=safe_tx_hash)))


def approved_hash_word(owner: str) -> bytes:
    """The 65-byte Safe signature that points at an on-chain approval: r = owner, s = 0, v = 1."""
    return bytes(12) + bytes.fromhex(to_checksum_address(owner)[2:]) + bytes(32) + b"\x01"


# --- creating signatures ------------------------------------------------------------------------


def sign_eip712(proposal: Proposal, tx: ProposedTx, signer: Signer) -> OwnerSignature:
    """EIP-712 signature of the SafeTx by ``signer`` (keystore, ape alias, hardware wallet)."""
    payload = eip712_payload(
        tx.safe_tx, safe=proposal.safe, chain_id=proposal.chain_id, version=proposal.safe_version
    )
    sig = signer.sign_typed_data(payload)
    owner = recover_eoa(hashes_of(proposal, tx).safe_tx_hash, sig)
    if owner != to_checksum_address(signer.address):
        raise SafeSignatureRejected(signer.address, "the wallet signed something else")
    return OwnerSignature(owner, SIG_EIP712, sig)


def sign_eth_sign(proposal: Proposal, tx: ProposedTx, signer: Signer) -> OwnerSignature:
    """``eth_sign``-style signature (for wallets that only sign personal messages)."""
    sign_hash = getattr(signer, "sign_hash", None)
    if sign_hash is None:
        raise SignerError(
            f"{signer!r} cannot produce an eth_sign signature",
            hint="Use the default EIP-712 signing (drop --eth-sign) with this account.",
        )
    digest = eth_sign_digest(hashes_of(proposal, tx).safe_tx_hash)
    raw = bytes(sign_hash(digest))
    owner = recover_eoa(digest, raw)
    if owner != to_checksum_address(signer.address):
        raise SafeSignatureRejected(signer.address, "the wallet signed something else")
    return OwnerSignature(owner, SIG_ETH_SIGN, raw[:64] + bytes([raw[64] + 4]))


def sign_for_owner_safe(
    proposal: Proposal, tx: ProposedTx, owner_safe: SafeState, signer: Signer
) -> OwnerSignature:
    """One owner of ``owner_safe`` (itself an owner of the proposal's Safe) signs for it.

    Returns the ``contract`` signature entry of ``owner_safe`` holding this one inner signature;
    :func:`add_signature` merges it with the other inner signatures already collected.
    """
    if not owner_safe.is_owner(signer.address):
        raise SafeSignatureRejected(
            signer.address, f"not an owner of the owner Safe {owner_safe.address}"
        )
    message = hashes_of(proposal, tx).preimage
    typed = safe_message_typed_data(owner_safe.address, proposal.chain_id, message)
    sig = signer.sign_typed_data(typed)
    digest = safe_message_hash(owner_safe.address, proposal.chain_id, message)
    inner_owner = recover_eoa(digest, sig)
    if inner_owner != to_checksum_address(signer.address):
        raise SafeSignatureRejected(signer.address, "the wallet signed something else")
    return OwnerSignature(
        owner_safe.address, SIG_CONTRACT, b"", (OwnerSignature(inner_owner, SIG_EIP712, sig),)
    )


def approve_hash_onchain(
    chain: Chain, proposal: Proposal, tx: ProposedTx, wallet: Wallet
) -> OwnerSignature:
    """Send ``approveHash(safeTxHash)`` from the owner behind ``wallet``; returns the entry.

    Nothing is sent when the owner already approved this hash.
    """
    owner = to_checksum_address(wallet.address)
    safe_tx_hash = hashes_of(proposal, tx).safe_tx_hash
    if not is_hash_approved(chain, proposal.safe, owner, safe_tx_hash):
        data = keccak(text="approveHash(bytes32)")[:4] + safe_tx_hash
        wallet.transact(proposal.safe, data, label=f"approveHash of Safe nonce {tx.nonce}")
    return OwnerSignature(owner, SIG_APPROVED_HASH, approved_hash_word(owner))


def sign_proposal(
    chain: Chain,
    proposal: Proposal,
    signer: Signer,
    *,
    method: str = SIG_EIP712,
    owner_safe: str | None = None,
    nonces: Sequence[int] | None = None,
    wallet: Wallet | None = None,
) -> tuple[Proposal, list[OwnerSignature]]:
    """Sign every transaction of ``proposal`` (or those with ``nonces``) as one owner.

    ``method``: ``eip712`` (default), ``eth_sign``, or ``approved_hash`` (an on-chain approveHash
    sent through ``wallet``). With ``owner_safe``, ``signer`` signs as an owner of that Safe, which
    is itself an owner of the proposal's Safe (a contract signature). The Safe's owners are read
    from the chain: a signer who is not an owner is refused before anything is signed.
    """
    state = read_safe(chain, proposal.safe)
    owner_state: SafeState | None = None
    if owner_safe is not None:
        owner_state = read_safe(chain, owner_safe)
        if not state.is_owner(owner_state.address):
            raise SafeSignatureRejected(owner_state.address, f"not an owner of {state.address}")
    elif not state.is_owner(signer.address):
        raise SafeSignatureRejected(signer.address, f"not an owner of the Safe {state.address}")
    new: list[OwnerSignature] = []
    for tx in sorted(proposal.transactions, key=lambda t: t.nonce):
        if nonces is not None and tx.nonce not in nonces:
            continue
        if owner_state is not None:
            sig = sign_for_owner_safe(proposal, tx, owner_state, signer)
        elif method == SIG_EIP712:
            sig = sign_eip712(proposal, tx, signer)
        elif method == SIG_ETH_SIGN:
            sig = sign_eth_sign(proposal, tx, signer)
        elif method == SIG_APPROVED_HASH:
            if wallet is None:
                raise SignerError("an on-chain approval needs a wallet to send it")
            sig = approve_hash_onchain(chain, proposal, tx, wallet)
        else:
            raise SignerError(f"unknown signing method {method!r}")
        proposal = add_signature(proposal, tx.nonce, sig)
        new.append(sig)
    return proposal, new


# --- merging --------------------------------------------------------------------------------------


def _merge_sig(existing: OwnerSignature | None, new: OwnerSignature) -> OwnerSignature:
    if existing is None or existing.kind != new.kind:
        return new
    if new.kind != SIG_CONTRACT:
        return new
    inner = {s.owner: s for s in existing.inner}
    inner.update({s.owner: s for s in new.inner})
    return replace(existing, inner=tuple(sorted(inner.values(), key=lambda s: int(s.owner, 16))))


def add_signature(proposal: Proposal, nonce: int, sig: OwnerSignature) -> Proposal:
    """The proposal with ``sig`` added to the transaction ``nonce`` (one entry per owner)."""
    txs = []
    for tx in proposal.transactions:
        if tx.nonce == nonce:
            by_owner = {s.owner: s for s in tx.signatures}
            by_owner[sig.owner] = _merge_sig(by_owner.get(sig.owner), sig)
            ordered = tuple(sorted(by_owner.values(), key=lambda s: int(s.owner, 16)))
            tx = replace(tx, signatures=ordered)
        txs.append(tx)
    return proposal.with_transactions(txs)


def merge_proposals(base: Proposal, others: Iterable[tuple[str, Proposal]]) -> Proposal:
    """Union of the signatures of several copies of the same proposal.

    Every copy must describe the very same Safe transactions (compared on the recomputed hashes,
    not on what the files claim); a copy for another Safe, chain or content is refused.
    """
    expected = {tx.nonce: hashes_of(base, tx).safe_tx_hash for tx in base.transactions}
    merged = base
    for name, other in others:
        if (other.chain_id, other.safe) != (base.chain_id, base.safe):
            raise SafeProposalFileError(name, "it is for another Safe or chain")
        for tx in other.transactions:
            if expected.get(tx.nonce) != hashes_of(other, tx).safe_tx_hash:
                raise SafeProposalFileError(
                    name, f"its transaction with nonce {tx.nonce} differs from the base proposal"
                )
            for sig in tx.signatures:
                merged = add_signature(merged, tx.nonce, sig)
    return merged


# --- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of checking one owner's signature against the chain."""

    owner: str
    kind: str
    valid: bool
    reason: str
    #: The 65-byte static part, or for contract signatures the full EIP-1271 payload.
    payload: bytes = b""


def contract_signature_payload(inner: Sequence[OwnerSignature]) -> bytes:
    """The owner Safe's signatures, sorted by its owners, as its ``checkSignatures`` reads them."""
    ordered = sorted(inner, key=lambda s: int(s.owner, 16))
    return b"".join(s.signature for s in ordered)


def _check_contract(
    chain: Chain, proposal: Proposal, hashes: SafeTxHashes, sig: OwnerSignature
) -> SignatureCheck:
    try:
        owner_state = read_safe(chain, sig.owner)
    except Exception as exc:
        return SignatureCheck(sig.owner, sig.kind, False, f"owner contract unreadable: {exc}")
    digest = safe_message_hash(sig.owner, proposal.chain_id, hashes.preimage)
    signers: list[OwnerSignature] = []
    problems: list[str] = []
    for inner in sig.inner:
        if inner.kind == SIG_EIP712:
            who = recover_eoa(digest, inner.signature)
        elif inner.kind == SIG_ETH_SIGN:
            v = inner.signature[64]
            who = (
                recover_eoa(eth_sign_digest(digest), inner.signature[:64] + bytes([v - 4]))
                if v in (31, 32)
                else None
            )
        else:
            who = None
        if who is None or who != inner.owner:
            problems.append(f"{inner.owner}: signature does not match")
        elif not owner_state.is_owner(who):
            problems.append(f"{who}: not an owner of {sig.owner}")
        else:
            signers.append(inner)
    if len(signers) < owner_state.threshold:
        detail = f"{len(signers)} of {owner_state.threshold} owner-Safe signatures"
        if problems:
            detail += " (" + "; ".join(problems) + ")"
        return SignatureCheck(sig.owner, sig.kind, False, detail)
    payload = contract_signature_payload(signers[: owner_state.threshold])
    call = _IS_VALID_SIGNATURE_LEGACY + abi_encode(["bytes", "bytes"], [hashes.preimage, payload])
    try:
        answer = chain.call(sig.owner, call, context="EIP-1271 isValidSignature")
        magic = answer[:4]
    except ContractError as exc:
        return SignatureCheck(sig.owner, sig.kind, False, f"isValidSignature reverted: {exc}")
    if magic != EIP1271_LEGACY_MAGIC:
        return SignatureCheck(sig.owner, sig.kind, False, "isValidSignature said no")
    return SignatureCheck(sig.owner, sig.kind, True, "valid (EIP-1271)", payload)


def check_signature(
    chain: Chain,
    proposal: Proposal,
    tx: ProposedTx,
    sig: OwnerSignature,
    state: SafeState,
    *,
    executor: str | None = None,
    hashes: SafeTxHashes | None = None,
) -> SignatureCheck:
    """Whether ``sig`` counts towards the threshold of ``tx`` right now."""
    hashes = hashes or hashes_of(proposal, tx)
    if not state.is_owner(sig.owner):
        return SignatureCheck(sig.owner, sig.kind, False, "not an owner of the Safe")
    if sig.kind == SIG_EIP712:
        who = recover_eoa(hashes.safe_tx_hash, sig.signature)
        ok = who == sig.owner
        reason = "valid" if ok else "signs another transaction (or was altered)"
        return SignatureCheck(sig.owner, sig.kind, ok, reason, sig.signature if ok else b"")
    if sig.kind == SIG_ETH_SIGN:
        v = sig.signature[64]
        who = (
            recover_eoa(eth_sign_digest(hashes.safe_tx_hash), sig.signature[:64] + bytes([v - 4]))
            if v in (31, 32)
            else None
        )
        ok = who == sig.owner
        reason = "valid" if ok else "signs another transaction (or was altered)"
        return SignatureCheck(sig.owner, sig.kind, ok, reason, sig.signature if ok else b"")
    if sig.kind == SIG_APPROVED_HASH:
        word = approved_hash_word(sig.owner)
        if executor is not None and to_checksum_address(executor) == sig.owner:
            return SignatureCheck(sig.owner, sig.kind, True, "valid (the executor)", word)
        if is_hash_approved(chain, proposal.safe, sig.owner, hashes.safe_tx_hash):
            return SignatureCheck(sig.owner, sig.kind, True, "valid (approveHash on chain)", word)
        return SignatureCheck(sig.owner, sig.kind, False, "no approveHash on chain from this owner")
    if sig.kind == SIG_CONTRACT:
        return _check_contract(chain, proposal, hashes, sig)
    return SignatureCheck(sig.owner, sig.kind, False, f"unknown signature type {sig.kind}")


def discover_onchain_approvals(
    chain: Chain, proposal: Proposal, tx: ProposedTx, state: SafeState, hashes: SafeTxHashes
) -> list[OwnerSignature]:
    """Approved-hash entries for owners who approved on chain but are not in the file yet."""
    present = {s.owner for s in tx.signatures}
    found = []
    for owner in state.owners:
        if owner not in present and is_hash_approved(
            chain, proposal.safe, owner, hashes.safe_tx_hash
        ):
            found.append(OwnerSignature(owner, SIG_APPROVED_HASH, approved_hash_word(owner)))
    return found


def encode_signatures(checks: Sequence[SignatureCheck]) -> bytes:
    """The ``signatures`` argument of ``execTransaction``: sorted by owner, contract data appended.

    Static part: 65 bytes per owner in strictly ascending owner order (GS026 otherwise); a contract
    owner's static word is ``r = owner, s = offset of its data, v = 0`` and its length-prefixed
    data follows all static words.
    """
    ordered = sorted(checks, key=lambda c: int(c.owner, 16))
    static = b""
    dynamic = b""
    offset = 65 * len(ordered)
    for check in ordered:
        if check.kind == SIG_CONTRACT:
            static += (
                bytes(12) + bytes.fromhex(check.owner[2:]) + offset.to_bytes(32, "big") + b"\x00"
            )
            chunk = len(check.payload).to_bytes(32, "big") + check.payload
            dynamic += chunk
            offset += len(chunk)
        else:
            static += check.payload
    return static + dynamic


def is_valid_signature_magic(answer: bytes) -> bool:
    """Whether an ``isValidSignature(bytes,bytes)`` answer is the legacy magic value."""
    try:
        (value,) = abi_decode(["bytes4"], answer)
    except Exception:
        return False
    return bytes(value) == EIP1271_LEGACY_MAGIC
