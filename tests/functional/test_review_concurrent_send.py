"""Review findings: two processes sending the same planned batch from the same payer.

On one ledger the second process's write-ahead is refused before it broadcasts. With two ledgers
(two machines with the same key) both transactions go out; the contract executes the batch id
once, so the second one reverts. Settling that reverted receipt must not mark the batch's rows
failed (owed again) when the chain says the batch executed: a later plan that groups those rows
differently gets a new batch id, which the contract's replay guard does not stop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from payout.batching import plan_batches
from payout.chain import Chain
from payout.demo import demo_recipients
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import dev_private_key, start_anvil
from payout.disburser import Disburser, batch_calldata
from payout.exceptions import BatchInFlightElsewhere
from payout.executor import Allowance, HotWalletExecutor, settle_from_receipt
from payout.ledger import Ledger
from payout.signer import LocalSigner
from payout.types import (
    Batch,
    BatchStatus,
    ExecutorKind,
    Network,
    PayMode,
    Payout,
    PayoutStatus,
    Scope,
)
from payout.wallet import SendSettings, Wallet


@contextmanager
def _one_planned_batch(
    *, rows: int, seed: str
) -> Iterator[tuple[Chain, Disburser, str, Wallet, list[Payout], Scope, Batch]]:
    """A fresh anvil with the disburser, a funded payer and one planned batch of ``rows`` rows."""
    with start_anvil() as node:
        chain = Chain(node.url)
        fast = SendSettings(poll_interval=0.02)
        deployer = Wallet(chain, LocalSigner(dev_private_key(0)), fast)
        disburser = Disburser(chain, deploy_disburser(chain, deployer).address)
        token = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
        payer = Wallet(chain, LocalSigner(dev_private_key(1)), fast)
        mint(deployer, token, payer.address, 10**12)
        payouts = [
            Payout(f"p{i}", r, 1_000_000 + i) for i, r in enumerate(demo_recipients(rows, seed))
        ]
        scope = Scope(Network.EVM, chain.chain_id, payer.address, token)
        (batch,) = plan_batches(
            payouts,
            chain_id=chain.chain_id,
            payer=payer.address,
            disburser=disburser.address,
            token=token,
        )
        yield chain, disburser, token, payer, payouts, scope, batch


def test_reverted_duplicate_of_an_executed_batch_settles_as_paid(tmp_path: Path) -> None:
    with _one_planned_batch(rows=5, seed="cc") as world:
        chain, disburser, token, payer, rows, scope, batch = world
        ledgers = [Ledger.open(f"sqlite:///{tmp_path / f'{n}.sqlite'}") for n in "ab"]
        for ledger in ledgers:
            ledger.register(rows, scope)
            ledger.save_plan([batch], executor=ExecutorKind.WALLET)
        executors = [
            HotWalletExecutor(chain, payer, disburser, ledger, allowance=Allowance("run"))
            for ledger in ledgers
        ]
        executors[0].ensure_allowance(token, 2 * batch.total)
        ledger = ledgers[1]  # the losing process's ledger
        try:
            # Two processes pick the same planned batch before either transaction is mined.
            chain.request("evm_setAutomine", [False])
            data = batch_calldata(batch, PayMode.STRICT)
            gas = payer.estimate_gas(disburser.address, data)
            txs = []
            start = payer.reserve_nonce()
            for nonce, executor in zip((start, start + 1), executors, strict=True):
                prepared = payer.prepare(disburser.address, data, gas=gas, nonce=nonce)
                executor._write_ahead(batch, PayMode.STRICT)(prepared)
                payer.broadcast(prepared)
                txs.append(prepared)
            chain.request("evm_mine", [])
            chain.request("evm_setAutomine", [True])
            winner, loser = (chain.receipt(t.tx_hash) for t in txs)
            assert winner is not None and int(str(winner["status"]), 16) == 1
            assert loser is not None and int(str(loser["status"]), 16) == 0

            # The losing process settles first: its transaction reverted, but the batch paid.
            result = settle_from_receipt(ledger, disburser, batch, loser)
            assert result.status is BatchStatus.CONFIRMED
            assert result.tx_hash == txs[0].tx_hash
            # The winning process settles its own receipt in its own ledger.
            settle_from_receipt(ledgers[0], disburser, batch, winner)
            assert ledgers[0].batch(scope, batch.batch_id).status is BatchStatus.CONFIRMED

            record = ledger.batch(scope, batch.batch_id)
            assert record.status is BatchStatus.CONFIRMED
            assert record.tx_hash == txs[0].tx_hash
            assert ledger.status_counts() == {
                PayoutStatus.CONFIRMED: (5, sum(p.amount for p in rows))
            }
            for p in rows:
                assert chain.token_balance(token, p.recipient) == p.amount
        finally:
            for each in ledgers:
                each.close()


def test_second_sender_on_the_same_ledger_is_refused_before_broadcast(tmp_path: Path) -> None:
    with (
        _one_planned_batch(rows=3, seed="cd") as world,
        Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger,
    ):
        chain, disburser, token, payer, rows, scope, batch = world
        ledger.register(rows, scope)
        ledger.save_plan([batch], executor=ExecutorKind.WALLET)
        first, second = (
            HotWalletExecutor(chain, payer, disburser, ledger, allowance=Allowance("batch"))
            for _ in range(2)
        )
        first.ensure_allowance(token, batch.total)
        chain.request("evm_setAutomine", [False])
        data = batch_calldata(batch, PayMode.STRICT)
        gas = payer.estimate_gas(disburser.address, data)
        start = payer.reserve_nonce()
        a = payer.prepare(disburser.address, data, gas=gas, nonce=start)
        first._write_ahead(batch, PayMode.STRICT)(a)
        payer.broadcast(a)
        b = payer.prepare(disburser.address, data, gas=gas, nonce=start + 1)
        with pytest.raises(BatchInFlightElsewhere):
            second._write_ahead(batch, PayMode.STRICT)(b)
        assert chain.transaction(b.tx_hash) is None
        chain.request("evm_mine", [])
        chain.request("evm_setAutomine", [True])
        (record,) = ledger.open_batches(scope)
        assert [x.tx_hash for x in record.attempts] == [a.tx_hash]
        assert first.settle(record).status is BatchStatus.CONFIRMED
        assert chain.nonce(payer.address, "latest") == start + 1
