"""Properties of the one TRON serializer (``payout.tron.proto``): what is encoded decodes back to
exactly what was given (proto3 defaults aside), JSON and wire forms agree both ways, and the bytes
do not depend on JSON key order or address form. The known-answer vectors (test_proto.py) tie
these round trips to java-tron's bytes."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from payout.tron import proto

INT_RANGES = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}
#: Messages with a dedicated JSON form (Contract.parameter is parsed by contract type).
SPECIAL_JSON = {"Transaction", "TransactionRaw", "Contract", "Any"}

addresses = st.binary(min_size=20, max_size=20).map(lambda b: b"\x41" + b)
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)


def _value(f: proto.Field, depth: int) -> st.SearchStrategy[Any]:
    if f.kind in INT_RANGES:
        low, high = INT_RANGES[f.kind]
        return st.integers(min_value=low, max_value=high)
    if f.kind == "bool":
        return st.booleans()
    if f.kind == "string":
        return text
    if f.kind == "bytes":
        return addresses if f.address else st.binary(max_size=40)
    if f.kind == "enum":
        return st.sampled_from(sorted(proto.ENUM_NAMES[f.enum]))
    return message(f.message, depth + 1)


def message(name: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Any message of schema ``name`` (nested messages down to depth 3)."""
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for f in proto.SCHEMAS[name].fields:
        if f.kind == "message" and depth >= 3:
            continue
        strategy = _value(f, depth)
        optional[f.name] = st.lists(strategy, max_size=3) if f.repeated else strategy
    return st.fixed_dictionaries({}, optional=optional)  # type: ignore[arg-type]


def without_defaults(name: str, msg: dict[str, Any]) -> dict[str, Any]:
    """What a protobuf reader sees: unset, zero and empty values are absent (messages stay)."""
    schema = proto.SCHEMAS[name]
    out: dict[str, Any] = {}
    for key, value in msg.items():
        f = schema.by_name[key]
        if f.kind == "message":
            items = [without_defaults(f.message, v) for v in (value if f.repeated else [value])]
            if f.repeated:
                if items:
                    out[key] = items
            else:
                out[key] = items[0]
        elif f.repeated:
            if value:
                out[key] = list(value)
        elif value not in (0, False, "", b""):
            out[key] = value
    return out


def field_numbers(data: bytes) -> list[int]:
    """Top-level field numbers of wire bytes, read independently of the module's decoder."""
    numbers: list[int] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = varint()
        numbers.append(key >> 3)
        if key & 7 == 0:
            varint()
        else:
            assert key & 7 == 2
            length = varint()
            pos += length
    assert pos == len(data)
    return numbers


SCHEMA_NAMES = sorted(proto.SCHEMAS)
JSON_SCHEMA_NAMES = sorted(set(proto.SCHEMAS) - SPECIAL_JSON)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.sampled_from(SCHEMA_NAMES).flatmap(lambda n: st.tuples(st.just(n), message(n))))
def test_encode_then_decode_gives_the_message_back(case: tuple[str, dict[str, Any]]) -> None:
    name, msg = case
    data = proto.encode(name, msg)
    assert proto.decode(name, data) == without_defaults(name, msg)
    numbers = field_numbers(data)
    assert numbers == sorted(numbers), "fields must be written in field-number order"
    assert proto.encode(name, proto.decode(name, data)) == data


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.sampled_from(JSON_SCHEMA_NAMES).flatmap(lambda n: st.tuples(st.just(n), message(n))),
    st.booleans(),
)
def test_json_form_parses_back_to_the_same_bytes(
    case: tuple[str, dict[str, Any]], visible: bool
) -> None:
    name, msg = case
    parsed = proto.from_json(name, proto.to_json(name, msg, visible=visible), visible=visible)
    assert proto.encode(name, parsed) == proto.encode(name, msg)
    read = proto.decode(name, proto.encode(name, msg))
    printed = proto.to_json(name, read, visible=visible)
    assert proto.from_json(name, printed, visible=visible) == read


