"""Regenerate every compiled contract this repository ships, with the pinned npm compiler.

Usage: ``python scripts/build_artifacts.py [--check] [--list] [NAME ...]`` (default: all)

Artifacts (``--list``):

- ``disburser``   -> ``payout/artifacts/Disburser.json`` (ABI, bytecode, runtime code hash,
  compiler info, metadata and the standard-JSON input for explorer verification)
- ``demo-tokens`` -> ``payout/artifacts/DemoTokens.json`` (``DemoUSDC``, ``DemoUSDT``)
- ``tron-tokens`` -> ``payout/tron/artifacts/TronTokens.json`` (``MockUSDTTron``)
- ``tron-probe``  -> ``tests/support/tron_contracts/Probe.json`` (test-only ``Probe``/``Child``)

The compiler is the npm ``solc`` package (solcjs, the official compiler built to WebAssembly) run
through node; the version, EVM version and optimizer settings come from ``ape-config.yaml``, so
the shipped files, ``ape compile`` and explorer verification all use the same settings. Source unit
names are the repository-relative paths ``ape compile`` uses, so the metadata hash appended to the
bytecode (and therefore the bytecode itself) is the same as ape's. Files are written with sorted
keys and one-space indentation, so a rebuild from unchanged sources is byte-identical.

``--check`` compiles and exits non-zero if any shipped file differs (nothing is written).
The compile helpers here are also used by the gas benchmark and the artifact test.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_utils.crypto import keccak

from payout.artifact import BUNDLE_FORMAT, DEMO_TOKENS, DISBURSER, DISBURSER_FORMAT, TRON_TOKENS

ROOT = Path(__file__).resolve().parent.parent
BUILD_COMMAND = "python scripts/build_artifacts.py"

_IMPORT = re.compile(r'^\s*import\s+(?:\{[^}]*\}\s+from\s+)?"([^"]+)"', re.MULTILINE)
_COMPILE_TIMEOUT_S = 300
_OUTPUT_SELECTION = [
    "abi",
    "metadata",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
]

# Runs the npm compiler on a JSON array of standard-JSON inputs (stdin) and prints the outputs
# (stdout): one node process and one compiler load for every artifact. Every source is given
# inline, so no import callback is needed.
_NODE_COMPILE = """
const solc = require(require.resolve('solc', { paths: [process.argv[1]] }));
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const outputs = inputs.map((input) => JSON.parse(solc.compile(JSON.stringify(input))));
process.stdout.write(JSON.stringify({ version: solc.version(), outputs }));
"""


# --- compiling -----------------------------------------------------------------------------------


def compiler_settings(root: Path = ROOT) -> dict[str, Any]:
    """The pinned compiler version and settings, read from ``ape-config.yaml``."""
    config = yaml.safe_load((root / "ape-config.yaml").read_text())["solidity"]
    return {
        "version": str(config["version"]),
        "evmVersion": str(config["evm_version"]),
        "optimizer": {
            "enabled": bool(config["optimize"]),
            "runs": int(config["optimization_runs"]),
        },
        "viaIR": bool(config.get("via_ir", False)),
    }


def _normalise(unit: str) -> str:
    parts: list[str] = []
    for part in unit.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def collect_sources(entry_points: Iterable[str], root: Path = ROOT) -> dict[str, str]:
    """The entry points and everything they import (relative imports only), keyed by unit name."""
    sources: dict[str, str] = {}
    pending = [_normalise(e) for e in entry_points]
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        text = (root / unit).read_text()
        sources[unit] = text
        for imported in _IMPORT.findall(text):
            if not imported.startswith("."):
                raise ValueError(f"{unit}: only relative imports are supported, got {imported!r}")
            pending.append(_normalise((Path(unit).parent / imported).as_posix()))
    return {unit: sources[unit] for unit in sorted(sources)}


def standard_json_input(entry_points: Iterable[str], root: Path = ROOT) -> dict[str, Any]:
    """The solc standard-JSON input for ``entry_points`` with the pinned settings."""
    settings = compiler_settings(root)
    sources = collect_sources(entry_points, root)
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": {
            "evmVersion": settings["evmVersion"],
            "optimizer": settings["optimizer"],
            "viaIR": settings["viaIR"],
            "outputSelection": {"*": {"*": list(_OUTPUT_SELECTION)}},
        },
    }


def run_solc_many(
    inputs: Sequence[dict[str, Any]], root: Path = ROOT
) -> tuple[str, list[dict[str, Any]]]:
    """Compile several standard-JSON inputs in one node process; (long version, outputs)."""
    proc = subprocess.run(
        ["node", "-e", _NODE_COMPILE, str(root)],
        input=json.dumps(list(inputs)),
        capture_output=True,
        text=True,
        check=False,
        timeout=_COMPILE_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"solcjs failed ({proc.returncode}): {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    version = str(result["version"])
    pinned = compiler_settings(root)["version"]
    if not version.startswith(pinned + "+"):
        raise RuntimeError(f"npm solc is {version}, ape-config.yaml pins {pinned}: run `npm ci`")
    outputs: list[dict[str, Any]] = result["outputs"]
    for output in outputs:
        errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
        if errors:
            raise RuntimeError(
                "compilation failed:\n" + "\n".join(e["formattedMessage"] for e in errors)
            )
    return version, outputs


def run_solc(standard_input: dict[str, Any], root: Path = ROOT) -> tuple[str, dict[str, Any]]:
    """Compile one standard-JSON input; returns (long version, standard-JSON output)."""
    version, outputs = run_solc_many([standard_input], root)
    return version, outputs[0]


def compile_contracts(
    entry_points: list[str], root: Path = ROOT, optimizer_runs: int | None = None
) -> dict[str, dict[str, Any]]:
    """Compile and return ``{contract name: {abi, bytecode, deployedBytecode}}`` (0x-hex).

    ``optimizer_runs`` overrides the pinned setting (the gas benchmark compiles its standard token
    the way such tokens are usually deployed, at 200 runs).
    """
    standard_input = standard_json_input(entry_points, root)
    if optimizer_runs is not None:
        standard_input["settings"]["optimizer"] = {"enabled": True, "runs": optimizer_runs}
    _, output = run_solc(standard_input, root)
    compiled: dict[str, dict[str, Any]] = {}
    for unit in output["contracts"].values():
        for name, data in unit.items():
            compiled[name] = {
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
    return compiled


@dataclass(frozen=True)
class Compilation:
    """One artifact's compiler input and output."""

    version: str
    settings: dict[str, Any]
    standard_input: dict[str, Any]
    output: dict[str, Any]

    def contract(self, name: str) -> tuple[str, dict[str, Any]]:
        """(source unit, solc output) of the contract called ``name`` (exactly one must exist)."""
        found = [
            (unit, contracts[name])
            for unit, contracts in self.output["contracts"].items()
            if name in contracts
        ]
        if len(found) != 1:
            raise RuntimeError(f"expected one contract called {name}, compiled {len(found)}")
        return found[0]

    def compiler_block(self) -> dict[str, Any]:
        """The ``compiler`` entry every shipped document carries."""
        return {
            "name": "solc",
            "version": self.version,
            "settings": {
                "evmVersion": self.settings["evmVersion"],
                "optimizer": self.settings["optimizer"],
                "viaIR": self.settings["viaIR"],
            },
        }


