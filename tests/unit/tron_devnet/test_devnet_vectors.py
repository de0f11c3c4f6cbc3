"""Known-answer vectors from real TRON transactions (shared/reference/tron.md) against the devnet.

The node must hash exactly what java-tron hashes: for vectors A (memo) and C (multisig,
``Permission_id`` 2) the JSON ``raw_data`` a client sends is serialized back to the real bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from payout.tron.devnet import proto
from payout.tron.devnet.address import (
    address_of_private_key,
    parse_address,
    recover_signer,
    to_base58,
)
from payout.tron.devnet.evm import deploy_address

RAW_A = bytes.fromhex(
    "0a026ecf22083c083e47cbea43ec40f8dfe182a82e520302c75f5a66080112620a2d747970652e676f6f676c65"
    "617069732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412310a15419cf784b4cc75"
    "31f1598c4c322de9afdc597fe760121541340967e825557559dc46bbf0eabe5ccf99fd134e18e80770f5a2de82"
    "a82e"
)
TXID_A = "17821228a79904c23bd35e566f320c2d43e6940c0d44bc8d70f257f3485459bb"
SIG_A = bytes.fromhex(
    "c4cfe5c76bf89fe004ff59de1a33934a9419301e21fbe1f00ee5b5faf17189797a7292e872a693e7bff145e76c"
    "43ea6f26c425be70d0e0d0440331390d0d65a401"
)
OWNER_A = "TQHAvs2ZFTbsd93ycTfw1Wuf1e4WsPZWCp"
JSON_A: dict[str, Any] = {
    "contract": [
        {
            "parameter": {
                "value": {
                    "amount": 1000,
                    "owner_address": "419cf784b4cc7531f1598c4c322de9afdc597fe760",
                    "to_address": "41340967e825557559dc46bbf0eabe5ccf99fd134e",
                },
                "type_url": "type.googleapis.com/protocol.TransferContract",
            },
            "type": "TransferContract",
        }
    ],
    "ref_block_bytes": "6ecf",
    "ref_block_hash": "3c083e47cbea43ec",
    "expiration": 1591291179000,
    "data": "02c75f",
    "timestamp": 1591291122037,
}

RAW_C = bytes.fromhex(
    "0a02163d220877ef4ace148b05ba40d8c5e5a6a32d5a69080112630a2d747970652e676f6f676c65617069732e"
    "636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412320a1541a7d8a35b260395c14aa456"
    "297662092ba3b76fc01215415a523b449890854c8fc460ab602df9f31fe4293f18c0843d2802709af4e1a6a32d"
)
TXID_C = "0ae84a8439f5aa8fd2c458879a4031a7452aebed8e6e99ffbccd26842d4323c4"
SIGS_C = [
    bytes.fromhex(
        "e0bd4a60f1b3c89d4da3894d400e7e32385f6dd690aee17fdac4e016cdb294c5128b66f62f3947a7182c0155"
        "47496eba95510c113bda2a361d811b829343c36501"
    ),
    bytes.fromhex(
        "596ead6439d0f381e67f30b1ed6b3687f2bd53ce5140cdb126cfe4183235804741eeaf79b4e91f251fd70423"
        "80a9485d4d29d67f112d5387bc7457b355cd3c4200"
    ),
]
SIGNERS_C = ["TNhXo1GbRNCuorvYu5JFWN3m2NYr9QQpVR", "TKwhcDup8L2PH5r6hxp5CQvQzZqJLmKvZP"]
JSON_C: dict[str, Any] = {
    "contract": [
        {
            "parameter": {
                "value": {
                    "amount": 1000000,
                    "owner_address": "41a7d8a35b260395c14aa456297662092ba3b76fc0",
                    "to_address": "415a523b449890854c8fc460ab602df9f31fe4293f",
                },
                "type_url": "type.googleapis.com/protocol.TransferContract",
            },
            "type": "TransferContract",
            "Permission_id": 2,
        }
    ],
    "ref_block_bytes": "163d",
    "ref_block_hash": "77ef4ace148b05ba",
    "expiration": 1555664823000,
    "timestamp": 1555664763418,
}


@pytest.mark.parametrize(("raw", "txid"), [(RAW_A, TXID_A), (RAW_C, TXID_C)])
def test_txid_is_sha256_of_raw_bytes(raw: bytes, txid: str) -> None:
    assert proto.txid_of(raw).hex() == txid == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(("raw_json", "raw"), [(JSON_A, RAW_A), (JSON_C, RAW_C)])
def test_json_raw_data_serializes_to_the_real_bytes(raw_json: dict[str, Any], raw: bytes) -> None:
    assert proto.raw_bytes_from_json(raw_json) == raw


def test_visible_base58_addresses_serialize_the_same() -> None:
    value = JSON_C["contract"][0]["parameter"]["value"]
    visible = {
        **JSON_C,
        "contract": [
            {
                **JSON_C["contract"][0],
                "parameter": {
                    **JSON_C["contract"][0]["parameter"],
                    "value": {
                        "amount": value["amount"],
                        "owner_address": "TRGhNNfnmgLegT4zHNjEqDSADjgmnHvubJ",
                        "to_address": to_base58(bytes.fromhex(value["to_address"])),
                    },
                },
            }
        ],
    }
    assert proto.raw_bytes_from_json(visible, visible=True) == RAW_C


@pytest.mark.parametrize("raw", [RAW_A, RAW_C])
def test_decoding_and_printing_round_trips(raw: bytes) -> None:
    printed = proto.to_json("TransactionRaw", proto.decode("TransactionRaw", raw))
    assert proto.raw_bytes_from_json(printed) == raw


def test_memo_and_permission_id_change_the_txid() -> None:
    without_memo = {k: v for k, v in JSON_A.items() if k != "data"}
    assert proto.txid_of(proto.raw_bytes_from_json(without_memo)).hex() != TXID_A
    contract = {k: v for k, v in JSON_C["contract"][0].items() if k != "Permission_id"}
    owner_only = {**JSON_C, "contract": [contract]}
    assert proto.txid_of(proto.raw_bytes_from_json(owner_only)).hex() != TXID_C


def test_signature_a_recovers_the_owner() -> None:
    assert to_base58(recover_signer(bytes.fromhex(TXID_A), SIG_A)) == OWNER_A


def test_signatures_c_recover_both_signers() -> None:
    signers = [to_base58(recover_signer(bytes.fromhex(TXID_C), s)) for s in SIGS_C]
    assert signers == SIGNERS_C


def test_recovery_accepts_27_28_recovery_bytes() -> None:
    sig = SIG_A[:64] + bytes([SIG_A[64] + 27])
    assert to_base58(recover_signer(bytes.fromhex(TXID_A), sig)) == OWNER_A


def test_deployment_address_rule_vector_d() -> None:
    txid = bytes.fromhex("7fe721c3f85b6c1c9491df43778c98903b565bc4210592f449f41342041729b3")
    owner = bytes.fromhex("41dd791d6b49e190062d650e6a23c575510d35f2f9")
    assert deploy_address(txid, owner).hex() == "41584587b353166787b37d1b05a4a91e59c5370bcf"


@pytest.mark.parametrize(
    ("key", "address", "hex_address"),
    [
        (
            "279ff36d9bf9f305af3280034bb4187c6dd299bac6b26a3c20b999c7c0d50e6e",
            "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1",
            "4194a15629b2b2bbd3a5453e6d6696b2875278633b",
        ),
        (
            "00" * 31 + "01",
            "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
            "417e5f4552091a69125d5dfcb7b8c2659029395bdf",
        ),
    ],
)
def test_keys_map_to_known_addresses(key: str, address: str, hex_address: str) -> None:
    derived = address_of_private_key(bytes.fromhex(key))
    assert derived.hex() == hex_address
    assert to_base58(derived) == address
    assert parse_address(address) == parse_address(hex_address) == derived


def test_zero_address_base58() -> None:
    assert to_base58(b"\x41" + b"\0" * 20) == "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
