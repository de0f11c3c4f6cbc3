"""The disburser contract on anvil: every rule of the contract, against mocks of real tokens.

Each test runs against the same session deployments; ape's pytest plugin reverts the chain to a
snapshot after every test. Reverts are checked through payout.revert, so the translation of the
real revert data is tested at the same time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest
from ape.exceptions import ContractLogicError
from eth_utils.crypto import keccak
from support.disburser_calls import calls

from payout.artifact import disburser_artifact
from payout.disburser import pack_native_rows, pack_rows
from payout.exceptions import (
    BadPackingError,
    BalanceMismatchError,
    BatchAlreadyExecutedError,
    ContractError,
    EmptyBatchError,
    InsufficientValueError,
    PullFailedError,
    ReenteredError,
    RefundFailedError,
    TokenAccountBlockedError,
    TokenHasNoCodeError,
    TokenInsufficientAllowanceError,
    TokenReturnedFalseError,
    TokenRevertedError,
    TotalMismatchError,
    TransferFailedError,
    ZeroRecipientError,
)
from payout.revert import PULL_INDEX, translate_exception

UNIT = 10**6  # 6 decimals


# --- helpers -------------------------------------------------------------------------------------


def addresses(n: int, seed: int) -> list[str]:
    """Deterministic fresh addresses (no code, no balance)."""
    rng = random.Random(seed)
    return ["0x" + rng.randbytes(20).hex() for _ in range(n)]


def word(recipient: str, amount: int) -> bytes:
    return bytes.fromhex(recipient[2:].lower().rjust(40, "0")) + amount.to_bytes(12, "big")


def words(recipients: Sequence[str], amounts: Sequence[int]) -> list[bytes]:
    return [word(r, a) for r, a in zip(recipients, amounts, strict=True)]


def batch_id(label: str) -> bytes:
    return keccak(text=label)


def balances(token: Any, who: Iterable[str]) -> list[int]:
    return [int(token.balanceOf(a)) for a in who]


def expect(cls: type[ContractError], action: Callable[[], object]) -> Any:
    """Run ``action``, expect a revert, and return its translation (asserting its class)."""
    with pytest.raises(ContractLogicError) as info:
        action()
    error = translate_exception(info.value)
    assert isinstance(error, cls), f"expected {cls.__name__}, got {error!r}"
    return error


def only_event(receipt: Any, contract: Any, name: str) -> Any:
    logs = [log for log in receipt.decode_logs(getattr(contract, name)) if log.event_name == name]
    assert len(logs) == 1, logs
    return logs[0]


# --- deployments (once per session; every test starts from the same snapshot) --------------------


@pytest.fixture(scope="session")
def owner(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="session")
def payer(accounts: Any) -> Any:
    return accounts[1]


@pytest.fixture(scope="session")
def other(accounts: Any) -> Any:
    return accounts[2]


@pytest.fixture(scope="session", autouse=True)
def deployed(project: Any, owner: Any) -> dict[str, Any]:
    """Every contract, deployed before the first test's snapshot (so no test reverts them)."""
    return {
        "disburser": owner.deploy(project.Disburser),
        "erc20": owner.deploy(project.MockERC20, "Mock USD", "MUSD"),
        "usdt": owner.deploy(project.MockUSDTEthereum),
        "usdc": owner.deploy(project.MockUSDC),
        "usdt_tron": owner.deploy(project.MockUSDTTron),
        "false_token": owner.deploy(project.MockFalseToken),
        "reentrant": owner.deploy(project.MockReentrantToken),
        "caller": owner.deploy(project.MockCaller),
    }


@pytest.fixture(scope="session")
def disburser(deployed: dict[str, Any]) -> Any:
    return deployed["disburser"]


@pytest.fixture(scope="session")
def erc20(deployed: dict[str, Any]) -> Any:
    return deployed["erc20"]


@pytest.fixture(scope="session")
def usdt(deployed: dict[str, Any]) -> Any:
    return deployed["usdt"]


@pytest.fixture(scope="session")
def usdc(deployed: dict[str, Any]) -> Any:
    return deployed["usdc"]


@pytest.fixture(scope="session")
def usdt_tron(deployed: dict[str, Any]) -> Any:
    return deployed["usdt_tron"]


@pytest.fixture(scope="session")
def false_token(deployed: dict[str, Any]) -> Any:
    return deployed["false_token"]


@pytest.fixture(scope="session")
def reentrant(deployed: dict[str, Any]) -> Any:
    return deployed["reentrant"]


@pytest.fixture(scope="session")
def caller(deployed: dict[str, Any]) -> Any:
    return deployed["caller"]


@pytest.fixture
def fund(payer: Any, disburser: Any) -> Callable[..., None]:
    """Mint ``amount`` to the payer and approve the disburser for ``allowance`` (default amount)."""

    def _fund(token: Any, amount: int, allowance: int | None = None) -> None:
        token.mint(payer, amount, sender=payer)
        token.approve(disburser, amount if allowance is None else allowance, sender=payer)

    return _fund


@pytest.fixture(autouse=True)
def _nothing_left_behind(request: pytest.FixtureRequest) -> Any:
    """After every test: the disburser holds no native coin and none of the tokens used."""
    yield
    if "disburser" not in request.fixturenames:
        return
    disburser = request.getfixturevalue("disburser")
    assert disburser.balance == 0
    for name in ("erc20", "usdt", "usdc", "usdt_tron", "false_token", "reentrant"):
        if name in request.fixturenames:
            token = request.getfixturevalue(name)
            if not getattr(request.node, "_stray_tokens", False):
                assert int(token.balanceOf(disburser)) == 0, name


