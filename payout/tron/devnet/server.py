"""HTTP front of the devnet: java-tron's ``wallet/*`` routes (what tronpy uses) and ``devnet/*``.

Requests are JSON bodies (POST) or query strings (GET), answers are JSON, as on a real full node.
Unknown routes answer 404. ``devnet/*`` routes exist only here (funding, mining, time, energy
factors) and are meant for tests and demos.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eth_utils.crypto import keccak

from payout.exceptions import TronDevnetError
from payout.tron import proto
from payout.tron.devnet.address import AddressFormatError, parse_address, to_base58
from payout.tron.devnet.chain import Chain

logger = logging.getLogger(__name__)

Route = Callable[[Chain, Mapping[str, Any]], Any]


def _trigger_builder(chain: Chain, payload: Mapping[str, Any]) -> Any:
    request = dict(payload)
    if not request.get("data"):
        selector = str(payload.get("function_selector") or "")
        data = keccak(selector.encode())[:4] if selector else b""
        request["data"] = (data + proto.parse_hex(str(payload.get("parameter") or ""))).hex()
    return chain.build("TriggerSmartContract", request)


def _validate_address(chain: Chain, payload: Mapping[str, Any]) -> Any:
    try:
        parse_address(payload.get("address"))
    except AddressFormatError as exc:
        return {"result": False, "message": str(exc)}
    return {"result": True, "message": "Valid address"}


def _faucet(chain: Chain, payload: Mapping[str, Any]) -> Any:
    txid = chain.faucet(parse_address(payload.get("address")), int(payload.get("amount") or 0))
    return {"result": True, "txid": txid}


def _mine(chain: Chain, payload: Mapping[str, Any]) -> Any:
    block = chain.mine(int(payload.get("blocks") or 1))
    return {"result": True, "block": block.number, "blockID": block.id_hex}


def _increase_time(chain: Chain, payload: Mapping[str, Any]) -> Any:
    block = chain.advance_time(int(payload.get("ms") or 0))
    return {"result": True, "block": block.number, "timestamp": block.timestamp}


def _set_energy_factor(chain: Chain, payload: Mapping[str, Any]) -> Any:
    address = parse_address(payload.get("contract_address"))
    chain.set_energy_factor(address, int(payload.get("energy_factor") or 0))
    return {"result": True}


def _stake(chain: Chain, payload: Mapping[str, Any]) -> Any:
    chain.stake(
        parse_address(payload.get("address")),
        energy_sun=int(payload.get("energy_sun") or 0),
        bandwidth_sun=int(payload.get("bandwidth_sun") or 0),
    )
    return {"result": True}


def _info(chain: Chain, payload: Mapping[str, Any]) -> Any:
    return {
        "head": chain.head.number,
        "instant": chain.instant,
        "witness": to_base58(chain.witness),
        "faucet": to_base58(chain.faucet_address) if chain.faucet_address else None,
    }


ROUTES: dict[str, Route] = {
    "wallet/getnodeinfo": lambda c, p: c.node_info(),
    "wallet/getsignweight": lambda c, p: c.sign_weight(p),
    "wallet/broadcasttransaction": lambda c, p: c.broadcast(p),
    "wallet/gettransactionbyid": lambda c, p: c.transaction(p),
    "wallet/gettransactioninfobyid": lambda c, p: c.transaction_info(p),
    "wallet/triggerconstantcontract": lambda c, p: c.trigger_constant(p),
    "wallet/triggersmartcontract": _trigger_builder,
    "wallet/estimateenergy": lambda c, p: c.estimate_energy(p),
    "wallet/getcontract": lambda c, p: c.contract_json(p),
    "wallet/getcontractinfo": lambda c, p: c.contract_info(p),
    "wallet/getaccount": lambda c, p: c.account_json(p),
    "wallet/getaccountresource": lambda c, p: c.account_resource(p),
    "wallet/getaccountnet": lambda c, p: c.account_net(p),
    "wallet/getchainparameters": lambda c, p: c.chain_parameters(),
    "wallet/createtransaction": lambda c, p: c.build("TransferContract", p),
    "wallet/accountpermissionupdate": lambda c, p: c.build("AccountPermissionUpdateContract", p),
    "wallet/deploycontract": lambda c, p: c.build_deploy(p),
    "wallet/freezebalancev2": lambda c, p: c.build("FreezeBalanceV2Contract", p),
    "wallet/unfreezebalancev2": lambda c, p: c.build("UnfreezeBalanceV2Contract", p),
    "wallet/getnowblock": lambda c, p: c.block_json(p, "now"),
    "wallet/getblockbynum": lambda c, p: c.block_json(p, "num"),
    "wallet/getblockbyid": lambda c, p: c.block_json(p, "id"),
    "wallet/validateaddress": _validate_address,
    "devnet/faucet": _faucet,
    "devnet/mine": _mine,
    "devnet/increasetime": _increase_time,
    "devnet/setenergyfactor": _set_energy_factor,
    "devnet/stake": _stake,
    "devnet/info": _info,
}
# The solidity-node twins answer from the same (instantly final) chain.
for _name in (
    "gettransactionbyid",
    "gettransactioninfobyid",
    "triggerconstantcontract",
    "getaccount",
    "getnowblock",
    "getblockbynum",
    "getblockbyid",
):
    ROUTES[f"walletsolidity/{_name}"] = ROUTES[f"wallet/{_name}"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _payload(self, query: str) -> dict[str, Any]:
        payload: dict[str, Any] = dict(parse_qsl(query))
        for key, value in list(payload.items()):
            if value in ("true", "false"):
                payload[key] = value == "true"
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
            if body.strip():
                parsed = json.loads(body)
                if not isinstance(parsed, dict):
                    raise ValueError("the request body must be a JSON object")
                payload.update(parsed)
        return payload

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        route = ROUTES.get(parts.path.strip("/"))
        if route is None:
            self._send(404, {"Error": f"no such endpoint: {parts.path}"})
            return
        try:
            payload = self._payload(parts.query)
        except ValueError as exc:
            self._send(200, {"Error": f"class com.alibaba.fastjson.JSONException : {exc}"})
            return
        try:
            reply = route(self.server.chain, payload)
        except (TronDevnetError, AddressFormatError, proto.ProtoError, ValueError) as exc:
            reply = {"Error": str(exc)}
        except Exception as exc:  # a bug must not kill the server thread; report it like java-tron
            logger.exception("devnet request %s failed", parts.path)
            reply = {"Error": f"class java.lang.RuntimeException : {type(exc).__name__}: {exc}"}
        self._send(200, reply)

    def _send(self, status: int, reply: Any) -> None:
        body = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _handle
    do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], chain: Chain) -> None:
        super().__init__(address, _Handler)
        self.chain = chain


def make_server(chain: Chain, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``chain`` bound to ``host:port`` (port 0 picks a free one)."""
    return _Server((host, port), chain)
