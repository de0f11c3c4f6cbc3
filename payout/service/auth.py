"""API keys: ``Authorization: Bearer pk_<id>_<secret>``; only the secret's SHA-256 is stored.

Scopes: ``read`` (GET) and ``write`` (create, cancel, replay). Each key has a request rate
(requests per second, a token bucket with one second of burst); over it the answer is 429 with
``Retry-After``. Buckets live in the process: with several API processes the limit is per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from payout.service.problem import Problem
from payout.service.store import ApiKey, Store

#: Seconds an authenticated key is remembered (a revoked key stops working within this time).
KEY_CACHE_SECONDS = 5.0


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets per key: ``rate`` requests per second, bursts up to ``rate``."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rate: int) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket(float(rate), now)
            b.tokens = min(float(rate), b.tokens + (now - b.stamp) * rate)
            b.stamp = now
            if b.tokens >= 1:
                b.tokens -= 1
                return 0.0
            return (1 - b.tokens) / rate


class Authenticator:
    """Checks the bearer token, the scope and the rate of every request."""

    def __init__(self, store: Store, default_rate: int) -> None:
        self.store = store
        self.default_rate = default_rate
        self.limiter = RateLimiter()
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def _lookup(self, token: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
            return hit[1]
        key = self.store.authenticate(token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now, key)
        return key

    def check(self, request: Request, scope: str) -> ApiKey:
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
        key = self._lookup(token.strip())
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
        wait = self.limiter.take(key.id, key.rate_limit or self.default_rate)
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

    def requires(self, scope: str) -> Callable[[Request], ApiKey]:
        """A FastAPI dependency checking ``scope``."""

        def dependency(request: Request) -> ApiKey:
            return self.check(request, scope)

        return dependency