# --- the shipped artifact is what runs -----------------------------------------------------------


def test_deployed_code_is_the_shipped_artifact(disburser: Any, chain: Any) -> None:
    code = bytes(chain.provider.get_code(disburser.address))
    assert disburser_artifact().matches_runtime(code)


# --- strict mode: happy paths on every token kind ------------------------------------------------


@pytest.mark.parametrize("token_name", ["erc20", "usdt", "usdc", "usdt_tron"])
def test_pays_every_recipient(
    request: pytest.FixtureRequest, token_name: str, payer: Any, disburser: Any, fund: Any
) -> None:
    token = request.getfixturevalue(token_name)
    recipients = addresses(7, seed=1)
    amounts = [(i + 1) * 1_234 * UNIT + i for i in range(7)]
    total = sum(amounts)
    fund(token, total + 5 * UNIT, allowance=total)
    bid = batch_id(f"pays-{token_name}")

    receipt = calls(disburser).disburse(token, bid, total, words(recipients, amounts), sender=payer)

    assert balances(token, recipients) == amounts
    assert int(token.balanceOf(payer)) == 5 * UNIT
    assert int(token.allowance(payer, disburser)) == 0  # exactly the total was pulled
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert event.payer == payer.address
    assert event.token == token.address
    assert bytes(event.batchId) == bid
    assert (event.count, event.total) == (7, total)
    assert disburser.executed(payer, bid)
    assert not disburser.executed(payer, batch_id("another"))


