"""The one place that turns revert data into :class:`~payout.exceptions.ContractError` subclasses.

It knows the disburser's custom errors (read from the shipped ABI, so selectors never drift from
the contract), the standard token errors (ERC-6093 custom errors as in OpenZeppelin v5,
``Error(string)`` reasons of USDC/USDT-style tokens, Solidity panics) and what an empty revert
usually means. ``TransferFailed`` carries the token's own revert data; it is translated too and
attached as :attr:`~payout.exceptions.TransferFailedError.cause`.

Entry points:
- :func:`translate_revert` -- recognised revert data to an error, else ``None``;
- :func:`translate` -- always an error (:class:`~payout.exceptions.UnknownRevertError` as the
  fallback), optionally prefixed with what was being done (``context``);
- :func:`revert_data_of` / :func:`translate_exception` -- dig the revert data out of web3 or ape
  exceptions;
- :func:`diagnose` -- the step after translation for tokens that refuse without a reason (USDT)
  or without saying whom (USDC): the token's own ``paused()`` and ``isBlackListed(address)`` /
  ``isBlacklisted(address)`` are read for the accounts the failing call involved, and a match
  replaces the error with one naming the cause (token paused; payer, disburser or recipient
  blacklisted, the recipient by its file line).
The same bytes come back from TRON nodes (``contractResult``), so this serves the TRC-20 path too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.artifact import disburser_artifact
from payout.exceptions import (
    BadPackingError,
    BalanceMismatchError,
    BalanceUnreadableError,
    BatchAlreadyExecutedError,
    ContractError,
    EmptyBatchError,
    InsufficientValueError,
    PanicError,
    PullFailedError,
    ReenteredError,
    RefundFailedError,
    TokenAccountBlacklistedError,
    TokenAccountBlockedError,
    TokenHasNoCodeError,
    TokenInsufficientAllowanceError,
    TokenInsufficientBalanceError,
    TokenInvalidReceiverError,
    TokenIsPausedError,
    TokenPausedError,
    TokenReturnedFalseError,
    TokenRevertedError,
    TotalMismatchError,
    TransferFailedError,
    UnknownRevertError,
    ZeroRecipientError,
)
from payout.types import Network

__all__ = [
    "ERROR_STRING_SELECTOR",
    "PANIC_SELECTOR",
    "PULL_INDEX",
    "TOKEN_STATE_SIGNATURES",
    "Party",
    "ReadCall",
    "RefusalScene",
    "diagnose",
    "disburser_error_selectors",
    "revert_data_of",
    "translate",
    "translate_exception",
    "translate_revert",
    "with_context",
]

#: ``Error(string)``, what ``require(cond, "reason")`` reverts with.
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
#: ``Panic(uint256)``, what failed asserts and checked arithmetic revert with.
PANIC_SELECTOR = bytes.fromhex("4e487b71")
#: ``TransferFailed`` index meaning "the pull of the total from the payer".
PULL_INDEX = 2**256 - 1

# A TransferFailed reason is itself translated; a token that re-enters a disburser-like contract
# could nest further, so the depth is bounded.
_MAX_NESTING = 4

_PANIC_MEANINGS = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _checksum(value: object) -> str:
    return to_checksum_address(str(value))


# --- disburser custom errors ----------------------------------------------------------------------

_Builder = Callable[[Sequence[Any], int], ContractError]


def _transfer_failed(args: Sequence[Any], depth: int) -> ContractError:
    index, reason = int(args[0]), bytes(args[1])
    cause = _translate_nested(reason, depth + 1)
    if index == PULL_INDEX:
        return PullFailedError(cause, reason)
    return TransferFailedError(index, cause, reason)


_DISBURSER_BUILDERS: dict[str, _Builder] = {
    "BatchAlreadyExecuted": lambda a, _d: BatchAlreadyExecutedError(_checksum(a[0]), bytes(a[1])),
    "TokenHasNoCode": lambda a, _d: TokenHasNoCodeError(_checksum(a[0])),
    "TotalMismatch": lambda a, _d: TotalMismatchError(int(a[0]), int(a[1])),
    "ZeroRecipient": lambda a, _d: ZeroRecipientError(int(a[0])),
    "EmptyBatch": lambda _a, _d: EmptyBatchError(),
    "BadPacking": lambda a, _d: BadPackingError(int(a[0]), int(a[1])),
    "TransferFailed": _transfer_failed,
    "BalanceMismatch": lambda a, _d: BalanceMismatchError(int(a[0]), int(a[1])),
    "BalanceUnreadable": lambda a, _d: BalanceUnreadableError(_checksum(a[0])),
    "InsufficientValue": lambda a, _d: InsufficientValueError(int(a[0]), int(a[1])),
    "RefundFailed": lambda _a, _d: RefundFailedError(),
    "Reentered": lambda _a, _d: ReenteredError(),
}


def _abi_type(item: Mapping[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


@functools.cache
def _disburser_errors() -> dict[bytes, tuple[str, tuple[str, ...]]]:
    table: dict[bytes, tuple[str, tuple[str, ...]]] = {}
    for item in disburser_artifact().abi:
        if item.get("type") != "error":
            continue
        types = tuple(_abi_type(i) for i in item.get("inputs", []))
        name = str(item["name"])
        table[_selector(f"{name}({','.join(types)})")] = (name, types)
    return table


def disburser_error_selectors() -> dict[str, bytes]:
    """``{error name: 4-byte selector}`` for every custom error of the shipped disburser."""
    return {name: sel for sel, (name, _types) in _disburser_errors().items()}


# --- token errors ---------------------------------------------------------------------------------

# ERC-6093 custom errors (OpenZeppelin v5) and OpenZeppelin v5 Pausable.
_TOKEN_CUSTOM: dict[bytes, tuple[tuple[str, ...], Callable[[Sequence[Any]], ContractError]]] = {
    _selector("ERC20InsufficientBalance(address,uint256,uint256)"): (
        ("address", "uint256", "uint256"),
        lambda a: TokenInsufficientBalanceError(
            "ERC20InsufficientBalance", _checksum(a[0]), int(a[1]), int(a[2])
        ),
    ),
    _selector("ERC20InsufficientAllowance(address,uint256,uint256)"): (
        ("address", "uint256", "uint256"),
        lambda a: TokenInsufficientAllowanceError(
            "ERC20InsufficientAllowance", _checksum(a[0]), int(a[1]), int(a[2])
        ),
    ),
    _selector("ERC20InvalidReceiver(address)"): (
        ("address",),
        lambda a: TokenInvalidReceiverError("ERC20InvalidReceiver", _checksum(a[0])),
    ),
    _selector("ERC20InvalidSender(address)"): (
        ("address",),
        lambda a: TokenRevertedError(f"ERC20InvalidSender({_checksum(a[0])})"),
    ),
    _selector("ERC20InvalidApprover(address)"): (
        ("address",),
        lambda a: TokenRevertedError(f"ERC20InvalidApprover({_checksum(a[0])})"),
    ),
    _selector("ERC20InvalidSpender(address)"): (
        ("address",),
        lambda a: TokenRevertedError(f"ERC20InvalidSpender({_checksum(a[0])})"),
    ),
    _selector("EnforcedPause()"): ((), lambda _a: TokenPausedError("EnforcedPause")),
}

# Error(string) reasons, matched case-insensitively by substring, first match wins. Covers
# OpenZeppelin v4 ("ERC20: ..."), USDC/FiatToken ("Blacklistable: ...", "Pausable: paused"),
# SafeMath-era tokens and common phrasings.
_REASON_PATTERNS: tuple[tuple[tuple[str, ...], Callable[[str], ContractError]], ...] = (
    (("blacklist", "frozen", "blocked", "sanction"), TokenAccountBlockedError),
    (("paused",), TokenPausedError),
    (("allowance",), TokenInsufficientAllowanceError),
    (
        (
            "exceeds balance",
            "insufficient balance",
            "insufficient funds",
            "balance too low",
            "not enough balance",
            "subtraction overflow",
        ),
        TokenInsufficientBalanceError,
    ),
    (("zero address", "invalid receiver", "invalid recipient"), TokenInvalidReceiverError),
)


def _from_reason(reason: str) -> ContractError:
    lowered = reason.lower()
    for needles, build in _REASON_PATTERNS:
        if any(n in lowered for n in needles):
            return build(reason)
    return TokenRevertedError(reason)


def _decode_reason_string(payload: bytes) -> str | None:
    decoded = _decode(["string"], payload)
    return None if decoded is None else str(decoded[0])


# --- translation ----------------------------------------------------------------------------------


def _decode(types: Sequence[str], payload: bytes) -> tuple[Any, ...] | None:
    # Every ABI head slot is 32 bytes; eth_abi would silently read missing bytes as zeros.
    if len(payload) < 32 * len(types):
        return None
    try:
        return tuple(abi_decode(list(types), payload))
    except (DecodingError, ValueError, OverflowError):
        return None


def _translate(data: bytes, depth: int) -> ContractError | None:
    if len(data) < 4:
        return None
    selector, payload = data[:4], data[4:]
    if selector == ERROR_STRING_SELECTOR:
        reason = _decode_reason_string(payload)
        return None if reason is None else _from_reason(reason)
    if selector == PANIC_SELECTOR:
        panic = _decode(["uint256"], payload)
        if panic is None:
            return None
        code = int(panic[0])
        return PanicError(code, _PANIC_MEANINGS.get(code, "unknown panic code"))
    known = _disburser_errors().get(selector)
    if known is not None:
        name, types = known
        args = _decode(types, payload)
        builder = _DISBURSER_BUILDERS.get(name)
        return builder(args, depth) if args is not None and builder is not None else None
    token = _TOKEN_CUSTOM.get(selector)
    if token is not None:
        token_types, build = token
        token_args = _decode(token_types, payload)
        return build(token_args) if token_args is not None else None
    return None


def _translate_nested(reason: bytes, depth: int) -> ContractError:
    """A callee's revert data inside TransferFailed: always some error, never None."""
    if not reason:
        return TokenRevertedError("")
    if reason == bytes(32):
        # An ABI-encoded false: the pull returned without moving anything (see TransferFailed).
        return TokenReturnedFalseError()
    if depth <= _MAX_NESTING:
        found = _translate(reason, depth)
        if found is not None:
            return found
    shown = "0x" + reason[:68].hex() + ("..." if len(reason) > 68 else "")
    return TokenRevertedError(f"unrecognised revert data {shown}")


