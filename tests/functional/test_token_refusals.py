"""Why a USDT/USDC-style token refuses a batch (issue 8 item 11): the token's own ``paused()`` and
``isBlackListed`` / ``isBlacklisted`` are read and the cause is named (payer, recipient with its
file line, disburser, paused) in simulation and for a batch that reverted on chain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from payout.chain import Chain
from payout.disburser import Disburser, batch_calldata, encode_approve
from payout.exceptions import PredictedFailures, SimulationFailed
from payout.executor import record_signed, settle_from_receipt
from payout.ledger import Ledger
from payout.pipeline import PlanOptions, Target, plan_scope
from payout.types import Batch, BatchStatus, ExecutorKind, Network, PayMode, Payout, PayoutStatus
from payout.wallet import Inflight, Wallet

SOURCE = "payouts.csv"


@pytest.fixture
def usdt(project: Any, accounts: Any, wallet_of: Callable[..., Wallet]) -> Any:
    """MockUSDTEthereum (silent reverts, sender blacklist, pause); account 1 holds 1,000,000."""
    token = accounts[0].deploy(project.MockUSDTEthereum)
    token.mint(wallet_of(1).address, 1_000_000 * 10**6, sender=accounts[0])
    return token


@pytest.fixture
def usdc(project: Any, accounts: Any, wallet_of: Callable[..., Wallet]) -> Any:
    """MockUSDC (USDC's revert strings, blacklist of sender and recipient, pause)."""
    token = accounts[0].deploy(project.MockUSDC)
    token.mint(wallet_of(1).address, 1_000_000 * 10**6, sender=accounts[0])
    return token


def _rows(n: int) -> list[Payout]:
    # Physical lines 2.. of a CSV with a header, as the manifest numbers them.
    return [
        Payout(f"row-{i}", Account.create().address, 1_000_000 + i, line=i + 2, source=SOURCE)
        for i in range(n)
    ]


def _plan(evm: Chain, disburser: str, payer: str, token: str, rows: list[Payout]) -> Any:
    target = Target(evm, Disburser(evm, disburser))
    return plan_scope(target, payer, evm.token(token), rows, PlanOptions())


def test_paused_usdt_is_named_instead_of_a_reason_less_revert(
    evm: Chain, usdt: Any, disburser: str, accounts: Any, wallet_of: Callable[..., Wallet]
) -> None:
    usdt.pause(sender=accounts[0])
    with pytest.raises(SimulationFailed) as info:
        _plan(evm, disburser, wallet_of(1).address, usdt.address, _rows(3))
    text = str(info.value)
    assert "paused" in text and "without a reason" not in text
    assert "unpause" in (info.value.hint or "")


def test_blacklisted_payer_is_named(
    evm: Chain, usdt: Any, disburser: str, accounts: Any, wallet_of: Callable[..., Wallet]
) -> None:
    payer = wallet_of(1).address
    usdt.addBlackList(payer, sender=accounts[0])
    with pytest.raises(SimulationFailed) as info:
        _plan(evm, disburser, payer, usdt.address, _rows(3))
    text = str(info.value)
    assert f"the payer {payer} is blacklisted" in text and "without a reason" not in text


def test_blacklisted_disburser_is_named(
    evm: Chain, usdt: Any, disburser: str, accounts: Any, wallet_of: Callable[..., Wallet]
) -> None:
    usdt.addBlackList(disburser, sender=accounts[0])
    with pytest.raises(SimulationFailed) as info:
        _plan(evm, disburser, wallet_of(1).address, usdt.address, _rows(3))
    assert f"the disburser {disburser} is blacklisted" in str(info.value)


def test_blacklisted_recipient_is_named_with_its_file_line(
    evm: Chain, usdc: Any, disburser: str, accounts: Any, wallet_of: Callable[..., Wallet]
) -> None:
    rows = _rows(5)
    usdc.blacklist(rows[3].recipient, sender=accounts[0])
    plan = _plan(evm, disburser, wallet_of(1).address, usdc.address, rows)
    (failure,) = plan.failures
    assert failure.payout_id == "row-3" and failure.line == 5 and failure.where == "payouts.csv:5"
    assert f"the recipient {rows[3].recipient} (payouts.csv:5) is blacklisted" in failure.reason
    # The whole batch in strict mode: the revert at index 3 is named the same way.
    strict = Disburser(evm, disburser).simulate(plan.batches[0], PayMode.STRICT, allowance=0)
    assert not strict.ok
    assert f"the recipient {rows[3].recipient} (payouts.csv:5) is blacklisted" in str(strict.error)
    error = PredictedFailures(plan.failures)
    assert error.exit_code == 2
    assert "row-3 (payouts.csv:5)" in str(error)


def test_batch_reverted_on_chain_records_the_decoded_cause(
    evm: Chain,
    usdt: Any,
    disburser: str,
    accounts: Any,
    wallet_of: Callable[..., Wallet],
    tmp_path: Path,
) -> None:
    payer = wallet_of(1)
    rows = tuple(_rows(3))
    batch = Batch(
        0,
        b"\x5a" * 32,
        Network.EVM,
        evm.chain_id,
        payer.address,
        usdt.address,
        disburser,
        rows,
        sum(p.amount for p in rows),
        0,
        replay_key=b"\x5a" * 31 + b"\x00",
    )
    payer.transact(usdt.address, encode_approve(disburser, batch.total), label="approve")
    usdt.pause(sender=accounts[0])
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        ledger.register(list(rows), batch.scope)
        ledger.save_plan([batch], executor=ExecutorKind.WALLET, mode=PayMode.STRICT)
        # Signed with a fixed gas limit (an estimate would refuse it) and recorded write-ahead,
        # as the executor does: mined, it reverts on chain.
        prepared = payer.prepare(
            disburser,
            batch_calldata(batch, PayMode.STRICT),
            gas=400_000,
            nonce=payer.reserve_nonce(),
        )
        record_signed(ledger, batch, prepared)
        payer.broadcast(prepared)
        # The node may answer the broadcast before the block is sealed: wait for the receipt
        # the way the executor does (bounded by the wallet's receipt timeout).
        receipt = payer.wait(Inflight(prepared.nonce, [prepared]))
        assert int(str(receipt["status"]), 16) == 0
        result = settle_from_receipt(ledger, Disburser(evm, disburser), batch, receipt)
        assert result.status is BatchStatus.FAILED
        assert "paused" in result.detail and "without a reason" not in result.detail
        record = ledger.batch(batch.scope, batch.batch_id)
        assert record.error is not None and "paused" in record.error
        assert {r.status for r in ledger.payouts(batch.scope)} == {PayoutStatus.FAILED}
