"""java-tron's JSON -> protobuf rules, as the hand-written serializer (signing path and local node)
applies them."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest

from payout.tron import proto

OWNER = "41a7d8a35b260395c14aa456297662092ba3b76fc0"
CONTRACT = "415a523b449890854c8fc460ab602df9f31fe4293f"


def trigger_raw(**value: Any) -> dict[str, Any]:
    return {
        "ref_block_bytes": "163d",
        "ref_block_hash": "77ef4ace148b05ba",
        "expiration": 1_555_664_823_000,
        "timestamp": 1_555_664_763_418,
        "fee_limit": 10_000_000,
        "contract": [
            {
                "parameter": {
                    "value": {"owner_address": OWNER, "contract_address": CONTRACT, **value},
                    "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                },
                "type": "TriggerSmartContract",
            }
        ],
    }


def test_varints() -> None:
    assert proto.encode_varint(0) == b"\x00"
    assert proto.encode_varint(300) == bytes.fromhex("ac02")
    assert proto.encode_varint(-1) == b"\xff" * 9 + b"\x01"


def test_proto3_defaults_are_left_out() -> None:
    # tronpy sends call_value / call_token_value / token_id = 0; java-tron does not serialize them.
    explicit = trigger_raw(data="a9059cbb", call_value=0, call_token_value=0, token_id=0)
    bare = trigger_raw(data="a9059cbb")
    assert proto.raw_data_bytes(explicit) == proto.raw_data_bytes(bare)


def test_field_order_follows_field_numbers_not_json_order() -> None:
    raw = trigger_raw(data="00", call_value=5)
    reordered = dict(reversed(list(raw.items())))
    assert proto.raw_data_bytes(raw) == proto.raw_data_bytes(reordered)
    encoded = proto.raw_data_bytes(raw)
    # ref_block_bytes (1) comes first, fee_limit (18, key 0x90 0x01) last.
    assert encoded[:2] == bytes.fromhex("0a02")
    assert encoded.endswith(bytes.fromhex("9001") + proto.encode_varint(10_000_000))


def test_unknown_fields_and_nulls_are_skipped() -> None:
    raw = trigger_raw(data="00")
    noisy = copy.deepcopy(raw)
    noisy["unknown_field"] = {"nested": [1, 2]}
    noisy["contract"][0]["parameter"]["value"]["internalType"] = "address"
    noisy["contract"][0]["Permission_id"] = None
    assert proto.raw_data_bytes(noisy) == proto.raw_data_bytes(raw)


def test_client_type_url_is_hashed_as_sent() -> None:
    raw = trigger_raw(data="00")
    other = copy.deepcopy(raw)
    other["contract"][0]["parameter"]["type_url"] = "type.googleapis.com/protocol.Other"
    assert proto.raw_data_bytes(raw) != proto.raw_data_bytes(other)


def test_hex_is_read_like_java_tron() -> None:
    assert proto.parse_hex("0x0abc") == bytes.fromhex("0abc")
    assert proto.parse_hex("abc") == bytes.fromhex("0abc")
    with pytest.raises(proto.ProtoError):
        proto.parse_hex("zz")


def solc_abi() -> list[dict[str, Any]]:
    return [
        {
            "inputs": [{"internalType": "uint256", "name": "initial", "type": "uint256"}],
            "stateMutability": "payable",
            "type": "constructor",
        },
        {
            "anonymous": False,
            "inputs": [
                {"indexed": True, "internalType": "address", "name": "by", "type": "address"}
            ],
            "name": "Stored",
            "type": "event",
        },
        {
            "inputs": [],
            "name": "value",
            "outputs": [{"internalType": "uint256", "name": "", "type": "uint256"}],
            "stateMutability": "view",
            "type": "function",
        },
    ]


def test_solc_abi_enums_are_capitalised_and_printed_back() -> None:
    msg = proto.from_json("ABI", {"entrys": solc_abi()})
    entries = msg["entrys"]
    assert [e["type"] for e in entries] == [1, 3, 2]  # Constructor, Event, Function
    assert entries[0]["stateMutability"] == 4 and entries[2]["stateMutability"] == 2
    printed = proto.to_json("ABI", proto.decode("ABI", proto.encode("ABI", msg)))
    assert printed["entrys"][2] == {
        "name": "value",
        "outputs": [{"type": "uint256"}],  # "" is the proto3 default: not printed
        "type": "Function",
        "stateMutability": "View",
    }
    assert printed["entrys"][1]["inputs"] == [{"indexed": True, "name": "by", "type": "address"}]


def test_unknown_enum_name_is_refused() -> None:
    with pytest.raises(proto.ProtoError, match="has no value named"):
        proto.from_json("ABI", {"entrys": [{"type": "modifier"}]})


def test_present_empty_message_is_serialized() -> None:
    with_abi = proto.encode("SmartContract", proto.from_json("SmartContract", {"abi": {}}))
    without = proto.encode("SmartContract", proto.from_json("SmartContract", {}))
    assert with_abi == bytes.fromhex("1a00") and without == b""


def test_permission_update_serializes_operations_and_keys() -> None:
    ops = "00000080" + "00" * 28
    value = {
        "owner_address": OWNER,
        "owner": {
            "type": "Owner",
            "permission_name": "owner",
            "threshold": 1,
            "keys": [{"address": OWNER, "weight": 1}],
        },
        "actives": [
            {
                "type": "Active",
                "permission_name": "payout",
                "threshold": 2,
                "operations": ops,
                "keys": [{"address": OWNER, "weight": 1}, {"address": CONTRACT, "weight": 1}],
            }
        ],
    }
    msg = proto.from_json("AccountPermissionUpdateContract", value)
    data = proto.encode("AccountPermissionUpdateContract", msg)
    back = proto.decode("AccountPermissionUpdateContract", data)
    assert back["actives"][0]["operations"] == bytes.fromhex(ops)
    assert back["actives"][0]["type"] == 2 and "type" not in back["owner"]  # Owner = 0: omitted
    assert [k["weight"] for k in back["actives"][0]["keys"]] == [1, 1]


def test_unsupported_contract_type_is_refused() -> None:
    raw = trigger_raw(data="00")
    raw["contract"][0]["type"] = "VoteWitnessContract"
    with pytest.raises(proto.ProtoError, match="not supported"):
        proto.raw_data_bytes(raw)


def test_block_id_starts_with_the_number() -> None:
    header = proto.encode("BlockHeaderRaw", {"number": 258, "timestamp": 1})
    block_id = proto.block_id(258, header)
    assert block_id[:8] == (258).to_bytes(8, "big")
    assert len(block_id) == 32


def test_addresses_are_read_in_both_forms() -> None:
    raw = bytes.fromhex(OWNER)
    base58 = proto.to_base58(raw)
    assert proto.parse_address(base58) == proto.parse_address(OWNER) == raw
    assert proto.parse_address("0x" + OWNER) == raw
    broken = base58[:-1] + ("1" if base58[-1] != "1" else "2")
    with pytest.raises(proto.AddressFormatError, match="base58check"):
        proto.parse_address(broken)
    with pytest.raises(proto.AddressFormatError, match="21-byte"):
        proto.parse_address(OWNER[2:])  # the 20-byte EVM form


def test_the_signing_path_does_not_load_the_local_node() -> None:
    """The emulator imports the serializer, never the other way round."""
    code = (
        "import sys, payout.tron.transaction, payout.tron.multisig, payout.tron.executor;"
        "sys.exit('payout.tron.devnet' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr or "payout.tron.devnet was imported"
