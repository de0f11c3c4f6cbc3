"""Gas/energy/size-bounded planning and deterministic batch ids."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from payout.batching import (
    BATCH_ID_DOMAIN,
    CostModel,
    LinearBound,
    LinearCostModel,
    derive_batch_id,
    evm_gas_model,
    group_payouts,
    plan_batches,
    summarize,
)
from payout.exceptions import PlanError
from payout.types import TRON_MAX_TX_BYTES, TX_GAS_CAP, Network, Payout

PAYER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ALICE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
T_PAYER = "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1"
T_DISBURSER = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
T_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def payouts(n: int, *, token: str | None = None, prefix: str = "p") -> list[Payout]:
    return [Payout(f"{prefix}{i}", ALICE, i + 1, line=i + 2, token=token) for i in range(n)]


def evm_plan(rows: list[Payout], **kwargs: object) -> list:  # type: ignore[type-arg]
    args: dict[str, object] = {"chain_id": 1, "payer": PAYER, "disburser": DISBURSER, "token": USDC}
    args.update(kwargs)
    return plan_batches(rows, **args)  # type: ignore[arg-type]


def test_default_gas_model_fills_the_cap_minus_margin() -> None:
    model = evm_gas_model()
    assert isinstance(model, CostModel)
    n = model.max_items()
    assert model.estimate(n) <= TX_GAS_CAP - 1_000_000 < model.estimate(n + 1)
    assert n == (TX_GAS_CAP - 1_000_000 - 60_000) // 26_500


def test_batches_respect_max_size_and_gas_bound() -> None:
    rows = payouts(1234)
    batches = evm_plan(rows, max_batch_size=500)
    assert [b.count for b in batches] == [500, 500, 234]
    model = evm_gas_model(base_gas=100_000, per_recipient_gas=50_000, margin_gas=2_000_000)
    bounded = evm_plan(rows, cost_model=model, max_batch_size=10_000)
    assert max(b.count for b in bounded) == model.max_items() == 293
    assert all(b.cost_estimate <= TX_GAS_CAP - 2_000_000 for b in bounded)
    assert [p.payout_id for b in bounded for p in b.payouts] == [p.payout_id for p in rows]
    assert [b.index for b in bounded] == list(range(len(bounded)))
    assert sum(b.total for b in bounded) == sum(p.amount for p in rows)


def test_batch_fields() -> None:
    (batch,) = evm_plan(payouts(3))
    assert (batch.network, batch.chain_id, batch.payer, batch.token, batch.disburser) == (
        Network.EVM,
        1,
        PAYER,
        USDC,
        DISBURSER,
    )
    assert batch.total == 6 and batch.count == 3 and batch.cost_unit == "gas"
    assert batch.gas_estimate == 60_000 + 3 * 26_500
    assert batch.batch_id_hex == "0x" + batch.batch_id.hex() and len(batch.batch_id) == 32


def test_batch_id_known_answer_from_the_documented_encoding() -> None:
    ids = ["inv-1", "inv-2", "ü"]
    expected = keccak(
        BATCH_ID_DOMAIN
        + b"evm\x00"
        + (1).to_bytes(32, "big")
        + bytes.fromhex(DISBURSER[2:])
        + bytes.fromhex(PAYER[2:])
        + bytes.fromhex(USDC[2:])
        + (3).to_bytes(32, "big")
        + b"\x00\x05inv-1\x00\x05inv-2\x00\x02\xc3\xbc"
    )
    got = derive_batch_id(
        network=Network.EVM,
        chain_id=1,
        disburser=DISBURSER,
        payer=PAYER,
        token=USDC,
        payout_ids=ids,
    )
    assert got == expected


def test_same_plan_rederives_the_same_ids() -> None:
    first = [b.batch_id for b in evm_plan(payouts(1200))]
    again = [b.batch_id for b in evm_plan(payouts(1200))]
    assert first == again and len(set(first)) == 3


@pytest.mark.parametrize(
    "change",
    [
        {"chain_id": 10},
        {"payer": ALICE},
        {"disburser": ALICE},
        {"token": USDT},
    ],
)
def test_batch_id_depends_on_scope_and_disburser(change: dict[str, object]) -> None:
    (base,) = evm_plan(payouts(3))
    (other,) = evm_plan(payouts(3), **change)
    assert base.batch_id != other.batch_id


def test_batch_id_depends_on_order_and_membership_not_on_amounts() -> None:
    rows = payouts(3)
    (base,) = evm_plan(rows)
    (reordered,) = evm_plan(list(reversed(rows)))
    (fewer,) = evm_plan(rows[:2])
    (other_amounts,) = evm_plan([p._replace(amount=p.amount * 2) for p in rows])
    assert base.batch_id != reordered.batch_id
    assert base.batch_id != fewer.batch_id
    # Recipients and amounts are bound to payout ids by the ledger; the id only names the ids.
    assert base.batch_id == other_amounts.batch_id


@given(st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=4, unique=True))
def test_id_encoding_is_unambiguous(ids: list[str]) -> None:
    """Concatenation without length prefixes would collide (["ab","c"] vs ["a","bc"])."""
    joined = ["".join(ids)]
    kwargs = {"network": Network.EVM, "chain_id": 1, "disburser": DISBURSER, "payer": PAYER}
    assert derive_batch_id(token=USDC, payout_ids=ids, **kwargs) != derive_batch_id(  # type: ignore[arg-type]
        token=USDC,
        payout_ids=joined,
        **kwargs,  # type: ignore[arg-type]
    )


def test_payouts_are_split_by_token_in_file_order() -> None:
    rows = payouts(2, prefix="a") + payouts(2, token=USDT, prefix="b") + payouts(1, prefix="c")
    batches = evm_plan(rows, max_batch_size=2)
    assert [(b.token, [p.payout_id for p in b.payouts]) for b in batches] == [
        (USDC, ["a0", "a1"]),
        (USDC, ["c0"]),
        (USDT, ["b0", "b1"]),
    ]
    groups = group_payouts(rows, USDC)
    assert list(groups) == [(Network.EVM, USDC), (Network.EVM, USDT)]


def test_payouts_of_another_network_are_refused() -> None:
    rows = [Payout("t", T_PAYER, 1, network=Network.TRON)]
    with pytest.raises(PlanError, match="tron"):
        evm_plan(rows)


def test_missing_token_is_refused() -> None:
    with pytest.raises(PlanError, match="no token"):
        evm_plan(payouts(1), token=None)


def test_a_bound_that_fits_nobody_is_refused() -> None:
    model = LinearCostModel("gas", 16_000_000, 1_000_000, 16_500_000)
    with pytest.raises(PlanError, match="not even one"):
        evm_plan(payouts(1), cost_model=model)
    with pytest.raises(PlanError):
        evm_plan(payouts(1), max_batch_size=0)
    with pytest.raises(PlanError):
        evm_gas_model(margin_gas=TX_GAS_CAP)


def test_tron_plan_needs_a_cost_model_and_honours_the_size_bound() -> None:
    rows = [
        Payout(f"t{i}", "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", 5, network=Network.TRON)
        for i in range(40)
    ]
    common = {
        "network": Network.TRON,
        "chain_id": 728126428,
        "payer": T_PAYER,
        "disburser": T_DISBURSER,
        "token": T_USDT,
    }
    with pytest.raises(PlanError, match="cost model"):
        plan_batches(rows, **common)  # type: ignore[arg-type]
    size = LinearBound("tx bytes", 400, 32, 1_000)  # 18 recipients fit
    model = LinearCostModel("energy", 90_000, 131_785, 150_000_000, extra_bounds=(size,))
    assert model.max_items() == 18
    batches = plan_batches(rows, cost_model=model, max_batch_size=1000, **common)  # type: ignore[arg-type]
    assert [b.count for b in batches] == [18, 18, 4]
    assert batches[0].cost_unit == "energy" and batches[0].token == T_USDT
    assert batches[0].cost_estimate == 90_000 + 18 * 131_785
    real_size = LinearBound("tx bytes", 600, 32, TRON_MAX_TX_BYTES)
    assert real_size.max_items() == (TRON_MAX_TX_BYTES - 600) // 32


def test_summary() -> None:
    batches = evm_plan(payouts(7), max_batch_size=3)
    summary = summarize(batches)
    assert (summary.batches, summary.payouts, summary.total, summary.largest_batch) == (3, 7, 28, 3)
    assert summary.cost_estimate == 3 * 60_000 + 7 * 26_500
    assert summarize([]).batches == 0
