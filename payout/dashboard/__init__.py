"""Operator dashboard: server-rendered pages over the ledger and the chains (FastAPI + Jinja2).

``dashboard_router(config)`` gives the routes (under ``/dashboard``) for any FastAPI app, e.g. the
payout service; :func:`payout.dashboard.app.create_app` serves them alone.
"""

from payout.dashboard.config import DashboardConfig, config_from_env
from payout.dashboard.routes import dashboard_router

__all__ = ["DashboardConfig", "config_from_env", "dashboard_router"]
