"""Transactions a java-tron node refuses, with its response codes: nothing is executed."""

from __future__ import annotations

import pytest
from support.tron_node import post
from tronpy import Tron
from tronpy.exceptions import TaposError, TransactionError, UnknownError, ValidationError
from tronpy.keys import PrivateKey
from tronpy.tron import Transaction

from payout.tron.devnet import TronDevnet

TRX = 1_000_000


def test_expired_transaction_is_refused(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    txn = tron_client.trx.transfer(a.base58, b.base58, TRX).build().sign(tron_dev_keys[0])
    tron_devnet.advance_time(120_000)  # past tronpy's 60 s expiration
    before = tron_devnet.balance(a.address)
    with pytest.raises(TransactionError, match="Transaction expired"):
        txn.broadcast()
    assert tron_devnet.balance(a.address) == before


def test_expiration_more_than_24_hours_ahead_is_refused(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    builder = tron_client.trx.transfer(a.base58, b.base58, TRX).expiration(25 * 3600 * 1000)
    with pytest.raises(TransactionError, match="Transaction expired"):
        builder.build().sign(tron_dev_keys[0]).broadcast()
    day = tron_client.trx.transfer(a.base58, b.base58, TRX).expiration(23 * 3600 * 1000)
    assert day.build().sign(tron_dev_keys[0]).broadcast().wait()["id"]


def test_duplicate_transaction_is_refused(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    txn = tron_client.trx.transfer(a.base58, b.base58, TRX).build().sign(tron_dev_keys[0])
    txn.broadcast().wait()
    before = tron_devnet.balance(b.address)
    with pytest.raises(UnknownError) as refused:
        txn.broadcast()
    assert refused.value.args == ("Dup transaction.", "DUP_TRANSACTION_ERROR")
    assert tron_devnet.balance(b.address) == before


def test_unknown_reference_block_is_a_tapos_error(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    fake_block = "00000000000000ff" + "ab" * 24
    txn = tron_client.trx.transfer(a.base58, b.base58, TRX).build(offline=False)
    raw = dict(txn._raw_data, ref_block_bytes=fake_block[12:16], ref_block_hash=fake_block[16:32])
    forged = Transaction(raw, client=tron_client).sign(tron_dev_keys[0])
    with pytest.raises(TaposError, match="Tapos check error"):
        forged.broadcast()


def test_wrong_key_is_a_signature_error(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    txn = tron_client.trx.transfer(a.base58, b.base58, TRX).build()
    txn._permission = None
    reply = post(
        tron_devnet.url,
        "wallet/broadcasttransaction",
        {
            **txn.to_json(),
            "signature": [tron_dev_keys[1].sign_msg_hash(bytes.fromhex(txn.txid)).hex()],
        },
    )
    assert reply["code"] == "SIGERROR"
    assert "is signed by" in bytes.fromhex(reply["message"]).decode()
    unsigned = post(tron_devnet.url, "wallet/broadcasttransaction", txn.to_json())
    assert (
        bytes.fromhex(unsigned["message"]).decode()
        == "Validate signature error: miss sig or contract"
    )


def test_transaction_over_500_kib_is_refused(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    txn = tron_client.trx.transfer(a.base58, b.base58, TRX).memo(b"x" * (500 * 1024)).build()
    with pytest.raises(TransactionError, match="too big"):
        txn.sign(tron_dev_keys[0]).broadcast()


def test_contract_validation_errors(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a = tron_devnet.accounts[0]
    with pytest.raises(ValidationError, match="Cannot transfer TRX to yourself"):
        tron_client.trx.transfer(a.base58, a.base58, TRX).build().sign(tron_dev_keys[0]).broadcast()
    rich = tron_devnet.balance(a.address)
    to = tron_devnet.accounts[1].base58
    with pytest.raises(ValidationError, match="balance is not sufficient"):
        tron_client.trx.transfer(a.base58, to, rich + 1).build().sign(tron_dev_keys[0]).broadcast()


def test_account_without_trx_cannot_pay_bandwidth(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    poor = PrivateKey.random()
    address = poor.public_key.to_base58check_address()
    tron_devnet.faucet(address, 2 * TRX)
    # 100 KiB memo: far beyond 600 free bytes and the 2 TRX balance at 1,000 sun per byte.
    txn = tron_client.trx.transfer(address, tron_devnet.accounts[0].base58, TRX)
    with pytest.raises(UnknownError) as refused:
        txn.memo(b"m" * 100_000).build().sign(poor).broadcast()
    assert refused.value.args[1] == "BANDWITH_ERROR"
    assert tron_client.get_account_balance(address) == 2


def test_expiration_window_follows_the_clock_on_an_idle_instant_node(
    tron_devnet: TronDevnet, tron_client: Tron, tron_dev_keys: list[PrivateKey]
) -> None:
    a, b = tron_devnet.accounts[0], tron_devnet.accounts[1]
    # An hour passes without a block (no real chain idles like that): a transaction expiring
    # 23 h 50 min from now must still be inside java-tron's 24 h window.
    tron_devnet.chain.time_offset_ms += 3_600_000
    raw = tron_client.trx.transfer(a.base58, b.base58, TRX).build()._raw_data
    raw["expiration"] = tron_devnet.chain.now_ms() + (23 * 60 + 50) * 60_000
    info = Transaction(raw, client=tron_client).sign(tron_dev_keys[0]).broadcast().wait()
    assert info["id"]
