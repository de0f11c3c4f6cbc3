"""The compiled contracts that ship inside the package, so no compiler is needed to use them.

Every file is written by ``scripts/build_artifacts.py`` (npm solc, the version and settings pinned
in ``ape-config.yaml``, the same source unit names as ``ape compile``) and ``tests/unit/
test_artifact.py`` recompiles and proves each one byte-identical:

- :data:`DISBURSER` (``payout/artifacts/Disburser.json``): the disburser. ABI, creation and runtime
  bytecode, the keccak256 of the runtime code (the disburser has no immutables, so this hash
  identifies genuine deployments on every chain), compiler version and settings, the solc
  metadata and the exact standard-JSON input for explorer verification. Load it with
  :func:`disburser_artifact`.
- :data:`DEMO_TOKENS` (``payout/artifacts/DemoTokens.json``): ``DemoUSDC`` / ``DemoUSDT`` for
  ``payout demo`` and the tests.
- :data:`TRON_TOKENS` (``payout/tron/artifacts/TronTokens.json``): ``MockUSDTTron``, the TRC-20
  test token of ``payout tron demo`` and the TRON tests.

The two token files are contract bundles (:data:`BUNDLE_FORMAT`): ABI and creation code per
contract; load one with :func:`bundled_contract`.
"""

from __future__ import annotations

import copy
import functools
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from eth_utils.crypto import keccak

from payout.exceptions import ArtifactInvalidError, UnknownShippedContractError

__all__ = [
    "BUNDLE_FORMAT",
    "DEMO_TOKENS",
    "DISBURSER",
    "DISBURSER_FORMAT",
    "SHIPPED_FILES",
    "TRON_TOKENS",
    "ArtifactInvalidError",
    "BundledContract",
    "CompilerInfo",
    "ContractArtifact",
    "ShippedFile",
    "UnknownShippedContractError",
    "bundled_contract",
    "contract_bundle",
    "disburser_artifact",
    "parse_artifact",
    "parse_bundle",
    "read_document",
]

#: Format tag of the disburser artifact.
DISBURSER_FORMAT = "payout-disburser-artifact/1"
#: Format tag of a contract bundle (several contracts: ABI and creation code each).
BUNDLE_FORMAT = "payout-contract-bundle/1"


@dataclass(frozen=True)
class ShippedFile:
    """A compiled-contract file inside the installed package."""

    package: str
    """Import name of the package holding it (``payout``, ``payout.tron``)."""
    resource: str
    """``/``-separated path inside that package."""
    format: str
    """The ``format`` tag its document carries."""

    @property
    def name(self) -> str:
        """The file name (``Disburser.json``), as error messages show it."""
        return self.resource.rsplit("/", 1)[-1]

    @property
    def repo_path(self) -> str:
        """Where the file lives in the source tree (``payout/artifacts/Disburser.json``)."""
        return f"{self.package.replace('.', '/')}/{self.resource}"


DISBURSER = ShippedFile("payout", "artifacts/Disburser.json", DISBURSER_FORMAT)
DEMO_TOKENS = ShippedFile("payout", "artifacts/DemoTokens.json", BUNDLE_FORMAT)
TRON_TOKENS = ShippedFile("payout.tron", "artifacts/TronTokens.json", BUNDLE_FORMAT)
#: Every shipped file (the build script writes exactly these).
SHIPPED_FILES = (DISBURSER, DEMO_TOKENS, TRON_TOKENS)


@dataclass(frozen=True)
class CompilerInfo:
    """How the bytecode was produced."""

    name: str
    version: str
    evm_version: str
    optimizer_enabled: bool
    optimizer_runs: int
    via_ir: bool

    @property
    def short_version(self) -> str:
        """``0.8.28`` from ``0.8.28+commit.7893614a...``."""
        return self.version.split("+", 1)[0]


def _abi_copy(abi: tuple[Mapping[str, Any], ...]) -> list[dict[str, Any]]:
    return [dict(copy.deepcopy(item)) for item in abi]


@dataclass(frozen=True)
class ContractArtifact:
    """The disburser as shipped."""

    name: str
    source_name: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    runtime_bytecode: bytes
    runtime_code_hash: bytes
    compiler: CompilerInfo
    metadata: str
    standard_json_input: Mapping[str, Any] = field(repr=False)

    @property
    def abi_list(self) -> list[dict[str, Any]]:
        """A fresh, mutable copy of the ABI (for web3 / ape contract objects)."""
        return _abi_copy(self.abi)

    def verification_input(self) -> dict[str, Any]:
        """A fresh copy of the solc standard-JSON input, as explorers' verification APIs take it."""
        return copy.deepcopy(dict(self.standard_json_input))

    def matches_runtime(self, code: bytes) -> bool:
        """Whether ``code`` (from ``eth_getCode``) is this contract's runtime code."""
        return keccak(code) == self.runtime_code_hash