def translate_revert(data: bytes) -> ContractError | None:
    """Translate revert data the toolkit recognises; ``None`` for empty or unknown data."""
    return _translate(bytes(data), 0)


def translate(data: bytes | None, *, context: str | None = None) -> ContractError:
    """Always an error: the translation of ``data``, or :class:`UnknownRevertError`.

    ``context`` (what was being done, e.g. ``"simulating batch 3"``) prefixes the message and is
    kept as ``error.context``.
    """
    raw = bytes(data or b"")
    error = translate_revert(raw) or UnknownRevertError(raw)
    return with_context(error, context)


def with_context(error: ContractError, context: str | None) -> ContractError:
    """``error`` with ``context`` (what was being done) prefixed to its message and kept as
    ``error.context``."""
    if context:
        error.args = (f"{context}: {error.args[0]}", *error.args[1:])
    error.context = context  # type: ignore[attr-defined]
    return error


# --- exceptions from web3 / ape -------------------------------------------------------------------


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    if isinstance(value, Mapping):
        return _as_bytes(value.get("data"))
    return None


def _ape_custom_error_data(exc: BaseException) -> bytes | None:
    """Re-encode an ape ``CustomError`` (it keeps the decoded ABI and inputs, not the bytes)."""
    abi = getattr(exc, "abi", None)
    inputs = getattr(exc, "inputs", None)
    if abi is None or not isinstance(inputs, Mapping) or getattr(abi, "type", None) != "error":
        return None
    try:
        types = [i.canonical_type for i in abi.inputs]
        values = [inputs[i.name] for i in abi.inputs]
        return bytes(_selector(abi.selector)) + abi_encode(types, values)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def revert_data_of(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 or ape exception (or one it wraps), if any."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        data = _as_bytes(getattr(current, "data", None))
        if data is not None:
            return data
        data = _ape_custom_error_data(current)
        if data is not None:
            return data
        message = getattr(current, "revert_message", None)
        data = _as_bytes(message) if isinstance(message, str) else None
        if data is not None:
            return data
        for nxt in (getattr(current, "base_err", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                pending.append(nxt)
    return None


def translate_exception(exc: BaseException, *, context: str | None = None) -> ContractError | None:
    """Translate the revert inside a web3/ape exception; ``None`` if it carries no revert data."""
    data = revert_data_of(exc)
    if data is None:
        return None
    return translate(data, context=context)


# --- diagnosis: what the token's own state says about a refusal -----------------------------------

SEL_PAUSED = _selector("paused()")
#: USDC (FiatToken) and DemoUSDC spell it so...
SEL_IS_BLACKLISTED = _selector("isBlacklisted(address)")
#: ...Tether (USDT on Ethereum and on TRON) so.
SEL_IS_BLACK_LISTED = _selector("isBlackListed(address)")
_BLACKLIST_FUNCTIONS = (
    (SEL_IS_BLACKLISTED, "isBlacklisted"),
    (SEL_IS_BLACK_LISTED, "isBlackListed"),
)

#: The token-state functions :func:`diagnose` reads, by selector (TRON nodes take the signature).
TOKEN_STATE_SIGNATURES = {
    SEL_PAUSED: "paused()",
    SEL_IS_BLACKLISTED: "isBlacklisted(address)",
    SEL_IS_BLACK_LISTED: "isBlackListed(address)",
}

#: A read-only call: (contract, calldata) -> return data, or None when the call reverts or fails
#: (the token has no such function).
ReadCall = Callable[[str, bytes], bytes | None]

# Refusals a token's pause or blacklist can explain: no reason, an unspecific one, or one that
# does not say whom. Input errors (total, zero recipient, replay) and clear balance or allowance
# reasons are never second-guessed.
_EXPLAINABLE = (
    TokenRevertedError,
    TokenAccountBlockedError,
    TokenPausedError,
    TokenReturnedFalseError,
    UnknownRevertError,
)


@dataclass(frozen=True)
class Party:
    """An account a failing batch involves: ``role`` is payer, disburser or recipient; ``where``
    locates a recipient's row (``payouts.csv:5``)."""

    role: str
    address: str
    where: str = ""


@dataclass(frozen=True)
class RefusalScene:
    """The token and the accounts of the call that failed (recipients by index in the batch)."""

    token: str
    payer: Party
    disburser: Party
    recipients: Mapping[int, Party] = field(default_factory=dict)


def _flag(data: bytes | None) -> bool | None:
    """An ABI ``bool`` answer; None when the call failed or answered something else."""
    if data is None or len(data) < 32:
        return None
    value = int.from_bytes(data[:32], "big")
    return bool(value) if value in (0, 1) else None


def _account_id(address: str) -> bytes:
    """The 20 bytes a contract sees for an EVM ``0x...`` or a TRON ``T...`` address."""
    from payout.address import address_bytes

    network = Network.EVM if address[:2] in ("0x", "0X") else Network.TRON
    return address_bytes(network, address)


def _suspects(error: ContractError, scene: RefusalScene) -> list[Party] | None:
    """Accounts whose blacklisting would explain ``error`` (most likely first); None when the
    error is not one a pause or a blacklist explains."""
    if isinstance(error, PullFailedError):
        # transferFrom(payer -> disburser): USDT checks the payer, USDC both.
        return [scene.payer, scene.disburser] if isinstance(error.cause, _EXPLAINABLE) else None
    if isinstance(error, TransferFailedError):
        if not isinstance(error.cause, _EXPLAINABLE):
            return None
        recipient = scene.recipients.get(error.index)
        # Small batches are paid by transferFrom(payer -> recipient): the payer is a suspect too.
        return [scene.disburser, *([recipient] if recipient is not None else []), scene.payer]
    if isinstance(error, RefundFailedError):
        # Skip mode returns the skipped amounts from the disburser to the payer.
        return [scene.disburser, scene.payer]
    if isinstance(error, _EXPLAINABLE):
        # No index: the payer and the disburser, and a lone recipient (an approval, a batch of one).
        lone = list(scene.recipients.values()) if len(scene.recipients) == 1 else []
        return [scene.payer, scene.disburser, *lone]
    return None


def _reason_of(error: ContractError) -> str:
    inner = getattr(error, "cause", None)
    found = getattr(inner if isinstance(inner, ContractError) else error, "reason", "")
    return str(found or "")


def diagnose(error: ContractError, read: ReadCall, scene: RefusalScene) -> ContractError:
    """The cause of a token refusal from the token's own state, else ``error`` unchanged.

    Reads ``paused()`` and, for each suspect (see :func:`_suspects`), ``isBlacklisted`` then
    ``isBlackListed`` -- whichever the token has; a function that reverts counts as absent. The
    replacement keeps ``error``'s context prefix and the original as ``revert``.
    """
    suspects = _suspects(error, scene)
    if suspects is None:
        return error
    reason = _reason_of(error)
    found: ContractError | None = None
    if _flag(read(scene.token, SEL_PAUSED)):
        found = TokenIsPausedError(scene.token, reason)
    else:
        functions = list(_BLACKLIST_FUNCTIONS)
        for party in suspects:
            word = bytes(12) + _account_id(party.address)
            for selector, name in list(functions):
                answer = _flag(read(scene.token, selector + word))
                if answer is None:
                    functions.remove((selector, name))  # not this token's spelling
                    continue
                if answer:
                    found = TokenAccountBlacklistedError(
                        party.role, party.address, party.where, name, reason
                    )
                break
            if found is not None:
                break
    if found is None:
        return error
    found.revert = error  # type: ignore[attr-defined]
    return with_context(found, getattr(error, "context", None))
