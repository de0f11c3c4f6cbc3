"""Test helpers for the demo tokens on anvil that the library has no reason to offer."""

from __future__ import annotations

from eth_utils.crypto import keccak

from payout.chain import Chain

#: DemoUSDC storage: name, symbol, totalSupply, balanceOf, allowance, then isBlacklisted.
_BLACKLIST_SLOT = 5


def _blacklist_key(account: str) -> str:
    padded = bytes.fromhex(account[2:].rjust(64, "0")) + _BLACKLIST_SLOT.to_bytes(32, "big")
    return "0x" + keccak(padded).hex()


def unblacklist(chain: Chain, token: str, account: str) -> None:
    """The issuer lifting a blacklisting. DemoUSDC has no such function, so the devnet clears the
    mapping entry; the check first proves the slot is the one that blacklisted the account."""
    key = _blacklist_key(account)
    assert int(chain.request("eth_getStorageAt", [token, key, "latest"]), 16) == 1
    chain.request("anvil_setStorageAt", [token, key, "0x" + "00" * 32])
    assert int(chain.request("eth_getStorageAt", [token, key, "latest"]), 16) == 0
