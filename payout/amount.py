"""Token amounts: text/Decimal at the edges, ``int`` base units inside. Never floats, never
rounding.

``parse_amount("12.50", 6) == 12_500_000``. An amount with more significant decimals than the token
has is refused (``1.0000001`` for a 6-decimal token); trailing zeros beyond the token's decimals are
harmless (``1.5000000`` is exactly ``1.5``) and accepted.
"""

from __future__ import annotations

import re
from decimal import Decimal

from payout.exceptions import AmountError
from payout.types import UINT96_MAX

CODE_AMOUNT_MISSING = "amount_missing"
CODE_AMOUNT_FORMAT = "amount_format"
CODE_AMOUNT_NOT_POSITIVE = "amount_not_positive"
CODE_AMOUNT_DECIMALS = "amount_decimals"
CODE_AMOUNT_TOO_LARGE = "amount_too_large"


def check_amount(
    text: str, decimals: int, max_units: int = UINT96_MAX, symbol: str = ""
) -> tuple[int, None, None] | tuple[None, str, str]:
    """Convert token units (``"12.50"``) to base units; never raises.

    Returns ``(base_units, None, None)`` or ``(None, code, message)``. Accepted: digits with an
    optional ``.`` fraction (``12``, ``12.5``, ``.5``, ``12.``), surrounding spaces. Refused: signs,
    zero, exponents, thousands separators, decimal commas, more decimals than ``decimals``, and
    anything above ``max_units`` base units (the contract packs amounts into ``uint96``).
    """
    s = text.strip()
    whole, _dot, frac = s.partition(".")
    # ASCII digits only: str.isdigit alone would accept superscripts and other scripts' digits.
    if not (
        s.isascii() and (whole.isdigit() or (not whole and frac)) and (not frac or frac.isdigit())
    ):
        if not s:
            return None, CODE_AMOUNT_MISSING, "amount is empty"
        return None, *_explain_format(s)
    frac = frac.rstrip("0")
    if len(frac) > decimals:
        unit = f" {symbol}" if symbol else ""
        return (
            None,
            CODE_AMOUNT_DECIMALS,
            f"{s} has {len(frac)} decimal places but the token{unit} has {decimals}; "
            f"refusing to round",
        )
    if len(whole) > 80:  # far above uint256; also keeps int() below its digit limit
        return None, CODE_AMOUNT_TOO_LARGE, f"amount {s[:20]}... is far above the contract's limit"
    units = int(whole or "0") * 10**decimals + (
        int(frac) * 10 ** (decimals - len(frac)) if frac else 0
    )
    if units == 0:
        return None, CODE_AMOUNT_NOT_POSITIVE, f"amount {s} is zero; it must be greater than 0"
    if units > max_units:
        return (
            None,
            CODE_AMOUNT_TOO_LARGE,
            f"amount {s} is {units} base units, above the contract's limit of {max_units} "
            f"(uint96); split it into several payouts",
        )
    return units, None, None


def _explain_format(s: str) -> tuple[str, str]:
    body = s.lstrip("+-").strip()
    if s.startswith("-"):
        return CODE_AMOUNT_NOT_POSITIVE, f"amount {s} is negative; it must be greater than 0"
    if s.startswith("+"):
        return CODE_AMOUNT_FORMAT, f"amount {s}: write it without a sign"
    if re.fullmatch(r"\d+(\.\d*)?[eE][+-]?\d+", body):
        return CODE_AMOUNT_FORMAT, (
            f"amount {s} is in scientific notation (a spreadsheet export?); write plain digits"
        )
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", body):
        return CODE_AMOUNT_FORMAT, f"amount {s} has thousands separators; remove the commas"
    if re.fullmatch(r"\d+,\d+", body):
        return CODE_AMOUNT_FORMAT, f"amount {s} uses a decimal comma; use a point (12.50)"
    if body.upper() in ("NAN", "INF", "INFINITY"):
        return CODE_AMOUNT_FORMAT, f"amount {s} is not a number"
    return CODE_AMOUNT_FORMAT, f"amount {s!r} is not a plain decimal number like 12.50"


def parse_amount(
    value: str | int | Decimal, decimals: int, *, max_units: int = UINT96_MAX, symbol: str = ""
) -> int:
    """Token units -> base units; raises :class:`AmountError` instead of rounding.

    ``value`` may be text (``"12.50"``), an ``int`` of token units or a ``Decimal``. Floats are
    refused:
    their binary value is usually not the decimal the user wrote.
    """
    if isinstance(value, (bool, float)):
        raise AmountError(repr(value), "pass amounts as text or Decimal, never float")
    text = format_decimal(value) if isinstance(value, Decimal) else str(value)
    units, _code, message = check_amount(text, decimals, max_units=max_units, symbol=symbol)
    if units is None:
        raise AmountError(text, message or "invalid")
    return units


def format_decimal(value: Decimal) -> str:
    """Plain (non-exponent) text of a Decimal: ``Decimal('1E+2')`` -> ``"100"``."""
    if not value.is_finite():
        return str(value)
    return f"{value:f}"


def to_decimal(units: int, decimals: int) -> Decimal:
    """Base units -> token units as an exact Decimal.

    Built from text: ``Decimal.scaleb`` would round to the context's 28 digits, and uint96 amounts
    have up to 29."""
    return Decimal(f"{units}e-{decimals}")


def format_amount(
    units: int, decimals: int, *, symbol: str = "", min_decimals: int = 2, grouping: bool = False
) -> str:
    """Text of base units: ``format_amount(12_500_000, 6, symbol="USDC") == "12.50 USDC"``.

    Exact (string arithmetic on the integer); shows at least ``min_decimals`` places and never
    drops a significant digit. ``grouping=True`` adds thousands separators (for display only: the
    manifest parser refuses them).
    """
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    whole, frac = (digits[:-decimals], digits[-decimals:]) if decimals else (digits, "")
    frac = frac.rstrip("0")
    if len(frac) < min(min_decimals, decimals):
        frac = frac.ljust(min(min_decimals, decimals), "0")
    whole_text = f"{int(whole):,}" if grouping else str(int(whole))
    text = f"{sign}{whole_text}" + (f".{frac}" if frac else "")
    return f"{text} {symbol}" if symbol else text
