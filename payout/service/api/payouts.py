"""``/v1/payouts``: request payouts (one or many, idempotent), read, list, cancel."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' Annotated[...]
# dependencies at runtime, and they refer to this function's locals.
import hashlib
import json
import secrets
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from payout.amount import check_amount, format_decimal
from payout.manifest import MAX_ID_LENGTH
from payout.service.problem import FieldError, Problem, invalid
from payout.service.runtime import Service
from payout.service.store import (
    DuplicateConflict,
    IdempotencyMismatch,
    NewPayout,
    decode_cursor,
    encode_cursor,
)

#: Most rows one request may carry (larger payrolls: several requests, or the CLI with a file).
MAX_ROWS = 10_000
MAX_MEMO = 1_000
MAX_BODY_BYTES = 8 * 1024 * 1024
_FIELDS = {"network", "token", "recipient", "amount", "id", "memo", "payer"}


PublicStatus = Literal[
    "requested", "queued", "proposed", "submitted", "paid", "failed", "skipped", "cancelled"
]


class PayoutIn(BaseModel):
    """One payout to make (the body of POST /v1/payouts, or an item of ``payouts``)."""

    network: str = Field(description="a network name from payout.toml, e.g. polygon")
    token: str = Field(description="token symbol configured for the network (USDC) or address")
    recipient: str = Field(description="address on that network (EIP-55 or all lower-case)")
    amount: str = Field(
        description="token units as a decimal string, e.g. '12.50' (never rounded)",
        examples=["12.50"],
    )
    id: str | None = Field(
        None,
        description="your idempotency id for this payout (paid at most once per network, payer, "
        "token); generated when absent",
        max_length=MAX_ID_LENGTH,
    )
    memo: str | None = Field(None, max_length=MAX_MEMO)
    payer: str | None = Field(None, description="must be the network's payer when given")


class PayoutsIn(BaseModel):
    payouts: list[PayoutIn] = Field(max_length=MAX_ROWS)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    return None


def _validate_row(
    service: Service, item: Any, base: str, errors: list[FieldError]
) -> NewPayout | None:
    if not isinstance(item, dict):
        errors.append(FieldError(base or "/", "a payout is a JSON object", "type"))
        return None
    before = len(errors)
    for key in item:
        if key not in _FIELDS:
            errors.append(
                FieldError(f"{base}/{key}", f"unknown field; allowed: {sorted(_FIELDS)}", "unknown")
            )
    for key in ("network", "token", "recipient", "amount"):
        if item.get(key) is None:
            errors.append(FieldError(f"{base}/{key}", "required", "missing"))
    if len(errors) > before:
        return None
    network_name = _text(item["network"])
    network = service.networks.get(network_name or "")
    if network is None:
        errors.append(
            FieldError(
                f"{base}/network",
                f"unknown network {item['network']!r}; configured: {sorted(service.networks)}",
                "network_unknown",
            )
        )
        return None
    token_text = _text(item["token"])
    token = network.token(token_text) if token_text else None
    if token is None:
        errors.append(
            FieldError(
                f"{base}/token",
                f"{item['token']!r} is not a token of {network.name}; configured: "
                f"{sorted(network.config.tokens)}",
                "token_unknown",
            )
        )
    recipient_text = _text(item["recipient"])
    recipient: str | None = None
    if recipient_text is None:
        errors.append(FieldError(f"{base}/recipient", "an address as a string", "type"))
    else:
        recipient, code, why = service.check_format(network, recipient_text)
        if recipient is None:
            errors.append(FieldError(f"{base}/recipient", why, code or "address_format"))
        elif recipient in (token.address if token else None, network.disburser):
            errors.append(
                FieldError(
                    f"{base}/recipient",
                    "the recipient is the token or disburser contract (funds would be stuck)",
                    "recipient_forbidden",
                )
            )
            recipient = None
    amount_value = item["amount"]
    units: int | None = None
    if isinstance(amount_value, bool) or not isinstance(amount_value, (str, int, Decimal)):
        errors.append(
            FieldError(f"{base}/amount", "token units as a string like '12.50'", "amount_format")
        )
    elif token is not None:
        text = (
            amount_value if isinstance(amount_value, str) else format_decimal(Decimal(amount_value))
        )
        units, amount_code, message = check_amount(text, token.decimals, symbol=token.symbol)
        if units is None:
            errors.append(
                FieldError(f"{base}/amount", message or "invalid", amount_code or "amount")
            )
    payout_id = item.get("id")
    if payout_id is not None:
        if (
            not isinstance(payout_id, str)
            or not payout_id.strip()
            or len(payout_id) > MAX_ID_LENGTH
            or any(ord(c) < 32 or ord(c) == 127 for c in payout_id)
        ):
            errors.append(
                FieldError(
                    f"{base}/id",
                    f"1 to {MAX_ID_LENGTH} characters, no control characters",
                    "id_format",
                )
            )
            payout_id = None
    else:
        payout_id = "api-" + secrets.token_hex(12)
    memo = item.get("memo")
    if memo is not None and (not isinstance(memo, str) or len(memo) > MAX_MEMO):
        errors.append(FieldError(f"{base}/memo", f"text of at most {MAX_MEMO} characters", "memo"))
    payer = item.get("payer")
    if payer is not None and (not isinstance(payer, str) or payer.lower() != network.payer.lower()):
        errors.append(
            FieldError(
                f"{base}/payer",
                f"{network.name} pays from {network.payer} only",
                "payer_unknown",
            )
        )
    if len(errors) > before or token is None or recipient is None or units is None:
        return None
    problem = service.recipient_problem(network, recipient)
    if problem is not None:
        errors.append(FieldError(f"{base}/recipient", problem, "address_network_risk"))
        return None
    return NewPayout(
        network_name=network.name,
        network=network.kind,
        chain_id=network.chain_id,
        payer=network.payer,
        token=token.address,
        token_symbol=token.symbol,
        decimals=token.decimals,
        payout_id=str(payout_id).strip(),
        recipient=recipient,
        amount=units,
        memo=memo,
    )


def parse_request(service: Service, raw: bytes) -> tuple[list[NewPayout], bool]:
    """Every row of a request body, or a 422 problem listing every bad value."""
    if len(raw) > MAX_BODY_BYTES:
        raise Problem(413, "too-large", "Request too large", f"at most {MAX_BODY_BYTES} bytes")
    try:
        # Numbers as exact decimals: 0.1 stays 0.1 (no binary float in between).
        body = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid([FieldError("/", f"not valid JSON: {exc}", "syntax")]) from None
    errors: list[FieldError] = []
    if isinstance(body, dict) and "payouts" in body:
        if set(body) != {"payouts"}:
            errors.append(FieldError("/", "a batch body has only the key payouts", "unknown"))
        items = body["payouts"]
        if not isinstance(items, list) or not items:
            raise invalid([FieldError("/payouts", "a non-empty array of payouts", "type")])
        if len(items) > MAX_ROWS:
            raise invalid([FieldError("/payouts", f"at most {MAX_ROWS} payouts", "too_many")])
        rows = [_validate_row(service, it, f"/payouts/{i}", errors) for i, it in enumerate(items)]
        many = True
    else:
        rows = [_validate_row(service, body, "", errors)]
        many = False
    if errors:
        raise invalid(errors)
    return [r for r in rows if r is not None], many


def router(service: Service, requires: Any) -> APIRouter:
    """The payouts routes of ``service`` (``requires(scope)`` is the auth dependency)."""
    api = APIRouter(prefix="/v1/payouts", tags=["payouts"])
    store = service.store

    @api.post(
        "",
        status_code=201,
        summary="Request payouts (one object, or {payouts: [...]})",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                PayoutIn.model_json_schema(),
                                PayoutsIn.model_json_schema(
                                    ref_template="#/components/schemas/{model}"
                                ),
                            ]
                        }
                    }
                },
            },
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 255},
                    "description": "same key + same body -> the same answer; another body -> 409",
                }
            ],
        },
    )
    async def create(
        request: Request, key: Annotated[Any, Depends(requires("write"))]
    ) -> JSONResponse:
        raw = await request.body()
        idem = request.headers.get("idempotency-key")
        if idem is not None and not (0 < len(idem) <= 255):
            raise invalid([FieldError("Idempotency-Key", "1 to 255 characters", "idempotency_key")])
        digest = hashlib.sha256(raw).hexdigest()

        def work() -> JSONResponse:
            if idem is not None:
                try:
                    stored = store.idempotent_answer(key.id, idem, digest)
                except IdempotencyMismatch:
                    raise _idem_conflict() from None
                if stored is not None:
                    return JSONResponse(
                        stored.body, stored.status_code, headers={"Idempotent-Replayed": "true"}
                    )
            rows, many = parse_request(service, raw)

            def render(records: list[dict[str, Any]], created: int) -> dict[str, Any]:
                return {"payouts": records, "created": created} if many else records[0]

            try:
                answer = store.submit(
                    rows,
                    api_key_id=key.id,
                    idempotency_key=idem,
                    body_sha256=digest,
                    render=render,
                )
            except IdempotencyMismatch:
                raise _idem_conflict() from None
            except DuplicateConflict as exc:
                raise Problem(
                    409,
                    "payout-id-conflict",
                    "Payout id already used",
                    "a payout id already exists with another recipient or amount; nothing of "
                    "this request was stored",
                    [
                        FieldError(
                            f"/payouts/{i}/id" if many else "/id", f"{pid}: {why}", "conflict"
                        )
                        for i, pid, why in exc.conflicts
                    ],
                ) from None
            return JSONResponse(answer.body, answer.status_code)

        return await run_in_threadpool(work)

    @api.get("/{payout_id}", summary="A payout with its status, batch and transaction")
    def get(payout_id: str, key: Annotated[Any, Depends(requires("read"))]) -> dict[str, Any]:
        found = store.payout(payout_id)
        if found is None:
            raise Problem(404, "not-found", "Payout not found", f"no payout {payout_id}")
        return found

    @api.get("", summary="List payouts (oldest first; cursor pagination)")
    def list_(
        key: Annotated[Any, Depends(requires("read"))],
        status: Annotated[PublicStatus | None, Query()] = None,
        network: Annotated[str | None, Query()] = None,
        token: Annotated[str | None, Query()] = None,
        recipient: Annotated[str | None, Query()] = None,
        payout_id: Annotated[str | None, Query(alias="id")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        after = None
        if cursor is not None:
            after = decode_cursor(cursor)
            if after is None:
                raise invalid([FieldError("/query/cursor", "not a cursor of this API", "cursor")])
        page, last = store.list_payouts(
            status=status,
            network=network,
            token=token,
            recipient=recipient,
            payout_id=payout_id,
            after=after,
            limit=limit,
        )
        return {"data": page, "next_cursor": encode_cursor(last) if last is not None else None}

    @api.post("/{payout_id}/cancel", summary="Cancel a payout not yet handed to a batch")
    def cancel(payout_id: str, key: Annotated[Any, Depends(requires("write"))]) -> dict[str, Any]:
        done, found = store.cancel(payout_id)
        if found is None:
            raise Problem(404, "not-found", "Payout not found", f"no payout {payout_id}")
        if not done and found["status"] == "proposed":
            raise Problem(
                409,
                "in-safe-proposal",
                "Payout is in a Safe proposal awaiting signatures",
                f"payout {payout_id} is in the Safe transaction {found['safe_tx_hash']} (Safe "
                f"nonce {found['safe_nonce']}), proposed and awaiting the owners' signatures: "
                "once signed anyone can execute it, so it can no longer be cancelled",
                extra={"safe_tx_hash": found["safe_tx_hash"], "safe_nonce": found["safe_nonce"]},
            )
        if not done and found["status"] != "cancelled":
            raise Problem(
                409,
                "not-cancellable",
                "Payout can no longer be cancelled",
                f"payout {payout_id} is {found['status']}: it was handed to a batch (a "
                "transaction may be on chain); only requested payouts can be cancelled",
            )
        return found

    return api


def _idem_conflict() -> Problem:
    return Problem(
        409,
        "idempotency-key-reused",
        "Idempotency-Key reused with another body",
        "this Idempotency-Key was used for a different request body; use a new key",
        [FieldError("Idempotency-Key", "used before with another body", "idempotency_key")],
    )
