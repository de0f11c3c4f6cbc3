"""Known-answer vectors from real TRON transactions (shared/reference/tron.md) against the devnet's
own key, signature and deployment-address code. (Serialization is the shared serializer's, checked
against the same vectors in tests/unit/tron_path/test_proto.py.)
"""

from __future__ import annotations

import pytest
from support.tron_vectors import (
    CONTRACT_D,
    KEYS,
    OWNER_A,
    OWNER_D,
    OWNER_E,
    SIG_A,
    SIG_E,
    SIGNERS_C,
    SIGS_C,
    TXID_A,
    TXID_C,
    TXID_D,
    TXID_E,
)

from payout.tron.devnet.address import (
    address_of_private_key,
    parse_address,
    recover_signer,
    to_base58,
)
from payout.tron.devnet.evm import deploy_address


def test_signatures_recover_their_owners() -> None:
    assert to_base58(recover_signer(bytes.fromhex(TXID_A), SIG_A)) == OWNER_A
    assert to_base58(recover_signer(bytes.fromhex(TXID_E), SIG_E)) == OWNER_E


def test_signatures_c_recover_both_signers() -> None:
    signers = tuple(to_base58(recover_signer(bytes.fromhex(TXID_C), s)) for s in SIGS_C)
    assert signers == SIGNERS_C


def test_recovery_accepts_27_28_recovery_bytes() -> None:
    sig = SIG_A[:64] + bytes([SIG_A[64] + 27])
    assert to_base58(recover_signer(bytes.fromhex(TXID_A), sig)) == OWNER_A


def test_deployment_address_rule_vector_d() -> None:
    got = deploy_address(bytes.fromhex(TXID_D), bytes.fromhex(OWNER_D))
    assert got.hex() == CONTRACT_D


@pytest.mark.parametrize(("key", "address", "hex_address"), KEYS)
def test_keys_map_to_known_addresses(key: str, address: str, hex_address: str) -> None:
    derived = address_of_private_key(bytes.fromhex(key))
    assert derived.hex() == hex_address
    assert to_base58(derived) == address
    assert parse_address(address) == parse_address(hex_address) == derived


def test_zero_address_base58() -> None:
    assert to_base58(b"\x41" + b"\0" * 20) == "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
