"""Deterministic deployment of the disburser, its registry file, and the code check before payouts.

The disburser is deployed through the CREATE2 deployer at
``0x4e59b44847b379578588920ca78fbf26c0b4956c`` (present on most EVM chains, pre-deployed by anvil)
with a fixed salt, so it has the same address on every chain: ``keccak256(0xff ++ deployer ++ salt
++ keccak256(init code))[12:]``. The init code is the shipped artifact's bytecode (no constructor
arguments), so anyone can recompute the address.

Before any payout, :func:`verify_disburser` compares the runtime code at the address with the
shipped artifact and refuses anything else: funds sent to the wrong contract are lost.

Registry file (JSON, default ``deployments.json``)::

    {"format": "payout-deployments/1", "contract": "Disburser",
     "deployments": {"31337": {"address": "0x..", "codeHash": "0x..", "txHash": "0x.." | null,
                               "blockNumber": 12 | null, "salt": "0x..", "deployer": "0x4e59.."}}}
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.exceptions import DeployerMissing as DeployerMissing
from payout.exceptions import DisburserCodeMismatch as DisburserCodeMismatch
from payout.exceptions import DisburserMissing as DisburserMissing
from payout.exceptions import RegistryConflict as RegistryConflict
from payout.exceptions import RegistryInvalid as RegistryInvalid
from payout.files import write_private_text

CREATE2_DEPLOYER = "0x4e59b44847b379578588920ca78fbf26c0b4956c"
#: The salt of every disburser deployment (any fixed value works; this one names the project).
DISBURSER_SALT = keccak(text="stablecoin-payouts/Disburser")
REGISTRY_FORMAT = "payout-deployments/1"
DEFAULT_REGISTRY = Path("deployments.json")


# --- the artifact ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisburserCode:
    """What the shipped artifact says the disburser is."""

    init_code: bytes
    runtime_code: bytes
    runtime_hash: bytes
    standard_json_input: dict[str, Any]
    compiler_version: str
    source_name: str
    contract_name: str


@functools.cache
def shipped_code() -> DisburserCode:
    """The disburser as shipped in ``payout/artifacts/Disburser.json``."""
    from payout.artifact import disburser_artifact

    a = disburser_artifact()
    return DisburserCode(
        init_code=a.bytecode,
        runtime_code=a.runtime_bytecode,
        runtime_hash=a.runtime_code_hash,
        standard_json_input=a.verification_input(),
        compiler_version=a.compiler.version,
        source_name=a.source_name,
        contract_name=a.name,
    )


def create2_address(init_code: bytes, salt: bytes = DISBURSER_SALT) -> str:
    """The address the CREATE2 deployer gives ``init_code`` with ``salt``."""
    deployer = bytes.fromhex(CREATE2_DEPLOYER[2:])
    digest = keccak(b"\xff" + deployer + salt + keccak(init_code))
    return to_checksum_address("0x" + digest[12:].hex())


def disburser_address() -> str:
    """The disburser's address on every chain (from the shipped artifact)."""
    return create2_address(shipped_code().init_code)


def verify_disburser(chain: Chain, address: str | None = None) -> str:
    """Refuse unless the code at ``address`` (default: the CREATE2 address) is the shipped one.

    Returns the checksummed address.
    """
    code = shipped_code()
    target = to_checksum_address(address) if address else create2_address(code.init_code)
    onchain = chain.code(target)
    if not onchain:
        raise DisburserMissing(target, chain.chain_id)
    found = keccak(onchain)
    if found != code.runtime_hash:
        raise DisburserCodeMismatch(
            target, chain.chain_id, "0x" + found.hex(), "0x" + code.runtime_hash.hex()
        )
    return target


# --- deployment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """One chain's disburser deployment (a registry entry)."""

    chain_id: int
    address: str
    code_hash: str
    tx_hash: str | None
    block_number: int | None
    salt: str
    deployer: str = CREATE2_DEPLOYER
    #: False when the contract was already there (deployed by anyone, at the same address).
    deployed_now: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "codeHash": self.code_hash,
            "txHash": self.tx_hash,
            "blockNumber": self.block_number,
            "salt": self.salt,
            "deployer": self.deployer,
        }


def deploy_disburser(chain: Chain, wallet: Any) -> Deployment:
    """Deploy the disburser through the CREATE2 deployer (a no-op when it is already there).

    ``wallet`` is a :class:`payout.wallet.Wallet`. The deployed code is verified afterwards.
    """
    code = shipped_code()
    address = create2_address(code.init_code)
    code_hash = "0x" + code.runtime_hash.hex()
    salt_hex = "0x" + DISBURSER_SALT.hex()
    if chain.code(address):
        verify_disburser(chain, address)
        return Deployment(chain.chain_id, address, code_hash, None, None, salt_hex)
    if not chain.code(CREATE2_DEPLOYER):
        raise DeployerMissing(CREATE2_DEPLOYER, chain.chain_id)
    receipt = wallet.transact(
        CREATE2_DEPLOYER, DISBURSER_SALT + code.init_code, label="deploy disburser"
    )
    verify_disburser(chain, address)
    return Deployment(
        chain.chain_id,
        address,
        code_hash,
        str(receipt["transactionHash"]),
        int(str(receipt["blockNumber"]), 16),
        salt_hex,
        deployed_now=True,
    )


# --- registry -------------------------------------------------------------------------------------


def read_registry(path: Path) -> dict[int, Deployment]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != REGISTRY_FORMAT:
            raise RegistryInvalid(path, f"format is {doc.get('format')!r}, not {REGISTRY_FORMAT}")
        out: dict[int, Deployment] = {}
        for key, entry in doc.get("deployments", {}).items():
            out[int(key)] = Deployment(
                chain_id=int(key),
                address=to_checksum_address(entry["address"]),
                code_hash=str(entry["codeHash"]),
                tx_hash=entry.get("txHash"),
                block_number=entry.get("blockNumber"),
                salt=str(entry.get("salt", "0x" + DISBURSER_SALT.hex())),
                deployer=str(entry.get("deployer", CREATE2_DEPLOYER)),
            )
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RegistryInvalid(path, f"{type(exc).__name__}: {exc}") from exc


def record_deployment(path: Path, deployment: Deployment) -> None:
    """Add or update the entry of ``deployment.chain_id`` (keeps the first tx hash seen)."""
    entries = read_registry(path)
    previous = entries.get(deployment.chain_id)
    if previous is not None and previous.address != deployment.address:
        raise RegistryConflict(path, deployment.chain_id, previous.address, deployment.address)
    if previous is not None and deployment.tx_hash is None:
        deployment = Deployment(
            deployment.chain_id,
            deployment.address,
            deployment.code_hash,
            previous.tx_hash,
            previous.block_number,
            deployment.salt,
            deployment.deployer,
        )
    entries[deployment.chain_id] = deployment
    doc = {
        "format": REGISTRY_FORMAT,
        "contract": "Disburser",
        "deployments": {str(k): entries[k].to_json() for k in sorted(entries)},
    }
    write_private_text(path, json.dumps(doc, indent=2) + "\n")


def write_standard_json(path: Path) -> dict[str, Any]:
    """Export the solc standard-JSON input for block-explorer verification; returns its summary."""
    code = shipped_code()
    write_private_text(path, json.dumps(code.standard_json_input, indent=2) + "\n")
    return {
        "path": str(path),
        "compilerVersion": code.compiler_version,
        "contract": f"{code.source_name}:{code.contract_name}",
        "constructorArguments": "",
    }
