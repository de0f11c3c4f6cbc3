"""Regenerate payout/tron/artifacts/TronTokens.json: the TRC-20 tokens of the TRON demo and tests.

Usage: ``python scripts/build_tron_artifacts.py [--check]``

``MockUSDTTron`` reproduces Tether USD on TRON (``transfer`` returns false on success). Same
compiler and settings as the disburser artifact (``scripts/build_artifacts.py``), so
``payout tron demo`` and the tests deploy it with tronpy without a compiler on the machine.
``--check`` exits non-zero if the shipped file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_artifacts import ROOT, compile_contracts

SOURCES = ("contracts/test/MockUSDTTron.sol",)
NAMES = ("MockUSDTTron",)
OUTPUT = ROOT / "payout" / "tron" / "artifacts" / "TronTokens.json"
FORMAT = "payout-tron-tokens/1"


def build() -> dict[str, Any]:
    compiled = compile_contracts(list(SOURCES))
    return {
        "format": FORMAT,
        "sources": list(SOURCES),
        "contracts": {
            name: {"abi": compiled[name]["abi"], "bytecode": compiled[name]["bytecode"]}
            for name in NAMES
        },
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped file is stale")
    args = parser.parse_args(argv)
    text = render(build())
    rel = OUTPUT.relative_to(ROOT)
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{rel} is stale: run python scripts/build_tron_artifacts.py")
            return 1
        print(f"{rel} is up to date")
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
