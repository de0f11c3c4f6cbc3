"""TRON's protobuf messages by hand (no protoc): wire format, java-tron's JSON rules, txIDs.

A TRON txID is ``sha256(Transaction.raw)``. Whoever signs must compute it from the JSON
``raw_data`` it is about to sign, never take it from a node (tronpy does, and its offline builder
leaves the memo and ``Permission_id`` out); and a node must turn the JSON ``raw_data`` a client
sends into exactly the bytes java-tron would hash. Both sides use this module: the signing path
(:mod:`payout.tron.transaction`, :mod:`payout.tron.multisig`) and the local node
(:mod:`payout.tron.devnet`). java-tron parses JSON with its own ``JsonFormat`` and serializes with
protobuf-java, which means:

* fields are written in field-number order, proto3 defaults (0, false, "", empty bytes, enum 0)
  are left out, a message field that is present is written even when empty;
* ``bytes`` are hex in JSON (``0x`` optional, an odd length gets a leading 0); address fields may be
  base58check (``T...``), always when the request says ``"visible": true``;
* an enum may be given by name, by number, or by an all-lower-case name whose first letter is then
  capitalised (``"function"`` -> ``Function``), which is how solc ABIs get through;
* unknown JSON fields and ``null`` values are skipped;
* ``Contract.parameter`` is a ``google.protobuf.Any`` whose ``value`` is parsed as the message named
  by the contract's ``type``, and whose ``type_url`` is whatever the client sent.

Messages are kept as plain dicts (field name -> value, only set fields present); :func:`encode`,
:func:`decode`, :func:`from_json` and :func:`to_json` convert between dicts, bytes and JSON;
:func:`raw_data_bytes`, :func:`txid` and :func:`decode_raw_data` do it for a transaction's
``raw_data``. Known-answer vectors from real transactions: ``tests/unit/tron_path/test_proto.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from payout.address import b58check_decode, b58check_encode

Message = dict[str, Any]


class ProtoError(ValueError):
    """A JSON document or a byte string does not fit the message schema."""


# --- addresses (21 bytes: 0x41 || keccak(public key)[12:]) ----------------------------------------

#: The byte every mainnet-style TRON address starts with.
ADDRESS_PREFIX = 0x41
ADDRESS_SIZE = 21


class AddressFormatError(ValueError):
    """A string or byte string is not a TRON address."""


def to_base58(address: bytes) -> str:
    """``T...`` (base58check) form of a 21-byte address."""
    return b58check_encode(address)


def parse_address(value: object) -> bytes:
    """Accept a base58check (``T...``) or hex (``41...``, optional ``0x``) address -> 21 bytes."""
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 34 and text[:1] == "T":
            decoded = b58check_decode(text)
            if decoded is None:
                raise AddressFormatError(f"{value!r} is not base58check (bad character / checksum)")
            raw = decoded
        else:
            try:
                raw = bytes.fromhex(text[2:] if text[:2].lower() == "0x" else text)
            except ValueError as exc:
                raise AddressFormatError(f"{value!r} is neither base58check nor hex") from exc
    else:
        raise AddressFormatError(f"{value!r} is not an address")
    if len(raw) != ADDRESS_SIZE or raw[0] != ADDRESS_PREFIX:
        raise AddressFormatError(f"{value!r} is not a 21-byte TRON address starting with 0x41")
    return raw


@dataclass(frozen=True)
class Field:
    """One protobuf field: its JSON name, number and type."""

    name: str
    number: int
    kind: str  # int64 | int32 | bool | string | bytes | enum | message
    repeated: bool = False
    message: str = ""
    enum: str = ""
    #: Rendered as base58check when the caller asks for ``visible`` output.
    address: bool = False


@dataclass(frozen=True)
class Schema:
    """Fields of one message type, indexed both ways."""

    name: str
    fields: tuple[Field, ...]
    by_name: dict[str, Field] = field(init=False, compare=False)
    by_number: dict[int, Field] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "by_number", {f.number: f for f in self.fields})


def _f(name: str, number: int, kind: str, **kw: Any) -> Field:
    return Field(name, number, kind, **kw)


ENUMS: dict[str, dict[str, int]] = {
    "ContractType": {
        "AccountCreateContract": 0,
        "TransferContract": 1,
        "TransferAssetContract": 2,
        "VoteAssetContract": 3,
        "VoteWitnessContract": 4,
        "WitnessCreateContract": 5,
        "AssetIssueContract": 6,
        "WitnessUpdateContract": 8,
        "ParticipateAssetIssueContract": 9,
        "AccountUpdateContract": 10,
        "FreezeBalanceContract": 11,
        "UnfreezeBalanceContract": 12,
        "WithdrawBalanceContract": 13,
        "UnfreezeAssetContract": 14,
        "UpdateAssetContract": 15,
        "ProposalCreateContract": 16,
        "ProposalApproveContract": 17,
        "ProposalDeleteContract": 18,
        "SetAccountIdContract": 19,
        "CustomContract": 20,
        "CreateSmartContract": 30,
        "TriggerSmartContract": 31,
        "GetContract": 32,
        "UpdateSettingContract": 33,
        "ExchangeCreateContract": 41,
        "ExchangeInjectContract": 42,
        "ExchangeWithdrawContract": 43,
        "ExchangeTransactionContract": 44,
        "UpdateEnergyLimitContract": 45,
        "AccountPermissionUpdateContract": 46,
        "ClearABIContract": 48,
        "UpdateBrokerageContract": 49,
        "ShieldedTransferContract": 51,
        "MarketSellAssetContract": 52,
        "MarketCancelOrderContract": 53,
        "FreezeBalanceV2Contract": 54,
        "UnfreezeBalanceV2Contract": 55,
        "WithdrawExpireUnfreezeContract": 56,
        "DelegateResourceContract": 57,
        "UnDelegateResourceContract": 58,
        "CancelAllUnfreezeV2Contract": 59,
    },
    "PermissionType": {"Owner": 0, "Witness": 1, "Active": 2},
    "ResourceCode": {"BANDWIDTH": 0, "ENERGY": 1, "TRON_POWER": 2},
    "EntryType": {
        "UnknownEntryType": 0,
        "Constructor": 1,
        "Function": 2,
        "Event": 3,
        "Fallback": 4,
        "Receive": 5,
        "Error": 6,
    },
    "StateMutabilityType": {
        "UnknownMutabilityType": 0,
        "Pure": 1,
        "View": 2,
        "Nonpayable": 3,
        "Payable": 4,
    },
    "ResultCode": {"SUCESS": 0, "FAILED": 1},
    "ContractResult": {
        "DEFAULT": 0,
        "SUCCESS": 1,
        "REVERT": 2,
        "BAD_JUMP_DESTINATION": 3,
        "OUT_OF_MEMORY": 4,
        "PRECOMPILED_CONTRACT": 5,
        "STACK_TOO_SMALL": 6,
        "STACK_TOO_LARGE": 7,
        "ILLEGAL_OPERATION": 8,
        "STACK_OVERFLOW": 9,
        "OUT_OF_ENERGY": 10,
        "OUT_OF_TIME": 11,
        "JVM_STACK_OVER_FLOW": 12,
        "UNKNOWN": 13,
        "TRANSFER_FAILED": 14,
        "INVALID_CODE": 15,
    },
}
ENUM_NAMES: dict[str, dict[int, str]] = {
    enum: {number: name for name, number in values.items()} for enum, values in ENUMS.items()
}

_SCHEMAS: list[Schema] = [
    Schema(
        "Transaction",
        (
            _f("raw_data", 1, "message", message="TransactionRaw"),
            _f("signature", 2, "bytes", repeated=True),
            _f("ret", 5, "message", repeated=True, message="TransactionResult"),
        ),
    ),
    Schema(
        "TransactionRaw",
        (
            _f("ref_block_bytes", 1, "bytes"),
            _f("ref_block_num", 3, "int64"),
            _f("ref_block_hash", 4, "bytes"),
            _f("expiration", 8, "int64"),
            _f("auths", 9, "message", repeated=True, message="Authority"),
            _f("data", 10, "bytes"),
            _f("contract", 11, "message", repeated=True, message="Contract"),
            _f("scripts", 12, "bytes"),
            _f("timestamp", 14, "int64"),
            _f("fee_limit", 18, "int64"),
        ),
    ),
    Schema(
        "Authority",
        (
            _f("account", 1, "message", message="AccountId"),
            _f("permission_name", 2, "bytes"),
        ),
    ),
    Schema("AccountId", (_f("name", 1, "bytes"), _f("address", 2, "bytes", address=True))),
    Schema(
        "Contract",
        (
            _f("type", 1, "enum", enum="ContractType"),
            _f("parameter", 2, "message", message="Any"),
            _f("provider", 3, "bytes"),
            _f("ContractName", 4, "bytes"),
            _f("Permission_id", 5, "int32"),
        ),
    ),
    Schema("Any", (_f("type_url", 1, "string"), _f("value", 2, "bytes"))),
    Schema(
        "TransactionResult",
        (
            _f("fee", 1, "int64"),
            _f("ret", 2, "enum", enum="ResultCode"),
            _f("contractRet", 3, "enum", enum="ContractResult"),
        ),
    ),
    Schema(
        "TransferContract",
        (
            _f("owner_address", 1, "bytes", address=True),
            _f("to_address", 2, "bytes", address=True),
            _f("amount", 3, "int64"),
        ),
    ),
    Schema(
        "TransferAssetContract",
        (
            _f("asset_name", 1, "bytes"),
            _f("owner_address", 2, "bytes", address=True),
            _f("to_address", 3, "bytes", address=True),
            _f("amount", 4, "int64"),
        ),
    ),
    Schema(
        "TriggerSmartContract",
        (
            _f("owner_address", 1, "bytes", address=True),
            _f("contract_address", 2, "bytes", address=True),
            _f("call_value", 3, "int64"),
            _f("data", 4, "bytes"),
            _f("call_token_value", 5, "int64"),
            _f("token_id", 6, "int64"),
        ),
    ),
    Schema(
        "CreateSmartContract",
        (
            _f("owner_address", 1, "bytes", address=True),
            _f("new_contract", 2, "message", message="SmartContract"),
            _f("call_token_value", 3, "int64"),
            _f("token_id", 4, "int64"),
        ),
    ),
    Schema(
        "SmartContract",
        (
            _f("origin_address", 1, "bytes", address=True),
            _f("contract_address", 2, "bytes", address=True),
            _f("abi", 3, "message", message="ABI"),
            _f("bytecode", 4, "bytes"),
            _f("call_value", 5, "int64"),
            _f("consume_user_resource_percent", 6, "int64"),
            _f("name", 7, "string"),
            _f("origin_energy_limit", 8, "int64"),
            _f("code_hash", 9, "bytes"),
            _f("trx_hash", 10, "bytes"),
            _f("version", 11, "int32"),
        ),
    ),
    Schema("ABI", (_f("entrys", 1, "message", repeated=True, message="ABIEntry"),)),
    Schema(
        "ABIEntry",
        (
            _f("anonymous", 1, "bool"),
            _f("constant", 2, "bool"),
            _f("name", 3, "string"),
            _f("inputs", 4, "message", repeated=True, message="ABIParam"),
            _f("outputs", 5, "message", repeated=True, message="ABIParam"),
            _f("type", 6, "enum", enum="EntryType"),
            _f("payable", 7, "bool"),
            _f("stateMutability", 8, "enum", enum="StateMutabilityType"),
        ),
    ),
    Schema(
        "ABIParam",
        (_f("indexed", 1, "bool"), _f("name", 2, "string"), _f("type", 3, "string")),
    ),
    Schema(
        "AccountPermissionUpdateContract",
        (
            _f("owner_address", 1, "bytes", address=True),
            _f("owner", 2, "message", message="Permission"),
            _f("witness", 3, "message", message="Permission"),
            _f("actives", 4, "message", repeated=True, message="Permission"),
        ),
    ),
    Schema(
        "Permission",
        (
            _f("type", 1, "enum", enum="PermissionType"),
            _f("id", 2, "int32"),
            _f("permission_name", 3, "string"),
            _f("threshold", 4, "int64"),
            _f("parent_id", 5, "int32"),
            _f("operations", 6, "bytes"),
            _f("keys", 7, "message", repeated=True, message="Key"),
        ),
    ),
    Schema("Key", (_f("address", 1, "bytes", address=True), _f("weight", 2, "int64"))),
    Schema(
        "FreezeBalanceV2Contract",
        (
            _f("owner_address", 1, "bytes", address=True),
            _f("frozen_balance", 2, "int64"),
            _f("resource", 3, "enum", enum="ResourceCode"),
        ),
    ),
    Schema(
        "UnfreezeBalanceV2Contract",
        (
            _f("owner_address", 1, "bytes", address=True),
            _f("unfreeze_balance", 2, "int64"),
            _f("resource", 3, "enum", enum="ResourceCode"),
        ),
    ),
    Schema(
        "BlockHeaderRaw",
        (
            _f("timestamp", 1, "int64"),
            _f("txTrieRoot", 2, "bytes"),
            _f("parentHash", 3, "bytes"),
            _f("number", 7, "int64"),
            _f("witness_id", 8, "int64"),
            _f("witness_address", 9, "bytes", address=True),
            _f("version", 10, "int32"),
            _f("accountStateRoot", 11, "bytes"),
        ),
    ),
]
SCHEMAS: dict[str, Schema] = {s.name: s for s in _SCHEMAS}

#: Contract types whose parameter can be parsed from JSON (the local node executes or at least
#: hashes them; the signing path builds TriggerSmartContract and TransferContract).
PARAMETER_SCHEMAS: dict[str, str] = {
    "TransferContract": "TransferContract",
    "TransferAssetContract": "TransferAssetContract",
    "TriggerSmartContract": "TriggerSmartContract",
    "CreateSmartContract": "CreateSmartContract",
    "AccountPermissionUpdateContract": "AccountPermissionUpdateContract",
    "FreezeBalanceV2Contract": "FreezeBalanceV2Contract",
    "UnfreezeBalanceV2Contract": "UnfreezeBalanceV2Contract",
}

TYPE_URL_PREFIX = "type.googleapis.com/protocol."

# --- wire format ---------------------------------------------------------------------------------

_WIRE_VARINT = 0
_WIRE_LEN = 2
_UINT64 = (1 << 64) - 1


def encode_varint(value: int) -> bytes:
    """Base-128 varint; negative values are written as their 64-bit two's complement."""
    if value < 0:
        value &= _UINT64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return encode_varint((number << 3) | wire)


