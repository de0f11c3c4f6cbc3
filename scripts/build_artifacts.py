"""Regenerate payout/artifacts/Disburser.json from contracts/ with the pinned npm compiler.

Usage: ``python scripts/build_artifacts.py [--check]``

The compiler is the npm ``solc`` package (solcjs, the official compiler built to WebAssembly) run
through node; the version, EVM version and optimizer settings come from ``ape-config.yaml`` so the
shipped artifact, ``ape compile`` and explorer verification all use the same settings. Source unit
names are the repository-relative paths ``ape compile`` uses, so the metadata hash appended to the
bytecode (and therefore the bytecode itself) is the same as ape's.

``--check`` compiles and exits non-zero if the shipped artifact differs (nothing is written).
The helpers here are also used by the benchmark and by the artifact test.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from eth_utils import keccak

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT_PATH = ROOT / "payout" / "artifacts" / "Disburser.json"
DISBURSER_SOURCE = "contracts/Disburser.sol"
DISBURSER_NAME = "Disburser"
ARTIFACT_FORMAT = "payout-disburser-artifact/1"

_IMPORT = re.compile(r'^\s*import\s+(?:\{[^}]*\}\s+from\s+)?"([^"]+)"', re.MULTILINE)
_COMPILE_TIMEOUT_S = 300

# Runs the npm compiler on a standard-JSON input (stdin) and prints the output (stdout). Every
# source is given inline, so no import callback is needed.
_NODE_COMPILE = """
const solc = require(require.resolve('solc', { paths: [process.argv[1]] }));
const input = require('fs').readFileSync(0, 'utf8');
const output = JSON.parse(solc.compile(input));
process.stdout.write(JSON.stringify({ version: solc.version(), output }));
"""


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


def collect_sources(entry_points: list[str], root: Path = ROOT) -> dict[str, str]:
    """The entry points and everything they import (relative imports only), keyed by unit name."""
    sources: dict[str, str] = {}
    pending = list(entry_points)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        text = (root / unit).read_text()
        sources[unit] = text
        for imported in _IMPORT.findall(text):
            if not imported.startswith("."):
                raise ValueError(f"{unit}: only relative imports are supported, got {imported!r}")
            pending.append((Path(unit).parent / imported).as_posix())
    return {unit: sources[unit] for unit in sorted(sources)}


def _normalise(unit: str) -> str:
    parts: list[str] = []
    for part in unit.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def standard_json_input(entry_points: list[str], root: Path = ROOT) -> dict[str, Any]:
    """The solc standard-JSON input for ``entry_points`` with the pinned settings."""
    settings = compiler_settings(root)
    sources = collect_sources([_normalise(e) for e in entry_points], root)
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": {
            "evmVersion": settings["evmVersion"],
            "optimizer": settings["optimizer"],
            "viaIR": settings["viaIR"],
            "outputSelection": {
                "*": {
                    "*": [
                        "abi",
                        "metadata",
                        "evm.bytecode.object",
                        "evm.deployedBytecode.object",
                        "evm.deployedBytecode.immutableReferences",
                    ]
                }
            },
        },
    }


def run_solc(standard_input: dict[str, Any], root: Path = ROOT) -> tuple[str, dict[str, Any]]:
    """Compile with the npm compiler; returns (long version, standard-JSON output)."""
    proc = subprocess.run(
        ["node", "-e", _NODE_COMPILE, str(root)],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        check=False,
        timeout=_COMPILE_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"solcjs failed ({proc.returncode}): {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    output: dict[str, Any] = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError(
            "compilation failed:\n" + "\n".join(e["formattedMessage"] for e in errors)
        )
    version = str(result["version"])
    pinned = compiler_settings(root)["version"]
    if not version.startswith(pinned + "+"):
        raise RuntimeError(f"npm solc is {version}, ape-config.yaml pins {pinned}: run `npm ci`")
    return version, output


def compile_contracts(entry_points: list[str], root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """Compile and return ``{contract name: {abi, bytecode, deployedBytecode}}`` (0x-hex)."""
    _, output = run_solc(standard_json_input(entry_points, root), root)
    compiled: dict[str, dict[str, Any]] = {}
    for unit in output["contracts"].values():
        for name, data in unit.items():
            compiled[name] = {
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
    return compiled


def build_artifact(root: Path = ROOT) -> dict[str, Any]:
    """Compile the disburser and return the artifact document that ships in the package."""
    std_input = standard_json_input([DISBURSER_SOURCE], root)
    long_version, output = run_solc(std_input, root)
    contract = output["contracts"][DISBURSER_SOURCE][DISBURSER_NAME]
    immutables = contract["evm"]["deployedBytecode"].get("immutableReferences") or {}
    if immutables:
        raise RuntimeError(
            "the disburser must not use immutables: its runtime code hash must be fixed"
        )
    runtime = bytes.fromhex(contract["evm"]["deployedBytecode"]["object"])
    settings = compiler_settings(root)
    # The shipped input asks only for what explorers need; outputSelection is not part of the
    # metadata, so it does not change the bytecode.
    shipped_input = json.loads(json.dumps(std_input))
    shipped_input["settings"]["outputSelection"] = {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}
    }
    return {
        "format": ARTIFACT_FORMAT,
        "contractName": DISBURSER_NAME,
        "sourceName": DISBURSER_SOURCE,
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + runtime.hex(),
        "deployedBytecodeHash": "0x" + keccak(runtime).hex(),
        "compiler": {
            "name": "solc",
            "version": long_version,
            "settings": {
                "evmVersion": settings["evmVersion"],
                "optimizer": settings["optimizer"],
                "viaIR": settings["viaIR"],
            },
        },
        "metadata": contract["metadata"],
        "standardJsonInput": shipped_input,
    }


def render(artifact: dict[str, Any]) -> str:
    """The artifact file's exact text (stable key order, trailing newline)."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the shipped artifact is stale"
    )
    args = parser.parse_args(argv)
    text = render(build_artifact())
    if args.check:
        current = ARTIFACT_PATH.read_text() if ARTIFACT_PATH.exists() else ""
        if current != text:
            print(
                f"{ARTIFACT_PATH.relative_to(ROOT)} is stale: run python scripts/build_artifacts.py"
            )
            return 1
        print(f"{ARTIFACT_PATH.relative_to(ROOT)} is up to date")
        return 0
    ARTIFACT_PATH.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT_PATH.write_text(text)
    print(f"wrote {ARTIFACT_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
