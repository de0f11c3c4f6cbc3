"""payout.revert.diagnose: a token's own pause and blacklist name the cause of a refusal; tokens
without those functions (a call that reverts) and unrelated errors are left as translated."""

from __future__ import annotations

from eth_utils.crypto import keccak

from payout.exceptions import (
    PullFailedError,
    RefundFailedError,
    TokenAccountBlacklistedError,
    TokenInsufficientBalanceError,
    TokenIsPausedError,
    TokenRevertedError,
    TotalMismatchError,
    TransferFailedError,
)
from payout.revert import Party, RefusalScene, diagnose

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
PAYER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
DISBURSER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
R0 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
R1 = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"

SCENE = RefusalScene(
    TOKEN,
    Party("payer", PAYER),
    Party("disburser", DISBURSER),
    {0: Party("recipient", R0, "payouts.csv:2"), 1: Party("recipient", R1, "payouts.csv:3")},
)


def _word(value: bool) -> bytes:
    return int(value).to_bytes(32, "big")


class Token:
    """The token's read-only state as eth_call sees it: functions it lacks revert (None)."""

    def __init__(
        self,
        *,
        paused: bool | None = False,
        spelling: str | None = "isBlackListed",
        blacklisted: tuple[str, ...] = (),
    ) -> None:
        self.paused = paused
        self.spelling = spelling
        self.blacklisted = {a.lower() for a in blacklisted}
        self.calls: list[str] = []

    def __call__(self, to: str, data: bytes) -> bytes | None:
        assert to == TOKEN
        if data[:4] == keccak(text="paused()")[:4]:
            self.calls.append("paused")
            return None if self.paused is None else _word(self.paused)
        for name in ("isBlackListed", "isBlacklisted"):
            if data[:4] == keccak(text=f"{name}(address)")[:4]:
                self.calls.append(name)
                if name != self.spelling:
                    return None
                return _word("0x" + data[-20:].hex() in self.blacklisted)
        raise AssertionError(data.hex())


def silent() -> TokenRevertedError:
    return TokenRevertedError("")


def test_paused_token_is_named_first() -> None:
    error = diagnose(PullFailedError(silent(), b""), Token(paused=True), SCENE)
    assert isinstance(error, TokenIsPausedError)
    assert f"the token {TOKEN} is paused" in str(error)


def test_each_blacklisted_party_is_named_whichever_spelling_the_token_has() -> None:
    for spelling in ("isBlackListed", "isBlacklisted"):
        pull = diagnose(
            PullFailedError(silent(), b""),
            Token(spelling=spelling, blacklisted=(PAYER,)),
            SCENE,
        )
        assert isinstance(pull, TokenAccountBlacklistedError) and pull.role == "payer"
        assert f"the payer {PAYER} is blacklisted by the token ({spelling}(" in str(pull)
    refund = diagnose(RefundFailedError(), Token(blacklisted=(DISBURSER,)), SCENE)
    assert isinstance(refund, TokenAccountBlacklistedError) and refund.role == "disburser"
    row = diagnose(TransferFailedError(1, silent(), b""), Token(blacklisted=(R1,)), SCENE)
    assert isinstance(row, TokenAccountBlacklistedError) and row.role == "recipient"
    assert f"the recipient {R1} (payouts.csv:3) is blacklisted" in str(row)
    assert "--on-failure exclude" in (row.hint or "")


def test_a_token_without_pause_or_blacklist_leaves_the_error_as_translated() -> None:
    original = TransferFailedError(0, silent(), b"")
    token = Token(paused=None, spelling=None)
    assert diagnose(original, token, SCENE) is original
    # Each missing blacklist spelling is tried once, not once per account.
    assert token.calls.count("isBlackListed") == 1 and token.calls.count("isBlacklisted") == 1


def test_clear_causes_are_not_second_guessed() -> None:
    for error in (
        TotalMismatchError(10, 9),
        TransferFailedError(0, TokenInsufficientBalanceError("exceeds balance"), b""),
    ):
        token = Token(paused=True, blacklisted=(PAYER, R0))
        assert diagnose(error, token, SCENE) is error
        assert token.calls == []


def test_nothing_found_keeps_the_original() -> None:
    original = PullFailedError(silent(), b"")
    assert diagnose(original, Token(), SCENE) is original
