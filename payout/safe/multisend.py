"""The canonical MultiSendCallOnly libraries and the encoding of their ``multiSend`` payload.

A Safe batch is one Safe transaction that DELEGATECALLs ``multiSend(bytes)`` on a MultiSendCallOnly
library; the library then CALLs each inner transaction (approve, then disburse) from the Safe's
context. Delegatecalling anything else hands the Safe's storage to that code, so only the audited,
canonical deployments below are accepted, and only when the code at the address is the expected one
(a chain can hold other code at the same address).

Payload of ``multiSend``: the concatenation, per inner transaction, of ``operation`` (1 byte, 0 =
CALL), ``to`` (20 bytes), ``value`` (32 bytes), ``data length`` (32 bytes) and ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.exceptions import MultiSendDecodeError as MultiSendDecodeError

#: 4-byte selector of ``multiSend(bytes)``.
MULTISEND_SELECTOR = keccak(text="multiSend(bytes)")[:4]

OPERATION_CALL = 0
OPERATION_DELEGATECALL = 1


@dataclass(frozen=True)
class MultiSendLibrary:
    """One canonical MultiSendCallOnly deployment."""

    address: str
    version: str
    deployment: str
    code_hash: str


#: Canonical MultiSendCallOnly deployments (address -> expected keccak256 of the runtime code).
#: 1.3.0 has two deterministic deployments (the "canonical" one through the 0x4e59 deployer and the
#: "eip155" one through the Safe singleton factory) with identical code; 1.4.1 has one.
CANONICAL_MULTISEND_CALL_ONLY: dict[str, MultiSendLibrary] = {
    lib.address: lib
    for lib in (
        MultiSendLibrary(
            "0x9641d764fc13c8B624c04430C7356C1C7C8102e2",
            "1.4.1",
            "canonical",
            "0xecd5bd14a08c5d2122379900b2f272bdf107a7e92423c10dd5fe3254386c9939",
        ),
        MultiSendLibrary(
            "0x40A2aCCbd92BCA938b02010E17A5b8929b49130D",
            "1.3.0",
            "canonical",
            "0xa9865ac2d9c7a1591619b188c4d88167b50df6cc0c5327fcbd1c8c75f7c066ad",
        ),
        MultiSendLibrary(
            "0xA1dabEF33b3B82c7814B6D82A79e50F4AC44102B",
            "1.3.0",
            "eip155",
            "0xa9865ac2d9c7a1591619b188c4d88167b50df6cc0c5327fcbd1c8c75f7c066ad",
        ),
    )
}

#: Preferred order when looking for a usable library on a chain.
PREFERRED_ORDER: tuple[str, ...] = (
    "0x9641d764fc13c8B624c04430C7356C1C7C8102e2",
    "0x40A2aCCbd92BCA938b02010E17A5b8929b49130D",
    "0xA1dabEF33b3B82c7814B6D82A79e50F4AC44102B",
)


@dataclass(frozen=True)
class InnerCall:
    """One inner transaction of a MultiSend payload."""

    operation: int
    to: str
    value: int
    data: bytes


def canonical_library(address: str) -> MultiSendLibrary | None:
    """The canonical MultiSendCallOnly deployed at ``address``, if it is one (code not checked)."""
    try:
        return CANONICAL_MULTISEND_CALL_ONLY.get(to_checksum_address(address))
    except ValueError:
        return None


def code_matches(library: MultiSendLibrary, runtime_code: bytes) -> bool:
    """Whether ``runtime_code`` (read from the chain) is the library's audited code."""
    return "0x" + keccak(runtime_code).hex() == library.code_hash


def encode_multisend(calls: list[InnerCall]) -> bytes:
    """Calldata of ``multiSend(bytes)`` for ``calls``."""
    packed = b"".join(
        call.operation.to_bytes(1, "big")
        + bytes.fromhex(to_checksum_address(call.to)[2:])
        + call.value.to_bytes(32, "big")
        + len(call.data).to_bytes(32, "big")
        + call.data
        for call in calls
    )
    return MULTISEND_SELECTOR + abi_encode(["bytes"], [packed])


def decode_multisend(calldata: bytes) -> list[InnerCall]:
    """Inner calls of ``multiSend(bytes)`` calldata; strict: any malformation raises.

    The ABI envelope is re-encoded and compared, so trailing bytes or non-canonical offsets that the
    contract would ignore (but a reviewer would not see) are refused.
    """
    if calldata[:4] != MULTISEND_SELECTOR:
        raise MultiSendDecodeError(f"selector 0x{calldata[:4].hex()} is not multiSend(bytes)")
    try:
        (packed,) = abi_decode(["bytes"], calldata[4:])
    except Exception as exc:  # eth_abi raises several unrelated types
        raise MultiSendDecodeError(f"bad ABI envelope ({exc})") from exc
    if MULTISEND_SELECTOR + abi_encode(["bytes"], [packed]) != calldata:
        raise MultiSendDecodeError("non-canonical ABI encoding or trailing bytes")
    calls: list[InnerCall] = []
    i = 0
    header = 1 + 20 + 32 + 32
    while i < len(packed):
        if len(packed) - i < header:
            raise MultiSendDecodeError(f"truncated inner transaction at byte {i}")
        operation = packed[i]
        to = to_checksum_address(packed[i + 1 : i + 21])
        value = int.from_bytes(packed[i + 21 : i + 53], "big")
        length = int.from_bytes(packed[i + 53 : i + 85], "big")
        start = i + header
        if length > len(packed) - start:
            raise MultiSendDecodeError(f"inner transaction {len(calls)} overruns the payload")
        calls.append(InnerCall(operation, to, value, bytes(packed[start : start + length])))
        i = start + length
    if not calls:
        raise MultiSendDecodeError("no inner transactions")
    return calls
