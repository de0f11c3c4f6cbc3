"""API keys: ``Authorization: Bearer pk_<id>_<secret>``; only the secret's SHA-256 is stored.

Scopes: ``read`` (GET) and ``write`` (create, cancel, replay). Each key has a request rate
(requests per second, a token bucket with one second of burst); over it the answer is 429 with
``Retry-After``. The buckets live in the database (``svc_rate_limits``), so every API process on
it (several ``payout serve`` on one PostgreSQL) shares one budget per key. A process takes tokens
from the shared bucket in chunks of a tenth of the rate (at least one) and spends them itself: a
busy key costs one database write per rate/10 requests, not one per request; tokens a process
holds expire after a second, so the processes together never exceed the rate by more than one
chunk each.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from payout.service.problem import Problem
from payout.service.store import ApiKey, Store

#: Seconds an authenticated key is remembered (a revoked key stops working within this time).
KEY_CACHE_SECONDS = 5.0
#: A process takes this fraction of a key's rate from the shared bucket at once.
CHUNK_DIVISOR = 10
#: Tokens a process took and did not spend are dropped after this many seconds.
HELD_TOKEN_SECONDS = 1.0
MICRO = 1_000_000


def wall_clock() -> float:
    """The buckets' clock: wall time, shared by the processes and machines on one database."""
    return time.time()


class RateLimiter:
    """Per-key token buckets (``rate`` requests per second, bursts up to ``rate``) in the
    database, spent in chunks by each process (see the module doc)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: key id -> (tokens held by this process, when they were taken)
        self._held: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._claim_lock = threading.Lock()

    def take_held(self, key: str) -> bool:
        """Spend a token this process holds for ``key`` (no database); False when none."""
        now = wall_clock()
        with self._lock:
            held = self._held.get(key)
            if held is None or held[0] <= 0 or now - held[1] >= HELD_TOKEN_SECONDS:
                return False
            self._held[key] = (held[0] - 1, held[1])
            return True

    def take(self, key: str, rate: int) -> float:
        """0 when the request may go on, else the seconds until it may (reads the database when
        this process holds no token)."""
        # One claim at a time per process: requests arriving together wait for the chunk the
        # first one takes instead of each taking a chunk of their own.
        with self._claim_lock:
            if self.take_held(key):
                return 0.0
            now = wall_clock()
            granted, wait = self.store.take_rate_tokens(
                key, rate, max(1, rate // CHUNK_DIVISOR), int(now * MICRO)
            )
            if granted == 0:
                return wait
            with self._lock:
                self._held[key] = (granted - 1, now)
            return 0.0


class Authenticator:
    """Checks the bearer token, the scope and the rate of every request."""

    def __init__(self, store: Store, default_rate: int) -> None:
        self.store = store
        self.default_rate = default_rate
        self.limiter = RateLimiter(store)
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def _cached(self, token: str) -> tuple[bool, ApiKey | None]:
        """(known?, key) from the cache of recently seen tokens."""
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and time.monotonic() - hit[0] < KEY_CACHE_SECONDS:
            return True, hit[1]
        return False, None

    def _lookup(self, token: str) -> ApiKey | None:
        now = time.monotonic()
        key = self.store.authenticate(token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now, key)
        return key

    async def check(self, request: Request, scope: str) -> ApiKey:
        """The request's key, after its scope and rate (the database only on a cache miss or
        when this process holds no token of the key's bucket)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "unauthorized",
                "API key missing",
                "send `Authorization: Bearer pk_...` (create one with "
                "`payout service keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        known, key = self._cached(token.strip())
        if not known:
            key = await run_in_threadpool(self._lookup, token.strip())
        if key is None:
            raise Problem(
                401,
                "unauthorized",
                "API key not valid",
                "the key is unknown or revoked; create a new one with `payout service keys create`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope not in key.scopes:
            raise Problem(
                403,
                "forbidden",
                "Scope missing",
                f"this key ({key.name}) has scopes {sorted(key.scopes)}; this request needs "
                f"{scope!r}",
            )
        rate = key.rate_limit or self.default_rate
        wait = 0.0
        if not self.limiter.take_held(key.id):
            wait = await run_in_threadpool(self.limiter.take, key.id, rate)
        if wait:
            raise Problem(
                429,
                "rate-limited",
                "Too many requests",
                f"key {key.name} is limited to {key.rate_limit or self.default_rate} requests per "
                f"second; retry after the Retry-After seconds",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return key

    def requires(self, scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
        """A FastAPI dependency checking ``scope`` (async: the usual request needs no thread)."""

        async def dependency(request: Request) -> ApiKey:
            return await self.check(request, scope)

        return dependency
