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
* with an API key configured, requests need ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

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


class SafeServiceStandIn:
    """Run with ``start()``; ``url`` is the base URL to give ``TransactionServiceApi``."""

    def __init__(self, rpc_url: str, *, api_key: str | None = None) -> None:
        from safe_eth.eth import EthereumClient

        self.client = EthereumClient(rpc_url)
        self.api_key = api_key
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
                    status, reply = service.dispatch(method, self.path, body)
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

    def _check_signatures(self, safe_address: str, safe_tx: Any, signatures: bytes) -> list[Any]:
        from safe_eth.safe.safe_signature import SafeSignature

        safe = self._safe(safe_address)
        owners = set(safe.retrieve_owners())
        version = safe.retrieve_version()
        parsed = SafeSignature.parse_signature(
            signatures, safe_tx.safe_tx_hash, safe_tx.safe_tx_hash_preimage
        )
        if not parsed:
            raise Rejected(422, "Signature is not valid")
        for sig in parsed:
            if sig.owner not in owners:
                raise Rejected(422, f"Signer={sig.owner} is not an owner")
            if not sig.is_valid(self.client, safe.address, version):
                raise Rejected(
                    422, f"Signature={sig.signature.hex()} for owner={sig.owner} is not valid"
                )
        return parsed

    # --- routing -------------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parsed = urlparse(path)
        route = parsed.path
        with self._lock:
            m = re.fullmatch(r"/api/v2/safes/(0x[0-9a-fA-F]{40})/multisig-transactions/", route)
            if m and method == "POST":
                return self._propose(m.group(1), body)
            if m and method == "GET":
                return self._list(m.group(1), parse_qs(parsed.query))
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
            stored = StoredTx(safe.address, fields, key, sender)
            self.txs[key] = stored
        if body.get("signature"):
            sigs = self._check_signatures(safe.address, safe_tx, HexBytes(body["signature"]))
            if sender not in {s.owner for s in sigs} and sender not in self.delegates.get(
                safe.address, set()
            ):
                raise Rejected(422, f"Signature does not match sender={sender}")
            for sig in sigs:
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
            raise Rejected(422, "Transaction with the same nonce was already executed")
        safe_tx = self._safe_tx(stored.safe, stored.fields)
        signature = HexBytes(body.get("signature") or "0x")
        for sig in self._check_signatures(stored.safe, safe_tx, signature):
            self._store_confirmation(stored, sig)
        return 201, {"signature": signature.hex()}

    def _store_confirmation(self, stored: StoredTx, sig: Any) -> None:
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
            "confirmations": list(stored.confirmations.values()),
        }

    def _list(self, safe_address: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        safe = to_checksum_address(safe_address)
        out = [self._render(t) for t in self.txs.values() if t.safe == safe]
        if "executed" in query:
            wanted = query["executed"][0].lower() == "true"
            out = [t for t in out if t["isExecuted"] == wanted]
        if "nonce__gte" in query:
            low = int(query["nonce__gte"][0])
            out = [t for t in out if int(t["nonce"]) >= low]
        if "safe_tx_hash" in query:
            out = [t for t in out if t["safeTxHash"] == query["safe_tx_hash"][0].lower()]
        out.sort(key=lambda t: int(t["nonce"]))
        return 200, {"count": len(out), "next": None, "previous": None, "results": out}
