"""A FastAPI app serving only the dashboard: ``uvicorn payout.dashboard.app:create_app --factory``
(settings from the environment, see :mod:`payout.dashboard.config`). The payout service mounts the
same router next to its API instead."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from payout.dashboard.config import DashboardConfig, config_from_env
from payout.dashboard.routes import PREFIX, dashboard_router


def create_app(config: DashboardConfig | None = None) -> FastAPI:
    """The dashboard app for ``config`` (default: from the environment)."""
    app = FastAPI(title="payout dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(dashboard_router(config or config_from_env()))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)

    return app