# --- the artifacts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactSpec:
    """One file this script writes: what it compiles and how it lays the result out."""

    key: str
    path: str
    """Repository-relative output path."""
    entry_points: tuple[str, ...]
    document: Callable[[Compilation], dict[str, Any]]


def _disburser_document(compiled: Compilation) -> dict[str, Any]:
    source, contract = compiled.contract("Disburser")
    immutables = contract["evm"]["deployedBytecode"].get("immutableReferences") or {}
    if immutables:
        raise RuntimeError(
            "the disburser must not use immutables: its runtime code hash must be fixed"
        )
    runtime = bytes.fromhex(contract["evm"]["deployedBytecode"]["object"])
    # The shipped input asks only for what explorers need; outputSelection is not part of the
    # metadata, so it does not change the bytecode.
    shipped_input = json.loads(json.dumps(compiled.standard_input))
    shipped_input["settings"]["outputSelection"] = {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}
    }
    return {
        "format": DISBURSER_FORMAT,
        "contractName": "Disburser",
        "sourceName": source,
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + runtime.hex(),
        "deployedBytecodeHash": "0x" + keccak(runtime).hex(),
        "compiler": compiled.compiler_block(),
        "metadata": contract["metadata"],
        "standardJsonInput": shipped_input,
    }


def _bundle(names: tuple[str, ...]) -> Callable[[Compilation], dict[str, Any]]:
    """A contract bundle (payout.artifact.BUNDLE_FORMAT) holding ``names``."""

    def document(compiled: Compilation) -> dict[str, Any]:
        contracts: dict[str, Any] = {}
        for name in names:
            source, contract = compiled.contract(name)
            contracts[name] = {
                "sourceName": source,
                "abi": contract["abi"],
                "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
            }
        return {
            "format": BUNDLE_FORMAT,
            "compiler": compiled.compiler_block(),
            "contracts": contracts,
        }

    return document


