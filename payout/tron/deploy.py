"""Deploying the disburser (and test tokens) on TRON with tronpy, and checking its code before use.

TRON has no CREATE2 deployer at a common address, so the disburser is deployed with an ordinary
``CreateSmartContract`` transaction; its address is ``0x41 || keccak256(txID || owner)[12:]``
(:func:`contract_address_for`). The bytecode is the shipped artifact's, byte for byte the code
deployed on EVM chains (compiled for ``cancun``, which the TVM runs).

Before any payout, :func:`verify_disburser` reads the contract's runtime code from the node
(``wallet/getcontractinfo``) and refuses anything but the shipped code.

Deployments are recorded in a registry file (default ``deployments-tron.json``)::

    {"format": "payout-tron-deployments/1", "contract": "Disburser",
     "deployments": {"<chain id>": {"address": "T..", "codeHash": "0x..", "txID": "..",
                                    "blockNumber": 3}}}

where the chain id is the last four bytes of the genesis block id (what the TVM's CHAINID returns;
mainnet 0x2b6653dc).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from tronpy import Tron
from tronpy import exceptions as tronpy_errors
from tronpy.contract import Contract
from tronpy.keys import to_base58check_address, to_hex_address

from payout.artifact import TRON_TOKENS, BundledContract, bundled_contract, disburser_artifact
from payout.deployment import DisburserCodeMismatch, DisburserMissing
from payout.exceptions import DeploymentError, TronExecutionFailed
from payout.files import write_private_text
from payout.tron.client import node_call, raw_request
from payout.tron.record import as_json
from payout.tron.signer import TronSigner
from payout.tron.transaction import send_call, wait_receipt

REGISTRY_FORMAT = "payout-tron-deployments/1"
DEFAULT_REGISTRY = Path("deployments-tron.json")
#: Fee limit of a deployment: the disburser needs about 1.3 M energy (~130 TRX at 100 sun).
DEPLOY_FEE_LIMIT_SUN = 2_000 * 1_000_000


def contract_address_for(txid: str, owner: str) -> str:
    """The address java-tron gives a contract created by transaction ``txid`` of ``owner``."""
    digest = keccak(bytes.fromhex(txid) + bytes.fromhex(to_hex_address(owner)))
    return str(to_base58check_address("41" + digest[12:].hex()))


def chain_id(client: Tron) -> int:
    """The chain's id: the last 4 bytes of the genesis block id (mainnet 0x2b6653dc)."""
    block = node_call(client, lambda: client.get_block(0))
    return int(str(block["blockID"])[-8:], 16)


@dataclass(frozen=True)
class TronDeployment:
    """A contract deployed on TRON."""

    chain_id: int
    address: str
    txid: str
    block_number: int
    energy_used: int
    code_hash: str

    def to_json(self) -> dict[str, Any]:
        """The registry entry (java-tron's key spelling)."""
        return as_json(
            self,
            only=("address", "code_hash", "txid", "block_number"),
            rename={"code_hash": "codeHash", "txid": "txID", "block_number": "blockNumber"},
        )


def deploy_contract(
    client: Tron,
    signer: TronSigner,
    *,
    name: str,
    init_code: bytes,
    abi: list[dict[str, Any]],
    fee_limit_sun: int = DEPLOY_FEE_LIMIT_SUN,
    timeout_s: float = 60.0,
) -> TronDeployment:
    """Deploy ``init_code`` (constructor arguments appended) from ``signer`` and wait for it."""
    contract = Contract(
        name=name,
        bytecode=init_code.hex(),
        abi=abi,
        user_resource_percent=100,
        origin_energy_limit=10_000_000,
    )
    builder = client.trx.deploy_contract(signer.address, contract).fee_limit(fee_limit_sun)
    # tronpy takes a CreateSmartContract's txID from the node (wallet/getsignweight); the code
    # actually deployed is checked afterwards against what we sent.
    tx = node_call(client, builder.build)
    tx.set_signature([signer.sign_txid(tx.txid)])
    node_call(client, tx.broadcast)
    info = wait_receipt(client, tx.txid, timeout_s=timeout_s)
    if (
        info.get("result") == "FAILED"
        or info.get("receipt", {}).get("result", "SUCCESS") != "SUCCESS"
    ):
        raise TronExecutionFailed(
            tx.txid,
            str(info.get("receipt", {}).get("result", "FAILED")),
            _res_message(info),
        )
    address = to_base58check_address(info.get("contract_address") or "")
    expected = contract_address_for(tx.txid, signer.address)
    if address != expected:
        raise DeploymentError(
            f"the node reports contract {address}, but txID {tx.txid} of {signer.address} "
            f"creates {expected}"
        )
    return TronDeployment(
        chain_id=chain_id(client),
        address=address,
        txid=tx.txid,
        block_number=int(info.get("blockNumber", 0)),
        energy_used=int(info.get("receipt", {}).get("energy_usage_total", 0)),
        code_hash="",
    )


