"""A node that moves the account nonce before it serves the receipt (anvil with a large
transaction, load-balanced endpoints): the wallet must recognise its own mined transaction, on the
hot-wallet path and on the Safe path alike, and still report a nonce another transaction took.

The lag is injected into our own :class:`~payout.chain.Chain` (its receipt getter answers None for
the first look-ups of chosen hashes); the chain itself is the real anvil of ape's plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer

from payout.chain import Chain
from payout.demo_token import DemoToken
from payout.devnet import dev_private_key
from payout.exceptions import NonceConsumed
from payout.ledger import Ledger
from payout.safe.execution import LedgerRecorder, execute_proposal
from payout.safe.pipeline import propose_payouts
from payout.safe.signature import sign_proposal
from payout.signer import LocalSigner
from payout.types import Network, PayoutStatus, Scope
from payout.wallet import NONCE_RECHECK_MIN_ROUNDS, Inflight, SendSettings, Wallet

RECIPIENT = "0x000000000000000000000000000000000000bEEF"
#: Generous bound: the receipt shows up long before it; only a wrong conclusion would wait it out.
GRACE = SendSettings(poll_interval=0.02, receipt_timeout=60, nonce_grace=30)


class LaggingReceipts:
    """Wraps ``chain.receipt``: the first ``hidden`` look-ups of each hash in ``hashes`` (all
    hashes when empty) answer None, as a node whose receipt index trails its state does."""

    def __init__(self, chain: Chain, hidden: int) -> None:
        self.real = chain.receipt
        self.hidden = hidden
        self.calls: dict[str, int] = {}

    def __call__(self, tx_hash: str) -> dict[str, Any] | None:
        seen = self.calls.get(tx_hash, 0)
        self.calls[tx_hash] = seen + 1
        receipt = self.real(tx_hash)
        if receipt is not None and seen < self.hidden:
            return None
        return receipt


@pytest.fixture
def chain(evm: Chain) -> Chain:
    """A connection of its own, so the injected lag stays inside one test."""
    return Chain(evm.url)


def _wallet(chain: Chain, index: int, settings: SendSettings = GRACE) -> Wallet:
    return Wallet(chain, LocalSigner(dev_private_key(index)), settings)


def test_a_used_nonce_whose_receipt_comes_late_is_ours(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = _wallet(chain, 4)
    lag = LaggingReceipts(chain, hidden=12)
    monkeypatch.setattr(chain, "receipt", lag)
    rechecks: list[int] = []
    real_recheck = wallet.receipt_of_used_nonce

    def spy(inflight: Inflight) -> dict[str, Any] | None:
        rechecks.append(inflight.nonce)
        return real_recheck(inflight)

    monkeypatch.setattr(wallet, "receipt_of_used_nonce", spy)
    nonce = chain.nonce(wallet.address)

    receipt = wallet.transact(RECIPIENT, b"", value=3, gas=21_000, label="pay")

    tx_hash = str(receipt["transactionHash"])
    assert int(str(receipt["status"]), 16) == 1
    assert chain.nonce(wallet.address) == nonce + 1
    # anvil mined it at once, so the nonce had moved while the receipt was still hidden: the
    # wallet went through the used-nonce path and found its own receipt there.
    assert rechecks == [nonce]
    assert lag.calls[tx_hash] > lag.hidden


def test_a_replacement_signed_by_the_wallet_counts_even_if_the_caller_did_not_list_it(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = _wallet(chain, 5)
    nonce = wallet.reserve_nonce()
    original = wallet.prepare(RECIPIENT, b"", gas=21_000, nonce=nonce, value=1)
    bumped = wallet.replacement(original)
    monkeypatch.setattr(chain, "receipt", LaggingReceipts(chain, hidden=3))
    wallet.broadcast(bumped)  # only the replacement reaches the node, and it is mined

    receipt = wallet.wait(Inflight(nonce, [original]))

    assert receipt["transactionHash"] == bumped.tx_hash


def test_a_nonce_used_by_another_transaction_still_raises(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = SendSettings(poll_interval=0.02, receipt_timeout=60, nonce_grace=0.2)
    ours = _wallet(chain, 6, settings)
    # Another process holding the same key: its transactions are not this wallet's.
    other = _wallet(chain, 6, settings)
    nonce = ours.reserve_nonce()
    mine = ours.prepare(RECIPIENT, b"", gas=21_000, nonce=nonce, value=5)
    theirs = other.prepare(RECIPIENT, b"", gas=21_000, nonce=nonce, value=7)
    lag = LaggingReceipts(chain, hidden=2)
    monkeypatch.setattr(chain, "receipt", lag)
    other.broadcast(theirs)

    with pytest.raises(NonceConsumed) as err:
        ours.wait(Inflight(nonce, [mine]))

    assert err.value.nonce == nonce
    # Our hash was asked again after the nonce moved (bounded window), never found.
    assert lag.calls[mine.tx_hash] >= 1 + NONCE_RECHECK_MIN_ROUNDS
    assert chain.receipt(mine.tx_hash) is None
    assert chain.native_balance(RECIPIENT) >= 7


# --- the Safe path relies on the wallet -----------------------------------------------------------


def test_a_large_safe_execution_with_a_late_receipt_is_recorded_as_paid(
    chain: Chain, disburser: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    safe_env: SafeEnv = setup_safe_env(chain, disburser)
    owners = [signer(i) for i in (1, 2)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 1)
    rows = payouts(200, prefix="late-receipt")
    token = safe_env.token(DemoToken.USDC, fund=safe, amount=sum(p.amount for p in rows))
    with Ledger.open("sqlite:///" + str(tmp_path / "ledger.sqlite")) as ledger:
        proposal = propose_payouts(
            chain, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
        ).proposal
        assert proposal is not None and len(proposal.transactions) == 1
        proposal, _ = sign_proposal(chain, proposal, owners[0])
        lag = LaggingReceipts(chain, hidden=10)
        monkeypatch.setattr(chain, "receipt", lag)

        results = execute_proposal(
            chain, proposal, _wallet(chain, EXECUTOR_INDEX), recorder=LedgerRecorder(ledger)
        )

        assert [r.outcome for r in results] == ["paid"]
        assert lag.calls[str(results[0].tx_hash)] > lag.hidden
        scope = Scope(Network.EVM, chain.chain_id, safe, token.address)
        assert len(ledger.payouts(scope, status=PayoutStatus.CONFIRMED)) == 200
    assert [chain.token_balance(token.address, p.recipient) for p in rows[:3]] == [
        p.amount for p in rows[:3]
    ]
