"""Chain reads: token facts from the chain, fees, balances, a non-token address."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payout.chain import Chain
from payout.exceptions import NotAToken
from payout.wallet import Wallet


def test_token_facts_come_from_the_chain(evm: Chain, usdc: str, usdt: str) -> None:
    info = evm.token(usdc)
    assert (info.symbol, info.decimals, info.name) == ("USDC", 6, "Demo USD Coin")
    assert evm.token(usdt).symbol == "USDT"


def test_balances_and_allowance(
    evm: Chain, usdc: str, disburser: str, wallet_of: Callable[..., Wallet]
) -> None:
    holder = wallet_of(1).address
    assert evm.token_balance(usdc, holder) == 1_000_000 * 10**6
    assert evm.allowance(usdc, holder, disburser) == 0
    assert evm.native_balance(holder) > 0


def test_eip1559_fees(evm: Chain) -> None:
    fees = evm.fee_data()
    assert fees.base_fee >= 0 and fees.max_priority_fee > 0
    assert fees.max_fee == 2 * fees.base_fee + fees.max_priority_fee
    bumped = fees.bumped(10)
    assert bumped.max_fee >= fees.max_fee * 110 // 100


def test_an_account_without_code_is_not_a_token(evm: Chain) -> None:
    with pytest.raises(NotAToken) as info:
        evm.token("0x000000000000000000000000000000000000dEaD")
    assert "no contract code" in str(info.value)
