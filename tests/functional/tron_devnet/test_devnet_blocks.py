"""Block production (instant and interval), TaPoS from getnodeinfo, time travel."""

from __future__ import annotations

import time

from support.tron_node import post
from tronpy import Tron
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider

from payout.tron.devnet import ChainConfig, TronDevnet

TRX = 1_000_000


def test_instant_mode_mines_one_block_per_transaction(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    start = tron_client.get_latest_block_number()
    info = tron_client.trx.transfer(a.base58, b.base58, 1).build().sign(tron_dev_keys[0])
    info = info.broadcast().wait()
    assert info["blockNumber"] == start + 1 == tron_client.get_latest_block_number()
    block = tron_client.get_block(start + 1)
    assert [t["txID"] for t in block["transactions"]] == [info["id"]]
    assert (
        block["block_header"]["raw_data"]["parentHash"] == tron_client.get_block(start)["blockID"]
    )
    solid = tron_client.get_latest_solid_block_id()
    assert solid == block["blockID"] and solid.startswith(f"{start + 1:016x}")


def test_interval_mode_keeps_transactions_pending_until_the_next_block() -> None:
    slow = ChainConfig(block_interval_ms=3_600_000)  # the producer will not fire in this test
    with TronDevnet(block_mode="interval", config=slow) as node:
        client = Tron(HTTPProvider(node.url))
        a, b = node.accounts[0], node.accounts[1]
        before = node.balance(b.address)
        ret = (
            client.trx.transfer(a.base58, b.base58, TRX)
            .build()
            .sign(PrivateKey(a.private_key))
            .broadcast()
        )
        assert post(node.url, "wallet/gettransactioninfobyid", {"value": ret.txid}) == {}
        head = node.mine()
        info = ret.wait()
        assert info["blockNumber"] == head
        assert node.balance(b.address) == before + TRX


def test_interval_mode_produces_blocks_on_its_own() -> None:
    with TronDevnet(block_mode="interval", config=ChainConfig(block_interval_ms=20)) as node:
        deadline = time.monotonic() + 10
        while node.chain.head.number < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert node.chain.head.number >= 3
        stamps = [b.timestamp for b in node.chain.blocks[:4]]
        assert stamps == sorted(stamps)


def test_advance_time_moves_block_timestamps(tron_devnet: TronDevnet, tron_client: Tron) -> None:
    before = tron_client.get_latest_block()["block_header"]["raw_data"]["timestamp"]
    stamp = tron_devnet.advance_time(3_600_000)
    assert stamp >= before + 3_600_000
    reply = post(tron_devnet.url, "devnet/mine", {"blocks": 2})
    assert reply["block"] == tron_client.get_latest_block_number()


def test_chain_parameters_expose_the_fee_schedule(tron_client: Tron) -> None:
    params = {p["key"]: p.get("value", 0) for p in tron_client.get_chain_parameters()}
    assert params["getEnergyFee"] == 100
    assert params["getTransactionFee"] == 1_000
    assert params["getMultiSignFee"] == 1_000_000
    assert params["getUpdateAccountPermissionFee"] == 100_000_000
    assert params["getMaxFeeLimit"] == 15_000_000_000
