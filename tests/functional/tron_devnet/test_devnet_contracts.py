"""Contracts through tronpy: deploy, trigger, constant calls, logs, reverts, energy, fee limits."""

from __future__ import annotations

import pytest
from support.tron_node import deploy_probe, probe_artifact
from tronpy import Tron
from tronpy.abi import trx_abi
from tronpy.exceptions import TvmError
from tronpy.keys import PrivateKey

from payout.tron.devnet import TronDevnet
from payout.tron.devnet.address import parse_address
from payout.tron.devnet.evm import create2_address, deploy_address

TRX = 1_000_000


def test_deploy_lands_at_the_txid_owner_address_with_abi_and_receipt(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, info = deploy_probe(tron_client, tron_dev_keys[0], initial=7)
    expected = deploy_address(bytes.fromhex(info["id"]), owner.address)
    assert parse_address(info["contract_address"]) == expected
    assert info["receipt"]["result"] == "SUCCESS"
    energy = info["receipt"]["energy_usage_total"]
    assert info["receipt"]["energy_fee"] == energy * 100
    assert info["fee"] == info["receipt"]["energy_fee"] + info["receipt"]["net_fee"]
    assert probe.functions.value() == 7
    on_chain = tron_client.get_contract(probe.address)
    assert on_chain.origin_address == owner.base58
    names = {e["name"] for e in on_chain.abi if e.get("type") == "Function"}
    assert {"store", "value", "burn"} <= names


def test_trigger_changes_state_and_emits_a_tron_log(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    txn = probe.functions.store(99).with_owner(owner.base58).fee_limit(10 * TRX).build()
    info = txn.sign(tron_dev_keys[0]).broadcast().wait()

    assert probe.functions.value() == 99
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["contract_address"] == probe.address
    # 5,000 for the non-zero -> non-zero SSTORE, 375 + 375 + 8 * 32 for the LOG2, plus the rest.
    assert 5_000 + 1_006 < info["receipt"]["energy_usage_total"] < 7_500
    events = list(probe.events.Stored.process_receipt(info))
    assert events == [
        {"args": {"by": owner.base58, "value": 99}, "event": "Stored", "address": probe.address}
    ]
    # Without "visible" the node reports the TVM's 20-byte log address (no 0x41), like java-tron.
    raw_info = tron_client.provider.make_request(
        "wallet/gettransactioninfobyid", {"value": info["id"]}
    )
    assert raw_info["log"][0]["address"] == parse_address(probe.address)[1:].hex()
    assert raw_info["contract_address"] == parse_address(probe.address).hex()


def test_constant_call_sees_the_owner_and_keeps_nothing(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    assert probe.functions.sender.with_owner(owner.base58)() == owner.base58
    selector, parameter = "store(uint256)", trx_abi.encode_single("(uint256)", [5]).hex()
    reply = tron_client.trigger_constant_contract(owner.base58, probe.address, selector, parameter)
    assert reply["result"] == {"result": True} and reply["energy_used"] > 0
    assert probe.functions.value() == 7  # the simulated store was discarded
    number, timestamp, price = probe.functions.chainInfo()
    head = tron_client.get_latest_block()
    assert number == head["block_header"]["raw_data"]["number"] + 1 and price == 0
    assert timestamp > 1_600_000_000


def test_revert_reason_reaches_tronpy(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    with pytest.raises(TvmError, match="REVERT opcode executed: nope"):
        probe.functions.fail("nope")
    ret = (
        probe.functions.refuse(3)
        .with_owner(owner.base58)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
    )
    info = ret.wait()
    assert info["result"] == "FAILED" and info["receipt"]["result"] == "REVERT"
    assert bytes.fromhex(info["resMessage"]).decode() == "REVERT opcode executed"
    argument = trx_abi.encode_single("(uint256)", [3]).hex()
    assert info["contractResult"][0].endswith(argument)
    assert probe.functions.value() == 7  # the write before the revert is undone
    with pytest.raises(TvmError):
        ret.result()


def test_estimate_energy_matches_the_receipt(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    parameter = trx_abi.encode_single("(address,uint256)", [owner.base58, 10]).hex()
    estimate = tron_client.get_estimated_energy(
        owner.base58, probe.address, "credit(address,uint256)", parameter
    )
    info = (
        probe.functions.credit(owner.base58, 10)
        .with_owner(owner.base58)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    assert estimate == info["receipt"]["energy_usage_total"] > 20_000


def test_low_fee_limit_runs_out_of_energy_and_burns_the_fee_limit(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    fee_limit = 1 * TRX  # 10,000 energy: not even one fresh storage slot
    before = tron_devnet.balance(owner.address)
    ret = (
        probe.functions.burn(3)
        .with_owner(owner.base58)
        .fee_limit(fee_limit)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
    )
    info = ret.wait()
    assert info["result"] == "FAILED"
    assert info["receipt"]["result"] == "OUT_OF_ENERGY"
    assert info["receipt"]["energy_usage_total"] == fee_limit // 100
    assert info["receipt"]["energy_fee"] == fee_limit
    assert "Not enough energy" in bytes.fromhex(info["resMessage"]).decode()
    assert tron_devnet.balance(owner.address) == before - info["fee"]
    assert probe.functions.credits(owner.base58) == 0
    with pytest.raises(TvmError):
        ret.result()


def test_default_fee_limit_caps_energy_at_100k(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    info = (
        probe.functions.burn(6)
        .with_owner(owner.base58)
        .build()  # 6 x 20,000+ > 100,000
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    assert info["receipt"]["result"] == "OUT_OF_ENERGY"
    assert info["receipt"]["energy_usage_total"] == 100_000


def test_staked_energy_is_used_before_trx(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    stake = (
        tron_client.trx.freeze_balance(owner.base58, 100_000 * TRX, "ENERGY")
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    assert stake["receipt"].get("result") is None
    assert tron_client.get_energy(owner.base58) == 1_000_000  # 10 energy per staked TRX
    info = (
        probe.functions.store(1)
        .with_owner(owner.base58)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    used = info["receipt"]["energy_usage_total"]
    assert info["receipt"]["energy_usage"] == used
    assert "energy_fee" not in info["receipt"]
    assert tron_client.get_energy(owner.base58) == 1_000_000 - used


def test_energy_factor_multiplies_the_contracts_energy(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])

    def store(value: int) -> dict:
        return (
            probe.functions.store(value)
            .with_owner(owner.base58)
            .build()
            .sign(tron_dev_keys[0])
            .broadcast()
            .wait()
        )

    base = store(1)["receipt"]
    tron_devnet.set_energy_factor(probe.address, 34_000)
    raised = store(2)["receipt"]
    assert (
        raised["energy_penalty_total"] == raised["energy_usage_total"] - base["energy_usage_total"]
    )
    ratio = raised["energy_usage_total"] / base["energy_usage_total"]
    assert 4.3 < ratio <= 4.4
    info = tron_client.provider.make_request("wallet/getcontractinfo", {"value": probe.address})
    assert info["contract_state"]["energy_factor"] == 34_000


def test_create2_child_and_nested_call(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    ret = (
        probe.functions.deploy(b"\x01" * 32)
        .with_owner(owner.base58)
        .fee_limit(100 * TRX)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
    )
    child = ret.result()
    init_code = bytes.fromhex(probe_artifact()["Child"]["bytecode"])
    expected = create2_address(parse_address(probe.address)[1:], b"\x01" * 32, init_code)
    assert parse_address(child) == b"\x41" + expected
    assert probe.functions.callChild(child) == 42
    assert tron_client.provider.make_request("wallet/getcontract", {"value": child}) != {}


def test_estimate_covers_the_63_64_headroom_of_nested_frames(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    salt = b"\x02" * 32
    estimate = tron_client.get_estimated_energy(
        owner.base58, probe.address, "deploy(bytes32)", salt.hex()
    )
    info = (
        probe.functions.deploy(salt)
        .with_owner(owner.base58)
        .fee_limit(estimate * 100)  # exactly the estimate, no margin
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["receipt"]["energy_usage_total"] <= estimate
