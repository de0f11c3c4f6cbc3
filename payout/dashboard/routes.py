"""The dashboard's pages: a FastAPI router rendering Jinja2 templates shipped with the package.

Mount it with ``app.include_router(dashboard_router(config))``; every path is under
``/dashboard``. Pages need a session (login form with an API key) or an
``Authorization: Bearer KEY`` header; POSTs need the operator role and, with a session, the
session's CSRF token.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from payout.amount import format_amount
from payout.dashboard.auth import SESSION_COOKIE, SESSION_SECONDS, Principal, Session, csrf_ok
from payout.dashboard.chart import Series, bar_chart
from payout.dashboard.config import DashboardConfig
from payout.dashboard.data import (
    RETRYABLE_STATUSES,
    ChainCosts,
    Chains,
    DashboardData,
    ReconcileRun,
    WebhookSource,
    balances,
    daily_costs,
    parse_scope_key,
    reconcile_all,
    retry_payouts,
    safe_proposals,
)
from payout.ledger import Ledger
from payout.types import Network, Scope

PREFIX = "/dashboard"
STATIC_FILES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}

#: Pages in the navigation: (path under /dashboard, label).
NAV = (
    ("/", "Runs & batches"),
    ("/attention", "Failed & skipped"),
    ("/balances", "Balances"),
    ("/safe", "Safe proposals"),
    ("/webhooks", "Webhooks"),
    ("/reconcile", "Reconcile"),
    ("/costs", "Costs"),
)

SECURITY_HEADERS = {
    # Everything is served from here; no inline script, no third party, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("payout.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short"] = lambda v, n=10: v if not v or len(v) <= n + 6 else f"{v[:n]}…{v[-4:]}"
    return env


class _State:
    """What the router keeps between requests: the ledger, the last reconcile, the webhooks."""

    def __init__(
        self, config: DashboardConfig, webhooks: WebhookSource | None, ledger: Ledger | None
    ) -> None:
        self.config = config
        self.webhooks = webhooks
        self._ledger = ledger
        self.last_reconcile: ReconcileRun | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger.open(self.config.ledger_url)
        return self._ledger

    def data(self) -> DashboardData:
        return DashboardData(
            self.ledger,
            Chains(
                self.config.rpc_url,
                self.config.tron_node_url,
                [n.rpc_url for n in self.config.safe_networks],
            ),
        )


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _safe_next(target: str | None) -> str:
    """Only a path of this dashboard (never another host) is a redirect target after login."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def dashboard_router(
    config: DashboardConfig,
    *,
    webhooks: WebhookSource | None = None,
    ledger: Ledger | None = None,
    on_retry: Callable[[Sequence[tuple[Scope, str]]], None] | None = None,
) -> APIRouter:
    """The dashboard's routes (under ``/dashboard``) for one ledger and set of keys.

    ``ledger``: an open ledger to share (the service's); else ``config.ledger_url`` is opened on
    first use. ``webhooks``: the service's delivery log (:class:`ServiceWebhooks`).
    ``on_retry``: called with the rows a retry marked owed again (the service queues them for its
    worker; without it the next ``payout send`` of their file pays them)."""
    state = _State(config, webhooks, ledger)
    env = _environment()
    signer = config.signer
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def who(request: Request) -> tuple[Principal, Session | None] | None:
        session = signer.check(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            return session.principal, session
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            principal = config.keys.authenticate(header[7:])
            if principal is not None:
                return principal, None
        return None

    def page(
        request: Request,
        template: str,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        found = who(request)
        principal, session = found if found else (None, None)
        html = env.get_template(template).render(
            request_path=request.url.path,
            prefix=PREFIX,
            nav=NAV,
            principal=principal,
            csrf=session.csrf if session else "",
            **context,
        )
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def login_redirect(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)

    def guarded(
        request: Request, render: Callable[[DashboardData], dict[str, Any]], template: str
    ) -> Response:
        if who(request) is None:
            return login_redirect(request)
        return page(request, template, **render(state.data()))

    async def acting(request: Request) -> tuple[Principal, dict[str, list[str]]]:
        """The principal of a state-changing POST (operator, CSRF checked) and its form."""
        found = who(request)
        if found is None:
            raise HTTPException(401, "log in first")
        principal, session = found
        if not principal.can_act:
            raise HTTPException(403, f"the {principal.role} role is read-only")
        form = _form(await request.body())
        if session is not None and not csrf_ok(session, (form.get("csrf") or [""])[0]):
            raise HTTPException(403, "the form is stale or forged (CSRF token mismatch): reload")
        return principal, form

    # --- assets and login ------------------------------------------------------------------

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(404)
        body = importlib.resources.files("payout.dashboard").joinpath("static", name).read_bytes()
        return Response(
            body,
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/login")
    def login_form(request: Request, next: str | None = None) -> Response:
        return page(request, "login.html", title="Log in", next=_safe_next(next), error=None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = _form(await request.body())
        key = (form.get("api_key") or [""])[0]
        target = _safe_next((form.get("next") or [""])[0])
        principal = config.keys.authenticate(key)
        if principal is None:
            return page(
                request,
                "login.html",
                status_code=401,
                title="Log in",
                next=target,
                error="That API key is not valid.",
            )
        cookie, _session = signer.issue(principal)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=config.secure_cookie,
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        found = who(request)
        session = found[1] if found else None
        form = _form(await request.body())
        if session is not None and not csrf_ok(session, (form.get("csrf") or [""])[0]):
            raise HTTPException(403, "CSRF token mismatch: reload the page")
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # --- pages ---------------------------------------------------------------------------

    @router.get("/")
    def overview(request: Request) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            return {
                "title": "Runs and batches",
                "summaries": data.summaries(),
                "runs": data.runs(),
                "batches": data.batches()[:100],
            }

        return guarded(request, render, "overview.html")

    @router.get("/runs/{run_id}")
    def run_page(request: Request, run_id: int) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            found = [r for r in data.runs(limit=10_000) if r.id == run_id]
            if not found:
                raise HTTPException(404, f"no run {run_id} in the ledger")
            return {
                "title": f"Run {run_id}",
                "run": found[0],
                "batches": data.batches(run_id=run_id),
            }

        return guarded(request, render, "run.html")

    @router.get("/batches/{network}/{chain_id}/{payer}/{batch_id}")
    def batch_page(
        request: Request, network: str, chain_id: int, payer: str, batch_id: str
    ) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            try:
                net = Network(network)
            except ValueError:
                raise HTTPException(404, f"unknown network {network}") from None
            found = data.batch(net, chain_id, payer, batch_id)
            if found is None:
                raise HTTPException(404, f"no batch {batch_id} of {payer} in the ledger")
            batch, rows = found
            return {"title": f"Batch {batch.index}", "batch": batch, "rows": rows}

        return guarded(request, render, "batch.html")

    @router.get("/payouts")
    def payouts_page(request: Request, q: str = "") -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            return {"title": "Find a payout", "q": q, "rows": data.find_rows(q) if q else []}

        return guarded(request, render, "payouts.html")

    @router.get("/attention")
    def attention(
        request: Request, retried: int | None = None, gone: int | None = None
    ) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            return {
                "title": "Failed and skipped rows",
                "rows": data.rows(RETRYABLE_STATUSES),
                "retried": retried,
                "gone": gone,
            }

        return guarded(request, render, "attention.html")

    @router.post("/retry")
    async def retry(request: Request) -> Response:
        principal, form = await acting(request)
        wanted = []
        for value in form.get("row", []):
            key, sep, payout_id = value.rpartition("|")
            try:
                wanted.append((parse_scope_key(key), payout_id))
            except ValueError:
                raise HTTPException(400, f"malformed row reference {value!r}") from None
            if not sep or not payout_id:
                raise HTTPException(400, f"malformed row reference {value!r}")
        if not wanted:
            raise HTTPException(400, "select at least one row to retry")
        result = await run_in_threadpool(retry_payouts, state.ledger, wanted, actor=principal.name)
        if on_retry is not None and result.rows:
            await run_in_threadpool(on_retry, result.rows)
        return RedirectResponse(
            f"{PREFIX}/attention?retried={result.marked}&gone={len(result.not_retryable)}",
            status_code=303,
        )

    @router.get("/balances")
    def balances_page(request: Request) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            return {
                "title": "Balances",
                "balances": balances(
                    data, min_gas_wei=config.min_gas_wei, min_trx_sun=config.min_trx_sun
                ),
                "gas_floor": format_amount(config.min_gas_wei, 18, min_decimals=2),
                "trx_floor": format_amount(config.min_trx_sun, 6, min_decimals=0),
            }

        return guarded(request, render, "balances.html")

    @router.get("/safe")
    def safe_page(request: Request) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            return {
                "title": "Safe proposals awaiting signatures",
                "proposals": safe_proposals(data, config.proposals_dir, config.safe_networks),
            }

        return guarded(request, render, "safe.html")

    @router.get("/webhooks")
    def webhooks_page(request: Request, retried: str | None = None) -> Response:
        def render(_data: DashboardData) -> dict[str, Any]:
            return {
                "title": "Webhook deliveries",
                "configured": state.webhooks is not None,
                "deliveries": state.webhooks.deliveries(200) if state.webhooks else [],
                "retried": retried,
            }

        return guarded(request, render, "webhooks.html")

    @router.post("/webhooks/{delivery_id}/retry")
    async def webhook_retry(request: Request, delivery_id: str) -> Response:
        principal, _form_values = await acting(request)
        if state.webhooks is None:
            raise HTTPException(404, "webhooks are not configured")
        source = state.webhooks
        ok = await run_in_threadpool(lambda: source.retry(delivery_id, actor=principal.name))
        if not ok:
            raise HTTPException(409, f"delivery {delivery_id} cannot be retried")
        return RedirectResponse(f"{PREFIX}/webhooks?retried={quote(delivery_id)}", status_code=303)

    @router.get("/reconcile")
    def reconcile_page(request: Request, run: int = 0) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            if run or state.last_reconcile is None:
                state.last_reconcile = reconcile_all(data, config.disburser)
            return {"title": "Reconcile", "result": state.last_reconcile}

        return guarded(request, render, "reconcile.html")

    @router.get("/costs")
    def costs_page(request: Request) -> Response:
        def render(data: DashboardData) -> dict[str, Any]:
            chains = daily_costs(data)
            return {
                "title": "Paid amounts and costs per day",
                "chains": [(c, *_charts(c)) for c in chains],
            }

        return guarded(request, render, "costs.html")

    return router


def _charts(c: ChainCosts) -> tuple[str, str]:
    labels = [d.day.isoformat() for d in c.days]
    paid = bar_chart(
        f"Paid per day on {c.chain}",
        labels,
        [Series("paid", "bar-paid", [d.paid_units for d in c.days], [d.paid for d in c.days])],
        f"{len(labels)} day(s); total {sum(d.rows for d in c.days)} rows",
        max((d for d in c.days), key=lambda d: d.paid_units).paid if c.days else "",
    )
    series = [
        Series("fee paid", "bar-fee", [d.fee for d in c.days], [c.coin_text(d.fee) for d in c.days])
    ]
    if c.total_saved is not None:
        series.append(
            Series(
                "separate transfers (est.)",
                "bar-separate",
                [d.separate_fee or 0 for d in c.days],
                [c.coin_text(d.separate_fee) for d in c.days],
            )
        )
    fee = bar_chart(
        f"Fee per day on {c.chain}",
        labels,
        series,
        f"fee paid {c.coin_text(c.total_fee)}; saved {c.coin_text(c.total_saved)}",
        c.coin_text(max([v for ser in series for v in ser.values] + [0])),
    )
    return paid, fee
