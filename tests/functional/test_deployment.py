"""CREATE2 deployment, the code check that guards every payout, the registry, the explorer input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from payout.chain import Chain
from payout.demo_token import DemoToken, deploy_token
from payout.deployment import (
    CREATE2_DEPLOYER,
    DISBURSER_SALT,
    create2_address,
    deploy_disburser,
    disburser_address,
    read_registry,
    record_deployment,
    shipped_code,
    verify_disburser,
    write_standard_json,
)
from payout.devnet import dev_private_key, start_anvil
from payout.exceptions import DisburserCodeMismatch, DisburserMissing, RegistryConflict
from payout.signer import LocalSigner
from payout.wallet import SendSettings, Wallet


def test_address_is_the_create2_rule_of_the_shipped_init_code(evm: Chain, disburser: str) -> None:
    from eth_utils.crypto import keccak

    init = shipped_code().init_code
    expected = keccak(b"\xff" + bytes.fromhex(CREATE2_DEPLOYER[2:]) + DISBURSER_SALT + keccak(init))
    assert disburser.lower() == "0x" + expected[12:].hex()
    assert disburser == disburser_address() == create2_address(init)
    assert verify_disburser(evm) == disburser


def test_second_deploy_sends_nothing(
    evm: Chain, disburser: str, wallet_of: Callable[..., Wallet]
) -> None:
    w = wallet_of(0)
    nonce = evm.nonce(w.address)
    again = deploy_disburser(evm, w)
    assert again.address == disburser
    assert not again.deployed_now and again.tx_hash is None
    assert evm.nonce(w.address) == nonce


def test_same_address_on_another_chain(tmp_path: Path, disburser: str) -> None:
    with start_anvil(chain_id=777_001) as other:
        chain = Chain(other.url)
        wallet = Wallet(chain, LocalSigner(dev_private_key(3)), SendSettings(poll_interval=0.02))
        deployed = deploy_disburser(chain, wallet)
        assert deployed.deployed_now and deployed.tx_hash
        assert deployed.address == disburser
        registry = tmp_path / "deployments.json"
        record_deployment(registry, deployed)
    entry = read_registry(registry)[777_001]
    assert entry.address == disburser
    assert entry.code_hash == "0x" + shipped_code().runtime_hash.hex()
    assert entry.tx_hash == deployed.tx_hash


def test_code_check_refuses_another_contract(evm: Chain, wallet_of: Callable[..., Wallet]) -> None:
    impostor = deploy_token(wallet_of(0), DemoToken.USDC, "Not a disburser", "X")
    with pytest.raises(DisburserCodeMismatch) as info:
        verify_disburser(evm, impostor)
    assert "refusing to pay" in str(info.value)
    assert info.value.exit_code == 8


def test_code_check_refuses_an_empty_address(evm: Chain) -> None:
    with pytest.raises(DisburserMissing):
        verify_disburser(evm, "0x000000000000000000000000000000000000dEaD")


def test_registry_refuses_a_different_address_for_a_chain(
    tmp_path: Path, evm: Chain, disburser: str
) -> None:
    registry = tmp_path / "d.json"
    wallet = Wallet(evm, LocalSigner(dev_private_key(0)))
    record_deployment(registry, deploy_disburser(evm, wallet))
    doc = json.loads(registry.read_text())
    doc["deployments"][str(evm.chain_id)]["address"] = "0x000000000000000000000000000000000000dEaD"
    registry.write_text(json.dumps(doc))
    with pytest.raises(RegistryConflict):
        record_deployment(registry, deploy_disburser(evm, wallet))


def test_standard_json_export_compiles_to_the_shipped_code(tmp_path: Path) -> None:
    out = tmp_path / "Disburser.standard.json"
    summary = write_standard_json(out)
    doc = json.loads(out.read_text())
    assert doc["language"] == "Solidity"
    assert "contracts/Disburser.sol" in doc["sources"]
    assert doc["settings"]["optimizer"]["enabled"] is True
    assert summary["contract"] == "contracts/Disburser.sol:Disburser"
    assert summary["compilerVersion"].startswith("0.8.28+")
