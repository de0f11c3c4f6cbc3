"""TRX transfers through tronpy: balances, bandwidth, fees, receipts, account activation."""

from __future__ import annotations

import hashlib

from tronpy import Tron
from tronpy.keys import PrivateKey

from payout.tron.devnet import TronDevnet

TRX = 1_000_000


def test_transfer_moves_trx_and_uses_free_bandwidth(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    sender, receiver = tron_devnet.accounts[0], tron_devnet.accounts[1]
    before = tron_devnet.balance(sender.address), tron_devnet.balance(receiver.address)
    txn = tron_client.trx.transfer(sender.base58, receiver.base58, 3 * TRX).build()
    ret = txn.sign(tron_dev_keys[0]).broadcast()
    info = ret.wait()

    assert ret.txid == txn.txid == info["id"]
    assert info["receipt"] == {"net_usage": info["receipt"]["net_usage"]}
    assert 0 < info["receipt"]["net_usage"] <= 600  # free daily bandwidth, nothing burned
    assert "fee" not in info and info["contractResult"] == [""]
    assert tron_devnet.balance(sender.address) == before[0] - 3 * TRX
    assert tron_devnet.balance(receiver.address) == before[1] + 3 * TRX


def test_node_txid_is_sha256_of_the_raw_data_it_reports(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    info = (
        tron_client.trx.transfer(a.base58, b.base58, 1)
        .memo("invoice 42")
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    tx = tron_client.get_transaction(info["id"])
    raw = bytes.fromhex(tx["raw_data_hex"])
    assert hashlib.sha256(raw).hexdigest() == tx["txID"] == info["id"]
    assert tx["raw_data"]["data"] == b"invoice 42".hex()
    assert tx["ret"] == [{"contractRet": "SUCCESS"}]
    assert info["fee"] == 1 * TRX  # memo fee


def test_bandwidth_is_burned_once_the_free_600_bytes_are_used(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[2], tron_devnet.accounts[3]
    infos = [
        tron_client.trx.transfer(a.base58, b.base58, n + 1)
        .build()
        .sign(tron_dev_keys[2])
        .broadcast()
        .wait()
        for n in range(3)
    ]
    free = [i["receipt"].get("net_usage", 0) for i in infos]
    burned = [i["receipt"].get("net_fee", 0) for i in infos]
    assert sum(free) <= 600
    assert burned[-1] > 0 and burned[-1] % 1_000 == 0  # 1,000 sun per byte
    assert infos[-1]["fee"] == burned[-1]


def test_transfer_to_a_new_address_activates_it_for_1_1_trx(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    sender = tron_devnet.accounts[0]
    fresh = PrivateKey.random().public_key.to_base58check_address()
    before = tron_devnet.balance(sender.address)
    info = (
        tron_client.trx.transfer(sender.base58, fresh, 2 * TRX)
        .build()
        .sign(tron_dev_keys[0])
        .broadcast()
        .wait()
    )
    assert info["receipt"] == {"net_fee": 100_000}
    assert info["fee"] == 1_100_000
    assert tron_devnet.balance(sender.address) == before - 2 * TRX - 1_100_000
    account = tron_client.get_account(fresh)
    assert account["balance"] == 2 * TRX
    assert account["owner_permission"]["keys"] == [{"address": fresh, "weight": 1}]


def test_faucet_is_a_real_signed_transfer(tron_devnet: TronDevnet, tron_client: Tron) -> None:
    fresh = PrivateKey.random().public_key.to_base58check_address()
    txid = tron_devnet.faucet(fresh, 50 * TRX)
    assert tron_client.get_account_balance(fresh) == 50
    assert tron_client.get_transaction(txid)["raw_data"]["contract"][0]["type"] == (
        "TransferContract"
    )


def test_unknown_account_reads_like_java_tron(tron_client: Tron) -> None:
    fresh = PrivateKey.random().public_key.to_base58check_address()
    assert tron_client.provider.make_request("wallet/getaccount", {"address": fresh}) == {}
