"""A tronpy client for one full-node HTTP endpoint, and the few raw node calls tronpy lacks.

tronpy's :class:`~tronpy.Tron` talks to the node over its HTTP ``wallet/*`` API. This module builds
one for a URL, checks that the node answers, and wraps the node's error replies into
:class:`~payout.exceptions.TronError` subclasses so callers never see tronpy's exceptions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from tronpy import Tron
from tronpy import exceptions as tronpy_errors
from tronpy.providers import HTTPProvider

from payout.exceptions import TronNodeError, TronNodeUnreachable, TronTransactionRejected

T = TypeVar("T")

#: java-tron's refusal code for a transaction whose expiration the node's head block has passed.
EXPIRATION_ERROR = "TRANSACTION_EXPIRATION_ERROR"

#: tronpy's default fee limit (10 TRX) caps a call at 100,000 energy, too low for a TRC-20 transfer
#: to a fresh address; every contract call we send sets its own fee limit, so this is only a floor.
DEFAULT_FEE_LIMIT_SUN = 10_000_000


def connect(node_url: str, *, timeout: float = 30.0, check: bool = True) -> Tron:
    """Return a tronpy client for the full node at ``node_url`` (``http://host:port``).

    With ``check`` the node is asked for ``wallet/getnodeinfo`` once, so a wrong URL fails here with
    a clear message instead of deep inside a payout.
    """
    scheme, sep, rest = node_url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        from payout.exceptions import ConfigError
        from payout.redact import redact_url

        raise ConfigError(
            f"invalid TRON node URL {redact_url(node_url)!r}: it must start with http:// or "
            "https:// and name a host",
            hint="give --tron-node / PAYOUT_TRON_NODE_URL as http://host:8090",
        )
    url = node_url if node_url.endswith("/") else node_url + "/"
    provider = HTTPProvider(url, timeout=timeout)
    client = Tron(provider=provider, conf={"fee_limit": DEFAULT_FEE_LIMIT_SUN})
    if check:
        node_call(client, lambda: client.get_latest_block_number(), url=node_url)
    return client


def node_url_of(client: Tron) -> str:
    """The endpoint a client talks to (for messages and for multisig files)."""
    return str(client.provider.endpoint_uri).rstrip("/")


def node_call(client: Tron, fn: Callable[[], T], *, url: str | None = None) -> T:
    """Run one tronpy call, turning transport and node errors into :class:`TronError` subclasses."""
    where = url or node_url_of(client)
    try:
        return fn()
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TronNodeUnreachable(where, str(exc)) from exc
    except requests.HTTPError as exc:
        # ``is not None``: a Response is falsy for every 4xx/5xx status.
        status = exc.response.status_code if exc.response is not None else "?"
        raise TronNodeError(
            where,
            f"HTTP {status}",
            hint="Check --node / PAYOUT_TRON_NODE_URL: it must be a TRON full node's HTTP API "
            "(java-tron, usually port 8090; `payout devnet tron` starts a local one), not an "
            "EVM JSON-RPC endpoint.",
        ) from exc
    except tronpy_errors.BadSignature as exc:
        raise TronTransactionRejected("SIGERROR", str(exc)) from exc
    except tronpy_errors.TaposError as exc:
        raise TronTransactionRejected("TAPOS_ERROR", str(exc)) from exc
    except tronpy_errors.ValidationError as exc:
        raise TronTransactionRejected("CONTRACT_VALIDATE_ERROR", str(exc)) from exc
    except tronpy_errors.TransactionError as exc:
        raise TronTransactionRejected(_transaction_error_code(str(exc)), str(exc)) from exc
    except tronpy_errors.UnknownError as exc:
        code = str(exc.args[1]) if len(exc.args) > 1 else "UNKNOWN"
        raise TronTransactionRejected(code, str(exc.args[0]) if exc.args else "") from exc
    except tronpy_errors.ApiError as exc:
        raise TronNodeError(where, str(exc)) from exc
    except requests.RequestException as exc:
        # A reply that is not what the node's HTTP API sends (a proxy's error page that is not
        # JSON, a broken body): the node did not answer.
        raise TronNodeUnreachable(where, type(exc).__name__) from exc


def _transaction_error_code(message: str) -> str:
    """java-tron's code behind tronpy's ``TransactionError``.

    tronpy raises one ``TransactionError`` for both TRANSACTION_EXPIRATION_ERROR and
    TOO_BIG_TRANSACTION_ERROR and drops the code; only the node's message tells them apart
    (java-tron answers an expired broadcast with "Transaction expired"). Recovering the code here,
    where node errors are translated, lets callers test ``TronTransactionRejected.expired``
    instead of parsing messages.
    """
    if "expired" in message.lower():
        return EXPIRATION_ERROR
    return "TRANSACTION_ERROR"


def raw_request(client: Tron, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """POST ``params`` to ``wallet/<method>`` and return the JSON reply (node errors raised)."""
    reply: dict[str, Any] = node_call(client, lambda: client.provider.make_request(method, params))
    if "code" in reply and reply.get("result") is not True:
        message = reply.get("message", "")
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            message = bytes.fromhex(message).decode()
        raise TronTransactionRejected(str(reply["code"]), str(message))
    if "Error" in reply:
        raise TronNodeError(node_url_of(client), str(reply["Error"]))
    return reply
