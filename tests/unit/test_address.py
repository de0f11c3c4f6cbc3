"""EVM (EIP-55) and TRON (base58check) address validation, checked against independent codecs."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address as eth_utils_checksum
from hypothesis import given
from hypothesis import strategies as st
from tronpy import keys as tron_keys

from payout.address import (
    TRON_ZERO_ADDRESS,
    ZERO_ADDRESS,
    address_bytes,
    check_evm_address,
    check_tron_address,
    evm_to_tron,
    guess_network,
    is_checksum_address,
    normalize_address,
    normalize_evm_address,
    to_checksum_address,
    tron_b58_to_hex,
    tron_hex_to_b58,
    tron_to_evm,
)
from payout.exceptions import InputError, InvalidAddressError
from payout.types import Network

# The EIP-55 specification's test vectors.
EIP55_MIXED = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
EIP55_ALL_CAPS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
]
EIP55_ALL_LOWER = [
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
]

# tron.md known answers (keys from tronpy's tests) and mainnet USDT.
TRON_VECTORS = [
    ("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1", "4194a15629b2b2bbd3a5453e6d6696b2875278633b"),
    ("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", "417e5f4552091a69125d5dfcb7b8c2659029395bdf"),
    ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"),
]


@pytest.mark.parametrize("address", EIP55_MIXED + EIP55_ALL_CAPS + EIP55_ALL_LOWER)
def test_eip55_vectors_are_accepted_and_normalized(address: str) -> None:
    normalized, code, _ = check_evm_address(address)
    assert code is None
    assert normalized == eth_utils_checksum(address)
    assert is_checksum_address(normalized)


@pytest.mark.parametrize("address", EIP55_MIXED)
def test_every_single_case_flip_breaks_the_checksum(address: str) -> None:
    for i, ch in enumerate(address[2:], start=2):
        if not ch.isalpha():
            continue
        typo = address[:i] + ch.swapcase() + address[i + 1 :]
        if typo[2:] in (typo[2:].lower(), typo[2:].upper()):
            continue  # became all-one-case: carries no checksum
        result, code, message = check_evm_address(typo)
        assert result is None and code == "address_checksum", typo
        assert typo in message


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    lower = "0x" + raw.hex()
    expected = eth_utils_checksum(lower)
    assert to_checksum_address(lower) == expected
    assert to_checksum_address(lower.upper().replace("0X", "0x")) == expected
    if raw != bytes(20):
        assert check_evm_address(expected)[0] == expected
        assert check_evm_address(lower)[0] == expected


def test_whitespace_around_an_address_is_tolerated() -> None:
    assert check_evm_address(f"  {EIP55_MIXED[0]}\t")[0] == EIP55_MIXED[0]


@pytest.mark.parametrize("zero", [ZERO_ADDRESS, ZERO_ADDRESS.upper().replace("0X", "0x")])
def test_zero_address_is_refused(zero: str) -> None:
    assert check_evm_address(zero)[1] == "address_zero"


@pytest.mark.parametrize(
    ("text", "looks_like"),
    [
        ("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1", "a TRON address"),
        ("4194a15629b2b2bbd3a5453e6d6696b2875278633b", "a TRON address in hex form"),
        ("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w2", "a TRON address (with a bad checksum)"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "a Bitcoin address"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a Bitcoin address"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bech32"),
        ("7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV", "a Solana address"),
        ("vitalik.eth", "ENS"),
        ("0x" + "ab" * 32, "32-byte hash"),
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "without its 0x prefix"),
    ],
)
def test_addresses_of_other_networks_are_named(text: str, looks_like: str) -> None:
    result, code, message = check_evm_address(text)
    assert result is None
    assert code == "address_other_network"
    assert looks_like in message
    assert looks_like in (guess_network(text) or "")


@pytest.mark.parametrize(
    "text", ["", "   ", "0x123", "0xZZZZZZ6053F3E94C9b9A09f33669435E7Ef1BeAed", "hello"]
)
def test_malformed_evm_addresses(text: str) -> None:
    result, code, _ = check_evm_address(text)
    assert result is None and code in ("address_missing", "address_format")


def test_normalize_raises_input_error_with_reason() -> None:
    with pytest.raises(InvalidAddressError, match="TRON") as info:
        normalize_evm_address("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1")
    assert isinstance(info.value, InputError)


# --- TRON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("b58", "hex41"), TRON_VECTORS)
def test_tron_known_answers(b58: str, hex41: str) -> None:
    assert tron_b58_to_hex(b58) == hex41
    assert tron_hex_to_b58(hex41) == b58
    assert check_tron_address(b58) == (b58, None, None)
    assert check_tron_address(hex41) == (b58, None, None)  # hex form accepted, normalized
    assert tron_to_evm(b58) == eth_utils_checksum("0x" + hex41[2:])
    assert evm_to_tron(tron_to_evm(b58)) == b58
    assert address_bytes(Network.TRON, b58) == bytes.fromhex(hex41[2:])


@given(st.binary(min_size=20, max_size=20))
def test_tron_codec_matches_tronpy(raw: bytes) -> None:
    hex41 = "41" + raw.hex()
    b58 = tron_hex_to_b58(hex41)
    assert b58 == tron_keys.to_base58check_address(hex41)
    assert tron_b58_to_hex(b58) == tron_keys.to_hex_address(b58)
    assert evm_to_tron("0x" + raw.hex()) == b58


def test_tron_zero_address_is_refused() -> None:
    assert tron_hex_to_b58("41" + "00" * 20) == TRON_ZERO_ADDRESS
    assert check_tron_address(TRON_ZERO_ADDRESS)[1] == "address_zero"
    assert check_tron_address("41" + "00" * 20)[1] == "address_zero"


def test_tron_checksum_typo_is_refused() -> None:
    good = TRON_VECTORS[0][0]
    for i in range(1, len(good)):
        ch = "2" if good[i] != "2" else "3"
        typo = good[:i] + ch + good[i + 1 :]
        assert check_tron_address(typo)[0] is None, typo


def test_evm_address_in_a_tron_row_is_refused_and_named() -> None:
    result, code, message = check_tron_address(EIP55_MIXED[0])
    assert result is None and code == "address_other_network"
    assert "EVM address" in message


def test_tron_hex_with_0x_prefix_gets_a_hint() -> None:
    result, code, message = check_tron_address("0x4194a15629b2b2bbd3a5453e6d6696b2875278633b")
    assert result is None and code == "address_format" and "without 0x" in message


def test_non_tron_base58check_is_refused_as_tron() -> None:
    result, code, message = check_tron_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert result is None and code == "address_other_network" and "Bitcoin" in message


def test_normalize_address_dispatches_by_network() -> None:
    assert normalize_address(Network.EVM, EIP55_ALL_LOWER[0]) == eth_utils_checksum(
        EIP55_ALL_LOWER[0]
    )
    assert normalize_address(Network.TRON, TRON_VECTORS[0][1]) == TRON_VECTORS[0][0]
    with pytest.raises(InvalidAddressError):
        normalize_address(Network.TRON, EIP55_MIXED[0])
