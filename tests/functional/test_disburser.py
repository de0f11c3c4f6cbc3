"""The disburser wrapper on anvil: simulation before signing, per-row failure prediction,
approvals for USDT-like tokens, receipts decoded per row."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account import Account

from payout.chain import Chain
from payout.demo_token import blacklist
from payout.disburser import (
    Disburser,
    approval_amounts,
    batch_calldata,
    encode_approve,
    pack_rows,
    unpack_rows,
)
from payout.exceptions import ContractError, TransactionReverted
from payout.types import Batch, Network, PayMode, Payout
from payout.wallet import Wallet


def _batch(
    evm: Chain, payer: str, token: str, disburser: str, n: int, tag: bytes = b"\x07"
) -> Batch:
    rows = tuple(Payout(f"row-{i}", Account.create().address, 1_000_000 + i) for i in range(n))
    return Batch(
        0,
        tag * 32,
        Network.EVM,
        evm.chain_id,
        payer,
        token,
        disburser,
        rows,
        sum(r.amount for r in rows),
        0,
        replay_key=tag * 31 + b"\x00",
    )


def test_packed_rows_round_trip() -> None:
    addr = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    width, packed = pack_rows([(addr, 2**96 - 1), (addr, 1)])
    assert width == 12 and len(packed) == 64 and packed[:20] == bytes.fromhex(addr[2:])
    assert unpack_rows(width, packed) == [(addr, 2**96 - 1), (addr, 1)]
    with pytest.raises(ValueError):
        pack_rows([(addr, 2**96)])
    with pytest.raises(ValueError):
        pack_rows([(addr, 0)])


def test_approval_steps_go_through_zero_from_a_nonzero_allowance() -> None:
    assert approval_amounts(0, 10) == [10]
    assert approval_amounts(5, 10) == [0, 10]
    assert approval_amounts(10, 10) == []
    assert approval_amounts(11, 10) == []


def test_prediction_names_blacklisted_rows_before_anything_is_signed(
    evm: Chain, usdc: str, disburser: str, wallet_of: Callable[..., Wallet]
) -> None:
    payer = wallet_of(1)
    batch = _batch(evm, payer.address, usdc, disburser, 40)
    blacklist(wallet_of(0), usdc, batch.payouts[3].recipient)
    blacklist(wallet_of(0), usdc, batch.payouts[31].recipient)
    d = Disburser(evm, disburser)
    nonce = evm.nonce(payer.address)

    sim = d.predict_failures(batch, allowance=0)
    assert sim.ok
    assert [f.index for f in sim.failures] == [3, 31]
    assert all("blacklisted" in f.reason for f in sim.failures)
    assert sim.approval_gas > 0  # the approval a send would need was simulated first

    strict = d.simulate(batch, PayMode.STRICT, allowance=0)
    assert not strict.ok and isinstance(strict.error, ContractError)
    assert "#3" in str(strict.error)
    assert evm.nonce(payer.address) == nonce  # nothing was signed or sent


def test_skip_mode_receipt_is_decoded_per_row(
    evm: Chain, usdc: str, disburser: str, wallet_of: Callable[..., Wallet]
) -> None:
    payer = wallet_of(1)
    batch = _batch(evm, payer.address, usdc, disburser, 25, b"\x08")
    blacklist(wallet_of(0), usdc, batch.payouts[10].recipient)
    d = Disburser(evm, disburser)
    before = evm.token_balance(usdc, payer.address)
    payer.transact(usdc, encode_approve(disburser, batch.total), label="approve")
    receipt = payer.transact(disburser, batch_calldata(batch, PayMode.SKIP), label="batch")
    decoded = d.decode_receipt(batch, receipt)

    assert decoded.event is not None and decoded.event.count == 24
    skipped = [r for r in decoded.rows if not r.paid]
    assert [r.payout_id for r in skipped] == ["row-10"]
    assert sum(r.gas_share for r in decoded.rows) == decoded.gas_used
    paid = [r for r in decoded.rows if r.paid]
    assert len({r.log_index for r in paid}) == 24
    for row in paid:
        assert evm.token_balance(usdc, row.recipient) == row.amount
    assert evm.token_balance(usdc, batch.payouts[10].recipient) == 0
    assert before - evm.token_balance(usdc, payer.address) == batch.total - batch.payouts[10].amount
    assert d.executed(payer.address, batch.replay_key)
    found = d.find_batch(payer.address, batch.batch_id)
    assert found is not None and found.tx_hash == receipt["transactionHash"]


def test_replayed_batch_id_reverts(
    evm: Chain, usdc: str, disburser: str, wallet_of: Callable[..., Wallet]
) -> None:
    payer = wallet_of(1)
    batch = _batch(evm, payer.address, usdc, disburser, 3, b"\x09")
    payer.transact(usdc, encode_approve(disburser, 2 * batch.total), label="approve")
    payer.transact(disburser, batch_calldata(batch, PayMode.STRICT), label="batch")
    sim = Disburser(evm, disburser).simulate(batch, PayMode.STRICT, allowance=batch.total)
    assert not sim.ok and "already" in str(sim.error).lower()
    with pytest.raises(ContractError):
        payer.transact(disburser, batch_calldata(batch, PayMode.STRICT), label="again")


def test_usdt_needs_zero_first_and_simulation_does_it(
    evm: Chain, usdt: str, disburser: str, wallet_of: Callable[..., Wallet]
) -> None:
    payer = wallet_of(1)
    payer.transact(usdt, encode_approve(disburser, 5), label="approve 5")
    with pytest.raises((TransactionReverted, ContractError)):
        payer.transact(usdt, encode_approve(disburser, 10), label="approve 10", gas=100_000)
    batch = _batch(evm, payer.address, usdt, disburser, 5, b"\x0a")
    sim = Disburser(evm, disburser).simulate(batch, PayMode.STRICT, allowance=5)
    assert sim.ok, sim.error
