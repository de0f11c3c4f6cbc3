"""Protobuf serialization of a transaction's ``raw_data``, byte for byte as java-tron does it.

A TRON txID is ``sha256(Transaction.raw)``; whoever signs must compute it from the JSON
``raw_data`` it is about to sign, never take it from a node (tronpy does, and its offline builder
leaves the memo and ``Permission_id`` out). This covers the transaction kinds the payout tooling
signs itself: ``TriggerSmartContract`` (approve, disburse) and ``TransferContract`` (TRX).

Wire format (``core/Tron.proto``): ``Transaction.raw`` fields ref_block_bytes=1, ref_block_num=3,
ref_block_hash=4, expiration=8, data=10 (memo), contract=11, scripts=12, timestamp=14,
fee_limit=18; ``Contract`` type=1, parameter=2 (``google.protobuf.Any``: type_url=1, value=2),
provider=3, ContractName=4, Permission_id=5. proto3 leaves zero values out; fields are written in
field-number order. Known-answer vectors from real transactions: tests/unit/tron_path/test_proto.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tronpy.keys import to_hex_address

TYPE_URL_PREFIX = "type.googleapis.com/protocol."

#: ``Transaction.Contract.ContractType`` numbers of the kinds serialized here.
CONTRACT_TYPE_NUMBERS: dict[str, int] = {
    "TransferContract": 1,
    "TriggerSmartContract": 31,
}


class UnsupportedContract(ValueError):
    """``raw_data`` holds a contract kind this serializer does not know."""


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are 10-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value) if value else b""


def _bytes(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value if value else b""


def _address(value: Any) -> bytes:
    return bytes.fromhex(to_hex_address(value)) if value else b""


def _hex(value: Any) -> bytes:
    return bytes.fromhex(value) if value else b""


def _transfer(v: dict[str, Any]) -> bytes:
    return (
        _bytes(1, _address(v.get("owner_address")))
        + _bytes(2, _address(v.get("to_address")))
        + _int(3, int(v.get("amount", 0)))
    )


def _trigger(v: dict[str, Any]) -> bytes:
    return (
        _bytes(1, _address(v.get("owner_address")))
        + _bytes(2, _address(v.get("contract_address")))
        + _int(3, int(v.get("call_value", 0)))
        + _bytes(4, _hex(v.get("data")))
        + _int(5, int(v.get("call_token_value", 0)))
        + _int(6, int(v.get("token_id", 0)))
    )


_ENCODERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "TransferContract": _transfer,
    "TriggerSmartContract": _trigger,
}


def _contract(entry: dict[str, Any]) -> bytes:
    kind = str(entry.get("type", ""))
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        raise UnsupportedContract(f"cannot serialize a {kind or 'contract without type'}")
    parameter = entry.get("parameter", {})
    type_url = str(parameter.get("type_url") or TYPE_URL_PREFIX + kind)
    any_msg = _bytes(1, type_url.encode()) + _bytes(2, encoder(parameter.get("value", {})))
    return (
        _int(1, CONTRACT_TYPE_NUMBERS[kind])
        + _bytes(2, any_msg)
        + _bytes(3, _hex(entry.get("provider")))
        + _bytes(4, _hex(entry.get("ContractName")))
        + _int(5, int(entry.get("Permission_id", 0)))
    )


def raw_data_bytes(raw_data: dict[str, Any]) -> bytes:
    """``Transaction.raw`` bytes of a JSON ``raw_data`` (hex fields, as java-tron writes them)."""
    if raw_data.get("auths"):
        raise UnsupportedContract("raw_data.auths is not supported")
    out = bytearray()
    out += _bytes(1, _hex(raw_data.get("ref_block_bytes")))
    out += _int(3, int(raw_data.get("ref_block_num", 0)))
    out += _bytes(4, _hex(raw_data.get("ref_block_hash")))
    out += _int(8, int(raw_data.get("expiration", 0)))
    out += _bytes(10, _hex(raw_data.get("data")))
    for entry in raw_data.get("contract", []):
        out += _bytes(11, _contract(entry))
    out += _bytes(12, _hex(raw_data.get("scripts")))
    out += _int(14, int(raw_data.get("timestamp", 0)))
    out += _int(18, int(raw_data.get("fee_limit", 0)))
    return bytes(out)


def txid(raw_data: dict[str, Any]) -> str:
    """The transaction id: sha256 of :func:`raw_data_bytes`, hex."""
    return hashlib.sha256(raw_data_bytes(raw_data)).hexdigest()


# --- decoding (for reviewing a transaction file's raw_data_hex, and for the known-answer tests) ---


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: varints as int, length-delimited as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            out.append((field, value))
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            out.append((field, data[pos : pos + length]))
            pos += length
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out


_TRANSFER_FIELDS = {1: "owner_address", 2: "to_address", 3: "amount"}
_TRIGGER_FIELDS = {
    1: "owner_address",
    2: "contract_address",
    3: "call_value",
    4: "data",
    5: "call_token_value",
    6: "token_id",
}
_CONTRACT_NAMES = {number: name for name, number in CONTRACT_TYPE_NUMBERS.items()}


def _decode_value(kind: str, data: bytes) -> dict[str, Any]:
    names = _TRANSFER_FIELDS if kind == "TransferContract" else _TRIGGER_FIELDS
    value: dict[str, Any] = {}
    for field, item in _fields(data):
        name = names.get(field)
        if name is None:
            raise ValueError(f"unknown field {field} in {kind}")
        value[name] = item.hex() if isinstance(item, bytes) else item
    return value


def decode_raw_data(data: bytes) -> dict[str, Any]:
    """JSON ``raw_data`` of ``Transaction.raw`` bytes (inverse of :func:`raw_data_bytes`)."""
    raw: dict[str, Any] = {"contract": []}
    names = {1: "ref_block_bytes", 3: "ref_block_num", 4: "ref_block_hash", 8: "expiration"}
    names |= {10: "data", 12: "scripts", 14: "timestamp", 18: "fee_limit"}
    for field, item in _fields(data):
        if field == 11 and isinstance(item, bytes):
            entry: dict[str, Any] = {}
            kind = ""
            for cf, cv in _fields(item):
                if cf == 1 and isinstance(cv, int):
                    if cv not in _CONTRACT_NAMES:
                        raise UnsupportedContract(f"contract type {cv} is not supported")
                    kind = _CONTRACT_NAMES[cv]
                    entry["type"] = kind
                elif cf == 2 and isinstance(cv, bytes):
                    any_fields = dict(_fields(cv))
                    type_url = any_fields.get(1, b"")
                    inner = any_fields.get(2, b"")
                    assert isinstance(type_url, bytes) and isinstance(inner, bytes)
                    entry["parameter"] = {"type_url": type_url.decode(), "_value": inner}
                elif cf == 5 and isinstance(cv, int):
                    entry["Permission_id"] = cv
                elif isinstance(cv, bytes):
                    entry[{3: "provider", 4: "ContractName"}.get(cf, str(cf))] = cv.hex()
            param = entry.get("parameter", {})
            param["value"] = _decode_value(kind, param.pop("_value", b""))
            raw["contract"].append(entry)
        elif field in names:
            raw[names[field]] = item.hex() if isinstance(item, bytes) else item
        else:
            raise ValueError(f"unknown field {field} in Transaction.raw")
    return raw
