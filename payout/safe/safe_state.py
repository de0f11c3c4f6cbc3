"""What the chain says about a Safe: version, owners, threshold, nonce, approvals.

Read with plain ``eth_call`` through :class:`payout.chain.Chain`, so RPC failures and reverts become
the toolkit's errors. Nothing here is taken from a proposal file.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.exceptions import ContractError, SafeNotFound

SUPPORTED_SAFE_VERSIONS = ("1.3.0", "1.4.1")


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


_VERSION = _selector("VERSION()")
_GET_OWNERS = _selector("getOwners()")
_GET_THRESHOLD = _selector("getThreshold()")
_NONCE = _selector("nonce()")
_DOMAIN_SEPARATOR = _selector("domainSeparator()")
_APPROVED_HASHES = _selector("approvedHashes(address,bytes32)")
#: keccak("fallback_manager.handler.address"): the storage slot of the fallback handler.
_FALLBACK_HANDLER_SLOT = "0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5"


@dataclass(frozen=True)
class SafeState:
    """A Safe as read from the chain at one moment."""

    address: str
    chain_id: int
    version: str
    owners: tuple[str, ...]
    threshold: int
    nonce: int
    fallback_handler: str

    def is_owner(self, address: str) -> bool:
        return to_checksum_address(address) in self.owners


def read_safe(chain: Chain, address: str) -> SafeState:
    """Read a Safe's state; raises :class:`SafeNotFound` if ``address`` is not a supported Safe."""
    safe = to_checksum_address(address)
    chain_id = chain.chain_id
    if not chain.code(safe):
        raise SafeNotFound(safe, chain_id, "no contract code at this address")
    try:
        (version,) = abi_decode(["string"], chain.call(safe, _VERSION, context="Safe VERSION()"))
        (owners,) = abi_decode(["address[]"], chain.call(safe, _GET_OWNERS))
        (threshold,) = abi_decode(["uint256"], chain.call(safe, _GET_THRESHOLD))
        (nonce,) = abi_decode(["uint256"], chain.call(safe, _NONCE))
    except (ContractError, ValueError, TypeError) as exc:
        raise SafeNotFound(safe, chain_id, "it does not answer like a Safe") from exc
    if version not in SUPPORTED_SAFE_VERSIONS:
        raise SafeNotFound(safe, chain_id, f"Safe version {version} is not supported")
    if threshold == 0:
        raise SafeNotFound(safe, chain_id, "the Safe is not set up (threshold 0)")
    handler_word = chain.request("eth_getStorageAt", [safe, _FALLBACK_HANDLER_SLOT, "latest"])
    handler = to_checksum_address("0x" + str(handler_word)[-40:])
    return SafeState(
        address=safe,
        chain_id=chain_id,
        version=str(version),
        owners=tuple(to_checksum_address(o) for o in owners),
        threshold=int(threshold),
        nonce=int(nonce),
        fallback_handler=handler,
    )


def read_nonce(chain: Chain, safe: str) -> int:
    """The Safe's current nonce (the next one that can execute)."""
    (nonce,) = abi_decode(["uint256"], chain.call(safe, _NONCE))
    return int(nonce)


def is_hash_approved(chain: Chain, safe: str, owner: str, safe_tx_hash: bytes) -> bool:
    """Whether ``owner`` called ``approveHash(safe_tx_hash)`` on the Safe."""
    data = _APPROVED_HASHES + abi_encode(["address", "bytes32"], [owner, safe_tx_hash])
    (value,) = abi_decode(["uint256"], chain.call(safe, data))
    return int(value) != 0


def read_domain_separator(chain: Chain, safe: str) -> bytes:
    """The Safe's EIP-712 domain separator as the contract computes it."""
    return bytes(chain.call(safe, _DOMAIN_SEPARATOR)[:32])
