"""Test helpers for the demo tokens on anvil."""

from __future__ import annotations

from eth_abi.abi import decode
from eth_utils.crypto import keccak

from payout import demo_token
from payout.wallet import Wallet


def is_blacklisted(issuer: Wallet, token: str, account: str) -> bool:
    """DemoUSDC's ``isBlacklisted(account)``, read through the issuer's chain."""
    data = keccak(text="isBlacklisted(address)")[:4] + bytes.fromhex(account[2:].rjust(64, "0"))
    (flag,) = decode(["bool"], issuer.chain.call(token, data))
    return bool(flag)


def unblacklist(issuer: Wallet, token: str, account: str) -> None:
    """The issuer lifting a blacklisting with DemoUSDC's ``unBlacklist`` (a real transaction);
    the checks prove the account was blacklisted before and is not after."""
    assert is_blacklisted(issuer, token, account)
    demo_token.unblacklist(issuer, token, account)
    assert not is_blacklisted(issuer, token, account)
