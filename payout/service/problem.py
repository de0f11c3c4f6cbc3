"""RFC 9457 problem details (``application/problem+json``) for every error the API returns.

Each problem has a ``type`` URN, a ``title``, the HTTP ``status``, a ``detail`` saying what to do,
and for bad input ``errors``: one entry per problem with a JSON ``pointer`` into the request body
(or ``query``/``header`` name) and the ``field`` in dotted form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    """One bad value: where (``pointer`` like ``/payouts/2/amount``), what rule, what to do."""

    pointer: str
    detail: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        parts = [p for p in self.pointer.split("/") if p]
        dotted = ""
        for p in parts:
            dotted += f"[{p}]" if p.isdigit() else (f".{p}" if dotted else p)
        return {"pointer": self.pointer, "field": dotted, "code": self.code, "detail": self.detail}


@dataclass
class Problem(Exception):
    """Raised anywhere in a request; rendered by the handler installed by :func:`install`."""

    status: int
    code: str
    title: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": f"urn:payout:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        out.update(self.extra)
        return out


def invalid(errors: list[FieldError], detail: str | None = None) -> Problem:
    """422: the request body or query has bad values (every one of them listed)."""
    first = errors[0].as_dict()
    return Problem(
        422,
        "validation",
        "Invalid request",
        detail or f"{len(errors)} invalid value(s); first: {first['field']}: {first['detail']}",
        errors,
    )


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=problem.headers or None,
    )


def _loc_pointer(loc: tuple[Any, ...]) -> str:
    where = [str(p) for p in loc]
    if where and where[0] == "body":
        return "/" + "/".join(where[1:])
    return "/" + "/".join(where)


def install(app: FastAPI) -> None:
    """Render :class:`Problem`, FastAPI's validation errors and plain HTTP errors as problems."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(_loc_pointer(tuple(e.get("loc", ()))), str(e.get("msg")), str(e.get("type")))
            for e in exc.errors()
        ]
        return problem_response(invalid(errors), request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "Not found", 405: "Method not allowed"}
        problem = Problem(
            exc.status_code,
            {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http"),
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )
        return problem_response(problem, request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
