"""The hot-wallet executor's resume path on a chain that mines only when told: a batch whose
process died after broadcast is found pending, waited for, replaced with a fee bump (recorded
first), and settled from the replacement's receipt."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from payout.chain import Chain
from payout.demo import demo_recipients
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import dev_private_key, start_anvil
from payout.disburser import Disburser, batch_calldata
from payout.executor import Allowance, HotWalletExecutor
from payout.ledger import Ledger
from payout.signer import LocalSigner
from payout.types import BatchStatus, ExecutorKind, Network, PayMode, Payout, PayoutStatus, Scope
from payout.wallet import SendSettings, Wallet


def _wait_until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_resume_replaces_a_stuck_batch_and_settles_it(tmp_path: Path) -> None:
    from payout.batching import plan_batches

    with start_anvil() as node:
        chain = Chain(node.url)
        fast = SendSettings(poll_interval=0.02)
        deployer = Wallet(chain, LocalSigner(dev_private_key(0)), fast)
        disburser = deploy_disburser(chain, deployer).address
        token = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
        payer = Wallet(
            chain,
            LocalSigner(dev_private_key(1)),
            SendSettings(poll_interval=0.02, replace_after=0.2, fee_bump_percent=30),
        )
        mint(deployer, token, payer.address, 10**12)
        rows = [Payout(f"p{i}", r, 1_000_000 + i) for i, r in enumerate(demo_recipients(7, "ex"))]
        scope = Scope(Network.EVM, chain.chain_id, payer.address, token)
        (batch,) = plan_batches(
            rows, chain_id=chain.chain_id, payer=payer.address, disburser=disburser, token=token
        )
        with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
            ledger.register(rows, scope)
            ledger.save_plan([batch], executor=ExecutorKind.WALLET)
            executor = HotWalletExecutor(
                chain, payer, Disburser(chain, disburser), ledger, allowance=Allowance("batch")
            )
            executor.ensure_allowance(token, batch.total)

            # The first process: signs, records, broadcasts, then dies (nothing mines it).
            chain.request("evm_setAutomine", [False])
            data = batch_calldata(batch, PayMode.STRICT)
            gas = payer.estimate_gas(disburser, data)
            first = payer.prepare(disburser, data, gas=gas, nonce=payer.reserve_nonce())
            executor._write_ahead(batch, PayMode.STRICT)(first)
            payer.broadcast(first)

            # The second process: resume.
            result: dict[str, Any] = {}

            def resume() -> None:
                result["r"] = executor.settle(ledger.open_batches()[0])

            worker = threading.Thread(target=resume)
            worker.start()
            _wait_until(lambda: len(ledger.batch(scope, batch.batch_id).attempts) >= 2)
            second = ledger.batch(scope, batch.batch_id).attempts[1]
            _wait_until(lambda: chain.transaction(str(second.tx_hash)) is not None)
            chain.request("evm_mine", [])
            worker.join(timeout=30)
            assert not worker.is_alive()

            settled = result["r"]
            assert settled.status is BatchStatus.CONFIRMED and settled.paid == 7
            record = ledger.batch(scope, batch.batch_id)
            assert record.status is BatchStatus.CONFIRMED
            assert record.tx_hash != first.tx_hash  # the fee-bumped replacement was mined
            assert {a.status for a in record.attempts} >= {"mined", "replaced"}
            assert int(second.fees["maxFeePerGas"]) >= first.fees.max_fee * 130 // 100
            assert chain.receipt(first.tx_hash) is None
            for p in rows:
                assert chain.token_balance(token, p.recipient) == p.amount
            assert ledger.status_counts() == {
                PayoutStatus.CONFIRMED: (7, sum(p.amount for p in rows))
            }
