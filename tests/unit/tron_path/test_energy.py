"""TRON cost model: exact transaction sizes, fee limits, TRX budget and planner bounds."""

from __future__ import annotations

import pytest

from payout.batching import plan_batches
from payout.exceptions import TronError
from payout.tron.energy import (
    MAX_TX_BYTES,
    AccountResources,
    EnergyModel,
    ResourcePrices,
    cost_model,
    disburse_calldata_len,
    disburse_tx_bytes,
    fee_limit_for,
    max_recipients_by_size,
    trx,
    trx_budget,
)
from payout.tron.proto import raw_data_bytes
from payout.tron.transaction import RefBlock, trigger_raw_data
from payout.types import Network, Payout

OWNER = "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1"
CONTRACT = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
REF = RefBlock(number=9, block_id="0000000000000009" + "cd" * 24, timestamp_ms=0)


@pytest.mark.parametrize("n", [1, 10, 100, 300, 4_000, 15_000])
@pytest.mark.parametrize("permission_id", [0, 2])
def test_size_formula_matches_serialization(n: int, permission_id: int) -> None:
    raw = trigger_raw_data(
        owner=OWNER,
        contract=CONTRACT,
        data=bytes(disburse_calldata_len(n)),
        fee_limit_sun=15_000_000_000,
        ref=REF,
        permission_id=permission_id or None,
        expiration_ms=24 * 3600 * 1000,
    )
    body = len(raw_data_bytes(raw))
    length_prefix = 1 if body < 128 else 2 if body < 16_384 else 3
    signed = 1 + length_prefix + body + 67  # Transaction{raw_data=1, signature=2 (65 bytes)}
    assert disburse_tx_bytes(n, permission_id=permission_id) == signed


def test_size_bound_is_500_kib() -> None:
    n = max_recipients_by_size()
    assert disburse_tx_bytes(n) <= MAX_TX_BYTES < disburse_tx_bytes(n + 1)
    assert 15_000 < n < 16_000
    # Each extra signature (multisig) costs 67 bytes and can lower the bound.
    assert max_recipients_by_size(signatures=5) <= n


def test_fee_limit_has_margin_and_cap() -> None:
    prices = ResourcePrices()
    assert fee_limit_for(100_000, prices, 2_000) == 120_000 * 100
    assert fee_limit_for(100_000, prices, 0) == 100_000 * 100
    # Just under the cap: the margin is cut back to the 15,000 TRX maximum.
    assert fee_limit_for(140_000_000, prices, 2_000) == 15_000 * 1_000_000
    with pytest.raises(TronError, match="maximal fee limit"):
        fee_limit_for(150_000_001, prices, 2_000)


def test_trx_budget_counts_fee_limits_bandwidth_and_multisig() -> None:
    prices = ResourcePrices()
    poor = AccountResources(balance_sun=1_000_000, energy_left=0, bandwidth_left=0)
    budget = trx_budget(
        energies=[1_000_000, 500_000],
        tx_bytes=[10_000, 5_000],
        resources=poor,
        prices=prices,
        margin_bps=1_000,
        signatures=2,
    )
    assert budget.fee_limits_sun == (1_100_000 + 550_000) * 100
    assert budget.bandwidth == 15_000 + 2 * 64
    assert budget.bandwidth_sun == 15_128 * 1_000
    assert budget.multisig_sun == 2 * 1_000_000
    assert budget.needed_sun == 165_000_000 + 15_128_000 + 2_000_000
    assert not budget.ok
    assert budget.shortfall_sun == budget.needed_sun - 1_000_000
    # Staked energy and free bandwidth reduce what is burned.
    staked = AccountResources(balance_sun=0, energy_left=1_650_000, bandwidth_left=20_000)
    free = trx_budget(
        energies=[1_000_000, 500_000],
        tx_bytes=[10_000, 5_000],
        resources=staked,
        prices=prices,
        margin_bps=1_000,
    )
    assert free.needed_sun == 0 and free.ok


def test_cost_model_bounds_batches_by_energy_and_size() -> None:
    model = EnergyModel(per_batch=100_000, per_fresh=140_000, per_warm=70_000)
    planner = cost_model(model, ResourcePrices(), margin_bps=2_000)
    # 15,000 TRX buy 150 M energy; with a 20 % margin 125 M may be estimated.
    assert planner.max_items() == (125_000_000 - 100_000) // 140_000
    assert planner.estimate(10) == 100_000 + 10 * 140_000
    cheap = cost_model(EnergyModel(per_batch=1, per_fresh=1, per_warm=1))
    assert cheap.max_items() == max_recipients_by_size()  # then size is the binding bound


def test_planner_uses_the_tron_model() -> None:
    payouts = [
        Payout(f"p{i}", "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", 1_000 + i, network=Network.TRON)
        for i in range(25)
    ]
    model = cost_model(EnergyModel(per_batch=100_000, per_fresh=14_000_000, per_warm=7_000_000))
    batches = plan_batches(
        payouts,
        network=Network.TRON,
        chain_id=1,
        payer=OWNER,
        disburser="TQHAvs2ZFTbsd93ycTfw1Wuf1e4WsPZWCp",
        token=CONTRACT,
        cost_model=model,
    )
    assert [b.count for b in batches] == [8, 8, 8, 1]
    assert all(b.cost_unit == "energy" for b in batches)
    assert sum(b.total for b in batches) == sum(p.amount for p in payouts)


def test_trx_formatting_is_exact() -> None:
    assert trx(1) == "0.000001"
    assert trx(15_000_000_000) == "15000.000000"
    assert trx(-2_500_000) == "-2.500000"
