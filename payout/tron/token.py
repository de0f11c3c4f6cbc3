"""TRC-20 reads through constant calls (``wallet/triggerconstantcontract``).

Nothing here needs the token's ABI from the node: selectors and arguments are ABI-encoded locally,
so a token whose ABI was cleared on chain (``ClearAbiContract``) still works.
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from tronpy import Tron
from tronpy import exceptions as tronpy_errors
from tronpy.keys import to_base58check_address, to_tvm_address

from payout.exceptions import TronNodeError
from payout.tron.client import node_call, node_url_of
from payout.types import Network, TokenInfo


def tvm_hex(address: str) -> str:
    """The 20-byte EVM-style form of a TRON address (``0x`` + 40 hex), as the TVM sees it."""
    return "0x" + bytes(to_tvm_address(address)).hex()


def encode_args(types: list[str], values: list[Any]) -> str:
    """ABI-encode arguments (TRON addresses accepted in any form) to a hex string without 0x."""
    converted = [tvm_hex(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    return abi_encode(types, converted).hex()


def constant_call(
    client: Tron,
    contract: str,
    signature: str,
    types: list[str],
    values: list[Any],
    *,
    owner: str | None = None,
) -> dict[str, Any]:
    """Run a constant (read-only) call and return the node's reply (``constant_result``,
    ``energy_used``). A revert raises :class:`~tronpy.exceptions.TvmError` (callers translate)."""
    caller = owner or contract
    reply: dict[str, Any] = node_call(
        client,
        lambda: client.trigger_constant_contract(
            to_base58check_address(caller),
            to_base58check_address(contract),
            signature,
            encode_args(types, values),
        ),
    )
    return reply


def _read(
    client: Tron, token: str, signature: str, types: list[str], values: list[Any], out: str
) -> Any:
    try:
        reply = constant_call(client, token, signature, types, values)
    except tronpy_errors.TvmError as exc:
        raise TronNodeError(node_url_of(client), f"{signature} on {token} reverted: {exc}") from exc
    results = reply.get("constant_result") or []
    if not results or not results[0]:
        raise TronNodeError(
            node_url_of(client), f"{signature} on {token} returned nothing (not a TRC-20?)"
        )
    return abi_decode([out], bytes.fromhex(results[0]))[0]


def token_info(client: Tron, token: str) -> TokenInfo:
    """Read ``symbol()`` and ``decimals()`` from the chain."""
    symbol = str(_read(client, token, "symbol()", [], [], "string"))
    decimals = int(_read(client, token, "decimals()", [], [], "uint8"))
    return TokenInfo(
        address=to_base58check_address(token),
        symbol=symbol,
        decimals=decimals,
        network=Network.TRON,
    )


def balance_of(client: Tron, token: str, holder: str) -> int:
    """Token balance of ``holder`` in base units."""
    return int(_read(client, token, "balanceOf(address)", ["address"], [holder], "uint256"))


def allowance(client: Tron, token: str, owner: str, spender: str) -> int:
    """Allowance ``owner`` granted ``spender``, in base units."""
    return int(
        _read(
            client,
            token,
            "allowance(address,address)",
            ["address", "address"],
            [owner, spender],
            "uint256",
        )
    )


def trx_balance(client: Tron, address: str) -> int:
    """TRX balance in sun (0 for an account that does not exist yet)."""
    try:
        info = node_call(client, lambda: client.get_account(to_base58check_address(address)))
    except tronpy_errors.AddressNotFound:
        return 0
    return int(info.get("balance", 0))
