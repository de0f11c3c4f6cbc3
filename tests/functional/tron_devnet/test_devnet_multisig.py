"""TRON native multisig through tronpy: AccountPermissionUpdate, then Permission_id 2 transfers."""

from __future__ import annotations

from typing import Any

import pytest
from support.tron_node import deploy_probe
from tronpy import Tron
from tronpy.exceptions import BadSignature, ValidationError
from tronpy.keys import PrivateKey

from payout.tron.devnet import TronDevnet

TRX = 1_000_000
TRIGGER_SMART_CONTRACT = 31
TRANSFER_CONTRACT = 1


def operations(*types: int) -> str:
    bits = bytearray(32)
    for t in types:
        bits[t // 8] |= 1 << (t % 8)
    return bits.hex()


def set_active(
    client: Tron, owner: Any, owner_key: PrivateKey, signers: list[Any], threshold: int, ops: str
) -> dict[str, Any]:
    permission = client.get_account_permission(owner.base58)
    permission["actives"] = [
        {
            "type": "Active",
            "permission_name": "payout",
            "threshold": threshold,
            "operations": ops,
            "keys": [{"address": s.base58, "weight": 1} for s in signers],
        }
    ]
    txn = client.trx.account_permission_update(owner.base58, permission).build()
    result: dict[str, Any] = txn.sign(owner_key).broadcast().wait()
    return result


@pytest.fixture
def two_of_three(tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]):
    owner = tron_devnet.accounts[0]
    signers = [tron_devnet.accounts[i] for i in (1, 2, 3)]
    info = set_active(
        tron_client,
        owner,
        tron_dev_keys[0],
        signers,
        2,
        operations(TRIGGER_SMART_CONTRACT, TRANSFER_CONTRACT),
    )
    return owner, [tron_dev_keys[i] for i in (1, 2, 3)], info


def test_permission_update_costs_100_trx_and_is_visible(
    tron_devnet: TronDevnet, tron_client: Tron, two_of_three: Any
) -> None:
    owner, _, info = two_of_three
    assert info["fee"] == 100 * TRX + info["receipt"].get("net_fee", 0)
    active = tron_client.get_account(owner.base58)["active_permission"]
    assert len(active) == 1 and active[0]["id"] == 2 and active[0]["threshold"] == 2
    assert active[0]["operations"] == operations(TRIGGER_SMART_CONTRACT, TRANSFER_CONTRACT)
    assert [k["address"] for k in active[0]["keys"]] == [
        tron_devnet.accounts[i].base58 for i in (1, 2, 3)
    ]


def test_two_of_three_trigger_passes_and_pays_the_multisig_fee(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey], two_of_three: Any
) -> None:
    owner, keys, _ = two_of_three
    probe, _ = deploy_probe(tron_client, tron_dev_keys[0])
    txn = (
        probe.functions.store(5)
        .with_owner(owner.base58)
        .fee_limit(10 * TRX)
        .permission_id(2)
        .build()
    )
    assert txn._permission["id"] == 2  # getsignweight told tronpy which keys may sign
    info = txn.sign(keys[0]).sign(keys[2]).broadcast().wait()
    assert info["receipt"]["result"] == "SUCCESS"
    assert probe.functions.value() == 5
    burned = info["receipt"].get("energy_fee", 0) + info["receipt"].get("net_fee", 0)
    assert info["fee"] == burned + 1 * TRX


def test_one_of_three_is_refused_with_sigerror(
    tron_devnet: TronDevnet, tron_client: Tron, two_of_three: Any
) -> None:
    owner, keys, _ = two_of_three
    dest = tron_devnet.accounts[5].base58
    before = tron_devnet.balance(owner.address)
    txn = tron_client.trx.transfer(owner.base58, dest, TRX).permission_id(2).build().sign(keys[1])
    weight = tron_client.get_sign_weight(txn)
    assert weight["current_weight"] == 1 and weight["result"]["code"] == "NOT_ENOUGH_PERMISSION"
    with pytest.raises(BadSignature, match="sig error"):
        txn.broadcast()
    assert tron_devnet.balance(owner.address) == before


def test_owner_key_alone_cannot_use_the_active_permission(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey], two_of_three: Any
) -> None:
    owner, _, _ = two_of_three
    txn = tron_client.trx.transfer(owner.base58, tron_devnet.accounts[5].base58, TRX)
    built = txn.permission_id(2).build()
    built._permission = None  # bypass tronpy's client-side key check: the node must refuse
    with pytest.raises(BadSignature, match="not contained of permission"):
        built.sign(tron_dev_keys[0]).broadcast()


def test_the_same_signer_twice_is_refused(
    tron_devnet: TronDevnet, tron_client: Tron, two_of_three: Any
) -> None:
    owner, keys, _ = two_of_three
    txn = tron_client.trx.transfer(owner.base58, tron_devnet.accounts[5].base58, TRX)
    built = txn.permission_id(2).build().sign(keys[0]).sign(keys[0])
    with pytest.raises(BadSignature, match="has signed twice"):
        built.broadcast()


def test_operation_outside_the_bitmask_is_denied(
    tron_devnet: TronDevnet, tron_client: Tron, two_of_three: Any
) -> None:
    owner, keys, _ = two_of_three
    txn = tron_client.trx.freeze_balance(owner.base58, 10 * TRX, "ENERGY").permission_id(2)
    built = txn.build()
    with pytest.raises(BadSignature, match="Permission denied"):
        built.sign(keys[0]).sign(keys[1]).broadcast()


def test_owner_permission_still_works(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey], two_of_three: Any
) -> None:
    owner, _, _ = two_of_three
    info = (
        tron_client.trx.transfer(owner.base58, tron_devnet.accounts[5].base58, TRX)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    assert info["id"]


def test_threshold_above_the_key_weights_is_refused(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    owner = tron_devnet.accounts[0]
    signers = [tron_devnet.accounts[1], tron_devnet.accounts[2]]
    with pytest.raises(ValidationError, match="sum of all key's weight"):
        set_active(tron_client, owner, tron_dev_keys[0], signers, 3, operations(31))
