"""The FastAPI application factory: every router is mounted here, in one place.

``create_app(service)`` is composable: another package (the operator dashboard) can build the app
and mount more routers on it, or mount this app under a prefix. The OpenAPI schema is at
``/openapi.json`` (docs at ``/docs``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from payout import __version__
from payout.service import problem
from payout.service.api import payouts, resources
from payout.service.auth import Authenticator
from payout.service.runtime import Service
from payout.types import Scope


def create_app(
    service: Service,
    *,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> FastAPI:
    """The HTTP API of ``service``; ``on_start``/``on_stop`` run with the server (the worker)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            on_start()
        try:
            yield
        finally:
            if on_stop is not None:
                on_stop()

    app = FastAPI(
        title="stablecoin-payouts service",
        version=__version__,
        description="Request USDT/USDC payouts, follow them to the chain, receive signed "
        "webhooks. Errors are RFC 9457 problem+json naming the field.",
        lifespan=lifespan,
    )
    auth = Authenticator(service.store, service.config.default_rate_limit)
    app.state.service = service
    app.state.auth = auth
    problem.install(app)
    app.include_router(payouts.router(service, auth.requires))
    app.include_router(resources.router(service, auth.requires))
    app.include_router(_dashboard(service))

    @app.get("/healthz", tags=["health"], summary="Liveness (no auth)")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "networks": sorted(service.networks)}

    return app


def _dashboard(service: Service) -> APIRouter:
    """The operator dashboard under ``/dashboard``: the service's ledger, API keys (``write``
    scope = operator, read-only = finance) and webhook log; chains of the first EVM and TRON
    network of ``payout.toml``, and every Safe network's chain and proposals folder for the Safe
    page. ``PAYOUT_DASHBOARD_SECRET`` (hex) keeps sessions across restarts."""
    from payout.dashboard import DashboardConfig, dashboard_router
    from payout.dashboard.auth import ServiceKeys
    from payout.dashboard.config import SafeNetwork
    from payout.dashboard.data import ServiceWebhooks
    from payout.types import Network

    evm = [n for n in service.config.networks.values() if n.kind is Network.EVM]
    tron = [n for n in service.config.networks.values() if n.kind is Network.TRON]
    secret = os.environ.get("PAYOUT_DASHBOARD_SECRET", "").strip()
    config = DashboardConfig(
        ledger_url=service.ledger.url,
        keys=ServiceKeys(service.store),
        session_secret=bytes.fromhex(secret) if secret else secrets.token_bytes(32),
        rpc_url=evm[0].url if evm else None,
        tron_node_url=tron[0].url if tron else None,
        disburser=evm[0].disburser if evm else None,
        # Every Safe network's proposals, each from its own chain and proposals folder.
        safe_networks=tuple(
            SafeNetwork(n.name, n.url, n.safe.address, n.safe.proposals_dir)
            for n in evm
            if n.safe is not None
        ),
    )
    return dashboard_router(
        config,
        webhooks=ServiceWebhooks(service.store),
        ledger=service.ledger,
        on_retry=lambda rows: _requeue(service, rows),
    )


def _requeue(service: Service, rows: Sequence[tuple[Scope, str]]) -> None:
    """Rows an operator marked owed again in the dashboard: their finished requests go back to
    ``queued``, so the worker hands them to the pipeline again (which pays what the ledger owes,
    at most once); their next status is announced by webhook as usual."""
    from sqlalchemy import update

    from payout.service.store import DONE, QUEUED, now
    from payout.service.tables import payout_requests

    with service.store.write() as conn:
        for scope, payout_id in rows:
            conn.execute(
                update(payout_requests)
                .where(
                    payout_requests.c.network == scope.network.value,
                    payout_requests.c.chain_id == scope.chain_id,
                    payout_requests.c.payer == scope.payer,
                    payout_requests.c.token == scope.token,
                    payout_requests.c.payout_id == payout_id,
                    payout_requests.c.state == DONE,
                )
                .values(state=QUEUED, updated_at=now())
            )
