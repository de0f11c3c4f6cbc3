"""Every error the toolkit raises on purpose derives from :class:`PayoutError`.

Categories (catch these) sit directly under the root; concrete errors take typed arguments and
build a message that says what went wrong and what to do. The CLI prints ``str(error)`` and
``error.hint`` and exits with ``error.exit_code``.
"""

from __future__ import annotations


class PayoutError(Exception):
    """Root of the toolkit's errors."""

    exit_code: int = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# --- categories ---------------------------------------------------------------------------------


class InputError(PayoutError):
    """The payout file or a command argument is wrong; nothing was sent."""

    exit_code = 2


class ConfigError(PayoutError):
    """Configuration is missing or inconsistent."""

    exit_code = 3


class ChainError(PayoutError):
    """The chain (RPC node) could not be reached or answered something unexpected."""

    exit_code = 4


class ContractError(ChainError):
    """A contract call reverted or would revert; translated from the revert data."""


class FundsError(PayoutError):
    """The payer lacks tokens, gas coin or allowance."""

    exit_code = 5


class LedgerError(PayoutError):
    """The ledger refuses an operation (it would pay twice or lose a row)."""

    exit_code = 6


class SignerError(PayoutError):
    """A key store, account alias or signature problem."""

    exit_code = 7


class DeploymentError(PayoutError):
    """The disburser is missing or is not the code this toolkit ships."""

    exit_code = 8


class SafeError(PayoutError):
    """A Safe multisig proposal, signature or execution problem."""

    exit_code = 9


class TronError(PayoutError):
    """A TRON node, transaction or permission problem."""

    exit_code = 10
