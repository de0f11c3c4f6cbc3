"""The shipped disburser artifact is exactly what the pinned compiler produces from contracts/."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from eth_utils.crypto import keccak

from payout.artifact import ArtifactInvalidError, disburser_artifact, parse_artifact

ROOT = Path(__file__).resolve().parents[2]


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_artifacts", ROOT / "scripts" / "build_artifacts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_artifact_equals_a_fresh_compile() -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        pytest.fail("node and node_modules/solc are required (run `make setup`)")
    build = _build_script()
    fresh = build.render(build.build_artifact())
    shipped = (ROOT / "payout" / "artifacts" / "Disburser.json").read_text()
    assert fresh == shipped, "stale artifact: run python scripts/build_artifacts.py"


def test_loaded_artifact_is_typed_and_consistent() -> None:
    art = disburser_artifact()
    assert art.name == "Disburser"
    assert art.source_name == "contracts/Disburser.sol"
    assert art.compiler.short_version == "0.8.28"
    assert art.compiler.evm_version == "cancun"
    assert art.compiler.optimizer_enabled and art.compiler.optimizer_runs == 1_000_000
    assert not art.compiler.via_ir
    assert art.runtime_code_hash == keccak(art.runtime_bytecode)
    assert art.matches_runtime(art.runtime_bytecode)
    assert not art.matches_runtime(art.runtime_bytecode + b"\0")
    # The creation code ends with the runtime code (no constructor arguments, no immutables).
    assert art.runtime_bytecode in art.bytecode
    names = {item.get("name") for item in art.abi}
    for function in ("disburse", "disburseOrSkip", "disburseNative", "executed"):
        assert function in names
    std = art.verification_input()
    assert std["language"] == "Solidity"
    assert set(std["sources"]) == {"contracts/Disburser.sol", "contracts/interfaces/IDisburser.sol"}
    assert std["settings"]["evmVersion"] == "cancun"
    # The shipped sources are the repository's sources.
    for unit, source in std["sources"].items():
        assert source["content"] == (ROOT / unit).read_text()
    # Copies, not views: callers cannot corrupt the cached artifact.
    std["language"] = "Yul"
    art.abi_list.clear()
    assert disburser_artifact().verification_input()["language"] == "Solidity"
    assert disburser_artifact().abi_list


def _opcodes(runtime: bytes) -> set[int]:
    """Opcodes of the code section (PUSH data skipped, the CBOR metadata trailer excluded)."""
    metadata_length = int.from_bytes(runtime[-2:], "big") + 2
    code = runtime[:-metadata_length]
    found: set[int] = set()
    i = 0
    while i < len(code):
        op = code[i]
        found.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return found


def test_runtime_code_is_plain_cancun_without_upgrade_or_selfdestruct() -> None:
    """No DELEGATECALL/CALLCODE (no upgrade path, no proxying), no SELFDESTRUCT, no CREATE*, and
    nothing newer than cancun or unavailable on TRON (blob opcodes, CLZ)."""
    art = disburser_artifact()
    ops = _opcodes(art.runtime_bytecode)
    forbidden = {
        0xF4: "DELEGATECALL",
        0xF2: "CALLCODE",
        0xFF: "SELFDESTRUCT",
        0xF0: "CREATE",
        0xF5: "CREATE2",
        0x49: "BLOBHASH",
        0x4A: "BLOBBASEFEE",
        0x1E: "CLZ",
    }
    assert not {forbidden[op] for op in ops & set(forbidden)}
    # Sanity of the scan itself: the code does call tokens and uses the transient lock.
    assert {0xF1, 0xFA, 0x5C, 0x5D} <= ops  # CALL, STATICCALL, TLOAD, TSTORE
    metadata = json.loads(art.metadata)
    assert metadata["settings"]["evmVersion"] == "cancun"
    assert metadata["compiler"]["version"].startswith("0.8.28+")


def test_corrupt_artifact_is_refused() -> None:
    document = json.loads((ROOT / "payout" / "artifacts" / "Disburser.json").read_text())
    document["deployedBytecode"] = document["deployedBytecode"][:-2] + "00"
    with pytest.raises(ArtifactInvalidError, match="does not match"):
        parse_artifact(document)
    with pytest.raises(ArtifactInvalidError, match="unknown format"):
        parse_artifact({**document, "format": "other"})
    with pytest.raises(ArtifactInvalidError, match="missing or malformed"):
        parse_artifact({k: v for k, v in document.items() if k != "abi"})
