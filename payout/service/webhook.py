"""Webhook delivery: Standard Webhooks signatures, at-least-once, exponential backoff, a log.

Messages are written in the same transaction as the change they announce (the outbox in
:class:`payout.service.store.Store`); this module only delivers them. A delivery is leased before
it is sent, so a worker killed mid-request leaves it to be sent again when the lease ends: a
receiver may see a message twice (deduplicate on the ``webhook-id`` header), never zero times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from payout.service.store import Store

log = logging.getLogger("payout.service.webhook")

#: A delivery is leased for this long while it is being sent.
LEASE = timedelta(seconds=60)


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Wait before attempt ``attempts + 1``: base, 2*base, 4*base, ... capped."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


@dataclass(frozen=True)
class Attempt:
    """The outcome of one HTTP attempt of a delivery (``next_attempt`` None: no retry)."""

    delivery_pk: int
    status_code: int | None
    error: str | None
    duration_ms: int
    next_attempt: datetime | None


class Deliverer:
    """Sends due deliveries; one call of :meth:`run_once` sends one round.

    A round's deliveries are sent concurrently (``concurrency`` at a time: a slow or failing
    receiver does not hold the others) and their attempts are logged in ONE transaction at the
    end of the round. A crash before that commit loses only the log of the round's attempts: the
    deliveries are still pending under their lease and are sent again (at-least-once).
    """

    def __init__(
        self,
        store: Store,
        secrets: Mapping[str, str],
        *,
        base_seconds: float = 1.0,
        cap_seconds: float = 600.0,
        max_attempts: int = 20,
        timeout: float = 10.0,
        concurrency: int = 16,
    ) -> None:
        self.store = store
        self.signers = {url: Webhook(secret) for url, secret in secrets.items()}
        self.base = base_seconds
        self.cap = cap_seconds
        self.max_attempts = max_attempts
        self.client = httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_connections=max(10, concurrency))
        )
        self._pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="payout-webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()

    def run_once(self, limit: int = 500) -> int:
        """Send the due deliveries (up to ``limit``); returns how many were attempted."""
        due = self.store.claim_deliveries(limit, LEASE)
        if not due:
            return 0
        attempts = list(self._pool.map(self._send, due)) if len(due) > 1 else [self._send(due[0])]
        self.store.record_attempts(attempts)
        return len(due)

    def _send(self, d: dict[str, object]) -> Attempt:
        url = str(d["url"])
        msg_id = str(d["id"])
        payload = str(d["payload"])
        signer = self.signers.get(url)
        attempts = int(str(d["attempts"])) + 1
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        if signer is None:
            error = "endpoint no longer configured"
        else:
            stamp = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(stamp.timestamp())),
                "webhook-signature": signer.sign(msg_id, stamp, payload),
            }
            try:
                answer = self.client.post(url, content=payload.encode(), headers=headers)
                status = answer.status_code
                if not 200 <= status < 300:
                    error = answer.text[:200] or f"HTTP {status}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        ok = status is not None and 200 <= status < 300
        next_attempt = None
        if not ok and attempts < self.max_attempts and signer is not None:
            next_attempt = datetime.now(UTC) + timedelta(
                seconds=backoff_seconds(attempts, self.base, self.cap)
            )
        if not ok:
            log.warning("webhook %s to %s failed (attempt %d): %s", msg_id, url, attempts, error)
        return Attempt(
            int(str(d["pk"])),
            status,
            error,
            int((time.monotonic() - started) * 1000),
            next_attempt,
        )
