"""TRON addresses and keys as the node sees them: 21 bytes ``0x41 || keccak(pubkey)[12:]``.

On the wire an address is either hex (``41`` + 40 hex digits, the default) or base58check (34
characters starting with ``T``, when a request says ``"visible": true``). The EVM inside the node
only ever sees the 20-byte tail.
"""

from __future__ import annotations

from eth_keys.datatypes import PrivateKey, PublicKey, Signature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as KeyValidationError

# The wire forms of an address (base58check / hex -> 21 bytes) are shared with the signing path.
from payout.tron.proto import (
    ADDRESS_PREFIX,
    ADDRESS_SIZE,
    AddressFormatError,
    parse_address,
    to_base58,
)

__all__ = [
    "ADDRESS_PREFIX",
    "ADDRESS_SIZE",
    "AddressFormatError",
    "SignatureRecoveryError",
    "address_of_private_key",
    "address_of_public_key",
    "from_evm",
    "is_address_bytes",
    "parse_address",
    "recover_signer",
    "sign_digest",
    "to_base58",
    "to_evm",
    "to_hex",
]


def to_hex(address: bytes) -> str:
    """``41...`` hex form of a 21-byte address."""
    return address.hex()


def is_address_bytes(raw: bytes) -> bool:
    """True for a 21-byte value with the TRON prefix."""
    return len(raw) == ADDRESS_SIZE and raw[0] == ADDRESS_PREFIX


def from_evm(address20: bytes) -> bytes:
    """The 21-byte TRON address of a 20-byte EVM address."""
    return bytes([ADDRESS_PREFIX]) + address20[-20:]


def to_evm(address: bytes) -> bytes:
    """The 20-byte EVM address of a 21-byte TRON address."""
    return address[-20:]


def address_of_public_key(public_key: PublicKey) -> bytes:
    """0x41 || keccak(64-byte uncompressed public key)[12:]."""
    return from_evm(keccak(public_key.to_bytes())[12:])


def address_of_private_key(private_key: bytes) -> bytes:
    """The 21-byte address controlled by a 32-byte secp256k1 private key."""
    return address_of_public_key(PrivateKey(private_key).public_key)


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """65-byte ``r || s || v`` (v in {0, 1}) over a 32-byte digest, as TRON wallets sign a txID."""
    signature = PrivateKey(private_key).sign_msg_hash(digest)
    return signature.to_bytes()


class SignatureRecoveryError(ValueError):
    """A signature does not recover to any public key."""


def recover_signer(digest: bytes, signature: bytes) -> bytes:
    """Recover the 21-byte address that produced ``signature`` over ``digest``.

    Like java-tron, the recovery byte may be 0/1 or 27/28; only the first 65 bytes are used.
    """
    if len(signature) < 65:
        raise SignatureRecoveryError(f"Signature size is {len(signature)}")
    v = signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        raise SignatureRecoveryError(f"Header byte out of range: {signature[64]}")
    try:
        sig = Signature(signature_bytes=signature[:64] + bytes([v]))
        public_key = sig.recover_public_key_from_msg_hash(digest)
    except (BadSignature, KeyValidationError, ValueError) as exc:
        raise SignatureRecoveryError(f"cannot recover a public key: {exc}") from exc
    return address_of_public_key(public_key)