def test_usdt_tron_transfer_really_returns_false_on_success(
    usdt_tron: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """The mock is faithful (so the test above proves something): transfer answers false."""
    usdt_tron.mint(payer, 10, sender=payer)
    recipient = addresses(1, seed=2)[0]
    assert usdt_tron.transfer.call(recipient, 10, sender=payer) is False
    usdt_tron.transfer(recipient, 10, sender=payer)
    assert int(usdt_tron.balanceOf(recipient)) == 10


def test_usdt_approve_from_nonzero_quirk(usdt: Any, payer: Any, disburser: Any) -> None:
    """USDT refuses changing a non-zero allowance; a disburse consumes it exactly, so the next
    batch can approve again without the approve-0 dance."""
    usdt.mint(payer, 300, sender=payer)
    usdt.approve(disburser, 100, sender=payer)
    with pytest.raises(ContractLogicError):
        usdt.approve(disburser, 200, sender=payer)
    r = addresses(2, seed=3)
    calls(disburser).disburse(usdt, batch_id("u1"), 100, words(r, [60, 40]), sender=payer)
    assert int(usdt.allowance(payer, disburser)) == 0
    usdt.approve(disburser, 200, sender=payer)  # from zero: accepted
    calls(disburser).disburse(usdt, batch_id("u2"), 200, words(r, [150, 50]), sender=payer)
    assert balances(usdt, r) == [210, 90]


def test_duplicate_recipients_are_each_paid(
    erc20: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(2, seed=4)
    fund(erc20, 60)
    calls(disburser).disburse(
        erc20, batch_id("dup"), 60, words([r[0], r[1], r[0]], [10, 20, 30]), sender=payer
    )
    assert balances(erc20, r) == [40, 20]


def test_contract_payer_and_native_value_not_accepted(
    erc20: Any, caller: Any, disburser: Any, payer: Any
) -> None:
    """A contract (a Safe, a multisig) can be the payer; plain ETH sent to the disburser bounces."""
    erc20.mint(caller, 50, sender=payer)
    caller.execute(erc20, erc20.approve.encode_input(disburser, 50), sender=payer)
    r = addresses(1, seed=5)
    data = calls(disburser).disburse.encode_input(erc20, batch_id("c"), 50, words(r, [50]))
    caller.execute(disburser, data, sender=payer)
    assert balances(erc20, r) == [50]
    assert disburser.executed(caller, batch_id("c"))
    with pytest.raises(ContractLogicError):
        payer.transfer(disburser, 1)


# --- strict mode: refusals -----------------------------------------------------------------------


def test_token_without_code(payer: Any, other: Any, disburser: Any) -> None:
    error = expect(
        TokenHasNoCodeError,
        lambda: calls(disburser).disburse(
            other, batch_id("nc"), 1, [word(other.address, 1)], sender=payer
        ),
    )
    assert error.token == other.address


def test_empty_batch(erc20: Any, payer: Any, disburser: Any) -> None:
    expect(
        EmptyBatchError,
        lambda: calls(disburser).disburse(erc20, batch_id("e"), 0, [], sender=payer),
    )


@pytest.mark.parametrize("declared_delta", [-1, 1])
def test_total_mismatch(
    erc20: Any, payer: Any, disburser: Any, fund: Any, declared_delta: int
) -> None:
    """Declared total above or below the sum of the amounts is refused; nobody is paid."""
    r = addresses(3, seed=6)
    amounts = [100, 200, 300]
    declared = 600 + declared_delta
    fund(erc20, 1_000, allowance=declared)
    error = expect(
        TotalMismatchError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("tm"), declared, words(r, amounts), sender=payer
        ),
    )
    assert (error.declared, error.actual) == (declared, 600)
    assert balances(erc20, r) == [0, 0, 0]


def test_zero_recipient(erc20: Any, usdt: Any, payer: Any, disburser: Any, fund: Any) -> None:
    zero = "0x" + "00" * 20
    r = addresses(3, seed=7)
    for token in (erc20, usdt):  # USDT would happily "burn" to the zero address
        fund(token, 60)
        error = expect(
            ZeroRecipientError,
            lambda token=token: calls(disburser).disburse(
                token, batch_id("z"), 60, words([r[0], zero, r[2]], [10, 20, 30]), sender=payer
            ),
        )
        assert error.index == 1


def test_failed_transfer_reports_index_and_token_reason(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(4, seed=8)
    usdc.blacklist(r[2], sender=owner)
    fund(usdc, 40)
    error = expect(
        TransferFailedError,
        lambda: calls(disburser).disburse(
            usdc, batch_id("bl"), 40, words(r, [10] * 4), sender=payer
        ),
    )
    assert error.index == 2
    assert isinstance(error.cause, TokenAccountBlockedError)
    assert "blacklisted" in str(error)
    assert balances(usdc, r) == [0, 0, 0, 0]  # all or nothing


def test_amounts_above_total_report_the_total_not_the_failed_transfer(
    erc20: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(2, seed=9)
    fund(erc20, 1_000, allowance=100)
    error = expect(
        TotalMismatchError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("over"), 100, words(r, [80, 80]), sender=payer
        ),
    )
    assert (error.declared, error.actual) == (100, 160)


def test_pull_without_allowance(erc20: Any, payer: Any, disburser: Any, fund: Any) -> None:
    fund(erc20, 100, allowance=99)
    error = expect(
        PullFailedError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("al"), 100, words(addresses(4, seed=10), [25] * 4), sender=payer
        ),
    )
    assert error.index == -1
    assert isinstance(error.cause, TokenInsufficientAllowanceError)
    assert error.cause.allowance == 99 and error.cause.needed == 100


def test_pull_from_a_paused_usdt_reverts_silently(
    usdt: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    fund(usdt, 10)
    usdt.pause(sender=owner)
    error = expect(
        PullFailedError,
        lambda: calls(disburser).disburse(
            usdt, batch_id("p"), 10, words(addresses(4, 11), [1, 2, 3, 4]), sender=payer
        ),
    )
    assert isinstance(error.cause, TokenRevertedError) and error.cause.reason == ""
    assert error.hint is not None and "paused" in error.hint


def test_false_returning_pull_is_refused(false_token: Any, payer: Any, disburser: Any) -> None:
    """transferFrom answers false (no allowance) instead of reverting: caught by the balance."""
    false_token.mint(payer, 100, sender=payer)
    error = expect(
        PullFailedError,
        lambda: calls(disburser).disburse(
            false_token, batch_id("fp"), 100, words(addresses(4, 12), [25] * 4), sender=payer
        ),
    )
    assert isinstance(error.cause, TokenReturnedFalseError)


def test_false_returning_transfer_is_refused(
    false_token: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """A transfer that answers false without moving funds is not counted as paid."""
    r = addresses(4, seed=13)
    false_token.setBlocked(r[1], True, sender=payer)
    fund(false_token, 100)
    error = expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburse(
            false_token, batch_id("ft"), 100, words(r, [10, 20, 30, 40]), sender=payer
        ),
    )
    assert (error.expected, error.actual) == (0, 20)
    assert balances(false_token, r) == [0, 0, 0, 0]


@pytest.mark.parametrize("where", ["both", "transferFrom"])
def test_fee_on_transfer_is_refused(
    project: Any, owner: Any, payer: Any, disburser: Any, fund: Any, where: str
) -> None:
    token = owner.deploy(project.MockFeeToken, 100, where == "both", True)  # 1 %
    fund(token, 10_000)
    rows = words(addresses(4, 14), [1_000, 2_000, 3_000, 4_000])
    error = expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburse(token, batch_id("fee"), 10_000, rows, sender=payer),
    )
    assert (error.expected, error.actual) == (10_000, 9_900)
    assert int(token.balanceOf(disburser)) == 0


def test_usdt_with_fee_switched_on_is_refused(
    usdt: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    usdt.setParams(10, 5, sender=owner)  # 0.1 %, at most 5 USDT
    fund(usdt, 1_000 * UNIT)
    expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburse(
            usdt,
            batch_id("uf"),
            1_000 * UNIT,
            words(addresses(1, 15), [1_000 * UNIT]),
            sender=payer,
        ),
    )


def test_limitation_fee_charged_only_on_transfer_is_not_detected(
    project: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """Documented blind spot (docs/contract.md): a token that takes a fee from the recipient's
    amount on transfer() but not on transferFrom() passes, and recipients get less. Detecting it
    would need a balanceOf per recipient. No common stablecoin behaves like this."""
    token = owner.deploy(project.MockFeeToken, 100, True, False)
    fund(token, 10_000)
    r = addresses(4, seed=16)
    calls(disburser).disburse(
        token, batch_id("blind"), 10_000, words(r, [1_000, 2_000, 3_000, 4_000]), sender=payer
    )
    assert balances(token, r) == [990, 1_980, 2_970, 3_960]
    assert int(token.balanceOf(disburser)) == 0


def test_recipient_cannot_be_the_disburser(
    erc20: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    fund(erc20, 30)
    r = addresses(1, seed=17)
    expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("self"), 30, words([r[0], disburser.address], [10, 20]), sender=payer
        ),
    )


def test_stray_tokens_in_the_disburser_are_left_alone(
    request: pytest.FixtureRequest, erc20: Any, payer: Any, other: Any, disburser: Any, fund: Any
) -> None:
    """Tokens sent to the disburser by mistake neither break batches nor get paid out."""
    request.node._stray_tokens = True
    erc20.mint(other, 7, sender=other)
    erc20.transfer(disburser, 7, sender=other)
    fund(erc20, 100)
    r = addresses(2, seed=18)
    calls(disburser).disburse(erc20, batch_id("stray"), 100, words(r, [50, 50]), sender=payer)
    assert int(erc20.balanceOf(disburser)) == 7
    assert balances(erc20, r) == [50, 50]  # the batch paid exactly its amounts, no stray extra
    # Amounts above the declared total cannot dip into them either.
    fund(erc20, 100)
    expect(
        TotalMismatchError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("stray2"), 100, words(r, [50, 55]), sender=payer
        ),
    )
    assert balances(erc20, r) == [50, 50] and int(erc20.balanceOf(disburser)) == 7


