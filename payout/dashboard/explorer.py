"""Block explorer links per network: one table, so a new chain is one line.

Local devnets (anvil's 31337, a local TRON node) have no explorer: no link is better than a link
to a public explorer that does not know the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from payout.types import Network

#: TRON mainnet's chain id as :func:`payout.tron.deploy.chain_id` reads it (last 4 bytes of the
#: genesis block id).
TRON_MAINNET_CHAIN_ID = 0x2B6653DC


@dataclass(frozen=True)
class Explorer:
    """An explorer's name and URL templates (``{tx}`` / ``{address}`` are substituted)."""

    name: str
    tx_url: str
    address_url: str


def _etherscan_like(name: str, host: str) -> Explorer:
    return Explorer(name, f"https://{host}/tx/{{tx}}", f"https://{host}/address/{{address}}")


#: (network, chain id) -> explorer. Anything not listed (devnets, unknown chains) gets no link.
EXPLORERS: dict[tuple[Network, int], Explorer] = {
    (Network.EVM, 1): _etherscan_like("Etherscan", "etherscan.io"),
    (Network.EVM, 56): _etherscan_like("BscScan", "bscscan.com"),
    (Network.EVM, 137): _etherscan_like("PolygonScan", "polygonscan.com"),
    (Network.EVM, 42161): _etherscan_like("Arbiscan", "arbiscan.io"),
    (Network.EVM, 8453): _etherscan_like("BaseScan", "basescan.org"),
    (Network.EVM, 11155111): _etherscan_like("Sepolia Etherscan", "sepolia.etherscan.io"),
    (Network.TRON, TRON_MAINNET_CHAIN_ID): Explorer(
        "Tronscan",
        "https://tronscan.org/#/transaction/{tx}",
        "https://tronscan.org/#/address/{address}",
    ),
}

#: Human names of the chains the dashboard labels (others show as "chain N").
CHAIN_NAMES: dict[tuple[Network, int], str] = {
    (Network.EVM, 1): "Ethereum",
    (Network.EVM, 56): "BNB Smart Chain",
    (Network.EVM, 137): "Polygon",
    (Network.EVM, 42161): "Arbitrum One",
    (Network.EVM, 8453): "Base",
    (Network.EVM, 11155111): "Sepolia",
    (Network.EVM, 31337): "local anvil",
    (Network.TRON, TRON_MAINNET_CHAIN_ID): "TRON",
}


def explorer_for(network: Network, chain_id: int) -> Explorer | None:
    """The explorer of a chain, or None (devnet or unknown chain: show the hash without a link)."""
    return EXPLORERS.get((network, chain_id))


def tx_link(network: Network, chain_id: int, tx_hash: str | None) -> str | None:
    """URL of a transaction on the chain's explorer, or None."""
    explorer = explorer_for(network, chain_id)
    if explorer is None or not tx_hash:
        return None
    if network is Network.TRON:
        tx_hash = tx_hash.removeprefix("0x")
    return explorer.tx_url.format(tx=tx_hash)


def address_link(network: Network, chain_id: int, address: str | None) -> str | None:
    """URL of an address on the chain's explorer, or None."""
    explorer = explorer_for(network, chain_id)
    if explorer is None or not address:
        return None
    return explorer.address_url.format(address=address)


def chain_name(network: Network, chain_id: int) -> str:
    """ "Ethereum", "TRON", "local anvil"... or "chain N" / "TRON chain 0x..."."""
    known = CHAIN_NAMES.get((network, chain_id))
    if known:
        return known
    if network is Network.TRON:
        return f"TRON chain {chain_id:#x}"
    return f"chain {chain_id}"
