"""Known-answer vectors (real TRON transactions): serialization, txIDs, signatures, keys."""

from __future__ import annotations

import hashlib

import pytest

from payout.tron.deploy import contract_address_for
from payout.tron.proto import decode_raw_data, raw_data_bytes, txid
from payout.tron.signer import TronSigner, recover_signer
from payout.tron.transaction import RefBlock, trigger_raw_data

# A. Shasta TRX transfer with a memo.
RAW_A = (
    "0a026ecf22083c083e47cbea43ec40f8dfe182a82e520302c75f5a66080112620a2d747970652e676f6f676c656170"
    "69732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412310a15419cf784b4cc7531f1598c"
    "4c322de9afdc597fe760121541340967e825557559dc46bbf0eabe5ccf99fd134e18e80770f5a2de82a82e"
)
TXID_A = "17821228a79904c23bd35e566f320c2d43e6940c0d44bc8d70f257f3485459bb"
SIG_A = (
    "c4cfe5c76bf89fe004ff59de1a33934a9419301e21fbe1f00ee5b5faf17189797a7292e872a693e7bff145e76c43ea"
    "6f26c425be70d0e0d0440331390d0d65a401"
)
# C. Multisig TRX transfer under Permission_id 2, two signatures.
RAW_C = (
    "0a02163d220877ef4ace148b05ba40d8c5e5a6a32d5a69080112630a2d747970652e676f6f676c65617069732e636f"
    "6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412320a1541a7d8a35b260395c14aa45629766209"
    "2ba3b76fc01215415a523b449890854c8fc460ab602df9f31fe4293f18c0843d2802709af4e1a6a32d"
)
TXID_C = "0ae84a8439f5aa8fd2c458879a4031a7452aebed8e6e99ffbccd26842d4323c4"
SIGS_C = (
    "e0bd4a60f1b3c89d4da3894d400e7e32385f6dd690aee17fdac4e016cdb294c5128b66f62f3947a7182c01554749"
    "6eba95510c113bda2a361d811b829343c36501",
    "596ead6439d0f381e67f30b1ed6b3687f2bd53ce5140cdb126cfe4183235804741eeaf79b4e91f251fd7042380a9"
    "485d4d29d67f112d5387bc7457b355cd3c4200",
)


@pytest.mark.parametrize(("raw", "expected"), [(RAW_A, TXID_A), (RAW_C, TXID_C)])
def test_known_transactions_round_trip_to_their_txid(raw: str, expected: str) -> None:
    assert hashlib.sha256(bytes.fromhex(raw)).hexdigest() == expected
    decoded = decode_raw_data(bytes.fromhex(raw))
    assert raw_data_bytes(decoded).hex() == raw
    assert txid(decoded) == expected


def test_memo_and_permission_id_are_part_of_the_txid() -> None:
    """tronpy's offline builder drops both; ours must not."""
    a = decode_raw_data(bytes.fromhex(RAW_A))
    assert a["data"] == "02c75f"
    del a["data"]
    assert txid(a) != TXID_A
    c = decode_raw_data(bytes.fromhex(RAW_C))
    assert c["contract"][0]["Permission_id"] == 2
    del c["contract"][0]["Permission_id"]
    assert txid(c) != TXID_C


def test_signatures_recover_the_owners() -> None:
    assert recover_signer(TXID_A, SIG_A) == "TQHAvs2ZFTbsd93ycTfw1Wuf1e4WsPZWCp"
    assert [recover_signer(TXID_C, s) for s in SIGS_C] == [
        "TNhXo1GbRNCuorvYu5JFWN3m2NYr9QQpVR",
        "TKwhcDup8L2PH5r6hxp5CQvQzZqJLmKvZP",
    ]


@pytest.mark.parametrize(
    ("key", "address"),
    [
        (
            "279ff36d9bf9f305af3280034bb4187c6dd299bac6b26a3c20b999c7c0d50e6e",
            "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1",
        ),
        ("00" * 31 + "01", "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"),
    ],
)
def test_keys_map_to_their_tron_addresses(key: str, address: str) -> None:
    signer = TronSigner.from_private_key(bytes.fromhex(key))
    assert signer.address == address
    signature = signer.sign_txid(TXID_A)
    assert signature[-2:] in ("00", "01")  # v in {0, 1}, as tronpy and java-tron write it
    assert recover_signer(TXID_A, signature) == address


def test_deployment_address_rule() -> None:
    owner = "41dd791d6b49e190062d650e6a23c575510d35f2f9"
    got = contract_address_for(
        "7fe721c3f85b6c1c9491df43778c98903b565bc4210592f449f41342041729b3", owner
    )
    from tronpy.keys import to_hex_address

    assert to_hex_address(got) == "41584587b353166787b37d1b05a4a91e59c5370bcf"


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
    decoded = decode_raw_data(raw_data_bytes(raw))
    assert decoded["contract"][0]["Permission_id"] == 2
    assert decoded["fee_limit"] == 123_000_000
    assert txid(decoded) == txid(raw)
