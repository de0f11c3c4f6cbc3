"""Rebuild ``Probe.json`` from ``Probe.sol`` with the repository's pinned solc (cancun).

Run from the repository root: ``python tests/support/tron_contracts/build.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLC = HERE.parents[2] / "tools" / "solc-bin" / "solc-v0.8.28"


def build() -> dict[str, object]:
    source = (HERE / "Probe.sol").read_text()
    request = {
        "language": "Solidity",
        "sources": {"Probe.sol": {"content": source}},
        "settings": {
            "evmVersion": "cancun",
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    done = subprocess.run(
        [str(SOLC), "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    contracts = output["contracts"]["Probe.sol"]
    return {
        name: {"abi": item["abi"], "bytecode": item["evm"]["bytecode"]["object"]}
        for name, item in contracts.items()
    }


if __name__ == "__main__":
    (HERE / "Probe.json").write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
