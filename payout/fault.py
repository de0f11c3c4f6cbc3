"""Test-only fault injection: kill the process at a named point of the send path.

``PAYOUT_FAULT=after-broadcast:2`` makes the process exit immediately (``os._exit``, no cleanup,
no ledger flush: like ``kill -9`` or a power cut) the second time it reaches ``after-broadcast``.
Several points may be given, comma-separated. The crash-safety tests use it to stop a real
``payout send`` subprocess at each dangerous moment and then check that ``payout resume`` finishes
the job without paying anyone twice. Never set it in production.

Points on the hot-wallet path (in the order they are reached for one transaction):

``before-broadcast``
    the transaction is signed and recorded in the ledger (write-ahead), not yet sent.
``after-broadcast``
    the node accepted the transaction; no receipt has been read.
``after-receipt``
    the receipt is read (the batch is paid on chain); the ledger does not know yet.
``after-settle``
    the ledger recorded the batch's outcome; nothing was announced yet (events, webhooks).

On the service's Safe path (the same three points apply to its ``execTransaction``), first:

``after-propose``
    the worker recorded a Safe proposal in the ledger; it is not posted to the Transaction
    Service nor written to the proposals folder yet.
``after-publish``
    the proposal's file is written to the proposals folder; it is not posted to the Transaction
    Service yet.
``after-release``
    the ledger released a proposal whose Safe nonce another transaction used (its rows are owed
    again); its files are not moved to ``done/`` and the rows are not proposed again yet.
"""

from __future__ import annotations

import os
from collections import Counter

FAULT_ENV = "PAYOUT_FAULT"
#: Exit status of a process stopped by a fault (distinct from every PayoutError exit code).
FAULT_EXIT_CODE = 86
POINTS = ("before-broadcast", "after-broadcast", "after-receipt", "after-settle")
#: Reached only by the service worker paying from a Safe.
SAFE_POINTS = ("after-propose", "after-publish", "after-release")

_reached: Counter[str] = Counter()


def checkpoint(point: str) -> None:
    """Exit the process here if ``PAYOUT_FAULT`` asks for it (no-op otherwise)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    _reached[point] += 1
    for item in spec.split(","):
        name, _, nth = item.strip().partition(":")
        if name == point and _reached[point] == (int(nth) if nth else 1):
            os._exit(FAULT_EXIT_CODE)
