"""Property tests of the disburser on anvil (hypothesis): random batch sizes, amounts, duplicate
recipients and token kinds.

Properties: conservation (the payer loses exactly what the recipients gain), nothing left in the
contract, a batch id never executes twice, a wrong total is refused with nothing moved, and in
skip-and-report mode the payer ends with exactly total - paid. Every example runs inside
``chain.isolate()`` so examples do not see each other's state. Example counts are kept small:
the whole file runs in well under a minute.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from ape.exceptions import ContractLogicError
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.disburser_calls import calls

from payout.exceptions import BatchAlreadyExecutedError, TotalMismatchError
from payout.revert import translate_exception

TOKEN_KINDS = ("erc20", "usdt", "usdc", "usdt_tron")
POOL = ["0x" + random.Random(7).randbytes(20).hex() for _ in range(12)]  # repeats happen
UINT96_MAX = 2**96 - 1

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def word(recipient: str, amount: int) -> bytes:
    return bytes.fromhex(recipient[2:]) + amount.to_bytes(12, "big")


batches = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=len(POOL) - 1),
        st.integers(min_value=1, max_value=2**80),
    ),
    min_size=1,
    max_size=40,
)


@pytest.fixture(scope="session")
def owner(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="session")
def payer(accounts: Any) -> Any:
    return accounts[3]


@pytest.fixture(scope="session", autouse=True)
def deployed(project: Any, owner: Any) -> dict[str, Any]:
    """Deployed before the first test's snapshot, so no test reverts them."""
    return {
        "disburser": owner.deploy(project.Disburser),
        "erc20": owner.deploy(project.MockERC20, "Mock USD", "MUSD"),
        "usdt": owner.deploy(project.MockUSDTEthereum),
        "usdc": owner.deploy(project.MockUSDC),
        "usdt_tron": owner.deploy(project.MockUSDTTron),
    }


def _recipients_delta(token: Any, before: dict[str, int]) -> dict[str, int]:
    return {a: int(token.balanceOf(a)) - b for a, b in before.items()}


@PROPERTY_SETTINGS
@given(kind=st.sampled_from(TOKEN_KINDS), rows=batches, spare=st.integers(0, 10**9))
def test_strict_batches_conserve_value_and_run_once(
    chain: Any,
    deployed: dict[str, Any],
    payer: Any,
    kind: str,
    rows: list[tuple[int, int]],
    spare: int,
) -> None:
    disburser, token = deployed["disburser"], deployed[kind]
    recipients = [POOL[i] for i, _ in rows]
    amounts = [a for _, a in rows]
    total = sum(amounts)
    packed = [word(r, a) for r, a in zip(recipients, amounts, strict=True)]
    bid = keccak(text=f"{kind}-{rows}")
    with chain.isolate():
        token.mint(payer, total + spare, sender=payer)
        token.approve(disburser, total, sender=payer)
        before = {a: int(token.balanceOf(a)) for a in set(recipients)}

        calls(disburser).disburse(token, bid, total, packed, sender=payer)

        expected = Counter[str]()
        for r, a in zip(recipients, amounts, strict=True):
            expected[r] += a
        assert _recipients_delta(token, before) == dict(expected)
        assert int(token.balanceOf(payer)) == spare
        assert int(token.balanceOf(disburser)) == 0
        assert disburser.executed(payer, bid)

        # Replay: refused even with funds and allowance in place.
        token.mint(payer, total, sender=payer)
        token.approve(disburser, total, sender=payer)
        with pytest.raises(ContractLogicError) as info:
            calls(disburser).disburse(token, bid, total, packed, sender=payer)
        assert isinstance(translate_exception(info.value), BatchAlreadyExecutedError)
        assert int(token.balanceOf(payer)) == spare + total


