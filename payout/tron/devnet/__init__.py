"""A local TRON full node that tronpy talks to as to a real one (development, tests, demos).

No java-tron node can run on the machines this toolkit is developed on, so this package emulates
one: java-tron's HTTP ``wallet/*`` API (the subset tronpy uses), protobuf serialization identical to
java-tron's (txIDs match the real chain), signature / permission / TaPoS / expiration checks with
java-tron's error codes, contract execution on py-evm with TRON's energy schedule, and TRON's
energy / bandwidth fees. Where it differs from mainnet is listed in ``docs/tron-node.md``.

::

    from payout.tron.devnet import TronDevnet

    with TronDevnet() as node:
        print(node.url, node.accounts[0].base58)
"""

from payout.tron.devnet.chain import Chain, ChainConfig
from payout.tron.devnet.node import (
    DEFAULT_DEV_ACCOUNTS,
    DEFAULT_DEV_BALANCE_SUN,
    FAUCET_KEY,
    WITNESS_KEY,
    DevAccount,
    TronDevnet,
    dev_account,
)

__all__ = [
    "DEFAULT_DEV_ACCOUNTS",
    "DEFAULT_DEV_BALANCE_SUN",
    "FAUCET_KEY",
    "WITNESS_KEY",
    "Chain",
    "ChainConfig",
    "DevAccount",
    "TronDevnet",
    "dev_account",
]