def _probe_document(compiled: Compilation) -> dict[str, Any]:
    # tests/support/tron_node.py reads this layout: bare hex, no 0x (tronpy's Contract takes it).
    return {
        name: {"abi": contract["abi"], "bytecode": contract["evm"]["bytecode"]["object"]}
        for contracts in compiled.output["contracts"].values()
        for name, contract in contracts.items()
    }


SPECS: tuple[ArtifactSpec, ...] = (
    ArtifactSpec(
        "disburser", DISBURSER.repo_path, ("contracts/Disburser.sol",), _disburser_document
    ),
    ArtifactSpec(
        "demo-tokens",
        DEMO_TOKENS.repo_path,
        ("contracts/demo/DemoStablecoins.sol",),
        _bundle(("DemoUSDC", "DemoUSDT")),
    ),
    ArtifactSpec(
        "tron-tokens",
        TRON_TOKENS.repo_path,
        ("contracts/test/MockUSDTTron.sol",),
        _bundle(("MockUSDTTron",)),
    ),
    ArtifactSpec(
        "tron-probe",
        "tests/support/tron_contracts/Probe.json",
        ("tests/support/tron_contracts/Probe.sol",),
        _probe_document,
    ),
)
SPEC_KEYS = tuple(spec.key for spec in SPECS)


def render(document: dict[str, Any]) -> str:
    """A file's exact text (sorted keys, one-space indent, trailing newline)."""
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def select(keys: Iterable[str] = ()) -> tuple[ArtifactSpec, ...]:
    """The specs called ``keys`` (all of them when empty), in :data:`SPECS` order."""
    wanted = set(keys)
    unknown = wanted - set(SPEC_KEYS)
    if unknown:
        raise ValueError(f"unknown artifact(s) {sorted(unknown)}; known: {', '.join(SPEC_KEYS)}")
    return tuple(spec for spec in SPECS if not wanted or spec.key in wanted)


def build(specs: Sequence[ArtifactSpec] = SPECS, root: Path = ROOT) -> dict[str, str]:
    """Compile ``specs`` (one compiler run) and return ``{spec key: exact file text}``."""
    settings = compiler_settings(root)
    inputs = [standard_json_input(spec.entry_points, root) for spec in specs]
    version, outputs = run_solc_many(inputs, root)
    return {
        spec.key: render(spec.document(Compilation(version, settings, std_input, output)))
        for spec, std_input, output in zip(specs, inputs, outputs, strict=True)
    }


def stale(
    built: dict[str, str], specs: Sequence[ArtifactSpec] = SPECS, root: Path = ROOT
) -> list[ArtifactSpec]:
    """The specs whose file in ``root`` is missing or differs from ``built``."""
    out: list[ArtifactSpec] = []
    for spec in specs:
        path = root / spec.path
        if not path.is_file() or path.read_text() != built[spec.key]:
            out.append(spec)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"artifacts to build ({', '.join(SPEC_KEYS)})"
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if a file is stale (nothing is written)"
    )
    parser.add_argument("--list", action="store_true", help="list the artifacts and exit")
    args = parser.parse_args(argv)
    if args.list:
        for spec in SPECS:
            print(f"{spec.key:<12} {spec.path}")
        return 0
    try:
        specs = select(args.names)
    except ValueError as exc:
        parser.error(str(exc))
    built = build(specs)
    if args.check:
        outdated = stale(built, specs)
        for spec in specs:
            print(f"{spec.path} is {'STALE' if spec in outdated else 'up to date'}")
        if outdated:
            print(f"run {BUILD_COMMAND} to regenerate")
            return 1
        return 0
    for spec in specs:
        path = ROOT / spec.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_text() == built[spec.key]:
            print(f"{spec.path} unchanged")
            continue
        path.write_text(built[spec.key])
        print(f"wrote {spec.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
