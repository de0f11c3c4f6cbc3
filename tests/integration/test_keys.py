"""Signers: keystores made by `payout keys` (the key is typed, never an argument), ape aliases."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
