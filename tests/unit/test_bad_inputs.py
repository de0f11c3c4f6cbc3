"""Inputs a fuzzer found crashing the toolkit (exit 70): each now gets a clear error naming what is
wrong, and a seeded mutation pass over payout files finds no crash left."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from payout._cli.main import cli
from payout.chain import Chain
from payout.exceptions import ConfigError, PayoutError, RpcUrlInvalid
from payout.manifest import ManifestOptions, read_manifest
from payout.signer import SECP256K1_ORDER
from payout.types import Network, TokenInfo

USDC = TokenInfo("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6, Network.EVM, 1)
OPTS = ManifestOptions(token=USDC)
ALICE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
BOB = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"


# --- deeply nested JSON -----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["[" * 100_000, '{"recipient": ' + "[" * 100_000])
def test_deeply_nested_json_line_is_a_syntax_error_on_its_line(tmp_path: Path, prefix: str) -> None:
    path = tmp_path / "payouts.jsonl"
    good = json.dumps({"recipient": ALICE, "amount": "1", "id": "a"})
    path.write_text(f"{good}\n{prefix}\n")
    manifest = read_manifest(path, OPTS)
    errors = [i for i in manifest.issues if i.severity == "error"]
    assert len(errors) == 1
    assert errors[0].line == 2 and "nested too deeply" in errors[0].message
    assert str(path) in str(errors[0])


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_json_file_is_refused_quickly(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "payouts.json"
    path.write_text("[" + "[" * depth)
    manifest = read_manifest(path, OPTS)
    messages = [i.message for i in manifest.issues]
    assert any("nested more than 4096 levels" in m for m in messages), messages


def test_ordinary_nesting_and_brackets_in_strings_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "payouts.json"
    # 300 unbalanced brackets inside strings (ids are at most 128 characters: 3 rows).
    rows = [{"recipient": ALICE, "amount": "1.5", "id": f"{i}" + "[" * 100} for i in range(3)]
    path.write_text(json.dumps({"payouts": rows}))
    manifest = read_manifest(path, OPTS)
    assert [i.message for i in manifest.issues if i.severity == "error"] == []
    assert [p.amount for p in manifest.payouts] == [1_500_000] * 3


# --- keys import of keys that are no keys -----------------------------------------------------


@pytest.mark.parametrize(
    "value", [0, SECP256K1_ORDER, SECP256K1_ORDER + 1, 2**256 - 1], ids=["zero", "n", "n+1", "max"]
)
def test_keys_import_refuses_out_of_range_keys_without_echoing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: int
) -> None:
    monkeypatch.setenv("PAYOUT_KEYSTORE_PASSWORD", "pw")
    key = value.to_bytes(32, "big").hex()
    path = tmp_path / "k.json"
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["keys", "import", "--keystore", str(path)], input=key + "\n"
    )
    assert result.exit_code == 7, result.stderr
    assert "out of range" in result.stderr
    significant = key.lstrip("0")
    for shown in (result.stdout, result.stderr):
        assert key not in shown
        assert not significant or significant not in shown
    assert not path.exists()


# --- endpoint URLs without a scheme -----------------------------------------------------------


@pytest.mark.parametrize("url", ["127.0.0.1:8545", "localhost", "ftp://node", "http://", ""])
def test_rpc_url_without_scheme_or_host_is_a_config_error(url: str) -> None:
    with pytest.raises(RpcUrlInvalid) as caught:
        Chain(url)
    assert caught.value.exit_code == 3


def test_cli_rpc_url_without_scheme_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"recipient,amount\n{ALICE},1\n")
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["validate", str(path), "--token", USDC.address, "--rpc-url", "127.0.0.1:8545"]
    )
    assert result.exit_code == 3, result.stderr
    assert "http://" in result.stderr and "Internal error" not in result.stderr


def test_tron_node_url_without_scheme_is_a_config_error() -> None:
    from payout.tron.client import connect

    with pytest.raises(ConfigError):
        connect("127.0.0.1:8090")


# --- a quick fuzz pass ------------------------------------------------------------------------

_SEEDS = {
    "payouts.csv": f"recipient,amount,id\n{ALICE},1.25,a\n{BOB},2,b\n".encode(),
    "payouts.json": json.dumps(
        {"payouts": [{"recipient": ALICE, "amount": "1.25"}, {"recipient": BOB, "amount": 2}]}
    ).encode(),
    "payouts.jsonl": (
        json.dumps({"recipient": ALICE, "amount": "1.25"})
        + "\n"
        + json.dumps({"recipient": BOB, "amount": "2", "id": "b"})
        + "\n"
    ).encode(),
}
_INSERTS = [
    *(bytes([c]) for c in b'[{",\n\r\x00\xff-;\t\\\xc3'),
    *(b"\xef\xbb\xbf", b"1e999", b"0x", b"9" * 40, b"[" * 2000, b"NaN", b"null"),
]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:
            del out[pos : pos + rng.randint(1, 8)]
        elif op == 1:
            out[pos:pos] = rng.choice(_INSERTS)
        elif op == 2 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        else:
            out[pos:pos] = out[rng.randrange(len(out) + 1) :][: rng.randint(1, 30)]
    return bytes(out)


@pytest.mark.parametrize("name", sorted(_SEEDS))
def test_mutated_payout_files_never_crash_the_validator(tmp_path: Path, name: str) -> None:
    rng = random.Random(f"fuzz/{name}")
    path = tmp_path / name
    for _ in range(400):
        path.write_bytes(_mutate(_SEEDS[name], rng))
        # A clear, categorised error is fine; anything else is a crash.
        with contextlib.suppress(PayoutError):
            read_manifest(path, OPTS)
