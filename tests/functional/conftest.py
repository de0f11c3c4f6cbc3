"""Functional tests: the library against the anvil that ape's pytest plugin starts (ape-foundry).

ape snapshots the chain around custom fixtures and reverts after each test, so every test starts
from the session fixtures' state (disburser deployed) and may spend freely.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payout.chain import Chain
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import dev_private_key
from payout.signer import LocalSigner
from payout.wallet import SendSettings, Wallet

FAST = SendSettings(poll_interval=0.02, receipt_timeout=30)


@pytest.fixture(scope="session")
def evm() -> Chain:
    from ape import networks

    return Chain(networks.provider.http_uri)


@pytest.fixture(scope="session")
def disburser(evm: Chain) -> str:
    return deploy_disburser(evm, Wallet(evm, LocalSigner(dev_private_key(0)), FAST)).address


@pytest.fixture
def wallet_of(evm: Chain) -> Callable[[int], Wallet]:
    """A fresh wallet for anvil test account ``i`` (fresh: no state survives ape's revert)."""

    def make(i: int, settings: SendSettings = FAST) -> Wallet:
        return Wallet(evm, LocalSigner(dev_private_key(i)), settings)

    return make


@pytest.fixture
def usdc(evm: Chain, wallet_of: Callable[[int], Wallet]) -> str:
    """A fresh DemoUSDC; account 1 holds 1,000,000 USDC."""
    w = wallet_of(0)
    token = deploy_token(w, DemoToken.USDC, "Demo USD Coin", "USDC")
    mint(w, token, wallet_of(1).address, 1_000_000 * 10**6)
    return token


@pytest.fixture
def usdt(evm: Chain, wallet_of: Callable[[int], Wallet]) -> str:
    """A fresh DemoUSDT (Ethereum USDT quirks); account 1 holds 1,000,000 USDT."""
    w = wallet_of(0)
    token = deploy_token(w, DemoToken.USDT, "Demo Tether USD", "USDT")
    mint(w, token, wallet_of(1).address, 1_000_000 * 10**6)
    return token
