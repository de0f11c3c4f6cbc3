"""Signers: keystores made by `payout keys` (the key is typed, never an argument), ape aliases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from payout.chain import Chain
from payout.devnet import dev_private_key
from payout.signer import keystore_address

from .conftest import PASSWORD, Payer, as_json, base_units, invoke, run


def test_keys_import_reads_the_key_from_a_hidden_prompt(
    env: dict[str, str], tmp_path: Path
) -> None:
    key = dev_private_key(5).hex()
    path = tmp_path / "k.json"
    result = invoke("keys", "import", "--keystore", str(path), "--json", input=key + "\n")
    assert result.exit_code == 0, result.stderr
    address = as_json(result.stdout)["address"]
    assert keystore_address(path) == address
    text = path.read_text()
    assert key not in text and key not in result.stdout and key not in result.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = invoke("keys", "import", "--keystore", str(path), input=key + "\n")
    assert again.exit_code == 7  # never overwrites a keystore
    assert invoke("keys", "address", str(path)).stdout.strip() == address


def test_send_with_an_ape_account_alias(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file, tmp_path: Path
) -> None:
    data = tmp_path / "ape-data"
    (data / "accounts").mkdir(parents=True)
    # An ape keyfile account is an eth-account keystore named <alias>.json in ape's data folder.
    (data / "accounts" / "treasury.json").write_text(payer.keystore.read_text())
    file, rows = payout_file(3)
    held = chain.token_balance(usdc, payer.address)
    proc = run(
        "send",
        str(file),
        "--token",
        usdc,
        "--account",
        "treasury",
        "--yes",
        "--json",
        env=env,
        extra_env={"APE_DATA_FOLDER": str(data), "PAYOUT_KEYSTORE_PASSWORD": PASSWORD},
    )
    assert proc.returncode == 0, proc.stderr
    assert as_json(proc.stdout)["paid_rows"] == 3
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)
    # The alias resolved to the keystore's account: that account paid the total.
    assert held - chain.token_balance(usdc, payer.address) == sum(
        base_units(a) for _r, a, _i in rows
    )
    assert json.loads(payer.keystore.read_text())["address"].lower() in payer.address.lower()
    assert os.environ.get("APE_DATA_FOLDER") != str(data)


def _ape_keyfile_account(data: Path, alias: str, key: bytes, passphrase: str) -> str:
    """An account written by ape's own ``import_account_from_private_key`` into a fresh data
    folder (the key goes in on stdin, the passphrase through the environment)."""
    code = (
        "import os, sys\n"
        "from ape_accounts import import_account_from_private_key\n"
        "account = import_account_from_private_key(\n"
        "    sys.argv[1], os.environ['PASSPHRASE'], sys.stdin.read().strip()\n"
        ")\n"
        "print(account.address)\n"
    )
    (data / "accounts").mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", code, alias],
        input=key.hex(),
        env={**os.environ, "APE_DATA_FOLDER": str(data), "PASSPHRASE": passphrase},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert (data / "accounts" / f"{alias}.json").is_file()
    return proc.stdout.strip().splitlines()[-1]


def test_ape_account_passphrase_from_apes_own_variable(
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ape documents APE_ACCOUNTS_<alias>_PASSPHRASE (the alias exactly as named) for automation.
    monkeypatch.delenv("PAYOUT_KEYSTORE_PASSWORD")
    data = tmp_path / "ape-data"
    address = _ape_keyfile_account(data, "Treasury", payer.key, "ape pass 42")
    assert address == payer.address
    file, rows = payout_file(2)
    args = ("send", str(file), "--token", usdc, "--account", "Treasury", "--yes", "--json")
    proc = run(
        *args,
        extra_env={"APE_DATA_FOLDER": str(data), "APE_ACCOUNTS_Treasury_PASSPHRASE": "ape pass 42"},
        input="",  # no terminal: nothing may prompt
    )
    assert proc.returncode == 0, proc.stderr
    assert as_json(proc.stdout)["paid_rows"] == 2
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)


def test_ape_account_wrong_passphrase_is_a_signer_error(
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYOUT_KEYSTORE_PASSWORD")
    data = tmp_path / "ape-data"
    _ape_keyfile_account(data, "Treasury", payer.key, "ape pass 42")
    file, rows = payout_file(1)
    nonce = chain.nonce(payer.address)
    args = ("send", str(file), "--token", usdc, "--account", "Treasury", "--yes")
    for variable in ("APE_ACCOUNTS_Treasury_PASSPHRASE", "PAYOUT_KEYSTORE_PASSWORD"):
        proc = run(*args, extra_env={"APE_DATA_FOLDER": str(data), variable: "not it"}, input="")
        assert proc.returncode == 7, (variable, proc.returncode, proc.stderr)
        assert "wrong passphrase" in proc.stderr and variable in proc.stderr
        assert "Traceback" not in proc.stderr and "not it" not in proc.stderr
    # No passphrase at all and no terminal to ask on: a signer error naming both variables.
    proc = run(*args, extra_env={"APE_DATA_FOLDER": str(data)}, input="")
    assert proc.returncode == 7, proc.stderr
    assert "APE_ACCOUNTS_Treasury_PASSPHRASE" in proc.stderr
    assert chain.nonce(payer.address) == nonce
    assert chain.token_balance(usdc, rows[0][0]) == 0
