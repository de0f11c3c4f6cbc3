"""Non-custodial stablecoin mass payouts.

Pipeline: manifest (validate a payout file) -> batching (gas-bounded plan) -> ledger (what is owed,
what is paid) -> an executor (hot wallet, Safe multisig, TRON) -> reconcile (ledger vs chain).
"""

from payout.exceptions import PayoutError

__all__ = ["PayoutError", "__version__"]
__version__ = "0.1.0"
