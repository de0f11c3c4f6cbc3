"""The compiled disburser contract that ships inside the package (no compiler needed to use it).

``payout/artifacts/Disburser.json`` is written by ``scripts/build_artifacts.py`` (npm solc, settings
from ``ape-config.yaml``); a test recompiles and proves it equal. It holds the ABI, creation and
runtime bytecode, the keccak256 of the runtime code (the disburser has no immutables, so this hash
identifies genuine deployments on every chain), the compiler version and settings, the solc
metadata, and the exact standard-JSON input for explorer verification.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from eth_utils.crypto import keccak

from payout.exceptions import DeploymentError

#: Format tag written by scripts/build_artifacts.py.
ARTIFACT_FORMAT = "payout-disburser-artifact/1"
DISBURSER_ARTIFACT_FILE = "Disburser.json"


class ArtifactInvalidError(DeploymentError):
    """The shipped artifact is missing, unreadable or inconsistent (a broken installation)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"the shipped contract artifact {name} is unusable: {reason}",
            hint="Reinstall the package; developers regenerate it with "
            "`python scripts/build_artifacts.py`.",
        )
        self.name = name


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


@dataclass(frozen=True)
class ContractArtifact:
    """One compiled contract as shipped."""

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
        return [dict(copy.deepcopy(item)) for item in self.abi]

    def verification_input(self) -> dict[str, Any]:
        """A fresh copy of the solc standard-JSON input, as explorers' verification APIs take it."""
        return copy.deepcopy(dict(self.standard_json_input))

    def matches_runtime(self, code: bytes) -> bool:
        """Whether ``code`` (from ``eth_getCode``) is this contract's runtime code."""
        return keccak(code) == self.runtime_code_hash


def _hex(value: object, key: str, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArtifactInvalidError(name, f"{key} is not 0x-hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ArtifactInvalidError(name, f"{key} is not 0x-hex") from exc


def parse_artifact(
    document: Mapping[str, Any], name: str = DISBURSER_ARTIFACT_FILE
) -> ContractArtifact:
    """Validate and type an artifact document (the JSON written by the build script)."""
    try:
        if document.get("format") != ARTIFACT_FORMAT:
            raise ArtifactInvalidError(name, f"unknown format {document.get('format')!r}")
        compiler = document["compiler"]
        settings = compiler["settings"]
        runtime = _hex(document["deployedBytecode"], "deployedBytecode", name)
        code_hash = _hex(document["deployedBytecodeHash"], "deployedBytecodeHash", name)
        info = CompilerInfo(
            name=str(compiler["name"]),
            version=str(compiler["version"]),
            evm_version=str(settings["evmVersion"]),
            optimizer_enabled=bool(settings["optimizer"]["enabled"]),
            optimizer_runs=int(settings["optimizer"]["runs"]),
            via_ir=bool(settings["viaIR"]),
        )
        artifact = ContractArtifact(
            name=str(document["contractName"]),
            source_name=str(document["sourceName"]),
            abi=tuple(document["abi"]),
            bytecode=_hex(document["bytecode"], "bytecode", name),
            runtime_bytecode=runtime,
            runtime_code_hash=code_hash,
            compiler=info,
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


@functools.cache
def disburser_artifact() -> ContractArtifact:
    """The shipped disburser artifact (read once per process)."""
    try:
        text = resources.files("payout").joinpath("artifacts", DISBURSER_ARTIFACT_FILE).read_text()
    except OSError as exc:
        raise ArtifactInvalidError(DISBURSER_ARTIFACT_FILE, str(exc)) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactInvalidError(DISBURSER_ARTIFACT_FILE, f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactInvalidError(DISBURSER_ARTIFACT_FILE, "not a JSON object")
    return parse_artifact(document)