# --- transactions as clients send them ---------------------------------------------------------

int64 = st.integers(min_value=0, max_value=2**63 - 1)
hex_addresses = addresses.map(bytes.hex)


@st.composite
def raw_data(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON raw_data of a kind we sign (TRX transfer, contract call), with optional extras."""
    if draw(st.booleans()):
        kind = "TriggerSmartContract"
        value: dict[str, Any] = {
            "owner_address": draw(hex_addresses),
            "contract_address": draw(hex_addresses),
            "data": draw(st.binary(min_size=1, max_size=300)).hex(),
        }
        if draw(st.booleans()):
            value["call_value"] = draw(int64)
    else:
        kind = "TransferContract"
        value = {
            "owner_address": draw(hex_addresses),
            "to_address": draw(hex_addresses),
            "amount": draw(int64),
        }
    contract: dict[str, Any] = {
        "parameter": {"value": value, "type_url": f"type.googleapis.com/protocol.{kind}"},
        "type": kind,
    }
    if draw(st.booleans()):
        contract["Permission_id"] = draw(st.integers(min_value=0, max_value=9))
    raw: dict[str, Any] = {
        "ref_block_bytes": draw(st.binary(min_size=2, max_size=2)).hex(),
        "ref_block_hash": draw(st.binary(min_size=8, max_size=8)).hex(),
        "expiration": draw(int64),
        "contract": [contract],
        "timestamp": draw(int64),
    }
    if draw(st.booleans()):
        raw["data"] = draw(st.binary(min_size=1, max_size=40)).hex()
    if kind == "TriggerSmartContract":
        raw["fee_limit"] = draw(st.integers(min_value=0, max_value=15_000_000_000))
    return raw


def printed_form(raw: dict[str, Any]) -> dict[str, Any]:
    """How java-tron prints ``raw``: zero values left out (they are not on the wire)."""
    out = {k: v for k, v in raw.items() if v != 0 and k != "contract"}
    contract = raw["contract"][0]
    value = {k: v for k, v in contract["parameter"]["value"].items() if v != 0}
    entry = {**contract, "parameter": {**contract["parameter"], "value": value}}
    if not entry.get("Permission_id"):
        entry.pop("Permission_id", None)
    out["contract"] = [entry]
    return out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(raw_data(), st.randoms(use_true_random=False))
def test_raw_data_round_trips_and_ignores_key_order(
    raw: dict[str, Any], rnd: random.Random
) -> None:
    encoded = proto.raw_data_bytes(raw)
    assert proto.decode_raw_data(encoded) == printed_form(raw)
    assert proto.raw_data_bytes(proto.decode_raw_data(encoded)) == encoded
    keys = list(raw)
    rnd.shuffle(keys)
    assert proto.raw_data_bytes({k: raw[k] for k in keys}) == encoded
    assert proto.txid(raw) == proto.raw_txid(encoded).hex()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(raw_data())
def test_base58_and_hex_addresses_give_the_same_bytes(raw: dict[str, Any]) -> None:
    visible = printed_form(raw)
    value = visible["contract"][0]["parameter"]["value"]
    for key in [k for k in value if k.endswith("_address")]:
        value[key] = proto.to_base58(bytes.fromhex(value[key]))
    assert proto.raw_data_bytes(visible, visible=True) == proto.raw_data_bytes(raw)
    assert proto.raw_data_bytes(visible) == proto.raw_data_bytes(raw)  # T... is read either way


@given(st.integers(min_value=-(2**63), max_value=2**64 - 1))
def test_varints_read_back(value: int) -> None:
    msg = {"expiration": value if value < 2**63 else value - 2**64}
    data = proto.encode("TransactionRaw", msg)
    assert proto.decode("TransactionRaw", data) == without_defaults("TransactionRaw", msg)
    assert len(proto.encode_varint(value)) <= 10
