"""Known-answer vectors (real TRON transactions): serialization, txIDs, signatures, keys.

One serializer (``payout.tron.proto``) serves the signing path and the local node, so these
vectors are what ties it to java-tron: A (memo), C (multisig, ``Permission_id`` 2), E (a contract
call with a fee limit) and D (the deployment address rule).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from support.tron_vectors import (
    CONTRACT_D,
    JSON_A,
    JSON_C,
    JSON_E,
    JSON_FORMS,
    KEYS,
    OWNER_A,
    OWNER_C,
    OWNER_D,
    OWNER_E,
    RAW_A,
    RAW_C,
    RAW_E,
    SIG_A,
    SIG_E,
    SIGNED_E,
    SIGNERS_C,
    SIGS_C,
    TRANSACTIONS,
    TXID_A,
    TXID_C,
    TXID_D,
    TXID_E,
)
from tronpy.keys import to_hex_address

from payout.tron import proto
from payout.tron.deploy import contract_address_for
from payout.tron.signer import TronSigner, recover_signer
from payout.tron.transaction import RefBlock, trigger_raw_data


@pytest.mark.parametrize(("raw", "expected"), TRANSACTIONS)
def test_known_transactions_round_trip_to_their_txid(raw: bytes, expected: str) -> None:
    assert hashlib.sha256(raw).hexdigest() == expected
    decoded = proto.decode_raw_data(raw)
    assert proto.raw_data_bytes(decoded) == raw
    assert proto.txid(decoded) == expected


@pytest.mark.parametrize(("raw_json", "raw"), JSON_FORMS)
def test_json_raw_data_serializes_to_the_real_bytes(raw_json: dict[str, Any], raw: bytes) -> None:
    assert proto.raw_data_bytes(raw_json) == raw


def test_visible_base58_addresses_serialize_the_same() -> None:
    visible = copy.deepcopy(JSON_C)
    value = visible["contract"][0]["parameter"]["value"]
    value["owner_address"] = OWNER_C
    value["to_address"] = proto.to_base58(bytes.fromhex(value["to_address"]))
    assert proto.raw_data_bytes(visible, visible=True) == RAW_C


def test_memo_and_permission_id_are_part_of_the_txid() -> None:
    """tronpy's offline builder drops both; ours must not."""
    a = proto.decode_raw_data(RAW_A)
    assert a["data"] == JSON_A["data"] == "02c75f"
    del a["data"]
    assert proto.txid(a) != TXID_A
    c = proto.decode_raw_data(RAW_C)
    assert c["contract"][0]["Permission_id"] == 2
    del c["contract"][0]["Permission_id"]
    assert proto.txid(c) != TXID_C


def test_contract_call_fields_and_fee_limit() -> None:
    e = proto.decode_raw_data(RAW_E)
    assert e["fee_limit"] == JSON_E["fee_limit"]
    value = e["contract"][0]["parameter"]["value"]
    assert proto.to_base58(bytes.fromhex(value["owner_address"])) == OWNER_E
    assert value["data"].startswith("eb91a5ff")  # addVoters(uint256)
    cheaper = {**e, "fee_limit": e["fee_limit"] - 1}
    assert proto.txid(cheaper) != TXID_E


def test_signed_transaction_layout() -> None:
    """``Transaction`` = raw_data (field 1) + signatures (field 2), as broadcast and measured."""
    assert proto.transaction_bytes(RAW_E, [SIG_E]) == SIGNED_E
    parsed = proto.decode("Transaction", SIGNED_E)
    assert parsed["signature"] == [SIG_E]
    assert proto.encode("TransactionRaw", parsed["raw_data"]) == RAW_E


def test_signatures_recover_the_owners() -> None:
    assert recover_signer(TXID_A, SIG_A.hex()) == OWNER_A
    assert tuple(recover_signer(TXID_C, s.hex()) for s in SIGS_C) == SIGNERS_C
    assert recover_signer(TXID_E, SIG_E.hex()) == OWNER_E


@pytest.mark.parametrize(("key", "address", "_hex"), KEYS)
def test_keys_map_to_their_tron_addresses(key: str, address: str, _hex: str) -> None:
    signer = TronSigner.from_private_key(bytes.fromhex(key))
    assert signer.address == address
    signature = signer.sign_txid(TXID_A)
    assert signature[-2:] in ("00", "01")  # v in {0, 1}, as tronpy and java-tron write it
    assert recover_signer(TXID_A, signature) == address


def test_deployment_address_rule() -> None:
    assert to_hex_address(contract_address_for(TXID_D, OWNER_D)) == CONTRACT_D


def test_trigger_raw_data_round_trips() -> None:
    ref = RefBlock(number=7, block_id="0000000000000007" + "ab" * 24, timestamp_ms=0)
    raw = trigger_raw_data(
        owner="TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1",
        contract="TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
        data=bytes.fromhex("095ea7b3") + bytes(64),
        fee_limit_sun=123_000_000,
        ref=ref,
        permission_id=2,
        timestamp_ms=1_700_000_000_000,
    )
    assert raw["ref_block_bytes"] == "0007"
    decoded = proto.decode_raw_data(proto.raw_data_bytes(raw))
    assert decoded["contract"][0]["Permission_id"] == 2
    assert decoded["fee_limit"] == 123_000_000
    assert proto.txid(decoded) == proto.txid(raw)
