"""TRON addresses and keys as the node sees them: 21 bytes ``0x41 || keccak(pubkey)[12:]``.

On the wire an address is either hex (``41`` + 40 hex digits, the default) or base58check (34
characters starting with ``T``, when a request says ``"visible": true``). The EVM inside the node
only ever sees the 20-byte tail.
"""

from __future__ import annotations

import hashlib

from eth_keys.datatypes import PrivateKey, PublicKey, Signature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as KeyValidationError

#: The byte every mainnet-style TRON address starts with.
ADDRESS_PREFIX = 0x41
ADDRESS_SIZE = 21

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


class AddressFormatError(ValueError):
    """A string or byte string is not a TRON address."""


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def b58encode_check(payload: bytes) -> str:
    """Base58 with a 4-byte double-SHA-256 checksum (Bitcoin alphabet)."""
    data = payload + _checksum(payload)
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode_check(text: str) -> bytes:
    """Inverse of :func:`b58encode_check`; raises :class:`AddressFormatError` on a bad checksum."""
    number = 0
    for char in text:
        if char not in _INDEX:
            raise AddressFormatError(f"{text!r} is not base58")
        number = number * 58 + _INDEX[char]
    pad = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    data = b"\0" * pad + body
    if len(data) < 5 or _checksum(data[:-4]) != data[-4:]:
        raise AddressFormatError(f"{text!r} has a bad base58check checksum")
    return data[:-4]


def to_base58(address: bytes) -> str:
    """``T...`` form of a 21-byte address."""
    return b58encode_check(address)


def to_hex(address: bytes) -> str:
    """``41...`` hex form of a 21-byte address."""
    return address.hex()


def parse_address(value: object) -> bytes:
    """Accept a base58check (``T...``) or hex (``41...``, optional ``0x``) address -> 21 bytes."""
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 34 and text[:1] == "T":
            raw = b58decode_check(text)
        else:
            if text[:2].lower() == "0x":
                text = text[2:]
            try:
                raw = bytes.fromhex(text)
            except ValueError as exc:
                raise AddressFormatError(f"{value!r} is neither base58check nor hex") from exc
    else:
        raise AddressFormatError(f"{value!r} is not an address")
    if len(raw) != ADDRESS_SIZE or raw[0] != ADDRESS_PREFIX:
        raise AddressFormatError(f"{value!r} is not a 21-byte TRON address starting with 0x41")
    return raw


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
