"""tronpy against the local TRON node (payout.tron.devnet), over HTTP."""

from support.tron_node import tron_client, tron_dev_keys, tron_devnet

__all__ = ["tron_client", "tron_dev_keys", "tron_devnet"]
