"""USDC-like and USDT-like tokens for the demo and the tests (local chains only).

Their compiled code ships in ``payout/artifacts/DemoTokens.json`` (built by
``scripts/build_demo_artifacts.py`` from ``contracts/demo/DemoStablecoins.sol``), so no compiler is
needed. ``DemoUSDC`` has an issuer blacklist (transfers to a blacklisted address revert, as with
USDC); ``DemoUSDT`` copies Ethereum USDT's quirks (no return values; approve from non-zero to
non-zero reverts). Both have 6 decimals and an open ``mint``.
"""

from __future__ import annotations

import enum
import functools
import json
from importlib import resources
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.wallet import Wallet


class DemoToken(enum.StrEnum):
    USDC = "DemoUSDC"
    USDT = "DemoUSDT"


@functools.cache
def _artifacts() -> dict[str, Any]:
    text = resources.files("payout").joinpath("artifacts/DemoTokens.json").read_text("utf-8")
    contracts: dict[str, Any] = json.loads(text)["contracts"]
    return contracts


def _call(signature: str, types: list[str], args: list[Any]) -> bytes:
    return keccak(text=signature)[:4] + encode(types, args)


def deploy_token(wallet: Wallet, kind: DemoToken, name: str, symbol: str) -> str:
    """Deploy a demo token from ``wallet``; returns its address."""
    init = bytes.fromhex(_artifacts()[kind.value]["bytecode"][2:])
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
