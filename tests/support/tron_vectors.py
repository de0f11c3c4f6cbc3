"""Known-answer vectors from real TRON transactions, shared by the serializer and node tests.

A, C and D are those of ``shared/reference/tron.md``: sha256(raw) is the txID and the signatures
recover the owners. E is a signed ``TriggerSmartContract`` (``addVoters(113)``, fee limit
1,000 TRX) from java-tron's own test suite; its signature recovers to the owner named there. It is
the vector that pins the contract-call fields (type 31, data, ``fee_limit`` = field 18).
"""

from __future__ import annotations

from typing import Any

# A. Shasta TRX transfer with a memo.
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

# C. Multisig TRX transfer under Permission_id 2, two signatures.
RAW_C = bytes.fromhex(
    "0a02163d220877ef4ace148b05ba40d8c5e5a6a32d5a69080112630a2d747970652e676f6f676c65617069732e"
    "636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412320a1541a7d8a35b260395c14aa456"
    "297662092ba3b76fc01215415a523b449890854c8fc460ab602df9f31fe4293f18c0843d2802709af4e1a6a32d"
)
TXID_C = "0ae84a8439f5aa8fd2c458879a4031a7452aebed8e6e99ffbccd26842d4323c4"
SIGS_C = (
    bytes.fromhex(
        "e0bd4a60f1b3c89d4da3894d400e7e32385f6dd690aee17fdac4e016cdb294c5128b66f62f3947a7182c0155"
        "47496eba95510c113bda2a361d811b829343c36501"
    ),
    bytes.fromhex(
        "596ead6439d0f381e67f30b1ed6b3687f2bd53ce5140cdb126cfe4183235804741eeaf79b4e91f251fd70423"
        "80a9485d4d29d67f112d5387bc7457b355cd3c4200"
    ),
)
OWNER_C = "TRGhNNfnmgLegT4zHNjEqDSADjgmnHvubJ"
SIGNERS_C = ("TNhXo1GbRNCuorvYu5JFWN3m2NYr9QQpVR", "TKwhcDup8L2PH5r6hxp5CQvQzZqJLmKvZP")
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

# D. Contract deployment: txID + owner -> contract address.
TXID_D = "7fe721c3f85b6c1c9491df43778c98903b565bc4210592f449f41342041729b3"
OWNER_D = "41dd791d6b49e190062d650e6a23c575510d35f2f9"
CONTRACT_D = "41584587b353166787b37d1b05a4a91e59c5370bcf"

# E. TriggerSmartContract addVoters(113) on TPMBUANrTwwQAPwShn7ZZjTJz1f3F8jknj, fee limit 1,000 TRX:
# the whole signed Transaction (raw_data = field 1, one signature = field 2).
SIGNED_E = bytes.fromhex(
    "0ab4010a02bad12208a38ea6cb83e39e4b40b8b59eacd52c5a8e01081f1289010a31747970652e676f6f676c65"
    "617069732e636f6d2f70726f746f636f6c2e54726967676572536d617274436f6e747261637412540a15411b22"
    "8f5d9f934c7bb18aaa86f90418932888e7b412154192c181c5423b247b4426792bc61e0fe5123630592224eb91"
    "a5ff000000000000000000000000000000000000000000000000000000000000007170bae39aacd52c90018094"
    "ebdc031241bf1b7448157f61b8c0cbab0263c7fdbdfbc7bc556fb66d77c79a4257f913d69869cdbf77f605506d"
    "32096faa8b1b71e827c134fe226de3f4922b1478d825937e01"
)
RAW_E = SIGNED_E[3 : 3 + 0xB4]
SIG_E = SIGNED_E[3 + 0xB4 + 2 :]
TXID_E = "4a762cf5c35274781fbef9c37e7377f9ff8d09bceec1d058c7151bb3f028d3f8"
OWNER_E = "TCSgeWapPJhCqgWRxXCKb6jJ5AgNWSGjPA"
CONTRACT_E = "TPMBUANrTwwQAPwShn7ZZjTJz1f3F8jknj"
JSON_E: dict[str, Any] = {
    "contract": [
        {
            "parameter": {
                "value": {
                    "owner_address": OWNER_E,
                    "contract_address": CONTRACT_E,
                    "data": "eb91a5ff" + (113).to_bytes(32, "big").hex(),
                },
                "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
            },
            "type": "TriggerSmartContract",
        }
    ],
    "ref_block_bytes": "bad1",
    "ref_block_hash": "a38ea6cb83e39e4b",
    "expiration": 1534738275000,
    "timestamp": 1534738215354,
    "fee_limit": 1_000_000_000,
}

#: (raw bytes, txID) of every transaction vector.
TRANSACTIONS = ((RAW_A, TXID_A), (RAW_C, TXID_C), (RAW_E, TXID_E))
#: (JSON raw_data, raw bytes) of every transaction vector.
JSON_FORMS = ((JSON_A, RAW_A), (JSON_C, RAW_C), (JSON_E, RAW_E))

# Keys -> addresses (tronpy's tests).
KEYS = (
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
)
