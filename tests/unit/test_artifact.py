"""Every shipped compiled contract is exactly what the pinned compiler produces from the sources.

One compiler run (``scripts/build_artifacts.py``) rebuilds all of them; each file gets its own
test so a stale one is named in the failure together with the command that regenerates it.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from eth_utils.crypto import keccak

from payout.artifact import (
    BUNDLE_FORMAT,
    DEMO_TOKENS,
    DISBURSER,
    SHIPPED_FILES,
    TRON_TOKENS,
    ArtifactInvalidError,
    ShippedFile,
    UnknownShippedContractError,
    bundled_contract,
    contract_bundle,
    disburser_artifact,
    parse_artifact,
    parse_bundle,
    read_document,
)

ROOT = Path(__file__).resolve().parents[2]


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_artifacts", ROOT / "scripts" / "build_artifacts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolves the module's annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


BUILD = _build_script()


@pytest.fixture(scope="module")
def fresh_build() -> dict[str, str]:
    """Every artifact compiled now from the working tree (one compiler run)."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        pytest.fail("node and node_modules/solc are required (run `make setup`)")
    built: dict[str, str] = BUILD.build()
    return built


def test_every_shipped_file_has_a_build_spec() -> None:
    """A file the package loads but the build script does not write could never be checked."""
    built_paths = {spec.path for spec in BUILD.SPECS}
    assert {shipped.repo_path for shipped in SHIPPED_FILES} <= built_paths
    for shipped in SHIPPED_FILES:
        assert (ROOT / shipped.repo_path).is_file(), shipped.repo_path


@pytest.mark.parametrize("key", [spec.key for spec in BUILD.SPECS])
def test_shipped_file_equals_a_fresh_compile(key: str, fresh_build: dict[str, str]) -> None:
    (spec,) = BUILD.select([key])
    path = ROOT / spec.path
    shipped = path.read_text() if path.is_file() else ""
    assert fresh_build[key] == shipped, (
        f"{spec.path} is stale (it differs from a fresh compile of {', '.join(spec.entry_points)}):"
        f" run `{BUILD.BUILD_COMMAND}` and commit the result"
    )


def test_stale_detection_names_the_changed_file(
    tmp_path: Path, fresh_build: dict[str, str]
) -> None:
    """What ``--check`` relies on: only a file that differs is reported, and a missing one is."""
    for spec in BUILD.SPECS:
        target = tmp_path / spec.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(fresh_build[spec.key])
    assert BUILD.stale(fresh_build, root=tmp_path) == []
    demo = tmp_path / DEMO_TOKENS.repo_path
    demo.write_text(demo.read_text().replace('"DemoUSDT"', '"DemoUSDX"'))
    (tmp_path / TRON_TOKENS.repo_path).unlink()
    assert [s.key for s in BUILD.stale(fresh_build, root=tmp_path)] == [
        "demo-tokens",
        "tron-tokens",
    ]


def test_ape_compile_gives_the_shipped_bytecode() -> None:
    """``ape compile`` (ape-solidity, settings from ape-config.yaml) produces the shipped code."""
    from ape import compilers, project

    sources = {"contracts/Disburser.sol", "contracts/demo/DemoStablecoins.sol"}
    sources.add("contracts/test/MockUSDTTron.sol")
    compiled = {
        c.name: c for c in compilers.compile([ROOT / s for s in sorted(sources)], project=project)
    }
    disburser = disburser_artifact()
    ape_disburser = compiled["Disburser"]
    assert ape_disburser.deployment_bytecode is not None
    assert ape_disburser.runtime_bytecode is not None
    assert ape_disburser.deployment_bytecode.bytecode == "0x" + disburser.bytecode.hex()
    assert ape_disburser.runtime_bytecode.bytecode == "0x" + disburser.runtime_bytecode.hex()
    for shipped, name in (
        (DEMO_TOKENS, "DemoUSDC"),
        (DEMO_TOKENS, "DemoUSDT"),
        (TRON_TOKENS, "MockUSDTTron"),
    ):
        code = compiled[name].deployment_bytecode
        assert code is not None
        assert code.bytecode == "0x" + bundled_contract(shipped, name).bytecode.hex(), name


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


@pytest.mark.parametrize(
    ("shipped", "names", "source"),
    [
        (DEMO_TOKENS, {"DemoUSDC", "DemoUSDT"}, "contracts/demo/DemoStablecoins.sol"),
        (TRON_TOKENS, {"MockUSDTTron"}, "contracts/test/MockUSDTTron.sol"),
    ],
)
def test_token_bundles_load_typed(shipped: ShippedFile, names: set[str], source: str) -> None:
    bundle = contract_bundle(shipped)
    assert set(bundle) == names
    disburser = disburser_artifact()
    for name in names:
        token = bundled_contract(shipped, name)
        assert token.name == name and token.source_name == source
        # Same compiler and settings as the disburser.
        assert token.compiler == disburser.compiler
        functions = {item.get("name") for item in token.abi if item["type"] == "function"}
        assert {"transfer", "balanceOf", "mint", "decimals"} <= functions
        # Creation code ends with solc's CBOR metadata trailer (length in the last two bytes).
        assert token.bytecode and int.from_bytes(token.bytecode[-2:], "big") < len(token.bytecode)
        copy = token.abi_list
        copy.clear()
        assert bundled_contract(shipped, name).abi_list
    with pytest.raises(UnknownShippedContractError, match="holds no contract called 'Nope'"):
        bundled_contract(shipped, "Nope")


def test_corrupt_bundle_is_refused() -> None:
    document: dict[str, Any] = read_document(DEMO_TOKENS)
    assert document["format"] == BUNDLE_FORMAT
    with pytest.raises(ArtifactInvalidError, match="unknown format"):
        parse_bundle({**document, "format": "payout-demo-tokens/1"}, "DemoTokens.json")
    broken = json.loads(json.dumps(document))
    broken["contracts"]["DemoUSDC"]["bytecode"] = "6080"
    with pytest.raises(ArtifactInvalidError, match=r"DemoUSDC\.bytecode is not 0x-hex"):
        parse_bundle(broken, "DemoTokens.json")
    broken["contracts"]["DemoUSDC"]["bytecode"] = "0x"
    with pytest.raises(ArtifactInvalidError, match="empty bytecode for DemoUSDC"):
        parse_bundle(broken, "DemoTokens.json")
    with pytest.raises(ArtifactInvalidError, match="missing or malformed"):
        parse_bundle({k: v for k, v in document.items() if k != "compiler"}, "DemoTokens.json")
    with pytest.raises(ArtifactInvalidError, match="holds no contracts"):
        parse_bundle({**document, "contracts": {}}, "DemoTokens.json")
    # The disburser file is not a bundle, and a bundle is not the disburser.
    with pytest.raises(ArtifactInvalidError, match="unknown format"):
        contract_bundle(DISBURSER)
    with pytest.raises(ArtifactInvalidError, match="unknown format"):
        parse_artifact(document)


def test_missing_shipped_file_is_a_deployment_error() -> None:
    missing = ShippedFile("payout", "artifacts/Nothing.json", BUNDLE_FORMAT)
    with pytest.raises(ArtifactInvalidError, match=r"Nothing\.json is unusable") as info:
        contract_bundle(missing)
    assert info.value.hint is not None and "scripts/build_artifacts.py" in info.value.hint
