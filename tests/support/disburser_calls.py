"""Calling the disburser contract from tests with one 32-byte word per recipient.

The tests describe a batch as ``(token, batch id, total, words)`` with ``word = recipient (20
bytes) || amount (12 bytes)``; :func:`calls` turns that into the contract's calling convention:
the batch id doubles as the replay key, and the rows are packed with the fewest amount bytes, as
:func:`payout.disburser.pack_rows` does (amount 0 and the zero address are passed through
unchanged here, so that the contract's own refusals are tested). Native batches carry the largest
decimal exponent their amounts share, as :func:`payout.disburser.pack_native_rows` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def rows_of(words: Sequence[bytes]) -> tuple[int, bytes]:
    """``(amountBytes, packed)`` of 32-byte recipient words."""
    amounts = [int.from_bytes(w[20:32], "big") for w in words]
    width = max(1, (max(amounts, default=0).bit_length() + 7) // 8)
    rows = zip(words, amounts, strict=True)
    return width, b"".join(bytes(w[:20]) + a.to_bytes(width, "big") for w, a in rows)


def native_rows_of(words: Sequence[bytes]) -> tuple[int, bytes]:
    """``(encoding, packed)`` of 32-byte recipient words for ``disburseNative``: the mantissas
    with the batch's decimal exponent (``encoding = amountBytes | exponent << 8``)."""
    amounts = [int.from_bytes(w[20:32], "big") for w in words]
    exponent = 0
    while exponent < 28 and any(amounts) and all(a % 10 ** (exponent + 1) == 0 for a in amounts):
        exponent += 1
    while True:
        mantissas = [a // 10**exponent for a in amounts]
        width = max(1, (max(mantissas, default=0).bit_length() + 7) // 8)
        if 10**exponent << (8 * width) <= 1 << 96:
            break
        exponent -= 1
    rows = zip(words, mantissas, strict=True)
    packed = b"".join(bytes(w[:20]) + m.to_bytes(width, "big") for w, m in rows)
    return width | exponent << 8, packed


class _Method:
    def __init__(self, method: Any, native: bool) -> None:
        self._method = method
        self._native = native

    def _args(self, args: Sequence[Any]) -> tuple[Any, ...]:
        if self._native:
            batch_id, words = args
            return (batch_id, batch_id, *native_rows_of(words))
        token, batch_id, total, words = args
        return (token, batch_id, batch_id, total, *rows_of(words))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._method(*self._args(args), **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return self._method.call(*self._args(args), **kwargs)

    def encode_input(self, *args: Any) -> Any:
        return self._method.encode_input(*self._args(args))


class calls:
    """``calls(disburser).disburse(token, batch_id, total, words, sender=...)`` and the same for
    ``disburseOrSkip``; ``disburseNative(batch_id, words, ...)``."""

    def __init__(self, contract: Any) -> None:
        self.disburse = _Method(contract.disburse, native=False)
        self.disburseOrSkip = _Method(contract.disburseOrSkip, native=False)
        self.disburseNative = _Method(contract.disburseNative, native=True)
