"""USDC-like and USDT-like tokens for the demo and the tests (local chains only).

Their compiled code ships in ``payout/artifacts/DemoTokens.json`` (built by
``scripts/build_artifacts.py`` from ``contracts/demo/DemoStablecoins.sol``, loaded through
:mod:`payout.artifact`), so no compiler is needed. ``DemoUSDC`` has an issuer blacklist (transfers
to a blacklisted address revert, as with USDC; the issuer lifts it with ``unBlacklist``);
``DemoUSDT`` copies Ethereum USDT's quirks (no return values; approve from non-zero to non-zero
reverts). Both have 6 decimals and an open ``mint``.
"""

from __future__ import annotations

import enum
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.artifact import DEMO_TOKENS, bundled_contract
from payout.wallet import Wallet


class DemoToken(enum.StrEnum):
    USDC = "DemoUSDC"
    USDT = "DemoUSDT"


def _call(signature: str, types: list[str], args: list[Any]) -> bytes:
    return keccak(text=signature)[:4] + encode(types, args)


def deploy_token(wallet: Wallet, kind: DemoToken, name: str, symbol: str) -> str:
    """Deploy a demo token from ``wallet``; returns its address."""
    init = bundled_contract(DEMO_TOKENS, kind.value).bytecode
    init += encode(["string", "string"], [name, symbol])
    receipt = wallet.transact(None, init, label=f"deploy {kind.value}")
    return to_checksum_address(str(receipt["contractAddress"]))


def mint(wallet: Wallet, token: str, to: str, amount: int) -> None:
    """Mint ``amount`` base units to ``to`` (demo tokens let anyone mint)."""
    wallet.transact(
        token, _call("mint(address,uint256)", ["address", "uint256"], [to, amount]), label="mint"
    )


def blacklist(wallet: Wallet, token: str, account: str) -> None:
    """Blacklist ``account`` on a DemoUSDC (``wallet`` must be the deployer)."""
    wallet.transact(token, _call("blacklist(address)", ["address"], [account]), label="blacklist")


def unblacklist(wallet: Wallet, token: str, account: str) -> None:
    """Lift ``account``'s blacklisting on a DemoUSDC (``wallet`` must be the deployer)."""
    wallet.transact(
        token, _call("unBlacklist(address)", ["address"], [account]), label="unBlacklist"
    )
