"""payout.revert: disburser custom errors and token reverts become helpful ContractErrors."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError, ContractLogicError

from payout import revert
from payout.exceptions import (
    BadPackingError,
    BalanceMismatchError,
    BalanceUnreadableError,
    BatchAlreadyExecutedError,
    ContractError,
    EmptyBatchError,
    FundsError,
    InsufficientValueError,
    PanicError,
    PullFailedError,
    ReenteredError,
    RefundFailedError,
    TokenAccountBlockedError,
    TokenHasNoCodeError,
    TokenInsufficientAllowanceError,
    TokenInsufficientBalanceError,
    TokenInvalidReceiverError,
    TokenPausedError,
    TokenRevertedError,
    TotalMismatchError,
    TransferFailedError,
    UnknownRevertError,
    ZeroRecipientError,
)

PAYER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def err(
    signature: str, types: list[str] | None = None, values: list[object] | None = None
) -> bytes:
    return keccak(text=signature)[:4] + encode(types or [], values or [])


def reason(text: str) -> bytes:
    return err("Error(string)", ["string"], [text])


def transfer_failed(index: int, inner: bytes) -> bytes:
    return err("TransferFailed(uint256,bytes)", ["uint256", "bytes"], [index, inner])


def test_every_disburser_error_in_the_abi_is_translated() -> None:
    selectors = revert.disburser_error_selectors()
    assert set(selectors) == {
        "BatchAlreadyExecuted",
        "TokenHasNoCode",
        "TotalMismatch",
        "ZeroRecipient",
        "EmptyBatch",
        "BadPacking",
        "TransferFailed",
        "BalanceMismatch",
        "BalanceUnreadable",
        "InsufficientValue",
        "RefundFailed",
        "Reentered",
    }
    for name, selector in selectors.items():
        # Minimal well-formed payload per error: zero/empty arguments decode for every type used.
        types = {
            "BatchAlreadyExecuted": ["address", "bytes32"],
            "TokenHasNoCode": ["address"],
            "TotalMismatch": ["uint256", "uint256"],
            "ZeroRecipient": ["uint256"],
            "BadPacking": ["uint256", "uint256"],
            "TransferFailed": ["uint256", "bytes"],
            "BalanceMismatch": ["uint256", "uint256"],
            "BalanceUnreadable": ["address"],
            "InsufficientValue": ["uint256", "uint256"],
        }.get(name, [])
        values = [b"" if t == "bytes" else b"\0" * 32 if t == "bytes32" else 0 for t in types]
        values = [
            "0x" + "00" * 20 if t == "address" else v for t, v in zip(types, values, strict=True)
        ]
        translated = revert.translate_revert(selector + encode(types, values))
        assert isinstance(translated, ContractError), name
        assert not isinstance(translated, UnknownRevertError), name


@pytest.mark.parametrize(
    ("data", "cls", "attrs", "words"),
    [
        (
            err(
                "BatchAlreadyExecuted(address,bytes32)",
                ["address", "bytes32"],
                [PAYER, b"\x07" * 32],
            ),
            BatchAlreadyExecutedError,
            {"payer": PAYER, "replay_key": b"\x07" * 32},
            ["already executed", "07070707", "reconcile"],
        ),
        (
            err("BadPacking(uint256,uint256)", ["uint256", "uint256"], [4, 25]),
            BadPackingError,
            {"amount_bytes": 4, "length": 25},
            ["malformed", "25 bytes", "4-byte"],
        ),
        (
            err("TokenHasNoCode(address)", ["address"], [TOKEN]),
            TokenHasNoCodeError,
            {"token": TOKEN},
            ["no contract code", TOKEN],
        ),
        (
            err("TotalMismatch(uint256,uint256)", ["uint256", "uint256"], [100, 99]),
            TotalMismatchError,
            {"declared": 100, "actual": 99},
            ["100", "99"],
        ),
        (err("ZeroRecipient(uint256)", ["uint256"], [4]), ZeroRecipientError, {"index": 4}, ["#4"]),
        (err("EmptyBatch()"), EmptyBatchError, {}, ["no recipients"]),
        (
            err("BalanceMismatch(uint256,uint256)", ["uint256", "uint256"], [1000, 990]),
            BalanceMismatchError,
            {"expected": 1000, "actual": 990},
            ["990", "1000", "Fee-on-transfer"],
        ),
        (
            err("BalanceUnreadable(address)", ["address"], [TOKEN]),
            BalanceUnreadableError,
            {"token": TOKEN},
            ["balanceOf"],
        ),
        (
            err("InsufficientValue(uint256,uint256)", ["uint256", "uint256"], [10, 9]),
            InsufficientValueError,
            {"total": 10, "value": 9},
            ["needs 10", "sent 9"],
        ),
        (err("RefundFailed()"), RefundFailedError, {}, ["return funds"]),
        (err("Reentered()"), ReenteredError, {}, ["re-entered"]),
    ],
)
def test_disburser_errors(
    data: bytes, cls: type, attrs: dict[str, object], words: list[str]
) -> None:
    error = revert.translate_revert(data)
    assert type(error) is cls
    for name, value in attrs.items():
        assert getattr(error, name) == value
    text = f"{error} {error.hint}" if error is not None else ""
    for word in words:
        assert word in text


def test_transfer_failed_translates_the_token_reason() -> None:
    inner = err(
        "ERC20InsufficientBalance(address,uint256,uint256)",
        ["address", "uint256", "uint256"],
        [PAYER, 5, 7],
    )
    error = revert.translate_revert(transfer_failed(3, inner))
    assert isinstance(error, TransferFailedError) and not isinstance(error, PullFailedError)
    assert error.index == 3
    assert isinstance(error.cause, TokenInsufficientBalanceError)
    assert (error.cause.account, error.cause.balance, error.cause.needed) == (PAYER, 5, 7)
    assert error.reason_data == inner
    assert "recipient #3" in str(error) and "insufficient balance" in str(error)
    assert error.hint == error.cause.hint


def test_failed_pull_is_a_funds_error_with_allowance_hint() -> None:
    inner = reason("ERC20: insufficient allowance")
    error = revert.translate_revert(transfer_failed(revert.PULL_INDEX, inner))
    assert isinstance(error, PullFailedError)
    assert isinstance(error, FundsError) and isinstance(error, ContractError)
    assert error.exit_code == FundsError.exit_code
    assert isinstance(error.cause, TokenInsufficientAllowanceError)
    assert "pulling the batch total" in str(error)
    assert error.hint is not None and "Approve" in error.hint


def test_silent_token_revert_inside_transfer_failed_mentions_usdt_causes() -> None:
    error = revert.translate_revert(transfer_failed(0, b""))
    assert isinstance(error, TransferFailedError)
    assert isinstance(error.cause, TokenRevertedError)
    assert error.cause.reason == ""
    assert error.hint is not None and "USDT" in error.hint and "approve 0" in error.hint


def test_reentry_reported_through_the_token() -> None:
    error = revert.translate_revert(transfer_failed(1, err("Reentered()")))
    assert isinstance(error, TransferFailedError)
    assert isinstance(error.cause, ReenteredError)


def test_unknown_nested_reason_is_kept_raw() -> None:
    error = revert.translate_revert(transfer_failed(2, b"\xde\xad\xbe\xef\x01"))
    assert isinstance(error, TransferFailedError)
    assert isinstance(error.cause, TokenRevertedError)
    assert "deadbeef01" in str(error)


def test_nesting_is_bounded() -> None:
    data = err("Reentered()")
    for i in range(10):
        data = transfer_failed(i, data)
    error = revert.translate_revert(data)
    assert isinstance(error, TransferFailedError)  # no recursion blow-up, still an answer


@pytest.mark.parametrize(
    ("text", "cls"),
    [
        ("ERC20: transfer amount exceeds balance", TokenInsufficientBalanceError),
        ("SafeMath: subtraction overflow", TokenInsufficientBalanceError),
        ("ERC20: transfer amount exceeds allowance", TokenInsufficientAllowanceError),
        ("ERC20: insufficient allowance", TokenInsufficientAllowanceError),
        ("Blacklistable: account is blacklisted", TokenAccountBlockedError),
        ("Pausable: paused", TokenPausedError),
        ("ERC20: transfer to the zero address", TokenInvalidReceiverError),
        ("something else entirely", TokenRevertedError),
    ],
)
def test_token_reason_strings(text: str, cls: type) -> None:
    error = revert.translate_revert(reason(text))
    assert type(error) is cls
    assert text in str(error)


def test_oz_custom_errors() -> None:
    allowance = revert.translate_revert(
        err(
            "ERC20InsufficientAllowance(address,uint256,uint256)",
            ["address", "uint256", "uint256"],
            [TOKEN, 1, 2],
        )
    )
    assert isinstance(allowance, TokenInsufficientAllowanceError)
    assert (allowance.spender, allowance.allowance, allowance.needed) == (TOKEN, 1, 2)
    receiver = revert.translate_revert(
        err("ERC20InvalidReceiver(address)", ["address"], ["0x" + "00" * 20])
    )
    assert isinstance(receiver, TokenInvalidReceiverError)
    assert isinstance(revert.translate_revert(err("EnforcedPause()")), TokenPausedError)


def test_panic() -> None:
    error = revert.translate_revert(err("Panic(uint256)", ["uint256"], [0x11]))
    assert isinstance(error, PanicError)
    assert error.code == 0x11 and "overflow" in str(error)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x02",
        b"\x12\x34\x56\x78",
        reason("x")[:10],
        err("TotalMismatch(uint256,uint256)"),
    ],
)
def test_unrecognised_or_malformed_is_none(data: bytes) -> None:
    assert revert.translate_revert(data) is None


def test_translate_always_answers_and_keeps_context() -> None:
    unknown = revert.translate(b"\x12\x34\x56\x78", context="simulating batch 3")
    assert isinstance(unknown, UnknownRevertError)
    assert unknown.data == b"\x12\x34\x56\x78"
    assert str(unknown).startswith("simulating batch 3: ")
    assert "0x12345678" in str(unknown)
    empty = revert.translate(None)
    assert isinstance(empty, UnknownRevertError) and "no revert data" in str(empty)
    known = revert.translate(err("EmptyBatch()"), context="sending")
    assert isinstance(known, EmptyBatchError)
    assert str(known) == "sending: the batch has no recipients"


def test_exceptions_from_web3() -> None:
    data = err("ZeroRecipient(uint256)", ["uint256"], [9])
    custom = ContractCustomError("0x" + data.hex(), data="0x" + data.hex())
    assert revert.revert_data_of(custom) == data
    error = revert.translate_exception(custom, context="estimating gas")
    assert isinstance(error, ZeroRecipientError) and error.index == 9
    logic = ContractLogicError("execution reverted", data="0x" + reason("Pausable: paused").hex())
    assert isinstance(revert.translate_exception(logic), TokenPausedError)
    # Wrapped by something else: found through __cause__.
    try:
        try:
            raise custom
        except ContractCustomError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert revert.revert_data_of(outer) == data
    assert revert.translate_exception(ValueError("no data")) is None
