"""Safe test environment on the anvil of ape's pytest plugin: real Safe contracts (safe-eth-py's
shipped bytecode, canonical addresses), Safes with chosen owners, a funded demo token."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from payout.chain import Chain
from payout.demo_token import DemoToken, deploy_token, mint
from payout.devnet import dev_private_key
from payout.safe.devnet import SafeContracts, create_safe, deploy_safe_contracts
from payout.signer import LocalSigner
from payout.types import Payout, TokenInfo
from payout.wallet import SendSettings, Wallet

FAST = SendSettings(poll_interval=0.02, receipt_timeout=60)
#: anvil account that sends execTransaction in the tests (never an owner unless a test says so).
EXECUTOR_INDEX = 9

_salts = itertools.count(1)


def signer(index: int) -> LocalSigner:
    """anvil development account ``index`` as a signer (0..9; they hold ETH)."""
    return LocalSigner(dev_private_key(index), label=f"dev {index}")


def wallet(chain: Chain, index: int) -> Wallet:
    return Wallet(chain, signer(index), FAST)


@dataclass
class SafeEnv:
    chain: Chain
    contracts: dict[str, SafeContracts]
    disburser: str
    made: list[str] = field(default_factory=list)

    def new_safe(self, version: str, owners: list[str], threshold: int) -> str:
        address = create_safe(
            self.chain.w3,
            dev_private_key(0),
            self.contracts[version],
            owners,
            threshold,
            salt_nonce=next(_salts) + 10_000 * len(self.made),
        )
        self.made.append(address)
        return address

    def token(
        self, kind: DemoToken = DemoToken.USDC, fund: str | None = None, amount: int = 0
    ) -> TokenInfo:
        deployer = wallet(self.chain, 0)
        symbol = "USDC" if kind is DemoToken.USDC else "USDT"
        address = deploy_token(deployer, kind, f"Demo {symbol}", symbol)
        if fund is not None and amount:
            mint(deployer, address, fund, amount)
        return TokenInfo(address, symbol, 6, chain_id=self.chain.chain_id)


def setup_safe_env(chain: Chain, disburser: str) -> SafeEnv:
    contracts = deploy_safe_contracts(chain.w3, dev_private_key(0))
    return SafeEnv(chain, contracts, disburser)


def payouts(
    count: int, *, start: int = 0, prefix: str = "p", amount: int = 1_000_000
) -> list[Payout]:
    """Fresh recipients (derived addresses), distinct amounts."""
    from eth_utils.address import to_checksum_address
    from eth_utils.crypto import keccak

    out = []
    for i in range(start, start + count):
        recipient = to_checksum_address(keccak(f"{prefix}-{i}".encode())[12:])
        out.append(Payout(f"{prefix}-{i}", recipient, amount + i))
    return out
