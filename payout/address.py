"""Address validation and normalization for EVM (EIP-55) and TRON (base58check) payouts.

Two kinds of API:

* ``check_*`` functions never raise: they return ``(address, None, None)`` or
  ``(None, code, message)``. The manifest validator calls them once per row and collects issues.
* ``normalize_*`` functions raise :class:`payout.exceptions.InvalidAddressError`.

Canonical forms: EVM addresses are EIP-55 checksummed ``0x`` strings; TRON addresses are base58check
``T...`` strings (21 bytes: ``0x41`` + the 20-byte account id, 4-byte double-SHA-256 checksum).
The 20-byte account id is what the contract sees on both networks (:func:`address_bytes`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

from payout.exceptions import InvalidAddressError
from payout.types import Network


class _Hasher(Protocol):
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


try:  # safe-pysha3: a C Keccak, ~6x faster than eth-hash's pycryptodome backend on the hot path
    from sha3 import keccak_256 as _sha3_keccak_256

    keccak_256_hasher: Callable[[bytes], _Hasher] = _sha3_keccak_256
except ImportError:  # pragma: no cover - the pinned environment ships safe-pysha3
    from eth_hash.auto import keccak as _eth_keccak

    class _EthHashKeccak:
        def __init__(self, data: bytes) -> None:
            self._digest = bytes(_eth_keccak(data))

        def digest(self) -> bytes:
            return self._digest

        def hexdigest(self) -> str:
            return self._digest.hex()

    keccak_256_hasher = _EthHashKeccak


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum hash, not NIST SHA3-256)."""
    return keccak_256_hasher(data).digest()


def _keccak_hex(data: bytes) -> str:
    return keccak_256_hasher(data).hexdigest()


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
TRON_ZERO_ADDRESS = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
TRON_PREFIX = 0x41

# Codes shared with the manifest issues.
CODE_EMPTY = "address_missing"
CODE_FORMAT = "address_format"
CODE_CHECKSUM = "address_checksum"
CODE_ZERO = "address_zero"
CODE_OTHER_NETWORK = "address_other_network"

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_HEX = re.compile(r"[0-9a-fA-F]+")

# EIP-55 without a per-character Python loop. Building a checksum: bytes.translate marks every
# letter / every hash nibble >= 8 with 0x20, and one integer subtraction upper-cases exactly the
# letters under both marks. Checking one: translate maps upper-case letters (resp. all letters) to
# the hex digit "8", so int(..., 16) lines each character up with the high bit of its hash nibble.
_LETTER_BYTE = bytes(0x20 if chr(i) in "abcdefABCDEF" else 0 for i in range(256))
_HIGH_BYTE = bytes(0x20 if chr(i) in "89abcdef" else 0 for i in range(256))
_UPPER_AS_8 = bytes(ord("8") if chr(i) in "ABCDEF" else ord("0") for i in range(256))
_LETTER_AS_8 = bytes(ord("8") if chr(i) in "abcdefABCDEF" else ord("0") for i in range(256))
_ZERO40 = b"0" * 40
_HEX_DIGITS = b"0123456789abcdefABCDEF"


def _checksum_lower(lower40: str) -> str:
    """EIP-55 form of 40 lower-case hex digits (without ``0x``)."""
    raw = lower40.encode("ascii")
    digest = _keccak_hex(raw)[:40].encode("ascii")
    flip = int.from_bytes(raw.translate(_LETTER_BYTE), "big") & int.from_bytes(
        digest.translate(_HIGH_BYTE), "big"
    )
    # ASCII 'a'..'f' minus 0x20 is 'A'..'F'; digits have a zero mask, so no borrow crosses bytes.
    return "0x" + (int.from_bytes(raw, "big") - flip).to_bytes(40, "big").decode("ascii")


def _checksum_matches(raw: bytes) -> bool:
    """Whether 40 mixed-case hex digits (ASCII bytes) satisfy EIP-55: exactly the letters whose
    hash nibble is >= 8 are upper case."""
    digest = int.from_bytes(keccak256(raw.lower())[:20], "big")
    return int(raw.translate(_UPPER_AS_8), 16) == digest & int(raw.translate(_LETTER_AS_8), 16)


def to_checksum_address(address: str) -> str:
    """EIP-55 form of a ``0x`` + 40 hex address (any case; the case is not checked)."""
    body = address[2:] if address[:2] in ("0x", "0X") else address
    if not _HEX40.fullmatch(body):
        raise InvalidAddressError(address, "is not 0x followed by 40 hex digits", Network.EVM)
    return _checksum_lower(body.lower())


def is_checksum_address(address: str) -> bool:
    """True if ``address`` is exactly its EIP-55 form."""
    return (
        address[:2] == "0x"
        and _HEX40.fullmatch(address[2:]) is not None
        and _checksum_lower(address[2:].lower()) == address
    )


