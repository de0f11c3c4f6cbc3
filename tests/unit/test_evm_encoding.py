"""Hand-written calldata and log decoding against the shipped ABI; fault hook; gas shares."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st

from payout.artifact import disburser_artifact
from payout.deployment import CREATE2_DEPLOYER, create2_address
from payout.disburser import (
    BATCH_DISBURSED_TOPIC,
    SEL_DISBURSE_NATIVE,
    TRANSFER_SKIPPED_TOPIC,
    amount_bytes,
    decode_disburse,
    encode_disburse,
    encode_disburse_native,
    native_encoding,
    pack_native_rows,
    pack_rows,
    split_gas,
    unpack_native_rows,
    unpack_rows,
)
from payout.fault import FAULT_EXIT_CODE
from payout.types import PayMode

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _abi_selector(name: str) -> bytes:
    from eth_utils.crypto import keccak

    item = next(
        i for i in disburser_artifact().abi if i.get("name") == name and i["type"] == "function"
    )
    sig = f"{name}({','.join(x['type'] for x in item['inputs'])})"
    return keccak(text=sig)[:4]


@given(
    st.lists(
        st.tuples(st.integers(1, 2**160 - 1), st.integers(1, 2**96 - 1)), min_size=1, max_size=20
    ),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.sampled_from([PayMode.STRICT, PayMode.SKIP]),
)
def test_calldata_equals_the_abi_encoding(
    rows: list[tuple[int, int]], batch_id: bytes, replay_key: bytes, mode: PayMode
) -> None:
    from eth_utils.address import to_checksum_address

    recipients = [to_checksum_address(r.to_bytes(20, "big")) for r, _a in rows]
    pairs = [(r, a) for r, (_x, a) in zip(recipients, rows, strict=True)]
    width, packed = pack_rows(pairs)
    total = sum(a for _r, a in rows)
    name = "disburse" if mode is PayMode.STRICT else "disburseOrSkip"
    expected = _abi_selector(name) + encode(
        ["address", "bytes32", "bytes32", "uint256", "uint256", "bytes"],
        [TOKEN, batch_id, replay_key, total, width, packed],
    )
    data = encode_disburse(TOKEN, batch_id, replay_key, total, pairs, mode)
    assert data == expected
    # Each row: 20-byte recipient, then the amount in the fewest bytes holding the largest one.
    largest = max(a for _r, a in pairs)
    assert width == max(1, (largest.bit_length() + 7) // 8) and len(packed) == len(pairs) * (
        20 + width
    )
    assert unpack_rows(width, packed) == pairs
    call = decode_disburse(data)
    assert (call.mode, call.token, call.batch_id, call.replay_key, call.total) == (
        mode,
        TOKEN,
        batch_id,
        replay_key,
        total,
    )
    assert list(call.rows) == pairs


def test_amount_width_is_the_fewest_bytes_of_the_largest_amount() -> None:
    assert amount_bytes([1]) == 1
    assert amount_bytes([255, 3]) == 1
    assert amount_bytes([256]) == 2
    assert amount_bytes([1_000 * 10**6]) == 4
    assert amount_bytes([2**96 - 1]) == 12
    with pytest.raises(ValueError):
        amount_bytes([2**96])
    with pytest.raises(ValueError):
        pack_rows([(ADDR, 0)])
    with pytest.raises(ValueError):
        unpack_rows(4, bytes(25))
    with pytest.raises(ValueError):
        unpack_rows(13, bytes(33))


def test_native_encoding_takes_the_exponent_every_amount_shares() -> None:
    assert native_encoding([5 * 10**16, 10**18]) == (16 << 8 | 1, 1, 16)
    assert native_encoding([5 * 10**16, 10**18 + 1]) == (8, 8, 0)  # one odd amount: none
    assert native_encoding([1_000 * 10**12, 3 * 10**12]) == (12 << 8 | 2, 2, 12)
    # The largest power of ten would break the 2^96 bound: lowered until it holds.
    assert native_encoding([10**28]) == (26 << 8 | 1, 1, 26)
    assert native_encoding([2**96 - 1]) == (12, 12, 0)
    for bad in ([], [0], [2**96]):
        with pytest.raises(ValueError):
            native_encoding(bad)


@given(
    st.lists(
        st.tuples(st.integers(1, 2**40), st.integers(0, 20)).map(lambda t: t[0] * 10 ** t[1]),
        min_size=1,
        max_size=20,
    ).filter(lambda xs: max(xs) <= 2**96 - 1)
)
def test_native_rows_round_trip_and_respect_the_bound(amounts: list[int]) -> None:
    pairs = [(ADDR, a) for a in amounts]
    encoding, packed = pack_native_rows(pairs)
    width, exponent = encoding & 0xFF, encoding >> 8
    assert 10**exponent << (8 * width) <= 2**96
    assert len(packed) == len(amounts) * (20 + width)
    assert unpack_native_rows(encoding, packed) == pairs
    # Never longer than the plain encoding.
    assert width <= pack_rows(pairs)[0]


def test_native_calldata_matches_the_abi() -> None:
    batch_id, key = bytes(range(32)), bytes(range(1, 33))
    pairs = [(ADDR, 5 * 10**16), (TOKEN, 7 * 10**15)]
    data = encode_disburse_native(batch_id, key, pairs)
    encoding, packed = pack_native_rows(pairs)
    assert data == SEL_DISBURSE_NATIVE + encode(
        ["bytes32", "bytes32", "uint256", "bytes"], [batch_id, key, encoding, packed]
    )
    with pytest.raises(ValueError):
        unpack_native_rows(29 << 8 | 1, packed)


def test_event_topics_match_the_abi() -> None:
    from eth_utils.crypto import keccak

    events = {i["name"]: i for i in disburser_artifact().abi if i["type"] == "event"}

    def topic(name: str) -> bytes:
        types = ",".join(x["type"] for x in events[name]["inputs"])
        return keccak(text=f"{name}({types})")

    assert topic("BatchDisbursed") == BATCH_DISBURSED_TOPIC
    assert topic("TransferSkipped") == TRANSFER_SKIPPED_TOPIC


@given(st.integers(0, 10**9), st.integers(1, 600))
def test_gas_shares_add_up(gas: int, count: int) -> None:
    shares = split_gas(gas, count)
    assert len(shares) == count and sum(shares) == gas and max(shares) - min(shares) <= 1


def test_create2_address_known_answer() -> None:
    # The EIP-1014 rule, computed independently of the implementation.
    from eth_utils.crypto import keccak

    init = b"\x00"
    salt = bytes(32)
    expected = keccak(b"\xff" + bytes.fromhex(CREATE2_DEPLOYER[2:]) + salt + keccak(init))[12:]
    assert create2_address(init, salt).lower() == "0x" + expected.hex()


@pytest.mark.parametrize(
    "spec,exits",
    [
        ("after-broadcast:2", True),
        ("after-broadcast:3", False),
        ("before-broadcast", False),
        ("", False),
    ],
)
def test_fault_hook_exits_at_the_nth_checkpoint(spec: str, exits: bool) -> None:
    code = (
        "from payout.fault import checkpoint\n"
        "checkpoint('after-broadcast')\ncheckpoint('after-receipt')\n"
        "checkpoint('after-broadcast')\n"
        "print('survived')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"PAYOUT_FAULT": spec, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if exits:
        assert proc.returncode == FAULT_EXIT_CODE and "survived" not in proc.stdout
    else:
        assert proc.returncode == 0 and "survived" in proc.stdout
