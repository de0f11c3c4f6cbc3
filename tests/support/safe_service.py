"""A local stand-in for the Safe Transaction Service (the real one needs Django, Postgres, Redis and
RabbitMQ on Python >= 3.13, none of which run here).

It serves the endpoints safe-eth-py's ``TransactionServiceApi`` calls and enforces the service's
rules against the real chain, using safe-eth-py's own hashing and signature parsing (as the real
service does), not the code under test:

* the ``contractTransactionHash`` must match the fields (hash recomputed with the Safe's on-chain
  version and the chain id);
* the sender must be an owner of the Safe (read on chain) or a registered delegate;
* every signature must be valid and from an owner (EIP-712, eth_sign, approved hash, EIP-1271);
* the nonce must not be executed yet (>= the Safe's on-chain nonce);
* DELEGATECALL only to trusted targets (the canonical MultiSendCallOnly deployments);
* addresses (the Safe in the URL, ``to``, ``sender``, ``gasToken``, ``refundReceiver``) must be
  EIP-55 checksummed (422 "Checksum address validation failed" / "is not checksumed"), ``to`` and
  ``sender`` not 0x0 or 0x1;
* a ``signature`` is hex of at least 65 bytes whose static part is whole 65-byte words; one owner
  signing twice in one request is refused ("is duplicated");
* ``origin`` is at most 200 characters;
* a transaction proposed with a signature (or confirmed later) is *trusted*; lists return only
  trusted transactions unless ``trusted=false`` is asked for;
* lists are paginated like Django REST framework's ``LimitOffsetPagination`` (``limit`` default 100,
  capped at 200, ``offset``; ``count``, absolute ``next``/``previous`` links), newest nonce first
  (``ordering`` may name nonce, created or modified, ``-`` for descending);
* with an API key configured, requests need ``Authorization: Bearer <key>``.

The rules follow the service's request serializers (``SafeMultisigTransactionSerializer``,
``SafeMultisigConfirmationSerializer``) and list view (``SafeMultisigTransactionListView``, its
filter set and ``DefaultPagination``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

TRUSTED_DELEGATECALL_TARGETS = frozenset(
    {
        "0x9641d764fc13c8B624c04430C7356C1C7C8102e2",  # MultiSendCallOnly 1.4.1
        "0x40A2aCCbd92BCA938b02010E17A5b8929b49130D",  # MultiSendCallOnly 1.3.0
        "0xA1dabEF33b3B82c7814B6D82A79e50F4AC44102B",  # MultiSendCallOnly 1.3.0 (eip155)
    }
)

_SIG_TYPE_NAMES = {0: "CONTRACT_SIGNATURE", 1: "APPROVED_HASH", 2: "EOA", 3: "ETH_SIGN"}

#: The service's ``DefaultPagination`` (LimitOffsetPagination).
DEFAULT_LIMIT = 100
MAX_LIMIT = 200
#: ``origin = serializers.CharField(max_length=200, ...)``.
ORIGIN_MAX_LENGTH = 200
#: Signatures must be at least 65 bytes (``HexadecimalField(min_length=65)``).
SIGNATURE_MIN_BYTES = 65
_ORDERING_FIELDS = ("nonce", "created", "modified")


class Rejected(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class StoredTx:
    safe: str
    fields: dict[str, Any]
    safe_tx_hash: str
    proposer: str
    confirmations: dict[str, dict[str, Any]] = field(default_factory=dict)
    trusted: bool = False
    origin: str | None = None
    created: int = 0
    modified: int = 0


class SafeServiceStandIn:
    """Run with ``start()``; ``url`` is the base URL to give ``TransactionServiceApi``."""

    def __init__(
        self,
        rpc_url: str,
        *,
        api_key: str | None = None,
        default_limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
    ) -> None:
        from safe_eth.eth import EthereumClient

        self.client = EthereumClient(rpc_url)
        self.api_key = api_key
        # The real page sizes by default; tests lower them to page through a few transactions.
        self.default_limit = default_limit
        self.max_limit = max_limit
        self._clock = 0
        self.delegates: dict[str, set[str]] = {}
        self.txs: dict[str, StoredTx] = {}
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SafeServiceStandIn:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:  # quiet
                return

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    if service.api_key is not None:
                        auth = self.headers.get("Authorization", "")
                        if auth != f"Bearer {service.api_key}":
                            raise Rejected(401, "Authentication credentials were not provided.")
                    body = json.loads(raw) if raw else {}
                    host = self.headers.get("Host") or service.url.split("//", 1)[1]
                    status, reply = service.dispatch(method, self.path, body, host=host)
                except RejectedFields as exc:
                    status, reply = exc.status, exc.errors
                except Rejected as exc:
                    status, reply = exc.status, {"detail": exc.detail}
                except Exception as exc:  # a bug in the stand-in: make it visible
                    status, reply = 500, {"detail": f"{type(exc).__name__}: {exc}"}
                service.requests.append((method, self.path, status))
                self._reply(status, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SafeServiceStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_delegate(self, safe: str, delegate: str) -> None:
        self.delegates.setdefault(to_checksum_address(safe), set()).add(
            to_checksum_address(delegate)
        )

    # --- chain facts ---------------------------------------------------------------------------

    def _safe(self, address: str) -> Any:
        from safe_eth.safe import Safe

        return Safe(to_checksum_address(address), self.client)  # type: ignore[abstract]

    def _safe_tx(self, safe_address: str, f: dict[str, Any], signatures: bytes = b"") -> Any:
        from safe_eth.safe import SafeTx

        safe = self._safe(safe_address)
        return SafeTx(
            self.client,
            safe.address,
            to_checksum_address(f["to"]),
            int(f["value"]),
            HexBytes(f.get("data") or "0x"),
            int(f["operation"]),
            int(f["safeTxGas"]),
            int(f["baseGas"]),
            int(f["gasPrice"]),
            f.get("gasToken"),
            f.get("refundReceiver"),
            signatures=signatures,
            safe_nonce=int(f["nonce"]),
            safe_version=safe.retrieve_version(),
            chain_id=self.client.get_chain_id(),
        )

    def _check_signatures(
        self,
        safe_address: str,
        safe_tx: Any,
        signatures: bytes,
        *,
        status: int = 422,
        allowed: set[str] | None = None,
    ) -> list[Any]:
        from safe_eth.safe.safe_signature import SafeSignature

        safe = self._safe(safe_address)
        owners = set(safe.retrieve_owners())
        version = safe.retrieve_version()
        _check_signature_layout(signatures, status)
        parsed = SafeSignature.parse_signature(
            signatures, safe_tx.safe_tx_hash, safe_tx.safe_tx_hash_preimage
        )
        if not parsed:
            raise Rejected(status, "Signature is not valid")
        seen: list[str] = []
        for sig in parsed:
            if sig.owner not in (allowed if allowed is not None else owners):
                raise Rejected(status, f"Signer={sig.owner} is not an owner")
            if not sig.is_valid(self.client, safe.address, version):
                raise Rejected(
                    status, f"Signature={sig.signature.hex()} for owner={sig.owner} is not valid"
                )
            if sig.owner in seen:
                raise Rejected(status, f"Signature for owner={sig.owner} is duplicated")
            seen.append(sig.owner)
        return parsed

    # --- routing -------------------------------------------------------------------------------

    def dispatch(
        self, method: str, path: str, body: dict[str, Any], *, host: str = ""
    ) -> tuple[int, Any]:
        parsed = urlparse(path)
        route = parsed.path
        with self._lock:
            m = re.fullmatch(r"/api/v2/safes/(0x[0-9a-fA-F]{40})/multisig-transactions/", route)
            if m and not _is_checksummed(m.group(1)):
                return 422, {
                    "code": 1,
                    "message": "Checksum address validation failed",
                    "arguments": [m.group(1)],
                }
            if m and method == "POST":
                return self._propose(m.group(1), body)
            if m and method == "GET":
                return self._list(m.group(1), parse_qs(parsed.query), f"http://{host}{route}")
            m = re.fullmatch(
                r"/api/v1/multisig-transactions/(0x[0-9a-fA-F]{64})/confirmations/", route
            )
            if m and method == "POST":
                return self._confirm(m.group(1), body)
            m = re.fullmatch(r"/api/v2/multisig-transactions/(0x[0-9a-fA-F]{64})/", route)
            if m and method == "GET":
                stored = self.txs.get(m.group(1).lower())
                if stored is None:
                    raise Rejected(404, "Not found.")
                return 200, self._render(stored)
        raise Rejected(404, f"no route for {method} {route}")

    def _propose(self, safe_address: str, body: dict[str, Any]) -> tuple[int, Any]:
        required = (
            "to",
            "value",
            "operation",
            "safeTxGas",
            "baseGas",
            "gasPrice",
            "nonce",
            "contractTransactionHash",
            "sender",
        )
        missing = [k for k in required if body.get(k) is None]
        if missing:
            raise Rejected(400, f"missing fields: {', '.join(missing)}")
        errors: dict[str, list[str]] = {}
        for name, nullable in (
            ("to", False),
            ("sender", False),
            ("gasToken", True),
            ("refundReceiver", True),
        ):
            problem = _address_problem(body.get(name), nullable=nullable)
            if problem:
                errors[name] = [problem]
        origin = body.get("origin")
        if origin is not None and (not isinstance(origin, str) or len(origin) > ORIGIN_MAX_LENGTH):
            errors["origin"] = [
                f"Ensure this field has no more than {ORIGIN_MAX_LENGTH} characters."
            ]
        if errors:
            raise RejectedFields(422, errors)
        safe = self._safe(safe_address)
        if not self.client.is_contract(safe.address):
            raise Rejected(422, f"Safe={safe_address} does not exist")
        safe_tx = self._safe_tx(safe.address, body)
        if HexBytes(body["contractTransactionHash"]) != safe_tx.safe_tx_hash:
            raise Rejected(
                422,
                f"Contract-transaction-hash={body['contractTransactionHash']} does not match "
                f"provided contract-tx-hash={safe_tx.safe_tx_hash.hex()}",
            )
        if int(body["nonce"]) < safe.retrieve_nonce():
            raise Rejected(
                422, f"Tx with nonce={body['nonce']} for safe={safe.address} already executed"
            )
        if (
            int(body["operation"]) == 1
            and to_checksum_address(body["to"]) not in TRUSTED_DELEGATECALL_TARGETS
        ):
            raise Rejected(422, "Operation DELEGATE_CALL is not allowed for an untrusted target")
        sender = to_checksum_address(body["sender"])
        owners = set(safe.retrieve_owners())
        if sender not in owners and sender not in self.delegates.get(safe.address, set()):
            raise Rejected(422, f"Sender={sender} is not an owner or delegate")
        key = safe_tx.safe_tx_hash.hex().lower()
        key = key if key.startswith("0x") else "0x" + key
        signature = HexBytes(body.get("signature") or "0x")
        sigs: list[Any] = []
        if signature:
            delegates = self.delegates.get(safe.address, set())
            sigs = self._check_signatures(
                safe.address, safe_tx, signature, allowed=owners | delegates
            )
            if len(sigs) > 1 and any(s.owner in delegates for s in sigs):
                raise Rejected(422, "Just one signature is expected if using delegates")
            if sender not in {s.owner for s in sigs}:
                raise Rejected(422, f"Signature does not match sender={sender}")
        trusted = bool(sigs)
        stored = self.txs.get(key)
        if stored is None:
            fields = {
                k: body.get(k)
                for k in (
                    "to",
                    "value",
                    "data",
                    "operation",
                    "safeTxGas",
                    "baseGas",
                    "gasPrice",
                    "gasToken",
                    "refundReceiver",
                    "nonce",
                )
            }
            now = self._tick()
            stored = StoredTx(
                safe.address,
                fields,
                key,
                sender,
                trusted=trusted,
                origin=origin,
                created=now,
                modified=now,
            )
            self.txs[key] = stored
        elif trusted and not stored.trusted:
            stored.trusted, stored.origin, stored.modified = True, origin, self._tick()
        for sig in sigs:
            if sig.owner in owners:
                self._store_confirmation(stored, sig)
        return 201, {}

    def _confirm(self, safe_tx_hash: str, body: dict[str, Any]) -> tuple[int, Any]:
        stored = self.txs.get(safe_tx_hash.lower())
        if stored is None:
            raise Rejected(
                404, f"Multisig transaction with safe-tx-hash={safe_tx_hash} was not found"
            )
        safe = self._safe(stored.safe)
        if int(stored.fields["nonce"]) < safe.retrieve_nonce():
            raise Rejected(
                400, f"Transaction with safe-tx-hash={safe_tx_hash} was already executed"
            )
        safe_tx = self._safe_tx(stored.safe, stored.fields)
        signature = HexBytes(body.get("signature") or "0x")
        for sig in self._check_signatures(stored.safe, safe_tx, signature, status=400):
            self._store_confirmation(stored, sig)
        if signature:
            stored.trusted, stored.modified = True, self._tick()
        return 201, {"signature": signature.hex()}

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _store_confirmation(self, stored: StoredTx, sig: Any) -> None:
        # One confirmation per owner (the service's get_or_create): a repeat keeps the first.
        if sig.owner in stored.confirmations:
            return
        stored.confirmations[sig.owner] = {
            "owner": sig.owner,
            "submissionDate": datetime.now(UTC).isoformat(),
            "transactionHash": None,
            "signature": "0x" + bytes(sig.export_signature()).hex(),
            "signatureType": _SIG_TYPE_NAMES[int(sig.signature_type)],
        }

    def _render(self, stored: StoredTx) -> dict[str, Any]:
        safe = self._safe(stored.safe)
        executed = int(stored.fields["nonce"]) < safe.retrieve_nonce()
        return {
            "safe": stored.safe,
            **stored.fields,
            "value": str(stored.fields["value"]),
            "safeTxGas": str(stored.fields["safeTxGas"]),
            "baseGas": str(stored.fields["baseGas"]),
            "gasPrice": str(stored.fields["gasPrice"]),
            "nonce": str(stored.fields["nonce"]),
            "safeTxHash": stored.safe_tx_hash,
            "proposer": stored.proposer,
            "isExecuted": executed,
            "transactionHash": None,
            "signatures": None,
            "trusted": stored.trusted,
            "origin": stored.origin,
            "confirmations": list(stored.confirmations.values()),
        }

    def _list(self, safe_address: str, query: dict[str, list[str]], link: str) -> tuple[int, Any]:
        safe = to_checksum_address(safe_address)
        txs = [t for t in self.txs.values() if t.safe == safe]
        # Only trusted transactions unless asked otherwise (``trusted=false``: the untrusted).
        trusted = query.get("trusted", ["true"])[0].lower() not in ("false", "0")
        txs = [t for t in txs if t.trusted == trusted]
        # Default ordering ("-nonce", "-created"); ``ordering`` may name one allowed field.
        ordering = query.get("ordering", ["-nonce"])[0]
        name = ordering.lstrip("-")
        if name not in _ORDERING_FIELDS:
            ordering, name = "-nonce", "nonce"
        descending = ordering.startswith("-")

        def sort_key(t: StoredTx) -> tuple[int, int]:
            value = int(t.fields["nonce"]) if name == "nonce" else getattr(t, name)
            return (value, t.created)

        txs.sort(key=sort_key, reverse=descending)
        out = [self._render(t) for t in txs]
        if "executed" in query:
            wanted = query["executed"][0].lower() == "true"
            out = [t for t in out if t["isExecuted"] == wanted]
        if "nonce__gte" in query:
            low = int(query["nonce__gte"][0])
            out = [t for t in out if int(t["nonce"]) >= low]
        if "safe_tx_hash" in query:
            out = [t for t in out if t["safeTxHash"] == query["safe_tx_hash"][0].lower()]
        return 200, self._page(out, query, link)

    def _page(self, items: list[Any], query: dict[str, list[str]], link: str) -> dict[str, Any]:
        """LimitOffsetPagination: ``limit`` (default, capped at the maximum) and ``offset``."""
        limit = _positive_int(query.get("limit", [""])[0], self.default_limit)
        limit = min(limit, self.max_limit)
        offset = _positive_int(query.get("offset", [""])[0], 0, allow_zero=True)
        count = len(items)
        rest = {k: v[0] for k, v in query.items() if k not in ("limit", "offset")}

        def url(new_offset: int) -> str:
            params = {**rest, "limit": str(limit)}
            if new_offset > 0:
                params["offset"] = str(new_offset)
            return f"{link}?{urlencode(sorted(params.items()))}"

        return {
            "count": count,
            "next": url(offset + limit) if offset + limit < count else None,
            "previous": url(max(offset - limit, 0)) if offset > 0 else None,
            "results": items[offset : offset + limit],
        }


class RejectedFields(Rejected):
    """A serializer error: ``{field: [messages]}`` as the service returns it."""

    def __init__(self, status: int, errors: dict[str, list[str]]) -> None:
        super().__init__(status, json.dumps(errors))
        self.errors = errors


def _positive_int(text: str, default: int, *, allow_zero: bool = False) -> int:
    try:
        value = int(text)
    except ValueError:
        return default
    return value if value > 0 or (allow_zero and value == 0) else default


def _is_checksummed(address: str) -> bool:
    from safe_eth.eth.utils import fast_is_checksum_address

    return bool(fast_is_checksum_address(address))


def _address_problem(value: Any, *, nullable: bool) -> str | None:
    """The service's ``EthereumAddressField``: checksummed, and 0x0/0x1 only where allowed."""
    if value is None:
        return None if nullable else "This field may not be null."
    if not isinstance(value, str) or not _is_checksummed(value):
        return f"Address {value} is not checksumed"
    if not nullable and int(value, 16) in (0, 1):
        return f"0x{int(value, 16)} address is not allowed"
    return None


def _check_signature_layout(signatures: bytes, status: int) -> None:
    """At least 65 bytes; the static part is whole 65-byte {r, s, v} words (contract signatures
    point past it to their dynamic data, so only that part must be a multiple of 65)."""
    if len(signatures) < SIGNATURE_MIN_BYTES:
        raise RejectedFields(
            status,
            {
                "signature": [
                    f"Ensure this field has at least {SIGNATURE_MIN_BYTES} hexadecimal chars "
                    "(not counting 0x)."
                ]
            },
        )
    static_end = len(signatures)
    for start in range(0, len(signatures) - 64, 65):
        if start >= static_end:
            break
        if signatures[start + 64] == 0:  # contract signature: s = offset of its dynamic part
            offset = int.from_bytes(signatures[start + 32 : start + 64], "big")
            static_end = min(static_end, offset)
    if static_end % 65:
        raise Rejected(status, "Signature is not valid (not whole 65-byte signatures)")
