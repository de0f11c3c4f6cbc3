"""Token units <-> base units: exact, never rounded, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payout.amount import check_amount, format_amount, parse_amount, to_decimal
from payout.exceptions import AmountError
from payout.types import UINT96_MAX


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("12.50", 6, 12_500_000),
        ("12.5", 6, 12_500_000),
        ("12", 6, 12_000_000),
        ("12.", 6, 12_000_000),
        (".5", 6, 500_000),
        ("0.000001", 6, 1),
        ("1.500000000", 6, 1_500_000),  # trailing zeros lose nothing: accepted
        ("  7.25 ", 2, 725),
        ("3", 0, 3),
        ("1.000000000000000001", 18, 10**18 + 1),
    ],
)
def test_valid_amounts(text: str, decimals: int, units: int) -> None:
    assert check_amount(text, decimals) == (units, None, None)
    assert parse_amount(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals", "code"),
    [
        ("", 6, "amount_missing"),
        ("1.0000001", 6, "amount_decimals"),
        ("0.5", 0, "amount_decimals"),
        ("0", 6, "amount_not_positive"),
        ("0.000", 6, "amount_not_positive"),
        ("-1", 6, "amount_not_positive"),
        ("+1", 6, "amount_format"),
        ("1e6", 6, "amount_format"),
        ("1,000.50", 6, "amount_format"),
        ("12,50", 6, "amount_format"),
        ("1 000", 6, "amount_format"),
        ("NaN", 6, "amount_format"),
        ("0x10", 6, "amount_format"),
        ("١٢", 6, "amount_format"),  # Arabic-Indic digits: int() would take them, we do not
        ("²", 6, "amount_format"),
        (".", 6, "amount_format"),
        ("1.2.3", 6, "amount_format"),
        ("9" * 5000, 0, "amount_too_large"),
    ],
)
def test_invalid_amounts_are_explained(text: str, decimals: int, code: str) -> None:
    units, got, message = check_amount(text, decimals)
    assert units is None and got == code and message
    with pytest.raises(AmountError):
        parse_amount(text, decimals)


def test_decimals_message_names_token_and_refuses_to_round() -> None:
    _, _, message = check_amount("1.1234567", 6, symbol="USDC")
    assert "7 decimal places" in message and "USDC has 6" in message and "round" in message


def test_uint96_limit() -> None:
    assert check_amount(str(UINT96_MAX), 0)[0] == UINT96_MAX
    assert check_amount(str(UINT96_MAX + 1), 0)[1] == "amount_too_large"
    assert check_amount("5", 0, max_units=4)[1] == "amount_too_large"


def test_parse_accepts_decimal_and_int_but_never_float() -> None:
    assert parse_amount(Decimal("1.25"), 2) == 125
    assert parse_amount(Decimal("1E+2"), 0) == 100
    assert parse_amount(3, 6) == 3_000_000
    with pytest.raises(AmountError, match="float"):
        parse_amount(0.1, 6)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=UINT96_MAX), st.integers(min_value=0, max_value=18))
def test_format_and_parse_round_trip(units: int, decimals: int) -> None:
    text = format_amount(units, decimals, min_decimals=0)
    assert parse_amount(text, decimals) == units
    assert to_decimal(units, decimals) == Decimal(text)


def test_format_amount_display() -> None:
    assert format_amount(12_500_000, 6, symbol="USDC") == "12.50 USDC"
    assert format_amount(1, 6) == "0.000001"
    assert format_amount(1_234_567_000_000, 6, grouping=True) == "1,234,567.00"
    assert format_amount(5, 0) == "5"
