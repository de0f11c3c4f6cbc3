"""The signing side's serializer (payout.tron.proto) and the local node's (payout.tron.devnet.proto)
are independent implementations: they must agree byte for byte on every transaction we sign."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from payout.tron.devnet import proto as node_proto
from payout.tron.proto import decode_raw_data, raw_data_bytes

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "41" + b.hex())
int64 = st.integers(min_value=0, max_value=2**63 - 1)


@st.composite
def raw_data(draw: st.DrawFn) -> dict[str, object]:
    trigger = draw(st.booleans())
    if trigger:
        value: dict[str, object] = {
            "owner_address": draw(addresses),
            "contract_address": draw(addresses),
            "data": draw(st.binary(max_size=300)).hex(),
        }
        if draw(st.booleans()):
            value["call_value"] = draw(int64)
        kind = "TriggerSmartContract"
    else:
        value = {
            "owner_address": draw(addresses),
            "to_address": draw(addresses),
            "amount": draw(int64),
        }
        kind = "TransferContract"
    contract: dict[str, object] = {
        "type": kind,
        "parameter": {"type_url": f"type.googleapis.com/protocol.{kind}", "value": value},
    }
    if draw(st.booleans()):
        contract["Permission_id"] = draw(st.integers(min_value=0, max_value=9))
    raw: dict[str, object] = {
        "contract": [contract],
        "ref_block_bytes": draw(st.binary(min_size=2, max_size=2)).hex(),
        "ref_block_hash": draw(st.binary(min_size=8, max_size=8)).hex(),
        "expiration": draw(int64),
        "timestamp": draw(int64),
    }
    if draw(st.booleans()):
        raw["data"] = draw(st.binary(min_size=1, max_size=40)).hex()
    if trigger:
        raw["fee_limit"] = draw(st.integers(min_value=0, max_value=15_000_000_000))
    return raw


@settings(max_examples=300, deadline=None, derandomize=True)
@given(raw_data())
def test_both_serializers_agree(raw: dict[str, object]) -> None:
    mine = raw_data_bytes(raw)
    assert mine == node_proto.raw_bytes_from_json(raw)
    assert raw_data_bytes(decode_raw_data(mine)) == mine
