"""The per-key rate limit is counted in the database: every API process on the same database (two
app instances here, each with its own engine like two `payout serve` processes) shares one budget.
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from payout.ledger import Ledger
from payout.service import migrate
from payout.service.app import create_app
from payout.service.network import ServiceConfig
from payout.service.runtime import Service

PROBLEM = "application/problem+json"


class Clock:
    """A clock the test moves by hand (the limiter's refill must not depend on test speed)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr("payout.service.auth.wall_clock", c, raising=False)
    return c


@pytest.fixture
def services(ledger_url: str) -> Iterator[tuple[Service, Service]]:
    migrate.upgrade(ledger_url)
    config = ServiceConfig(path="payout.toml", networks={}, ledger_url=ledger_url)
    with ExitStack() as stack:
        pair = []
        for _ in range(2):
            service = Service(config, Ledger.open(ledger_url), {})
            stack.callback(service.close)
            pair.append(service)
        yield pair[0], pair[1]


def test_two_app_instances_share_one_rate_budget(
    services: tuple[Service, Service], clock: Clock
) -> None:
    first, second = services
    _key, token = first.store.create_api_key("shared", ["read"], rate_limit=3)
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(first)) as a, TestClient(create_app(second)) as b:
        codes = [a.get("/v1/payouts", headers=auth).status_code for _ in range(2)]
        codes += [b.get("/v1/payouts", headers=auth).status_code]
        limited = b.get("/v1/payouts", headers=auth)
        assert codes == [200, 200, 200]
        # The fourth request within the same second, on the other instance: over the budget.
        assert limited.status_code == 429
        assert limited.headers["content-type"] == PROBLEM
        assert int(limited.headers["Retry-After"]) >= 1
        problem = limited.json()
        assert problem["status"] == 429 and problem["type"].endswith("rate-limited")
        assert "3 requests per second" in problem["detail"]
        assert a.get("/v1/payouts", headers=auth).status_code == 429
        # One second later the bucket has refilled by 3 requests, shared again.
        clock.now += 1.0
        codes = [c.get("/v1/payouts", headers=auth).status_code for c in (a, b, a, b)]
        assert codes == [200, 200, 200, 429]


def test_each_key_has_its_own_budget(services: tuple[Service, Service], clock: Clock) -> None:
    first, second = services
    _k1, busy = first.store.create_api_key("busy", ["read"], rate_limit=1)
    _k2, calm = first.store.create_api_key("calm", ["read"], rate_limit=1)
    with TestClient(create_app(first)) as a, TestClient(create_app(second)) as b:
        assert a.get("/v1/payouts", headers={"Authorization": f"Bearer {busy}"}).status_code == 200
        assert b.get("/v1/payouts", headers={"Authorization": f"Bearer {busy}"}).status_code == 429
        assert b.get("/v1/payouts", headers={"Authorization": f"Bearer {calm}"}).status_code == 200


def test_concurrent_requests_of_a_process_take_one_chunk(
    services: tuple[Service, Service], clock: Clock
) -> None:
    """Requests arriving together in one process share the chunk the first one takes from the
    database: a key of 100 requests/s serves 100 concurrent requests, not 10 chunks' worth."""
    from concurrent.futures import ThreadPoolExecutor

    from payout.service.auth import RateLimiter

    first, _second = services
    key, _token = first.store.create_api_key("busy", ["write"], rate_limit=100)
    limiter = RateLimiter(first.store)
    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(lambda _i: limiter.take(key.id, 100), range(100)))
    assert waits == [0.0] * 100
    assert limiter.take(key.id, 100) > 0
