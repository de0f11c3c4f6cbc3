"""`payout deploy` and scripts/deploy.py: CREATE2 address, registry, explorer input, code check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from payout.chain import Chain
from payout.deployment import disburser_address, shipped_code
from payout.devnet import dev_private_key, start_anvil
from payout.signer import keystore_address, write_keystore

from .conftest import PASSWORD, Payer, as_json, invoke, run

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_on_a_new_chain_then_again_is_a_no_op(tmp_path: Path) -> None:
    registry = tmp_path / "deployments.json"
    keystore = tmp_path / "deployer.json"
    write_keystore(keystore, dev_private_key(3), PASSWORD, iterations=2**4)
    payer = Payer(3, "", keystore, b"")
    with start_anvil(chain_id=424_242) as other:
        env = {"PAYOUT_RPC_URL": other.url, "PAYOUT_KEYSTORE_PASSWORD": PASSWORD}
        first = run(
            "deploy",
            "--keystore",
            str(payer.keystore),
            "--registry",
            str(registry),
            "--json",
            env=env,
        )
        assert first.returncode == 0, first.stderr
        out = as_json(first.stdout)
        assert out["deployedNow"] is True and out["address"] == disburser_address()
        assert Chain(other.url).code(out["address"])
        deployer_nonce = Chain(other.url).nonce(keystore_address(keystore))
        second = run(
            "deploy",
            "--keystore",
            str(payer.keystore),
            "--registry",
            str(registry),
            "--json",
            env=env,
        )
        assert second.returncode == 0, second.stderr
        assert as_json(second.stdout)["deployedNow"] is False
        assert as_json(second.stdout)["address"] == disburser_address()
        # A no-op: the second run sent no transaction.
        assert Chain(other.url).nonce(keystore_address(keystore)) == deployer_nonce
        check = run("deploy", "--check", env=env)
        assert check.returncode == 0 and "runs the shipped disburser" in check.stdout
    entry = json.loads(registry.read_text())["deployments"]["424242"]
    assert entry["address"] == disburser_address()
    assert entry["txHash"] == out["txHash"]  # kept from the deploying run
    assert entry["codeHash"] == "0x" + shipped_code().runtime_hash.hex()


def test_code_check_refuses_another_contract_everywhere(
    env: dict[str, str], chain: Chain, usdc: str, payer: Payer, payout_file
) -> None:
    check = invoke("deploy", "--check", "--disburser", usdc)
    assert check.exit_code == 8
    assert "not this toolkit's disburser" in check.stderr
    file, rows = payout_file(2)
    nonce = chain.nonce(payer.address)
    held = chain.token_balance(usdc, payer.address)
    sent = run(
        "send",
        str(file),
        "--token",
        usdc,
        "--disburser",
        usdc,
        "--keystore",
        str(payer.keystore),
        "--yes",
        env=env,
    )
    assert sent.returncode == 8 and "refusing to pay" in sent.stderr
    # Refused before anything left: no approval of the foreign contract, nobody paid.
    assert chain.nonce(payer.address) == nonce
    assert chain.token_balance(usdc, payer.address) == held
    assert chain.token_balance(usdc, rows[0][0]) == 0 and chain.token_balance(usdc, rows[1][0]) == 0


def test_standard_json_export(tmp_path: Path) -> None:
    out = tmp_path / "input.json"
    result = invoke("deploy", "--export-standard-json", str(out), "--json")
    assert result.exit_code == 0
    assert as_json(result.stdout)["standardJson"]["contract"] == "contracts/Disburser.sol:Disburser"
    assert "contracts/Disburser.sol" in json.loads(out.read_text())["sources"]


def test_ape_run_deploy_script(tmp_path: Path) -> None:
    """`ape run deploy --network ethereum:local:foundry` deploys to the CREATE2 address."""
    registry = tmp_path / "registry.json"
    env = dict(os.environ)
    tools = [ROOT / "tools/bin", ROOT / "node_modules/.bin", Path(sys.executable).parent]
    env["PATH"] = ":".join(map(str, tools)) + ":" + env["PATH"]
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ape"),
            "run",
            "deploy",
            "--network",
            "ethereum:local:foundry",
            "--account",
            "TEST::0",
            "--registry",
            str(registry),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert disburser_address() in proc.stdout
    entry = json.loads(registry.read_text())["deployments"]["31337"]
    assert entry["address"] == disburser_address()