# --- replay protection ---------------------------------------------------------------------------


def test_replay_is_refused_per_payer(
    erc20: Any, payer: Any, other: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(2, seed=19)
    fund(erc20, 200)
    bid = batch_id("replay")
    calls(disburser).disburse(erc20, bid, 100, words(r, [40, 60]), sender=payer)
    error = expect(
        BatchAlreadyExecutedError,
        lambda: calls(disburser).disburse(erc20, bid, 100, words(r, [40, 60]), sender=payer),
    )
    assert (error.payer, error.replay_key) == (payer.address, bid)
    # The same id is refused in every mode.
    expect(
        BatchAlreadyExecutedError,
        lambda: calls(disburser).disburseOrSkip(erc20, bid, 100, words(r, [40, 60]), sender=payer),
    )
    expect(
        BatchAlreadyExecutedError,
        lambda: calls(disburser).disburseNative(bid, words(r, [1, 1]), sender=payer, value=2),
    )
    assert balances(erc20, r) == [40, 60]
    # Another payer's id space is separate.
    erc20.mint(other, 10, sender=other)
    erc20.approve(disburser, 10, sender=other)
    calls(disburser).disburse(erc20, bid, 10, words(r, [5, 5]), sender=other)
    assert balances(erc20, r) == [45, 65]


def test_a_reverted_batch_can_be_resubmitted(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(4, seed=20)
    bid = batch_id("retry")
    fund(usdc, 100)
    usdc.pause(sender=owner)
    rows = words(r, [10, 20, 30, 40])
    expect(
        PullFailedError,
        lambda: calls(disburser).disburse(usdc, bid, 100, rows, sender=payer),
    )
    assert not disburser.executed(payer, bid)
    usdc.unpause(sender=owner)
    calls(disburser).disburse(usdc, bid, 100, rows, sender=payer)
    assert disburser.executed(payer, bid)


# --- re-entrancy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["disburse", "disburseOrSkip", "disburseNative"])
def test_reentry_through_a_token_is_refused(
    reentrant: Any, payer: Any, disburser: Any, fund: Any, entry: str
) -> None:
    r = addresses(4, seed=21)  # more than the direct-payment threshold: transfer() re-enters
    if entry == "disburseNative":
        inner = calls(disburser).disburseNative.encode_input(batch_id("inner"), words(r[:1], [1]))
    else:
        inner = getattr(calls(disburser), entry).encode_input(
            reentrant, batch_id("inner"), 1, words(r[:1], [1])
        )
    fund(reentrant, 100)

    # The token re-throws the refusal: the batch reverts, naming the transfer and the reason.
    reentrant.arm(disburser, inner, True, sender=payer)
    error = expect(
        TransferFailedError,
        lambda: calls(disburser).disburse(
            reentrant, batch_id("outer"), 100, words(r, [10, 20, 30, 40]), sender=payer
        ),
    )
    assert error.index == 0
    assert isinstance(error.cause, ReenteredError)

    # The token swallows the refusal: the batch completes, the re-entry did nothing.
    reentrant.arm(disburser, inner, False, sender=payer)
    calls(disburser).disburse(
        reentrant, batch_id("outer"), 100, words(r, [10, 20, 30, 40]), sender=payer
    )
    assert reentrant.lastReentryOk() is False
    assert bytes(reentrant.lastReentryData()) == keccak(text="Reentered()")[:4]
    assert balances(reentrant, r) == [10, 20, 30, 40]
    assert not disburser.executed(reentrant, batch_id("inner"))


# --- skip-and-report mode ------------------------------------------------------------------------


def skipped_events(receipt: Any, disburser: Any) -> list[tuple[int, str, int]]:
    return [
        (int(e.index), e.recipient, int(e.amount))
        for e in receipt.decode_logs(disburser.TransferSkipped)
        if e.event_name == "TransferSkipped"
    ]


def test_skip_mode_skips_blacklisted_recipients(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(5, seed=22)
    amounts = [11, 22, 33, 44, 55]
    usdc.blacklist(r[1], sender=owner)
    usdc.blacklist(r[3], sender=owner)
    fund(usdc, 165 + 1_000, allowance=165)
    bid = batch_id("skip")

    paid = calls(disburser).disburseOrSkip.call(usdc, bid, 165, words(r, amounts), sender=payer)
    receipt = calls(disburser).disburseOrSkip(usdc, bid, 165, words(r, amounts), sender=payer)

    assert paid == 11 + 33 + 55
    assert balances(usdc, r) == [11, 0, 33, 0, 55]
    assert int(usdc.balanceOf(payer)) == 1_000 + 165 - paid  # exactly total - paid left the payer
    skipped = skipped_events(receipt, disburser)
    assert [(i, a) for i, _, a in skipped] == [(1, 22), (3, 44)]
    assert [rec.lower() for _, rec, _ in skipped] == [r[1], r[3]]
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert (event.count, event.total) == (3, paid)
    assert all(bytes(e.batchId) == bid for e in receipt.decode_logs(disburser.TransferSkipped))
    assert disburser.executed(payer, bid)


def test_skip_mode_skips_false_returning_failures(
    false_token: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(3, seed=23)
    false_token.setBlocked(r[0], True, sender=payer)
    fund(false_token, 60)
    receipt = calls(disburser).disburseOrSkip(
        false_token, batch_id("sf"), 60, words(r, [10, 20, 30]), sender=payer
    )
    assert balances(false_token, r) == [0, 20, 30]
    assert int(false_token.balanceOf(payer)) == 10
    assert [(i, a) for i, _, a in skipped_events(receipt, disburser)] == [(0, 10)]


def test_skip_mode_counts_usdt_tron_false_as_paid(
    usdt_tron: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """The balance decides, not the return value: TRON USDT's false-on-success is a payment."""
    r = addresses(3, seed=24)
    fund(usdt_tron, 60)
    receipt = calls(disburser).disburseOrSkip(
        usdt_tron, batch_id("st"), 60, words(r, [10, 20, 30]), sender=payer
    )
    assert balances(usdt_tron, r) == [10, 20, 30]
    assert skipped_events(receipt, disburser) == []
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert (event.count, event.total) == (3, 60)


def test_skip_mode_everything_skipped(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(2, seed=25)
    for a in r:
        usdc.blacklist(a, sender=owner)
    fund(usdc, 30)
    receipt = calls(disburser).disburseOrSkip(
        usdc, batch_id("all"), 30, words(r, [10, 20]), sender=payer
    )
    assert int(usdc.balanceOf(payer)) == 30
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert (event.count, event.total) == (0, 0)
    assert disburser.executed(payer, batch_id("all"))


def test_skip_mode_refuses_malformed_batches_before_paying(
    usdc: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(2, seed=26)
    zero = "0x" + "00" * 20
    fund(usdc, 100)
    expect(
        ZeroRecipientError,
        lambda: calls(disburser).disburseOrSkip(
            usdc, batch_id("m"), 30, words([r[0], zero], [10, 20]), sender=payer
        ),
    )
    expect(
        TotalMismatchError,
        lambda: calls(disburser).disburseOrSkip(
            usdc, batch_id("m"), 31, words(r, [10, 20]), sender=payer
        ),
    )
    expect(
        EmptyBatchError,
        lambda: calls(disburser).disburseOrSkip(usdc, batch_id("m"), 0, [], sender=payer),
    )
    expect(
        TokenHasNoCodeError,
        lambda: calls(disburser).disburseOrSkip(
            payer, batch_id("m"), 30, words(r, [10, 20]), sender=payer
        ),
    )


def test_skip_mode_refuses_fee_on_transfer(
    project: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    token = owner.deploy(project.MockFeeToken, 100, True, True)  # 1 % on every transfer
    fund(token, 10_000)
    error = expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburseOrSkip(
            token, batch_id("sfee"), 10_000, words(addresses(1, 27), [10_000]), sender=payer
        ),
    )
    assert (error.expected, error.actual) == (10_000, 9_900)


def test_skip_mode_refund_failure_reverts(
    false_token: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """If the skipped amount cannot go back to the payer, nothing happens at all."""
    r = addresses(2, seed=28)
    false_token.setBlocked(r[0], True, sender=payer)
    false_token.setBlocked(payer.address, True, sender=payer)
    fund(false_token, 30)
    expect(
        RefundFailedError,
        lambda: calls(disburser).disburseOrSkip(
            false_token, batch_id("rf"), 30, words(r, [10, 20]), sender=payer
        ),
    )
    assert balances(false_token, r) == [0, 0]


def test_skip_mode_pull_failure_is_not_skipped(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    fund(usdc, 30)
    usdc.blacklist(payer, sender=owner)
    error = expect(
        PullFailedError,
        lambda: calls(disburser).disburseOrSkip(
            usdc, batch_id("pb"), 30, words(addresses(1, 29), [30]), sender=payer
        ),
    )
    assert isinstance(error.cause, TokenAccountBlockedError)


# --- native coin ---------------------------------------------------------------------------------


def test_native_pays_and_refunds_excess(payer: Any, disburser: Any, chain: Any) -> None:
    r = addresses(4, seed=30)
    amounts = [1, 10**15, 2 * 10**15, 3]
    total = sum(amounts)
    before = payer.balance
    receipt = calls(disburser).disburseNative(
        batch_id("n"), words(r, amounts), sender=payer, value=total + 10**18
    )
    assert [chain.provider.get_balance(a) for a in r] == amounts
    spent = before - payer.balance
    assert spent == total + receipt.total_fees_paid
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert event.token == "0x" + "00" * 20 or int(event.token, 16) == 0
    assert (event.count, event.total) == (4, total)


def test_native_exact_value(payer: Any, disburser: Any, chain: Any) -> None:
    r = addresses(2, seed=31)
    calls(disburser).disburseNative(batch_id("nx"), words(r, [5, 6]), sender=payer, value=11)
    assert [chain.provider.get_balance(a) for a in r] == [5, 6]


def test_native_insufficient_value(payer: Any, disburser: Any) -> None:
    error = expect(
        InsufficientValueError,
        lambda: calls(disburser).disburseNative(
            batch_id("ni"), words(addresses(2, 32), [5, 6]), sender=payer, value=10
        ),
    )
    assert (error.total, error.value) == (11, 10)


def test_native_refusals(payer: Any, disburser: Any, caller: Any) -> None:
    r = addresses(2, seed=33)
    zero = "0x" + "00" * 20
    error = expect(
        ZeroRecipientError,
        lambda: calls(disburser).disburseNative(
            batch_id("nz"), words([r[0], zero], [1, 1]), sender=payer, value=2
        ),
    )
    assert error.index == 1
    expect(
        EmptyBatchError,
        lambda: calls(disburser).disburseNative(batch_id("ne"), [], sender=payer, value=1),
    )
    caller.setOnReceive(1, zero, b"", sender=payer)  # Reject
    error = expect(
        TransferFailedError,
        lambda: calls(disburser).disburseNative(
            batch_id("nr"), words([r[0], caller.address], [1, 1]), sender=payer, value=2
        ),
    )
    assert error.index == 1
    assert "rejects native coin" in str(error)


def test_native_reentry_is_refused(payer: Any, disburser: Any, caller: Any, chain: Any) -> None:
    r = addresses(1, seed=34)
    inner = calls(disburser).disburseNative.encode_input(batch_id("inner"), words(r, [1]))
    caller.setOnReceive(2, disburser.address, inner, sender=payer)  # Reenter (and swallow)
    calls(disburser).disburseNative(
        batch_id("nre"), words([caller.address, r[0]], [5, 7]), sender=payer, value=12
    )
    assert caller.lastReentryOk() is False
    assert bytes(caller.lastReentryData()) == keccak(text="Reentered()")[:4]
    assert chain.provider.get_balance(caller.address) == 5


def test_native_refund_failure(payer: Any, disburser: Any, caller: Any) -> None:
    """A contract payer that cannot receive the excess: the whole batch reverts."""
    zero = "0x" + "00" * 20
    caller.setOnReceive(1, zero, b"", sender=payer)
    data = calls(disburser).disburseNative.encode_input(
        batch_id("nrf"), words(addresses(1, 35), [1])
    )
    expect(RefundFailedError, lambda: caller.execute(disburser, data, sender=payer, value=2))
    caller.execute(disburser, data, sender=payer, value=1)  # exact value: no refund needed


def test_native_amounts_carry_the_batch_decimal_exponent(
    payer: Any, disburser: Any, chain: Any
) -> None:
    """Amounts of a payout file ("0.05" ETH) end in zeros: the rows carry mantissas, the batch one
    exponent, and every recipient still gets the exact amount in wei."""
    r = addresses(5, seed=36)
    amounts = [5 * 10**16, 12 * 10**15, 10**18, 7 * 10**15, 123_456 * 10**15]
    rows = list(zip(r, amounts, strict=True))
    encoding, packed = pack_native_rows(rows)
    assert (encoding & 0xFF, encoding >> 8) == (3, 15)  # 123,456 needs 3 bytes
    assert len(packed) == 5 * 23
    receipt = disburser.disburseNative(
        batch_id("nexp"), batch_id("nexp"), encoding, packed, sender=payer, value=sum(amounts)
    )
    assert [chain.provider.get_balance(a) for a in r] == amounts
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert (event.count, event.total) == (5, sum(amounts))
    # The same batch without the exponent: 8-byte amounts, more calldata, more gas.
    r2 = addresses(5, seed=37)
    width, plain = pack_rows(list(zip(r2, amounts, strict=True)))
    plain_receipt = disburser.disburseNative(
        batch_id("nplain"), batch_id("nplain"), width, plain, sender=payer, value=sum(amounts)
    )
    assert [chain.provider.get_balance(a) for a in r2] == amounts
    assert receipt.gas_used < plain_receipt.gas_used


@pytest.mark.parametrize(
    ("encoding", "length"),
    [
        (29 << 8 | 1, 21),  # 10^29 > 2^96: no exponent above 28
        (1 << 8 | 12, 32),  # 12-byte mantissas already reach 2^96
        (25 << 8 | 2, 22),  # 10^25 * 2^16 > 2^96
        (255 << 8 | 1, 21),
        (1 << 16 | 1, 21),  # bits above the exponent
    ],
)
def test_native_encoding_whose_amounts_could_reach_2_96_is_refused(
    payer: Any, disburser: Any, encoding: int, length: int
) -> None:
    error = expect(
        BadPackingError,
        lambda: disburser.disburseNative(
            batch_id("nbad"), batch_id("nbad"), encoding, bytes([1]) * length, sender=payer, value=1
        ),
    )
    assert (error.amount_bytes, error.length) == (encoding, length)
    assert not disburser.executed(payer, batch_id("nbad"))


def test_native_largest_exponent_for_the_width_pays(payer: Any, disburser: Any, chain: Any) -> None:
    r = addresses(2, seed=38)
    amounts = [65_535 * 10**24, 10**24]  # 2-byte mantissas, 10^24 * 2^16 <= 2^96
    encoding, packed = pack_native_rows(list(zip(r, amounts, strict=True)))
    assert encoding == 24 << 8 | 2
    chain.set_balance(payer, 10**30)  # ~6.6 x 10^28 wei: more than a dev account holds
    disburser.disburseNative(
        batch_id("nmax"), batch_id("nmax"), encoding, packed, sender=payer, value=sum(amounts)
    )
    assert [chain.provider.get_balance(a) for a in r] == amounts


def test_native_coins_a_recipient_sends_to_the_zero_address_are_not_a_zero_row(
    payer: Any, disburser: Any, caller: Any, chain: Any
) -> None:
    """The zero-recipient check watches the zero address's balance; a recipient's own code may
    send coins there: the batch is not refused for it (only a zero row is)."""
    zero = "0x" + "00" * 20
    caller.setOnReceive(3, zero, b"", sender=payer)  # Forward to the zero address
    r = addresses(1, seed=39)
    before = chain.provider.get_balance(zero)
    calls(disburser).disburseNative(
        batch_id("nfwd"), words([caller.address, r[0]], [5, 7]), sender=payer, value=12
    )
    # The caller passed its 5 wei on (anvil's coinbase is the zero address: it also gets the tip).
    assert chain.provider.get_balance(caller.address) == 0
    assert chain.provider.get_balance(zero) >= before + 5
    assert chain.provider.get_balance(r[0]) == 7


def test_pull_index_constant_matches_the_contract() -> None:
    assert PULL_INDEX == 2**256 - 1


# --- the unrolled loops: every position of a batch ------------------------------------------------

#: 35 recipients: the strict loop takes 35 mod 16 = 3 one at a time, then two groups of 16; the
#: native and scan loops 3, then four groups of 8. These positions cover the leading ones and the
#: first, a middle and the last row of groups of both sizes.
UNROLLED_SIZE = 35
UNROLLED_POSITIONS = (0, 2, 3, 10, 11, 18, 19, 26, 34)


def test_failed_transfer_is_reported_at_its_index_wherever_it_sits(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    amounts = [10 + i for i in range(UNROLLED_SIZE)]
    total = sum(amounts)
    fund(usdc, total)
    for k in UNROLLED_POSITIONS:
        r = addresses(UNROLLED_SIZE, seed=1_000 + k)
        usdc.blacklist(r[k], sender=owner)
        error = expect(
            TransferFailedError,
            lambda r=r, k=k: calls(disburser).disburse(
                usdc, batch_id(f"unrolled-{k}"), total, words(r, amounts), sender=payer
            ),
        )
        assert error.index == k
        assert isinstance(error.cause, TokenAccountBlockedError)
        assert balances(usdc, r) == [0] * UNROLLED_SIZE


def test_zero_recipient_is_reported_at_its_index_in_every_mode(
    usdt: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """USDT would "burn" to the zero address: every loop must stop on it, wherever it sits."""
    zero = "0x" + "00" * 20
    amounts = [10 + i for i in range(UNROLLED_SIZE)]
    total = sum(amounts)
    fund(usdt, total)
    for k in UNROLLED_POSITIONS:
        r = addresses(UNROLLED_SIZE, seed=2_000 + k)
        r[k] = zero
        packed_words = words(r, amounts)
        for call in (
            lambda w=packed_words, k=k: calls(disburser).disburse(
                usdt, batch_id(f"z-{k}"), total, w, sender=payer
            ),
            lambda w=packed_words, k=k: calls(disburser).disburseOrSkip(
                usdt, batch_id(f"zs-{k}"), total, w, sender=payer
            ),
            lambda w=packed_words, k=k: calls(disburser).disburseNative(
                batch_id(f"zn-{k}"), w, sender=payer, value=total
            ),
        ):
            assert expect(ZeroRecipientError, call).index == k
    assert int(usdt.balanceOf(payer)) == total


def test_skip_mode_skips_at_every_loop_position(
    usdc: Any, owner: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(UNROLLED_SIZE, seed=3_000)
    amounts = [100 + i for i in range(UNROLLED_SIZE)]
    total = sum(amounts)
    for k in UNROLLED_POSITIONS:
        usdc.blacklist(r[k], sender=owner)
    fund(usdc, total)

    receipt = calls(disburser).disburseOrSkip(
        usdc, batch_id("skip-unrolled"), total, words(r, amounts), sender=payer
    )

    skipped = set(UNROLLED_POSITIONS)
    assert [i for i, _, _ in skipped_events(receipt, disburser)] == sorted(skipped)
    expected = [0 if i in skipped else a for i, a in enumerate(amounts)]
    assert balances(usdc, r) == expected
    assert int(usdc.balanceOf(payer)) == total - sum(expected)
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert (event.count, event.total) == (UNROLLED_SIZE - len(skipped), sum(expected))


# --- small batches: paid directly by transferFrom ---------------------------------------------


@pytest.mark.parametrize("token_name", ["erc20", "usdt", "usdc", "usdt_tron"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_small_batches_are_paid_by_transferfrom_from_the_payer(
    request: pytest.FixtureRequest, token_name: str, n: int, payer: Any, disburser: Any, fund: Any
) -> None:
    token = request.getfixturevalue(token_name)
    r = addresses(n, seed=40 + n)
    amounts = [(i + 1) * 7 * UNIT + i for i in range(n)]
    total = sum(amounts)
    fund(token, total + UNIT, allowance=total)
    receipt = calls(disburser).disburse(
        token, batch_id(f"small-{n}"), total, words(r, amounts), sender=payer
    )
    assert balances(token, r) == amounts
    assert int(token.balanceOf(payer)) == UNIT
    # No pull: every Transfer goes from the payer straight to a recipient.
    moved = [(int(log.value), str(log.to).lower()) for log in receipt.decode_logs(token.Transfer)]
    assert moved == list(zip(amounts, r, strict=True))
    event = only_event(receipt, disburser, "BatchDisbursed")
    assert (event.count, event.total) == (n, total)
    assert disburser.executed(payer, batch_id(f"small-{n}"))


def test_small_batch_without_allowance_names_the_row(
    erc20: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    fund(erc20, 100, allowance=99)
    error = expect(
        TransferFailedError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("sal"), 100, words(addresses(1, seed=50), [100]), sender=payer
        ),
    )
    assert error.index == 0
    assert isinstance(error.cause, TokenInsufficientAllowanceError)


def test_small_batch_false_returning_transferfrom_is_refused(
    false_token: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    r = addresses(3, seed=51)
    false_token.setBlocked(r[1], True, sender=payer)
    fund(false_token, 60)
    error = expect(
        TransferFailedError,
        lambda: calls(disburser).disburse(
            false_token, batch_id("sft"), 60, words(r, [10, 20, 30]), sender=payer
        ),
    )
    assert error.index == 1
    assert isinstance(error.cause, TokenReturnedFalseError)
    assert balances(false_token, r) == [0, 0, 0]


@pytest.mark.parametrize("where", ["both", "transferFrom"])
def test_small_batch_fee_on_transfer_is_refused(
    project: Any, owner: Any, payer: Any, disburser: Any, fund: Any, where: str
) -> None:
    token = owner.deploy(project.MockFeeToken, 100, where == "both", True)  # 1 %
    fund(token, 10_000)
    r = addresses(2, 52)
    error = expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburse(
            token, batch_id("sfee"), 10_000, words(r, [4_000, 6_000]), sender=payer
        ),
    )
    assert (error.expected, error.actual) == (4_000, 3_960)
    assert balances(token, r) == [0, 0]


def test_small_batch_paying_the_payer_or_the_disburser_takes_the_pull_path(
    erc20: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """A recipient's balance cannot prove a payer paying itself: such a batch is pulled (and
    the disburser as a recipient is refused by the pull path's balance proof)."""
    r = addresses(1, seed=53)
    fund(erc20, 30)
    receipt = calls(disburser).disburse(
        erc20, batch_id("self-pay"), 30, words([r[0], payer.address], [10, 20]), sender=payer
    )
    assert balances(erc20, [r[0], payer.address]) == [10, 20]
    moved = [str(log.to).lower() for log in receipt.decode_logs(erc20.Transfer)]
    assert moved[0] == disburser.address.lower()  # the pull
    fund(erc20, 30)
    expect(
        BalanceMismatchError,
        lambda: calls(disburser).disburse(
            erc20, batch_id("to-me"), 30, words([disburser.address], [30]), sender=payer
        ),
    )


# --- skip mode: a token that answers success without paying ------------------------------------


@pytest.mark.parametrize("mode", ["disburse", "disburseOrSkip"])
def test_a_lying_token_reverts_the_whole_batch(
    false_token: Any, payer: Any, disburser: Any, fund: Any, mode: str
) -> None:
    """transfer() answers true but moves nothing: counted as paid, then the final balance proof
    (the disburser must hold exactly what it held plus the skipped sum) reverts everything."""
    r = addresses(5, seed=54)
    false_token.setBlocked(r[2], True, sender=payer)
    false_token.setLies(True, sender=payer)
    fund(false_token, 150)
    error = expect(
        BalanceMismatchError,
        lambda: getattr(calls(disburser), mode)(
            false_token, batch_id(f"lie-{mode}"), 150, words(r, [10, 20, 30, 40, 50]), sender=payer
        ),
    )
    assert (error.expected, error.actual) == (0, 30)
    assert balances(false_token, r) == [0] * 5


# --- replay bitmap and packing -----------------------------------------------------------------


def test_replay_keys_of_one_word_are_independent(
    erc20: Any, payer: Any, disburser: Any, fund: Any
) -> None:
    """Keys sharing a 31-byte word key are separate bits of one storage word."""
    word = keccak(text="run")[:31]
    keys = [word + bytes([bit]) for bit in (0, 1, 255)]
    fund(erc20, 300)
    r = addresses(1, seed=55)
    for i, key in enumerate(keys):
        width, rows = (1, bytes.fromhex(r[0][2:]) + bytes([100]))
        assert not disburser.executed(payer, key)
        disburser.disburse(erc20, batch_id(f"bit-{i}"), key, 100, width, rows, sender=payer)
        assert disburser.executed(payer, key)
    assert not disburser.executed(payer, word + bytes([2]))
    fund(erc20, 100)
    error = expect(
        BatchAlreadyExecutedError,
        lambda: disburser.disburse(
            erc20,
            batch_id("bit-again"),
            keys[1],
            100,
            1,
            bytes.fromhex(r[0][2:]) + bytes([100]),
            sender=payer,
        ),
    )
    assert error.replay_key == keys[1]
    assert balances(erc20, r) == [300]


@pytest.mark.parametrize(("width", "length"), [(0, 20), (13, 33), (4, 25), (4, 47)])
def test_malformed_packing_is_refused(
    erc20: Any, payer: Any, disburser: Any, fund: Any, width: int, length: int
) -> None:
    fund(erc20, 100)
    error = expect(
        BadPackingError,
        lambda: disburser.disburse(
            erc20, batch_id("bad"), batch_id("bad"), 100, width, bytes([1]) * length, sender=payer
        ),
    )
    assert (error.amount_bytes, error.length) == (width, length)
    assert not disburser.executed(payer, batch_id("bad"))


@pytest.mark.parametrize("width", [1, 5, 12])
def test_every_amount_width_pays_exactly(
    erc20: Any, payer: Any, disburser: Any, fund: Any, width: int
) -> None:
    top = 2 ** (8 * width) - 1
    amounts = [top, 1, top // 3, 2 ** (8 * width - 8), 7]
    r = addresses(5, seed=56)
    fund(erc20, sum(amounts))
    rows = b"".join(
        bytes.fromhex(a[2:]) + v.to_bytes(width, "big") for a, v in zip(r, amounts, strict=True)
    )
    disburser.disburse(
        erc20, batch_id(f"w{width}"), batch_id(f"w{width}"), sum(amounts), width, rows, sender=payer
    )
    assert balances(erc20, r) == amounts
