"""Review findings on payout files: ambiguous JSON records must be refused, not guessed."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from payout.manifest import ManifestOptions, read_manifest
from payout.types import Network, TokenInfo

USDC = TokenInfo("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6, Network.EVM, 1)
A = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
OPTS = ManifestOptions(token=USDC)


@pytest.mark.parametrize("name", ["p.json", "p.jsonl"])
def test_json_record_with_a_repeated_key_is_refused(tmp_path: Path, name: str) -> None:
    # json.loads / ijson keep the last value: "1" silently became 1000 USDC.
    body = f'{{"recipient": "{A}", "amount": "1", "amount": "1000"}}'
    path = tmp_path / name
    path.write_text(f"[{body}]" if name.endswith(".json") else body + "\n", encoding="utf-8")
    manifest = read_manifest(path, OPTS)
    assert manifest.payouts == []
    assert [(i.line, i.column, i.code) for i in manifest.issues] == [
        (1, "amount", "header_duplicate")
    ]


@pytest.mark.parametrize("name", ["p.json", "p.jsonl"])
def test_json_repeated_key_in_a_later_record_names_that_record(tmp_path: Path, name: str) -> None:
    ok = f'{{"recipient": "{A}", "amount": "1", "id": "a"}}'
    bad = f'{{"recipient": "{A}", "recipient": "{A}", "amount": "2", "id": "b"}}'
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(f"[{ok}, {bad}]", encoding="utf-8")
    else:
        path.write_text(f"{ok}\n{bad}\n", encoding="utf-8")
    manifest = read_manifest(path, OPTS)
    assert [p.payout_id for p in manifest.payouts] == ["a"]
    assert [(i.line, i.code) for i in manifest.issues] == [(2, "header_duplicate")]


def test_json_amount_with_a_huge_exponent_is_refused_without_expanding_it(tmp_path: Path) -> None:
    # 1e300000000 written out in plain digits is a 300 MB string; refuse it from its exponent.
    path = tmp_path / "p.json"
    path.write_text(f'[{{"recipient": "{A}", "amount": 1e300000000}}]', encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    manifest = read_manifest(path, OPTS)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert manifest.payouts == []
    assert [i.code for i in manifest.issues] in (["amount_format"], ["amount_too_large"])
    assert grown_kib < 50_000


def test_json_number_amounts_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(f'[{{"recipient": "{A}", "amount": 12.5E+1}}]', encoding="utf-8")
    manifest = read_manifest(path, OPTS)
    assert [p.amount for p in manifest.payouts] == [125_000_000]