@dataclass(frozen=True)
class BundledContract:
    """One contract of a shipped bundle: what is needed to deploy and call it."""

    name: str
    source_name: str
    abi: tuple[Mapping[str, Any], ...] = field(repr=False)
    bytecode: bytes = field(repr=False)
    """Creation code, without constructor arguments."""
    compiler: CompilerInfo

    @property
    def abi_list(self) -> list[dict[str, Any]]:
        """A fresh, mutable copy of the ABI (for web3 / tronpy contract objects)."""
        return _abi_copy(self.abi)


def _hex(value: object, key: str, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArtifactInvalidError(name, f"{key} is not 0x-hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ArtifactInvalidError(name, f"{key} is not 0x-hex") from exc


def _check_format(document: Mapping[str, Any], expected: str, name: str) -> None:
    if document.get("format") != expected:
        raise ArtifactInvalidError(name, f"unknown format {document.get('format')!r}")


def _compiler(compiler: Mapping[str, Any]) -> CompilerInfo:
    settings = compiler["settings"]
    return CompilerInfo(
        name=str(compiler["name"]),
        version=str(compiler["version"]),
        evm_version=str(settings["evmVersion"]),
        optimizer_enabled=bool(settings["optimizer"]["enabled"]),
        optimizer_runs=int(settings["optimizer"]["runs"]),
        via_ir=bool(settings["viaIR"]),
    )


def parse_artifact(document: Mapping[str, Any], name: str = DISBURSER.name) -> ContractArtifact:
    """Validate and type the disburser artifact document (the JSON written by the build script)."""
    _check_format(document, DISBURSER_FORMAT, name)
    try:
        runtime = _hex(document["deployedBytecode"], "deployedBytecode", name)
        code_hash = _hex(document["deployedBytecodeHash"], "deployedBytecodeHash", name)
        artifact = ContractArtifact(
            name=str(document["contractName"]),
            source_name=str(document["sourceName"]),
            abi=tuple(document["abi"]),
            bytecode=_hex(document["bytecode"], "bytecode", name),
            runtime_bytecode=runtime,
            runtime_code_hash=code_hash,
            compiler=_compiler(document["compiler"]),
            metadata=str(document["metadata"]),
            standard_json_input=document["standardJsonInput"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactInvalidError(name, f"missing or malformed field: {exc}") from exc
    if keccak(runtime) != code_hash:
        raise ArtifactInvalidError(name, "deployedBytecodeHash does not match deployedBytecode")
    if not artifact.bytecode or not runtime:
        raise ArtifactInvalidError(name, "empty bytecode")
    return artifact


def parse_bundle(document: Mapping[str, Any], name: str) -> dict[str, BundledContract]:
    """Validate and type a contract bundle document; returns its contracts by name."""
    _check_format(document, BUNDLE_FORMAT, name)
    try:
        compiler = _compiler(document["compiler"])
        contracts = {
            contract: BundledContract(
                name=contract,
                source_name=str(data["sourceName"]),
                abi=tuple(data["abi"]),
                bytecode=_hex(data["bytecode"], f"{contract}.bytecode", name),
                compiler=compiler,
            )
            for contract, data in document["contracts"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactInvalidError(name, f"missing or malformed field: {exc}") from exc
    if not contracts:
        raise ArtifactInvalidError(name, "holds no contracts")
    empty = sorted(c.name for c in contracts.values() if not c.bytecode)
    if empty:
        raise ArtifactInvalidError(name, f"empty bytecode for {', '.join(empty)}")
    return contracts


def read_document(shipped: ShippedFile) -> dict[str, Any]:
    """The raw JSON document of a shipped file, read from the installed package (not cached)."""
    try:
        text = resources.files(shipped.package).joinpath(shipped.resource).read_text("utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise ArtifactInvalidError(shipped.name, str(exc)) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactInvalidError(shipped.name, f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactInvalidError(shipped.name, "not a JSON object")
    return document


@functools.cache
def disburser_artifact() -> ContractArtifact:
    """The shipped disburser artifact (read and validated once per process)."""
    return parse_artifact(read_document(DISBURSER), DISBURSER.name)


@functools.cache
def contract_bundle(shipped: ShippedFile) -> Mapping[str, BundledContract]:
    """The contracts of a shipped bundle (:data:`DEMO_TOKENS`, :data:`TRON_TOKENS`), read once."""
    return types.MappingProxyType(parse_bundle(read_document(shipped), shipped.name))


def bundled_contract(shipped: ShippedFile, name: str) -> BundledContract:
    """One contract of a shipped bundle, e.g. ``bundled_contract(DEMO_TOKENS, "DemoUSDC")``."""
    contracts = contract_bundle(shipped)
    if name not in contracts:
        raise UnknownShippedContractError(shipped.name, name, sorted(contracts))
    return contracts[name]