# --- other networks -----------------------------------------------------------------------------

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_B58_RE = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
_BECH32_RE = re.compile(r"(bc1|tb1|ltc1)[02-9ac-hj-np-z]{11,87}", re.IGNORECASE)


def b58decode(text: str) -> bytes:
    """Decode base58 (Bitcoin alphabet). Raises ``ValueError`` on a character outside it."""
    num = 0
    for ch in text:
        num = num * 58 + _B58_INDEX[ch]  # KeyError -> caught below
    pad = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\x00" * pad + body


def b58encode(data: bytes) -> str:
    num = int.from_bytes(data, "big")
    out = []
    while num:
        num, rem = divmod(num, 58)
        out.append(_B58_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + "".join(reversed(out))


def _double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def b58check_decode(text: str) -> bytes | None:
    """Payload of a base58check string, or ``None`` if it is not valid base58check."""
    if not _B58_RE.fullmatch(text):
        return None
    raw = b58decode(text)
    if len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    if _double_sha256(payload)[:4] != check:
        return None
    return payload


def b58check_encode(payload: bytes) -> str:
    return b58encode(payload + _double_sha256(payload)[:4])


def guess_network(text: str) -> str | None:
    """Name the network an address-looking string belongs to, for "wrong network" messages.

    Returns a human phrase such as ``"a TRON address"`` or ``None`` when nothing matches. It only
    explains a rejection; it never makes a string acceptable.
    """
    s = text.strip()
    if not s:
        return None
    if s.endswith(".eth") or (s.count(".") >= 1 and re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", s)):
        return "an ENS/domain name (resolve it to an address first)"
    if s[:2] in ("0x", "0X"):
        body = s[2:]
        if _HEX40.fullmatch(body):
            return "an EVM address"
        if len(body) == 64 and _HEX.fullmatch(body):
            return "a 32-byte hash or private key, not an address"
        if len(body) == 42 and body[:2] == "41" and _HEX.fullmatch(body):
            return "a TRON address in hex form"
        return None
    if len(s) == 42 and s[:2] == "41" and _HEX.fullmatch(s):
        return "a TRON address in hex form"
    if _HEX40.fullmatch(s):
        return "an EVM address without its 0x prefix"
    if _BECH32_RE.fullmatch(s):
        return "a Bitcoin/Litecoin (bech32) address"
    if _B58_RE.fullmatch(s):
        payload = b58check_decode(s)
        if payload is not None:
            if len(payload) == 21 and payload[0] == TRON_PREFIX:
                return "a TRON address"
            if len(payload) == 21 and payload[0] in (0x00, 0x05, 0x6F, 0xC4):
                return "a Bitcoin address"
            if len(payload) == 21 and payload[0] in (0x30, 0x32):
                return "a Litecoin address"
            if len(payload) == 21 and payload[0] == 0x1E:
                return "a Dogecoin address"
            if len(payload) == 21:
                return "a base58check address of another network"
        if s[0] == "T" and len(s) == 34:
            return "a TRON address (with a bad checksum)"
        if 32 <= len(s) <= 44 and len(b58decode(s)) == 32:
            return "a Solana address"
        if s[0] in "r" and 25 <= len(s) <= 35:
            return "an XRP address"
    return None


# --- EVM ----------------------------------------------------------------------------------------


def check_evm_address(text: str) -> tuple[str, None, None] | tuple[None, str, str]:
    """Validate one EVM address; never raises.

    Mixed case must be a valid EIP-55 checksum; all-lower and all-upper hex are accepted (they carry
    no checksum) and normalized. The zero address and addresses of other networks are refused.
    """
    s = text if len(text) == 42 else text.strip()
    if len(s) == 42 and s[:2] == "0x":
        raw = s[2:].encode("utf-8")
        # 40 bytes that are all hex digits (deleting them leaves nothing); non-ASCII is longer.
        if len(raw) == 40 and not raw.translate(None, _HEX_DIGITS):
            low = raw.lower()
            if raw != low and raw != raw.upper():
                if _checksum_matches(raw):
                    return s, None, None
                return (
                    None,
                    CODE_CHECKSUM,
                    f"{s} fails its EIP-55 checksum (a typo?); "
                    f"if you are sure of it, write it all lower-case",
                )
            if low == _ZERO40:
                return None, CODE_ZERO, "the zero address cannot receive a payout"
            return _checksum_lower(low.decode("ascii")), None, None
    s = s.strip()
    if not s:
        return None, CODE_EMPTY, "recipient is empty"
    other = guess_network(s)
    if other is not None and other != "an EVM address":
        return None, CODE_OTHER_NETWORK, f"{_short(s)} looks like {other}, not an EVM address"
    return None, CODE_FORMAT, f"{_short(s)} is not an EVM address (0x followed by 40 hex digits)"


def normalize_evm_address(text: str) -> str:
    """The EIP-55 form of ``text``; raises :class:`InvalidAddressError` if it is not acceptable."""
    address, _code, message = check_evm_address(text)
    if address is None:
        raise InvalidAddressError(text, message or "invalid", Network.EVM)
    return address


# --- TRON ---------------------------------------------------------------------------------------


def tron_b58_to_hex(address: str) -> str:
    """``T...`` -> ``41`` + 40 hex digits. Raises :class:`InvalidAddressError`."""
    payload = b58check_decode(address.strip())
    if payload is None or len(payload) != 21 or payload[0] != TRON_PREFIX:
        raise InvalidAddressError(address, "is not a valid TRON base58check address", Network.TRON)
    return payload.hex()


def tron_hex_to_b58(hex_address: str) -> str:
    """``41...`` (42 hex digits, optional ``0x``) -> ``T...``. Raises
    :class:`InvalidAddressError`."""
    body = hex_address.strip()
    if body[:2] in ("0x", "0X"):
        body = body[2:]
    if len(body) != 42 or body[:2] != "41" or not _HEX.fullmatch(body):
        raise InvalidAddressError(
            hex_address, "is not a TRON hex address (41 + 40 hex)", Network.TRON
        )
    return b58check_encode(bytes.fromhex(body))


def tron_to_evm(address: str) -> str:
    """The EVM (EIP-55) spelling of a TRON account's 20-byte id, as the TVM's ADDRESS opcode sees
    it."""
    return _checksum_lower(tron_b58_to_hex(address)[2:])


def evm_to_tron(address: str) -> str:
    """The TRON base58check spelling of a 20-byte account id given as ``0x...``."""
    body = to_checksum_address(address)[2:].lower()
    return b58check_encode(bytes([TRON_PREFIX]) + bytes.fromhex(body))


def check_tron_address(text: str) -> tuple[str, None, None] | tuple[None, str, str]:
    """Validate one TRON address; never raises. Accepts base58check ``T...`` and hex ``41...``."""
    s = text.strip()
    if not s:
        return None, CODE_EMPTY, "recipient is empty"
    if len(s) == 34 and s[0] == "T":
        cached = _tron_b58_cached(s)
        if cached is None:
            return (
                None,
                CODE_CHECKSUM,
                f"{s} fails its base58check checksum (a typo?)",
            )
        if s == TRON_ZERO_ADDRESS:
            return None, CODE_ZERO, "the TRON zero address cannot receive a payout"
        return s, None, None
    if len(s) == 42 and s[:2] == "41" and _HEX.fullmatch(s):
        b58 = b58check_encode(bytes.fromhex(s))
        if b58 == TRON_ZERO_ADDRESS:
            return None, CODE_ZERO, "the TRON zero address cannot receive a payout"
        return b58, None, None
    other = guess_network(s)
    if other == "a TRON address in hex form":  # 0x41... : the 0x prefix is an EVM habit
        return None, CODE_FORMAT, f"{_short(s)}: write TRON hex addresses without 0x, or use T..."
    if other is not None:
        return None, CODE_OTHER_NETWORK, f"{_short(s)} looks like {other}, not a TRON address"
    return None, CODE_FORMAT, f"{_short(s)} is not a TRON address (T... base58check, 34 characters)"


@lru_cache(maxsize=65536)
def _tron_b58_cached(address: str) -> bytes | None:
    payload = b58check_decode(address)
    if payload is None or len(payload) != 21 or payload[0] != TRON_PREFIX:
        return None
    return payload


def normalize_tron_address(text: str) -> str:
    """The base58check form of a TRON address; raises :class:`InvalidAddressError`."""
    address, _code, message = check_tron_address(text)
    if address is None:
        raise InvalidAddressError(text, message or "invalid", Network.TRON)
    return address


# --- both ---------------------------------------------------------------------------------------

CHECKERS: dict[Network, Callable[[str], tuple[str, None, None] | tuple[None, str, str]]] = {
    Network.EVM: check_evm_address,
    Network.TRON: check_tron_address,
}


def check_address(network: Network, text: str) -> tuple[str, None, None] | tuple[None, str, str]:
    """Validate ``text`` as an address of ``network``; never raises."""
    return CHECKERS[network](text)


def normalize_address(network: Network, text: str) -> str:
    """Canonical form of ``text`` on ``network``; raises :class:`InvalidAddressError`."""
    if network is Network.TRON:
        return normalize_tron_address(text)
    return normalize_evm_address(text)


def address_bytes(network: Network, address: str) -> bytes:
    """The 20-byte account id the contract sees (TRON drops its 0x41 prefix byte)."""
    if network is Network.TRON:
        return bytes.fromhex(tron_b58_to_hex(address)[2:])
    body = address[2:] if address[:2] in ("0x", "0X") else address
    if not _HEX40.fullmatch(body):
        raise InvalidAddressError(address, "is not 0x followed by 40 hex digits", Network.EVM)
    return bytes.fromhex(body)


def zero_address(network: Network) -> str:
    return TRON_ZERO_ADDRESS if network is Network.TRON else ZERO_ADDRESS


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
