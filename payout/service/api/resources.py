"""``/v1/balances``, ``/v1/batches/{id}``, ``/v1/alerts`` and the webhook log and replay."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' Annotated[...]
# dependencies at runtime, and they refer to this function's locals.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from payout.service.problem import Problem
from payout.service.runtime import Service


def router(service: Service, requires: Any) -> APIRouter:
    api = APIRouter(prefix="/v1")
    store = service.store

    @api.get("/balances", tags=["balances"], summary="Token and gas coin balances of every payer")
    def balances(key: Annotated[Any, Depends(requires("read"))]) -> dict[str, Any]:
        return {"data": service.balances(), "alerts": store.alerts()}

    @api.get("/batches/{batch_id}", tags=["batches"], summary="A batch (one disburse transaction)")
    def batch(batch_id: str, key: Annotated[Any, Depends(requires("read"))]) -> dict[str, Any]:
        found = store.batch(batch_id)
        if found is None:
            raise Problem(404, "not-found", "Batch not found", f"no batch {batch_id}")
        return found

    @api.get("/webhooks/messages", tags=["webhooks"], summary="Events, newest first")
    def messages(
        key: Annotated[Any, Depends(requires("read"))],
        type: Annotated[str | None, Query(description="event type, e.g. payout.paid")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        return {"data": store.messages(event_type=type, limit=limit)}

    @api.get("/webhooks/deliveries", tags=["webhooks"], summary="Delivery log with every attempt")
    def deliveries(
        key: Annotated[Any, Depends(requires("read"))],
        message_id: Annotated[str | None, Query()] = None,
        status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        return {"data": store.deliveries(message_id=message_id, status=status, limit=limit)}

    @api.post(
        "/webhooks/messages/{message_id}/replay",
        tags=["webhooks"],
        status_code=202,
        summary="Deliver an event again to every endpoint",
    )
    def replay(message_id: str, key: Annotated[Any, Depends(requires("write"))]) -> dict[str, Any]:
        count = store.replay(message_id)
        if count is None:
            raise Problem(404, "not-found", "Message not found", f"no message {message_id}")
        return {"message_id": message_id, "deliveries": count}

    return api