@PROPERTY_SETTINGS
@given(rows=batches, delta=st.integers(-(2**80), 2**80).filter(lambda d: d != 0))
def test_wrong_total_is_refused_and_moves_nothing(
    chain: Any, deployed: dict[str, Any], payer: Any, rows: list[tuple[int, int]], delta: int
) -> None:
    disburser, token = deployed["disburser"], deployed["erc20"]
    amounts = [a for _, a in rows]
    declared = max(0, sum(amounts) + delta)
    if declared == sum(amounts):
        declared += 1
    packed = [word(POOL[i], a) for i, a in rows]
    with chain.isolate():
        token.mint(payer, 2 * (sum(amounts) + abs(delta)), sender=payer)
        token.approve(disburser, 2**256 - 1, sender=payer)
        payer_before = int(token.balanceOf(payer))
        with pytest.raises(ContractLogicError) as info:
            calls(disburser).disburse(token, keccak(text=str(rows)), declared, packed, sender=payer)
        error = translate_exception(info.value)
        assert isinstance(error, TotalMismatchError)
        assert (error.declared, error.actual) == (declared, sum(amounts))
        assert int(token.balanceOf(payer)) == payer_before
        assert all(int(token.balanceOf(a)) == 0 for a in POOL)


@PROPERTY_SETTINGS
@given(
    rows=batches,
    blocked=st.sets(st.integers(min_value=0, max_value=len(POOL) - 1), max_size=len(POOL)),
)
def test_skip_mode_payer_keeps_exactly_what_was_not_paid(
    chain: Any,
    deployed: dict[str, Any],
    owner: Any,
    payer: Any,
    rows: list[tuple[int, int]],
    blocked: set[int],
) -> None:
    disburser, usdc = deployed["disburser"], deployed["usdc"]
    total = sum(a for _, a in rows)
    packed = [word(POOL[i], a) for i, a in rows]
    bid = keccak(text=f"skip-{rows}-{sorted(blocked)}")
    with chain.isolate():
        for i in blocked:
            usdc.blacklist(POOL[i], sender=owner)
        usdc.mint(payer, total, sender=payer)
        usdc.approve(disburser, total, sender=payer)

        receipt = calls(disburser).disburseOrSkip(usdc, bid, total, packed, sender=payer)

        paid_rows = [(i, a) for i, a in rows if i not in blocked]
        paid = sum(a for _, a in paid_rows)
        assert int(usdc.balanceOf(payer)) == total - paid
        assert int(usdc.balanceOf(disburser)) == 0
        expected = Counter[str]()
        for i, a in paid_rows:
            expected[POOL[i]] += a
        assert {a: int(usdc.balanceOf(a)) for a in POOL} == {a: expected[a] for a in POOL}
        skipped = [
            int(e.index)
            for e in receipt.decode_logs(disburser.TransferSkipped)
            if e.event_name == "TransferSkipped"
        ]
        assert skipped == [k for k, (i, _) in enumerate(rows) if i in blocked]
        summary = [e for e in receipt.decode_logs(disburser.BatchDisbursed)]
        assert [(int(e.count), int(e.total)) for e in summary] == [(len(paid_rows), paid)]


@PROPERTY_SETTINGS
@given(
    amounts=st.lists(st.integers(min_value=0, max_value=10**18), min_size=1, max_size=25),
    excess=st.integers(min_value=0, max_value=10**18),
)
def test_native_batches_pay_exactly_and_refund_the_rest(
    chain: Any, deployed: dict[str, Any], payer: Any, amounts: list[int], excess: int
) -> None:
    disburser = deployed["disburser"]
    recipients = [
        "0x" + random.Random(len(amounts) * 1000 + k).randbytes(20).hex()
        for k in range(len(amounts))
    ]
    recipients = list(dict.fromkeys(recipients))  # distinct, in order
    amounts = amounts[: len(recipients)]
    packed = [word(r, a) for r, a in zip(recipients, amounts, strict=True)]
    with chain.isolate():
        before = payer.balance
        receipt = calls(disburser).disburseNative(
            keccak(text=f"n-{amounts}-{excess}"), packed, sender=payer, value=sum(amounts) + excess
        )
        assert [chain.provider.get_balance(r) for r in recipients] == amounts
        assert before - payer.balance == sum(amounts) + receipt.total_fees_paid
        assert disburser.balance == 0
