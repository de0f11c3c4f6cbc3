"""Reads from and writes to an EVM chain over JSON-RPC (web3.py), with actionable errors.

Everything that talks to the node goes through :class:`Chain`, so a dropped connection always
becomes :class:`RpcUnavailable` (a :class:`~payout.exceptions.ChainError`) naming the endpoint, and
a reverted call always becomes a translated :class:`~payout.exceptions.ContractError`.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.exceptions import ChainError, ConfigError, ContractError
from payout.exceptions import Eip1559Unsupported as Eip1559Unsupported
from payout.exceptions import NotAToken as NotAToken
from payout.exceptions import RpcHttpError as RpcHttpError
from payout.exceptions import RpcRejected as RpcRejected
from payout.exceptions import RpcUnavailable as RpcUnavailable
from payout.exceptions import RpcUrlInvalid as RpcUrlInvalid
from payout.redact import redact_text, redact_url

# ERC-20 selectors used here (keccak of the signature, first four bytes).
_SEL_DECIMALS = bytes.fromhex("313ce567")
_SEL_SYMBOL = bytes.fromhex("95d89b41")
_SEL_NAME = bytes.fromhex("06fdde03")
_SEL_BALANCE_OF = bytes.fromhex("70a08231")
_SEL_ALLOWANCE = bytes.fromhex("dd62ed3e")

#: keccak("Transfer(address,address,uint256)")
TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")


def check_rpc_url(url: str) -> None:
    """Refuse an endpoint the HTTP client cannot use, before any request (``127.0.0.1:8545``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise RpcUrlInvalid(url, "it must start with http:// or https://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    if not host or host.startswith(":") or any(c.isspace() for c in url):
        raise RpcUrlInvalid(url, "it names no host")


#: HTTP statuses of an answer lost on the way or refused for now (rate limit, gateway errors).
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: JSON-RPC error codes of a rate limit (EIP-1474 "limit exceeded"): retried like HTTP 429.
RATE_LIMIT_CODES = frozenset({-32005, 429})
#: Methods never sent twice: the node would act twice (it signs, mines or changes dev state).
NOT_REPEATABLE = frozenset({"eth_sendTransaction", "eth_sign", "personal_sign"})
NOT_REPEATABLE_PREFIXES = ("evm_", "anvil_", "hardhat_", "personal_", "miner_", "debug_set")


def _transient_requests_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )


class _Transient(Exception):
    """An answer lost on the way (internal to :meth:`Chain.request`, which retries it)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class RetryPolicy:
    """How :class:`Chain` retries a request whose answer was lost.

    Exponential backoff with jitter: the n-th retry waits between half and all of
    ``base_delay * 2**(n-1)`` (at most ``max_delay``), so many clients of one struggling node do
    not retry in step; a request gives up after ``attempts`` tries or ``max_seconds`` seconds.
    Environment: ``PAYOUT_RPC_RETRIES`` (retries after the first try, default 7) and
    ``PAYOUT_RPC_RETRY_SECONDS`` (default 120).
    """

    attempts: int = 8
    #: Tries while the endpoint has not answered once in this process: a wrong URL or a node
    #: that is down fails within a second, a node that flickers mid-run gets the full budget.
    first_contact_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 8.0
    max_seconds: float = 120.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        environ = os.environ if env is None else env
        policy = cls()
        retries = environ.get("PAYOUT_RPC_RETRIES", "").strip()
        seconds = environ.get("PAYOUT_RPC_RETRY_SECONDS", "").strip()
        try:
            if retries:
                attempts = int(retries) + 1
                policy = replace(
                    policy,
                    attempts=attempts,
                    first_contact_attempts=min(attempts, policy.first_contact_attempts),
                )
            if seconds:
                policy = replace(policy, max_seconds=float(seconds))
        except ValueError:
            raise ConfigError(
                f"PAYOUT_RPC_RETRIES={retries!r} / PAYOUT_RPC_RETRY_SECONDS={seconds!r} must be "
                "numbers"
            ) from None
        if policy.attempts < 1 or policy.max_seconds < 0:
            raise ConfigError("PAYOUT_RPC_RETRIES and PAYOUT_RPC_RETRY_SECONDS must be >= 0")
        return policy


@dataclass(frozen=True)
class TokenInfo:
    """What the chain says about an ERC-20 token."""

    address: str
    symbol: str
    decimals: int
    name: str


@dataclass(frozen=True)
class FeeData:
    """EIP-1559 fee parameters in wei per gas."""

    base_fee: int
    max_priority_fee: int
    max_fee: int

    def bumped(self, percent: int) -> FeeData:
        """Fees raised by ``percent`` (rounded up), as nodes require for a replacement."""
        return FeeData(
            base_fee=self.base_fee,
            max_priority_fee=_raise_by(self.max_priority_fee, percent),
            max_fee=_raise_by(self.max_fee, percent),
        )


def _raise_by(value: int, percent: int) -> int:
    return -(-value * (100 + percent) // 100)


@dataclass(frozen=True)
class SimulatedCall:
    """One call's result inside an ``eth_simulateV1`` bundle."""

    success: bool
    return_data: bytes
    gas_used: int
    logs: tuple[Mapping[str, Any], ...]
    error: ContractError | None


def _word(value: int | str) -> bytes:
    if isinstance(value, str):
        return bytes(12) + bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return value.to_bytes(32, "big")


def _decode_string(data: bytes) -> str:
    """ABI string, or a bytes32 right-padded with zeros (old tokens such as MKR)."""
    if len(data) == 32:
        return data.rstrip(b"\0").decode("utf-8", errors="replace")
    if len(data) >= 64:
        offset = int.from_bytes(data[:32], "big")
        length = int.from_bytes(data[offset : offset + 32], "big")
        return data[offset + 32 : offset + 32 + length].decode("utf-8", errors="replace")
    raise ValueError("not an ABI string")


def revert_data_of(exc: BaseException) -> bytes | None:
    """Raw revert data carried by a web3 exception, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, str) and inner.startswith("0x"):
            return bytes.fromhex(inner[2:])
    return None


def translate_revert(data: bytes | None, context: str) -> ContractError:
    """Turn revert data into a :class:`ContractError` (via :mod:`payout.revert` when present)."""
    from payout.revert import translate

    return translate(data, context=context)


class Chain:
    """A connection to one EVM JSON-RPC endpoint.

    ``timeout`` bounds every request in seconds; a node that stops answering raises
    :class:`RpcUnavailable` instead of hanging.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        from web3 import Web3

        check_rpc_url(url)
        self.url = url
        #: The endpoint as shown in messages: credentials and API keys masked.
        self.shown_url = redact_url(url)
        policy = retry if retry is not None else RetryPolicy.from_env()
        if retries is not None:
            policy = replace(policy, attempts=retries + 1, first_contact_attempts=retries + 1)
        self.retry = policy
        # No retries inside web3: :meth:`request` retries every idempotent call itself, with
        # backoff and a time bound, and knows which calls may be repeated.
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self.w3 = Web3(provider)
        # Middleware would add hidden RPC calls (ENS, gas estimation) to every request: not wanted.
        self.w3.middleware_onion.clear()
        self._chain_id: int | None = None
        self._tokens: dict[str, TokenInfo] = {}
        self._jitter = random.Random()
        #: Whether the endpoint has answered once (see RetryPolicy.first_contact_attempts).
        self._answered = False

    # --- plumbing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _rpc(self, method: str, context: str | None = None) -> Iterator[None]:
        import requests
        from web3.exceptions import (
            ContractLogicError,
            ProviderConnectionError,
            TimeExhausted,
            Web3RPCError,
        )

        try:
            yield
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in TRANSIENT_HTTP_STATUSES:
                raise _Transient(f"HTTP {status}") from exc
            raise RpcHttpError(self.shown_url, method, status) from exc
        except _transient_requests_errors() as exc:
            raise _Transient(type(exc).__name__) from exc
        except ProviderConnectionError as exc:
            raise _Transient(redact_text(str(exc), self.url)[:120]) from exc
        except requests.exceptions.RequestException as exc:
            # An unusable URL or request (InvalidURL, InvalidHeader...): retrying cannot help.
            raise RpcUnavailable(self.shown_url, type(exc).__name__) from exc
        except TimeExhausted as exc:  # pragma: no cover - we never use web3's waiters
            raise RpcUnavailable(self.shown_url, "timed out") from exc
        except ContractLogicError as exc:
            raise translate_revert(revert_data_of(exc), context or method) from exc
        except Web3RPCError as exc:
            data = revert_data_of(exc)
            message = str(getattr(exc, "message", None) or exc)
            if data is not None or "revert" in message.lower():
                raise translate_revert(data, context or method) from exc
            raise RpcRejected(method, message[:300]) from exc
        except ConnectionError as exc:
            raise _Transient(type(exc).__name__) from exc
        except ValueError as exc:
            # The reply was not JSON (a proxy's error page, a truncated body): the answer was
            # lost on the way, like a dropped connection.
            raise _Transient(f"unreadable reply: {type(exc).__name__}") from exc

    def request(self, method: str, params: Sequence[Any], *, context: str | None = None) -> Any:
        """A raw JSON-RPC request; node errors become :class:`ChainError`.

        ``context`` names the operation in a translated revert ("simulating batch 3"). A request
        whose answer is lost (dropped connection, timeout, HTTP 429/5xx, unreadable reply) is sent
        again with exponential backoff and jitter, within :attr:`retry`'s attempts and time; then
        :class:`RpcUnavailable`. Every method is repeatable except the few in
        :data:`NOT_REPEATABLE`: reads obviously, and ``eth_sendRawTransaction`` because a signed
        transaction is the same transaction (same hash) however often it is sent (the wallet
        reads "already known" / "nonce too low" as "look for our receipt").
        """
        repeatable = method not in NOT_REPEATABLE and not method.startswith(NOT_REPEATABLE_PREFIXES)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._request_once(method, params, context)
            except _Transient as exc:
                elapsed = time.monotonic() - started
                delay = self.retry.delay(attempt, self._jitter)
                budget = self.retry.attempts
                if not self._answered:
                    budget = min(budget, self.retry.first_contact_attempts)
                if not repeatable or attempt >= budget or elapsed + delay > self.retry.max_seconds:
                    tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
                    raise RpcUnavailable(
                        self.shown_url, f"{exc.detail}; {method}, {tries} in {elapsed:.1f} s"
                    ) from exc.__cause__
                time.sleep(delay)
            except ChainError:
                self._answered = True  # the node answered (with an error): it is there
                raise
            else:
                self._answered = True
                return result

    def _request_once(self, method: str, params: Sequence[Any], context: str | None) -> Any:
        from web3.types import RPCEndpoint

        with self._rpc(method, context):
            response = self.w3.provider.make_request(RPCEndpoint(method), list(params))
        if not isinstance(response, Mapping):
            raise _Transient("unreadable reply: not a JSON-RPC object")
        if response.get("error"):
            error = response["error"]
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            if code in RATE_LIMIT_CODES or "rate limit" in message.lower():
                raise _Transient(f"rate limited: {message[:100]}")
            data = error.get("data") if isinstance(error, dict) else None
            if isinstance(data, str) and data.startswith("0x"):
                raise translate_revert(bytes.fromhex(data[2:]), context or method)
            if "revert" in message.lower():
                raise translate_revert(None, f"{context or method} ({message[:200]})")
            raise RpcRejected(method, message[:300])
        if "result" not in response:
            raise _Transient("unreadable reply: no result")
        return response.get("result")

    # --- chain facts ------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId", []), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def block(self, number: int | str = "latest") -> dict[str, Any]:
        tag = hex(number) if isinstance(number, int) else number
        result = self.request("eth_getBlockByNumber", [tag, False])
        if result is None:
            raise RpcRejected("eth_getBlockByNumber", f"block {number} not found")
        return cast(dict[str, Any], result)

    def code(self, address: str, block: str = "latest") -> bytes:
        result = self.request("eth_getCode", [to_checksum_address(address), block])
        return bytes.fromhex(str(result)[2:])

    def native_balance(self, address: str) -> int:
        return int(self.request("eth_getBalance", [to_checksum_address(address), "latest"]), 16)

    def nonce(self, address: str, block: str = "pending") -> int:
        result = self.request("eth_getTransactionCount", [to_checksum_address(address), block])
        return int(result, 16)

    def fee_data(self, *, base_fee_multiplier: int = 2, min_priority_fee: int = 0) -> FeeData:
        """EIP-1559 fees: max fee = ``base_fee_multiplier`` x base fee + priority fee.

        Twice the base fee survives six full blocks of base-fee growth (12.5 % each).
        """
        latest = self.block("latest")
        base_hex = latest.get("baseFeePerGas")
        if base_hex is None:
            raise Eip1559Unsupported(self.chain_id)
        base_fee = int(base_hex, 16)
        try:
            priority = int(self.request("eth_maxPriorityFeePerGas", []), 16)
        except RpcRejected:
            priority = 10**9  # 1 gwei when the node has no opinion
        priority = max(priority, min_priority_fee)
        return FeeData(
            base_fee=base_fee,
            max_priority_fee=priority,
            max_fee=base_fee * base_fee_multiplier + priority,
        )

    # --- calls --------------------------------------------------------------------------------

    def call(
        self,
        to: str,
        data: bytes,
        *,
        sender: str | None = None,
        value: int = 0,
        block: str = "latest",
        context: str = "eth_call",
    ) -> bytes:
        """``eth_call``; a revert raises a translated :class:`ContractError`."""
        tx: dict[str, Any] = {"to": to_checksum_address(to), "data": "0x" + data.hex()}
        if sender is not None:
            tx["from"] = to_checksum_address(sender)
        if value:
            tx["value"] = hex(value)
        result = self.request("eth_call", [tx, block], context=context)
        return bytes.fromhex(str(result)[2:])

    def estimate_gas(self, tx: Mapping[str, Any]) -> int:
        payload = {k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items()}
        return int(self.request("eth_estimateGas", [payload]), 16)

    def simulate(
        self, sender: str, calls: Sequence[Mapping[str, Any]], *, block: str = "latest"
    ) -> list[SimulatedCall]:
        """Run ``calls`` in order from ``sender`` in one simulated block (``eth_simulateV1``).

        State changes of earlier calls (an approval) are visible to later ones; nothing is
        signed or sent. Each call is ``{"to": address, "data": bytes, "value": int}``.
        """
        payload = []
        for c in calls:
            entry: dict[str, Any] = {
                "from": to_checksum_address(sender),
                "to": to_checksum_address(c["to"]),
                "data": "0x" + bytes(c["data"]).hex(),
            }
            if c.get("value"):
                entry["value"] = hex(int(c["value"]))
            if c.get("gas"):
                entry["gas"] = hex(int(c["gas"]))
            payload.append(entry)
        result = self.request(
            "eth_simulateV1",
            [{"blockStateCalls": [{"calls": payload}], "validation": False}, block],
        )
        block_result = result[0]
        out: list[SimulatedCall] = []
        for raw in block_result["calls"]:
            ok = int(raw.get("status", "0x0"), 16) == 1
            ret = bytes.fromhex(str(raw.get("returnData", "0x"))[2:])
            error: ContractError | None = None
            if not ok:
                err = raw.get("error") or {}
                data = err.get("data") if isinstance(err, dict) else None
                revert = (
                    bytes.fromhex(data[2:])
                    if isinstance(data, str) and data.startswith("0x")
                    else ret or None
                )
                error = translate_revert(revert, "simulated call")
            out.append(
                SimulatedCall(
                    success=ok,
                    return_data=ret,
                    gas_used=int(raw.get("gasUsed", "0x0"), 16),
                    logs=tuple(raw.get("logs", [])),
                    error=error,
                )
            )
        return out

    # --- tokens ---------------------------------------------------------------------------------

    def token(self, address: str, *, cached: bool = True) -> TokenInfo:
        """Symbol, decimals and name, read from the chain (cached per connection).

        ``cached=False`` reads them again (a signer's review states what the chain says now).
        """
        key = to_checksum_address(address)
        if cached and key in self._tokens:
            return self._tokens[key]
        if not self.code(key):
            raise NotAToken(key, self.chain_id, "no contract code at this address")
        try:
            decimals_raw = self.call(key, _SEL_DECIMALS)
            decimals = int.from_bytes(decimals_raw[:32], "big")
            symbol = _decode_string(self.call(key, _SEL_SYMBOL))
        except (ContractError, ValueError) as exc:
            raise NotAToken(key, self.chain_id, "decimals()/symbol() failed") from exc
        if len(decimals_raw) != 32 or decimals > 77:
            raise NotAToken(key, self.chain_id, "decimals() returned an invalid value")
        try:
            name = _decode_string(self.call(key, _SEL_NAME))
        except (ContractError, ValueError):
            name = symbol
        info = TokenInfo(address=key, symbol=symbol, decimals=decimals, name=name)
        self._tokens[key] = info
        return info

    def token_balance(self, token: str, owner: str) -> int:
        data = self.call(token, _SEL_BALANCE_OF + _word(to_checksum_address(owner)))
        return int.from_bytes(data[:32], "big")

    def allowance(self, token: str, owner: str, spender: str) -> int:
        owner_word = _word(to_checksum_address(owner))
        data = self.call(token, _SEL_ALLOWANCE + owner_word + _word(to_checksum_address(spender)))
        return int.from_bytes(data[:32], "big")

    # --- transactions ----------------------------------------------------------------------------

    def send_raw(self, raw: bytes) -> str:
        """Broadcast a signed transaction; returns its hash (0x...)."""
        return str(self.request("eth_sendRawTransaction", ["0x" + raw.hex()]))

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = self.request("eth_getTransactionReceipt", [tx_hash])
        return cast(dict[str, Any] | None, result)

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        result = self.request("eth_getTransactionByHash", [tx_hash])
        return cast(dict[str, Any] | None, result)

    def logs(
        self,
        *,
        address: str | Sequence[str] | None,
        topics: Sequence[bytes | Sequence[bytes] | None],
        from_block: int,
        to_block: int | str = "latest",
    ) -> list[dict[str, Any]]:
        """``eth_getLogs`` (raw hex dicts)."""

        def topic(t: bytes | Sequence[bytes] | None) -> Any:
            if t is None:
                return None
            if isinstance(t, bytes):
                return "0x" + t.hex()
            return ["0x" + x.hex() for x in t]

        query: dict[str, Any] = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block) if isinstance(to_block, int) else to_block,
            "topics": [topic(t) for t in topics],
        }
        if address is not None:
            query["address"] = (
                to_checksum_address(address)
                if isinstance(address, str)
                else [to_checksum_address(a) for a in address]
            )
        return cast(list[dict[str, Any]], self.request("eth_getLogs", [query]))