def _res_message(info: dict[str, Any]) -> str:
    msg = str(info.get("resMessage", ""))
    try:
        return bytes.fromhex(msg).decode()
    except (ValueError, UnicodeDecodeError):
        return msg


def runtime_code(client: Tron, address: str) -> bytes:
    """The runtime code at ``address`` (empty when there is no contract)."""
    try:
        info = raw_request(
            client,
            "wallet/getcontractinfo",
            {"value": to_base58check_address(address), "visible": True},
        )
    except tronpy_errors.AddressNotFound:
        return b""
    code = str(info.get("runtimecode", "") or "")
    return bytes.fromhex(code[2:] if code.startswith("0x") else code)


def verify_disburser(client: Tron, address: str) -> str:
    """Refuse unless the code at ``address`` is the shipped disburser's; returns ``T...``."""
    artifact = disburser_artifact()
    target = to_base58check_address(address)
    code = runtime_code(client, target)
    cid = chain_id(client)
    if not code:
        raise DisburserMissing(target, cid)
    found = keccak(code)
    if found != artifact.runtime_code_hash:
        raise DisburserCodeMismatch(
            target, cid, "0x" + found.hex(), "0x" + artifact.runtime_code_hash.hex()
        )
    return str(target)


def deploy_disburser(
    client: Tron, signer: TronSigner, *, timeout_s: float = 60.0
) -> TronDeployment:
    """Deploy the shipped disburser artifact with tronpy and verify the code that landed."""
    artifact = disburser_artifact()
    deployed = deploy_contract(
        client,
        signer,
        name=artifact.name,
        init_code=artifact.bytecode,
        abi=artifact.abi_list,
        timeout_s=timeout_s,
    )
    verify_disburser(client, deployed.address)
    return replace(deployed, code_hash="0x" + artifact.runtime_code_hash.hex())


# --- registry ------------------------------------------------------------------------------------


def read_registry(path: Path = DEFAULT_REGISTRY) -> dict[int, str]:
    """chain id -> disburser address recorded in a TRON registry file ({} when absent)."""
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = doc["deployments"] if doc.get("format") == REGISTRY_FORMAT else None
        if not isinstance(entries, dict):
            raise ValueError("not a TRON deployment registry")
        return {int(k): str(v["address"]) for k, v in entries.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"{path}: unreadable TRON deployment registry ({exc})") from exc


def record_deployment(path: Path, deployment: TronDeployment) -> None:
    """Add (or replace) the chain's entry in the registry file."""
    doc: dict[str, Any] = {"format": REGISTRY_FORMAT, "contract": "Disburser", "deployments": {}}
    if path.exists():
        read_registry(path)  # validates
        doc = json.loads(path.read_text(encoding="utf-8"))
    doc["deployments"][str(deployment.chain_id)] = deployment.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_text(path, json.dumps(doc, indent=2) + "\n")


# --- test / demo tokens --------------------------------------------------------------------------

#: The shipped TRC-20 test token: Tether-on-TRON behaviour (``transfer`` returns false).
USDT_TRON_MOCK = "MockUSDTTron"


def token_artifact(name: str = USDT_TRON_MOCK) -> BundledContract:
    """ABI and init code of a shipped TRON test token (``tron/artifacts/TronTokens.json``)."""
    return bundled_contract(TRON_TOKENS, name)


def deploy_usdt_mock(
    client: Tron, signer: TronSigner, *, timeout_s: float = 60.0
) -> TronDeployment:
    """Deploy a USDT-on-TRON-like token (6 decimals, open ``mint``) from ``signer``."""
    art = token_artifact(USDT_TRON_MOCK)
    return deploy_contract(
        client,
        signer,
        name=USDT_TRON_MOCK,
        init_code=art.bytecode,
        abi=art.abi_list,
        timeout_s=timeout_s,
    )


def mint(client: Tron, signer: TronSigner, token: str, to: str, amount: int) -> str:
    """``mint(to, amount)`` on a test token; returns the txID."""
    from eth_abi.abi import encode as abi_encode

    from payout.address import tron_to_evm

    data = keccak(text="mint(address,uint256)")[:4] + abi_encode(
        ["address", "uint256"], [tron_to_evm(to), amount]
    )
    info = send_call(client, signer, token, data, fee_limit_sun=100 * 1_000_000)
    return str(info.get("id", ""))