def _len_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, _WIRE_LEN) + encode_varint(len(payload)) + payload


def _encode_scalar(f: Field, value: Any) -> bytes:
    if f.kind in ("int64", "int32", "enum"):
        return _key(f.number, _WIRE_VARINT) + encode_varint(int(value))
    if f.kind == "bool":
        return _key(f.number, _WIRE_VARINT) + encode_varint(1 if value else 0)
    if f.kind == "string":
        return _len_delimited(f.number, str(value).encode("utf-8"))
    if f.kind == "bytes":
        return _len_delimited(f.number, bytes(value))
    raise ProtoError(f"cannot encode field kind {f.kind}")


def _is_default(f: Field, value: Any) -> bool:
    if f.kind in ("int64", "int32", "enum"):
        return int(value) == 0
    if f.kind == "bool":
        return not value
    if f.kind in ("string", "bytes"):
        return len(value) == 0
    return False


def encode(schema_name: str, msg: Mapping[str, Any]) -> bytes:
    """Serialize a message dict the way protobuf-java does (field-number order, proto3 rules)."""
    schema = SCHEMAS[schema_name]
    out = bytearray()
    for f in sorted(schema.fields, key=lambda x: x.number):
        if f.name not in msg or msg[f.name] is None:
            continue
        value = msg[f.name]
        values = value if f.repeated else [value]
        for item in values:
            if f.kind == "message":
                out += _len_delimited(f.number, encode(f.message, item))
            elif f.repeated or not _is_default(f, item):
                out += _encode_scalar(f, item)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def _signed64(value: int) -> int:
    return value - (1 << 64) if value & (1 << 63) else value


