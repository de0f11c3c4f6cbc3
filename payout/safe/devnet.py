"""The real Safe contracts (as shipped by safe-eth-py) on a local development chain.

Deploys the Safe singletons, proxy factories, fallback handlers and the MultiSendCallOnly library
at their canonical addresses, then creates Safes with chosen owners. Only for throw-away chains
(anvil): it writes the Safe singleton factory's code with ``anvil_setCode``.

Canonical addresses come from deterministic CREATE2 deployment, exactly as on public chains:
v1.3.0 through the 0x4e59... deployer that anvil pre-deploys, v1.4.1 (and MultiSendCallOnly 1.4.1)
through the Safe singleton factory at 0x914d..., whose runtime code is the same CREATE2 proxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

from payout.exceptions import SafeDevnetError as SafeDevnetError

#: Deterministic deployment proxy that anvil (and most chains) has at a fixed address.
CREATE2_DEPLOYER = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
#: The Safe singleton factory: same runtime code as the deployer above, different address.
SAFE_SINGLETON_FACTORY = "0x914d7Fec6aaC8cd542e72Bca78B30650d45643d7"

SUPPORTED_VERSIONS = ("1.3.0", "1.4.1")


@dataclass(frozen=True)
class SafeContracts:
    """Addresses of one Safe version's contracts on a chain."""

    version: str
    singleton: str
    proxy_factory: str
    fallback_handler: str
    multisend_call_only: str


def _contract_fns(version: str) -> tuple[Any, Any, Any]:
    from safe_eth.eth import contracts as c

    if version == "1.3.0":
        return (
            c.get_safe_V1_3_0_contract,
            c.get_proxy_factory_V1_3_0_contract,
            c.get_compatibility_fallback_handler_V1_3_0_contract,
        )
    if version == "1.4.1":
        return (
            c.get_safe_V1_4_1_contract,
            c.get_proxy_factory_V1_4_1_contract,
            c.get_compatibility_fallback_handler_V1_4_1_contract,
        )
    raise SafeDevnetError(f"Safe {version}", f"supported versions: {', '.join(SUPPORTED_VERSIONS)}")


def _send(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> dict[str, Any]:
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx.setdefault("value", 0)
    tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    tx["chainId"] = w3.eth.chain_id
    if "gas" not in tx:
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 12 // 10)  # type: ignore[arg-type]
    if "maxFeePerGas" not in tx and "gasPrice" not in tx:
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        tx["maxPriorityFeePerGas"] = 1
        tx["maxFeePerGas"] = 2 * int(base) + 1
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60))
    if receipt.get("status") != 1:
        raise SafeDevnetError("transaction", f"{tx_hash.hex()} reverted")
    return receipt


def _create2_address(factory: str, init_code: bytes, salt: bytes = b"\x00" * 32) -> str:
    raw = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(init_code))[12:]
    return to_checksum_address(raw)


def _deploy_create2(w3: Web3, account: LocalAccount, factory: str, init_code: bytes) -> str:
    address = _create2_address(factory, init_code)
    if w3.eth.get_code(to_checksum_address(address)):
        return address
    _send(w3, account, {"to": to_checksum_address(factory), "data": b"\x00" * 32 + init_code})
    if not w3.eth.get_code(to_checksum_address(address)):
        raise SafeDevnetError("CREATE2 deployment", f"no code at {address}")
    return address


def _init_code(contract_fn: Any, w3: Web3) -> bytes:
    return bytes(contract_fn(w3).bytecode)


def deploy_safe_contracts(w3: Web3, deployer_key: bytes | str) -> dict[str, SafeContracts]:
    """Deploy Safe v1.3.0 and v1.4.1 plus MultiSendCallOnly 1.4.1 at their canonical addresses.

    Idempotent: contracts already present are left alone. Returns the addresses per version.
    """
    from safe_eth.eth.contracts import get_multi_send_call_only_V1_4_1_contract

    account: LocalAccount = Account.from_key(deployer_key)
    deployer_code = w3.eth.get_code(to_checksum_address(CREATE2_DEPLOYER))
    if not deployer_code:
        raise SafeDevnetError(
            "Safe contracts deployment", f"no CREATE2 deployer at {CREATE2_DEPLOYER}"
        )
    if not w3.eth.get_code(to_checksum_address(SAFE_SINGLETON_FACTORY)):
        w3.provider.make_request(
            "anvil_setCode",  # type: ignore[arg-type]
            [SAFE_SINGLETON_FACTORY, "0x" + bytes(deployer_code).hex()],
        )
    multisend = _deploy_create2(
        w3,
        account,
        SAFE_SINGLETON_FACTORY,
        _init_code(get_multi_send_call_only_V1_4_1_contract, w3),
    )
    out: dict[str, SafeContracts] = {}
    for version, factory in (("1.3.0", CREATE2_DEPLOYER), ("1.4.1", SAFE_SINGLETON_FACTORY)):
        safe_fn, proxy_factory_fn, handler_fn = _contract_fns(version)
        out[version] = SafeContracts(
            version=version,
            singleton=_deploy_create2(w3, account, factory, _init_code(safe_fn, w3)),
            proxy_factory=_deploy_create2(w3, account, factory, _init_code(proxy_factory_fn, w3)),
            fallback_handler=_deploy_create2(w3, account, factory, _init_code(handler_fn, w3)),
            multisend_call_only=multisend,
        )
    return out


def create_safe(
    w3: Web3,
    deployer_key: bytes | str,
    contracts: SafeContracts,
    owners: list[str],
    threshold: int,
    *,
    salt_nonce: int = 0,
) -> str:
    """Create a Safe proxy with ``owners`` and ``threshold``; returns its address.

    Owners may be EOAs or contracts (another Safe). The CREATE2 salt makes the address
    reproducible for the same owners, threshold and ``salt_nonce``.
    """
    if not 1 <= threshold <= len(owners):
        raise SafeDevnetError("Safe creation", f"threshold {threshold} with {len(owners)} owners")
    safe_fn, proxy_factory_fn, _ = _contract_fns(contracts.version)
    null = "0x" + "00" * 20
    initializer = (
        safe_fn(w3)
        .functions.setup(
            [to_checksum_address(o) for o in owners],
            threshold,
            null,
            b"",
            to_checksum_address(contracts.fallback_handler),
            null,
            0,
            null,
        )
        ._encode_transaction_data()
    )
    factory = proxy_factory_fn(w3, to_checksum_address(contracts.proxy_factory))
    account: LocalAccount = Account.from_key(deployer_key)
    fn = factory.functions.createProxyWithNonce(
        to_checksum_address(contracts.singleton), initializer, salt_nonce
    )
    address = str(fn.call({"from": account.address}))
    _send(w3, account, {"to": factory.address, "data": fn._encode_transaction_data()})
    if not w3.eth.get_code(to_checksum_address(address)):
        raise SafeDevnetError("Safe creation", f"no proxy at {address}")
    return to_checksum_address(address)