def decode(schema_name: str, data: bytes) -> Message:
    """Parse wire bytes into a message dict; unknown fields are skipped like protobuf-java does."""
    schema = SCHEMAS[schema_name]
    msg: Message = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _WIRE_VARINT:
            raw_int, pos = _read_varint(data, pos)
            payload: bytes | int = raw_int
        elif wire == _WIRE_LEN:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise ProtoError("truncated length-delimited field")
            payload = data[pos : pos + length]
            pos += length
        elif wire == 1:
            payload = data[pos : pos + 8]
            pos += 8
        elif wire == 5:
            payload = data[pos : pos + 4]
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")
        f = schema.by_number.get(number)
        if f is None:
            continue
        value: Any
        if f.kind == "message":
            if not isinstance(payload, bytes):
                raise ProtoError(f"{schema_name}.{f.name}: expected a message")
            value = decode(f.message, payload)
        elif f.kind in ("int64", "int32", "enum"):
            if not isinstance(payload, int):
                raise ProtoError(f"{schema_name}.{f.name}: expected a varint")
            value = _signed64(payload)
        elif f.kind == "bool":
            value = bool(payload)
        elif f.kind == "string":
            if not isinstance(payload, bytes):
                raise ProtoError(f"{schema_name}.{f.name}: expected a string")
            value = payload.decode("utf-8", errors="replace")
        else:
            value = bytes(payload) if isinstance(payload, bytes) else payload
        if f.repeated:
            msg.setdefault(f.name, []).append(value)
        else:
            msg[f.name] = value
    return msg


# --- JSON (java-tron JsonFormat flavour) ---------------------------------------------------------


def parse_hex(text: str) -> bytes:
    """java-tron's hex reading: optional ``0x``, an odd length gets a leading zero."""
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if len(text) % 2:
        text = "0" + text
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ProtoError(f"invalid hex string {text[:80]!r}") from exc


def _parse_int(f: Field, value: Any) -> int:
    if isinstance(value, bool):
        raise ProtoError(f"{f.name}: expected an integer, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        result = int(value)
    else:
        raise ProtoError(f"{f.name}: expected an integer, got {value!r}")
    bits = 32 if f.kind == "int32" else 64
    if not -(1 << (bits - 1)) <= result < (1 << (bits - 1)):
        raise ProtoError(f"{f.name}: {result} is out of range for {f.kind}")
    return result


def _parse_enum(f: Field, value: Any) -> int:
    values = ENUMS[f.enum]
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in ENUM_NAMES[f.enum]:
            raise ProtoError(f'Enum type "{f.enum}" has no value with number {value}.')
        return value
    if not isinstance(value, str):
        raise ProtoError(f"{f.name}: expected an enum name, got {value!r}")
    name = value
    if name.isalpha() and name.islower():
        name = name[0].upper() + name[1:]
    if name not in values:
        raise ProtoError(f'Enum type "{f.enum}" has no value named "{name}".')
    return values[name]


def _parse_value(f: Field, value: Any, visible: bool) -> Any:
    if f.kind in ("int64", "int32"):
        return _parse_int(f, value)
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise ProtoError(f"{f.name}: expected true/false, got {value!r}")
        return value
    if f.kind == "string":
        if not isinstance(value, str):
            raise ProtoError(f"{f.name}: expected a string, got {value!r}")
        return value
    if f.kind == "bytes":
        if not isinstance(value, str):
            raise ProtoError(f"{f.name}: expected a hex string, got {value!r}")
        if f.address and (visible or (len(value) == 34 and value.startswith("T"))):
            try:
                return parse_address(value)
            except AddressFormatError as exc:
                raise ProtoError(f"{f.name}: {exc}") from exc
        return parse_hex(value)
    if f.kind == "enum":
        return _parse_enum(f, value)
    if f.kind == "message":
        if not isinstance(value, Mapping):
            raise ProtoError(f"{f.name}: expected an object, got {value!r}")
        return from_json(f.message, value, visible=visible)
    raise ProtoError(f"unknown field kind {f.kind}")


def from_json(schema_name: str, obj: Mapping[str, Any], *, visible: bool = False) -> Message:
    """Parse a JSON object into a message dict (java-tron ``JsonFormat.merge`` rules)."""
    if schema_name == "Contract":
        return _contract_from_json(obj, visible)
    schema = SCHEMAS[schema_name]
    msg: Message = {}
    for key, value in obj.items():
        f = schema.by_name.get(key)
        if f is None or value is None:
            continue
        if f.repeated:
            items = value if isinstance(value, list) else [value]
            msg[f.name] = [_parse_value(f, item, visible) for item in items if item is not None]
        else:
            msg[f.name] = _parse_value(f, value, visible)
    return msg


def _contract_from_json(obj: Mapping[str, Any], visible: bool) -> Message:
    schema = SCHEMAS["Contract"]
    msg: Message = {}
    type_name = ""
    for key in ("type", "provider", "ContractName", "Permission_id"):
        if key in obj and obj[key] is not None:
            msg[key] = _parse_value(schema.by_name[key], obj[key], visible)
    if "type" in msg:
        type_name = ENUM_NAMES["ContractType"][msg["type"]]
    parameter = obj.get("parameter")
    if isinstance(parameter, Mapping):
        any_msg: Message = {}
        type_url = parameter.get("type_url")
        if isinstance(type_url, str) and type_url:
            any_msg["type_url"] = type_url
        value = parameter.get("value")
        if isinstance(value, Mapping):
            inner = PARAMETER_SCHEMAS.get(type_name)
            if inner is None:
                raise ProtoError(f"contract type {type_name or '?'} is not supported")
            any_msg["value"] = encode(inner, from_json(inner, value, visible=visible))
        elif isinstance(value, str):
            any_msg["value"] = parse_hex(value)
        msg["parameter"] = any_msg
    return msg


def _render_value(f: Field, value: Any, visible: bool) -> Any:
    if f.kind == "enum":
        return ENUM_NAMES[f.enum].get(int(value), int(value))
    if f.kind == "bytes":
        raw = bytes(value)
        if visible and f.address and len(raw) == 21 and raw[0] == 0x41:
            return to_base58(raw)
        return raw.hex()
    if f.kind == "message":
        return to_json(f.message, value, visible=visible)
    return value


def to_json(schema_name: str, msg: Mapping[str, Any], *, visible: bool = False) -> dict[str, Any]:
    """Render a message dict as java-tron prints it (set fields only, enums by name)."""
    if schema_name == "Contract":
        return _contract_to_json(msg, visible)
    schema = SCHEMAS[schema_name]
    out: dict[str, Any] = {}
    for f in schema.fields:
        if f.name not in msg:
            continue
        value = msg[f.name]
        if f.repeated:
            out[f.name] = [_render_value(f, item, visible) for item in value]
        elif f.kind == "message" or not _is_default(f, value):
            out[f.name] = _render_value(f, value, visible)
    return out


def _contract_to_json(msg: Mapping[str, Any], visible: bool) -> dict[str, Any]:
    schema = SCHEMAS["Contract"]
    out: dict[str, Any] = {}
    type_number = int(msg.get("type", 0))
    type_name = ENUM_NAMES["ContractType"].get(type_number, "")
    if "parameter" in msg:
        parameter = msg["parameter"]
        rendered: dict[str, Any] = {}
        inner = PARAMETER_SCHEMAS.get(type_name)
        value = parameter.get("value", b"")
        if inner is not None:
            rendered["value"] = to_json(inner, decode(inner, value), visible=visible)
        else:
            rendered["value"] = bytes(value).hex()
        rendered["type_url"] = parameter.get("type_url", "")
        out["parameter"] = rendered
    out["type"] = type_name or type_number
    for key in ("provider", "ContractName", "Permission_id"):
        f = schema.by_name[key]
        if key in msg and not _is_default(f, msg[key]):
            out[key] = _render_value(f, msg[key], visible)
    return out


# --- TRON helpers --------------------------------------------------------------------------------


def raw_from_json(raw_data: Mapping[str, Any], *, visible: bool = False) -> Message:
    """Parse a transaction's JSON ``raw_data`` into a ``Transaction.raw`` message dict."""
    if not isinstance(raw_data, Mapping):
        raise ProtoError("raw_data must be an object")
    return from_json("TransactionRaw", raw_data, visible=visible)


def raw_data_bytes(raw_data: Mapping[str, Any], *, visible: bool = False) -> bytes:
    """The exact ``Transaction.raw`` bytes java-tron would hash for this JSON ``raw_data``."""
    return encode("TransactionRaw", raw_from_json(raw_data, visible=visible))


def raw_txid(raw: bytes) -> bytes:
    """TRON transaction id of serialized ``Transaction.raw`` bytes: their sha256."""
    return hashlib.sha256(raw).digest()


def txid(raw_data: Mapping[str, Any]) -> str:
    """The transaction id (hex) of a JSON ``raw_data``: what a TRON signature covers."""
    return raw_txid(raw_data_bytes(raw_data)).hex()


def decode_raw_data(raw: bytes) -> dict[str, Any]:
    """JSON ``raw_data`` (hex addresses) of ``Transaction.raw`` bytes, as java-tron prints it."""
    return to_json("TransactionRaw", decode("TransactionRaw", raw))


def transaction_bytes(raw: bytes, signatures: Sequence[bytes]) -> bytes:
    """A serialized ``Transaction`` (raw_data + signatures, no ``ret``)."""
    out = bytearray(_len_delimited(1, raw))
    for sig in signatures:
        out += _len_delimited(2, sig)
    return bytes(out)


def contract_parameter(raw: Mapping[str, Any]) -> tuple[str, Message, Message]:
    """``(contract type name, decoded parameter, contract entry)`` of a single-contract raw."""
    contracts = raw.get("contract") or []
    if not contracts:
        raise ProtoError("transaction has no contract")
    contract = contracts[0]
    type_name = ENUM_NAMES["ContractType"].get(int(contract.get("type", 0)), "")
    inner = PARAMETER_SCHEMAS.get(type_name)
    if inner is None:
        raise ProtoError(f"contract type {type_name or '?'} is not supported")
    value = contract.get("parameter", {}).get("value", b"")
    return type_name, decode(inner, value), contract


def block_id(number: int, header_raw: bytes) -> bytes:
    """TRON block id: 8-byte block number followed by sha256(header raw)[8:]."""
    return number.to_bytes(8, "big") + hashlib.sha256(header_raw).digest()[8:]
