"""TRON's cost model for disburse batches: energy, fee limit, bandwidth and the 500 KiB size bound.

On TRON a contract call burns *energy* (100 sun per unit unless TRX is staked for it) and
*bandwidth* (one unit per serialized byte, from staked or free bandwidth, else 1,000 sun per byte).
The caller caps the burn with ``fee_limit`` (at most 15,000 TRX); a call that needs more energy than
``fee_limit / energy price`` fails with OUT_OF_ENERGY and its fee is lost.

Energy of one batch is modelled as::

    per_batch + per_fresh * (recipients holding no token yet) + per_warm * (the others)

``per_fresh`` / ``per_warm`` come from simulating the token's own ``transfer`` with the node
(``triggerconstantcontract``), so the token's dynamic energy factor is included; the disburser's
own work (packing, the pull, the batch-id flag and event) is :data:`DISBURSER_OVERHEAD`, measured
on the local node against the shipped artifact and checked by the TRON integration tests.
Before a batch is sent it is simulated exactly (after its approval), and the fee limit is that
figure times a margin.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from tronpy import Tron
from tronpy import exceptions as tronpy_errors
from tronpy.keys import to_base58check_address

from payout.batching import LinearBound, LinearCostModel
from payout.exceptions import TronError, TronNodeError
from payout.tron.client import node_call, node_url_of
from payout.tron.record import as_json
from payout.tron.token import constant_call
from payout.types import TRON_MAX_TX_BYTES

#: Sun per energy unit (chain parameter ``getEnergyFee``; 100 since 2025-08-29).
DEFAULT_ENERGY_PRICE_SUN = 100
#: Sun per bandwidth byte burned when no staked or free bandwidth is left (``getTransactionFee``).
DEFAULT_BANDWIDTH_PRICE_SUN = 1_000
#: The largest fee limit a transaction may carry: 15,000 TRX (``getMaxFeeLimit``).
DEFAULT_MAX_FEE_LIMIT_SUN = 15_000 * 1_000_000
#: Extra fee for a transaction carrying more than one signature (``getMultiSignFee``): 1 TRX.
DEFAULT_MULTISIG_FEE_SUN = 1_000_000
#: java-tron refuses a transaction whose serialized size exceeds this.
MAX_TX_BYTES = TRON_MAX_TX_BYTES
#: Bandwidth is charged on the serialized transaction plus this much per contract (result space).
RESULT_BYTES_PER_CONTRACT = 64
#: Default fee-limit margin over the simulated energy, in basis points (2,000 = +20 %).
DEFAULT_MARGIN_BPS = 2_000

SUN_PER_TRX = 1_000_000


@dataclass(frozen=True)
class ResourcePrices:
    """Prices the chain charges, from ``wallet/getchainparameters`` (defaults = mainnet 2025)."""

    energy_sun: int = DEFAULT_ENERGY_PRICE_SUN
    bandwidth_sun: int = DEFAULT_BANDWIDTH_PRICE_SUN
    max_fee_limit_sun: int = DEFAULT_MAX_FEE_LIMIT_SUN
    multisig_fee_sun: int = DEFAULT_MULTISIG_FEE_SUN

    @property
    def max_energy(self) -> int:
        """The most energy one transaction can buy under the maximal fee limit."""
        return self.max_fee_limit_sun // self.energy_sun


def read_prices(client: Tron) -> ResourcePrices:
    """Read the resource prices the node's chain charges (missing keys keep mainnet defaults)."""
    params = node_call(client, client.get_chain_parameters)
    values: dict[str, int] = {}
    for entry in params or []:
        key, value = entry.get("key"), entry.get("value")
        if isinstance(key, str) and isinstance(value, int):
            values[key] = value
    return ResourcePrices(
        energy_sun=values.get("getEnergyFee", DEFAULT_ENERGY_PRICE_SUN),
        bandwidth_sun=values.get("getTransactionFee", DEFAULT_BANDWIDTH_PRICE_SUN),
        max_fee_limit_sun=values.get("getMaxFeeLimit", DEFAULT_MAX_FEE_LIMIT_SUN),
        multisig_fee_sun=values.get("getMultiSignFee", DEFAULT_MULTISIG_FEE_SUN),
    )


# --- energy --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisburserOverhead:
    """Energy the disburser spends around the token's own transfers.

    Per batch it pulls the total (a ``transferFrom`` into a fresh balance slot: about one fresh
    transfer plus the allowance update, both priced by the token's energy factor), reads its own
    balance three times, marks the batch id (a new storage slot, 20,000) and emits the event.
    """

    #: Fixed part per batch, on top of 1.25 fresh token transfers for the pull and balance reads.
    per_batch: int
    #: Per recipient beyond the token's own transfer: reading the word, the CALL, the loop.
    per_recipient: int


#: Measured on the local node (scripts/bench_tron.py) with the shipped Disburser: per batch
#: 179,400 energy with a x4.4 token (fresh transfer 123,327) and 60,300 with a x1.0 token (fresh
#: transfer 28,048); per recipient 177 beyond the token's transfer. Rounded up for the bound
#: ``per_batch + 1.25 x fresh``; the integration tests check the bound against real batches.
DISBURSER_OVERHEAD = DisburserOverhead(per_batch=40_000, per_recipient=500)


@dataclass(frozen=True)
class EnergyModel:
    """Energy of a disburse batch as a linear function of fresh and warm recipients."""

    per_batch: int
    per_fresh: int
    per_warm: int

    def estimate(self, fresh: int, warm: int) -> int:
        return self.per_batch + self.per_fresh * fresh + self.per_warm * warm

    def to_json(self) -> dict[str, int]:
        return as_json(self)


def simulate_energy(
    client: Tron, owner: str, contract: str, signature: str, types: list[str], values: list[Any]
) -> int:
    """Energy a call would use now (``triggerconstantcontract``); raises if it would revert."""
    try:
        reply = constant_call(client, contract, signature, types, values, owner=owner)
    except tronpy_errors.TvmError as exc:
        raise TronNodeError(
            node_url_of(client), f"simulating {signature} on {contract} reverted: {exc}"
        ) from exc
    return int(reply.get("energy_used", 0))


def probe_address() -> str:
    """A random address that certainly holds no token (to price a transfer to a fresh account)."""
    from tronpy.keys import PrivateKey

    return str(PrivateKey(secrets.token_bytes(32)).public_key.to_base58check_address())


def measure_model(
    client: Tron,
    token: str,
    payer: str,
    *,
    warm_recipient: str | None = None,
    overhead: DisburserOverhead = DISBURSER_OVERHEAD,
) -> EnergyModel:
    """Price one recipient by simulating the token's ``transfer`` from the payer.

    A transfer to a fresh address writes a new balance slot (SSTORE 20,000 energy before the
    token's energy factor), one to a holder updates it (5,000). The payer must hold at least one
    base unit. ``warm_recipient`` is any current holder other than the payer; without one, the warm
    price is derived from the fresh one (minus the new-slot premium), which is exact for plain
    TRC-20 storage layouts.
    """
    fresh = simulate_energy(
        client,
        payer,
        token,
        "transfer(address,uint256)",
        ["address", "uint256"],
        [probe_address(), 1],
    )
    if warm_recipient is not None and to_base58check_address(
        warm_recipient
    ) != to_base58check_address(payer):
        warm = simulate_energy(
            client,
            payer,
            token,
            "transfer(address,uint256)",
            ["address", "uint256"],
            [warm_recipient, 1],
        )
    else:
        warm = fresh
    return EnergyModel(
        per_batch=overhead.per_batch + fresh + fresh // 4,
        per_fresh=overhead.per_recipient + fresh,
        per_warm=overhead.per_recipient + min(warm, fresh),
    )


def fee_limit_for(energy: int, prices: ResourcePrices, margin_bps: int = DEFAULT_MARGIN_BPS) -> int:
    """Fee limit (sun) for a call simulated at ``energy``: energy x (1 + margin), at the price,
    capped at the chain's maximum. Refuses a call whose bare estimate is over the cap."""
    if energy * prices.energy_sun > prices.max_fee_limit_sun:
        raise TronError(
            f"the batch needs about {energy} energy, more than the maximal fee limit "
            f"({prices.max_fee_limit_sun // SUN_PER_TRX} TRX) buys",
            hint="Plan smaller batches (--max-batch-size).",
        )
    with_margin = math.ceil(energy * (10_000 + margin_bps) / 10_000) if margin_bps else energy
    return min(with_margin * prices.energy_sun, prices.max_fee_limit_sun)


# --- transaction size (protobuf) -----------------------------------------------------------------


def varint_len(value: int) -> int:
    """Bytes of a protobuf varint."""
    n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


def _field(tag: int, payload_len: int) -> int:
    """Bytes of a length-delimited protobuf field (key + length + payload)."""
    return varint_len(tag << 3 | 2) + varint_len(payload_len) + payload_len


def disburse_calldata_len(recipients: int, amount_bytes: int = 12) -> int:
    """``disburse(address,bytes32,bytes32,uint256,uint256,bytes)``: selector, 6 head words, the
    length word and ``20 + amount_bytes`` bytes per row padded to a word (default: the widest
    amounts, a bound for planning)."""
    rows = (20 + amount_bytes) * recipients
    return 4 + 32 * 6 + 32 + -(-rows // 32) * 32


def trigger_tx_bytes(
    calldata_len: int,
    *,
    signatures: int = 1,
    memo_len: int = 0,
    permission_id: int = 0,
    fee_limit_sun: int = DEFAULT_MAX_FEE_LIMIT_SUN,
) -> int:
    """Serialized size of a signed ``TriggerSmartContract`` transaction (no ``ret``), in bytes.

    Fields are sized as java-tron serializes them: 21-byte addresses, a 2-byte ref_block_bytes, an
    8-byte ref_block_hash, millisecond timestamps (6-byte varints), the fee limit and 65-byte
    signatures. ``fee_limit_sun`` defaults to the maximum so the figure is an upper bound.
    """
    trigger = _field(1, 21) + _field(2, 21) + _field(4, calldata_len)
    type_url = len("type.googleapis.com/protocol.TriggerSmartContract")
    any_msg = _field(1, type_url) + _field(2, trigger)
    contract = 2 + _field(2, any_msg) + (1 + varint_len(permission_id) if permission_id else 0)
    timestamp_len = varint_len(2**41)  # ms timestamps until year 2039
    raw = (
        _field(1, 2)  # ref_block_bytes
        + _field(4, 8)  # ref_block_hash
        + 1
        + timestamp_len  # expiration
        + (_field(10, memo_len) if memo_len else 0)
        + _field(11, contract)
        + 1
        + timestamp_len  # timestamp
        + 2
        + varint_len(fee_limit_sun)  # fee_limit (field 18: a 2-byte key)
    )
    return _field(1, raw) + signatures * _field(2, 65)


def disburse_tx_bytes(recipients: int, *, signatures: int = 1, permission_id: int = 0) -> int:
    """Serialized size of a signed disburse transaction with ``recipients`` packed words."""
    return trigger_tx_bytes(
        disburse_calldata_len(recipients), signatures=signatures, permission_id=permission_id
    )


def bandwidth_of(tx_bytes: int) -> int:
    """Bandwidth points a transaction consumes (serialized bytes + result space of one contract)."""
    return tx_bytes + RESULT_BYTES_PER_CONTRACT


def max_recipients_by_size(*, signatures: int = 1, permission_id: int = 0) -> int:
    """The most recipients whose disburse transaction stays within 500 KiB."""
    low, high = 1, MAX_TX_BYTES // 32 + 1
    while low < high:
        mid = (low + high + 1) // 2
        if (
            disburse_tx_bytes(mid, signatures=signatures, permission_id=permission_id)
            <= MAX_TX_BYTES
        ):
            low = mid
        else:
            high = mid - 1
    return low


# --- TRX pre-flight ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountResources:
    """What the payer can spend without burning TRX, and its TRX balance."""

    balance_sun: int
    energy_left: int
    bandwidth_left: int


def account_resources(client: Tron, address: str) -> AccountResources:
    """Staked energy left, free + staked bandwidth left and TRX balance of ``address``."""
    addr = to_base58check_address(address)
    try:
        account = node_call(client, lambda: client.get_account(addr))
    except tronpy_errors.AddressNotFound:
        return AccountResources(balance_sun=0, energy_left=0, bandwidth_left=0)
    try:
        res = node_call(client, lambda: client.get_account_resource(addr))
    except tronpy_errors.AddressNotFound:
        res = {}
    energy_left = max(0, int(res.get("EnergyLimit", 0)) - int(res.get("EnergyUsed", 0)))
    bandwidth_left = max(0, int(res.get("freeNetLimit", 0)) - int(res.get("freeNetUsed", 0)))
    bandwidth_left += max(0, int(res.get("NetLimit", 0)) - int(res.get("NetUsed", 0)))
    return AccountResources(
        balance_sun=int(account.get("balance", 0)),
        energy_left=energy_left,
        bandwidth_left=bandwidth_left,
    )


@dataclass(frozen=True)
class TrxBudget:
    """The most TRX a plan can burn, and what the payer has."""

    energy: int
    bandwidth: int
    fee_limits_sun: int
    bandwidth_sun: int
    multisig_sun: int
    needed_sun: int
    available_sun: int

    @property
    def ok(self) -> bool:
        return self.available_sun >= self.needed_sun

    @property
    def shortfall_sun(self) -> int:
        return max(0, self.needed_sun - self.available_sun)

    def to_json(self) -> dict[str, int | bool]:
        return {**as_json(self), "ok": self.ok}


def trx_budget(
    *,
    energies: list[int],
    tx_bytes: list[int],
    resources: AccountResources,
    prices: ResourcePrices,
    margin_bps: int = DEFAULT_MARGIN_BPS,
    signatures: int = 1,
) -> TrxBudget:
    """Worst-case TRX the transactions burn: each one's fee limit (what the chain lets it burn)
    less what staked energy covers, plus bandwidth beyond free/staked, plus multisig fees."""
    fee_limits = sum(fee_limit_for(e, prices, margin_bps) for e in energies)
    staked_energy_sun = resources.energy_left * prices.energy_sun
    energy_sun = max(0, fee_limits - staked_energy_sun)
    bandwidth = sum(bandwidth_of(b) for b in tx_bytes)
    # Free bandwidth covers a whole transaction or none of it; counting it per transaction is the
    # conservative reading (a transaction larger than what is left burns TRX for all its bytes).
    left = resources.bandwidth_left
    burned_bytes = 0
    for b in tx_bytes:
        need = bandwidth_of(b)
        if need <= left:
            left -= need
        else:
            burned_bytes += need
    bandwidth_sun = burned_bytes * prices.bandwidth_sun
    multisig_sun = prices.multisig_fee_sun * len(tx_bytes) if signatures > 1 else 0
    return TrxBudget(
        energy=sum(energies),
        bandwidth=bandwidth,
        fee_limits_sun=fee_limits,
        bandwidth_sun=bandwidth_sun,
        multisig_sun=multisig_sun,
        needed_sun=energy_sun + bandwidth_sun + multisig_sun,
        available_sun=resources.balance_sun,
    )


def trx(sun: int) -> str:
    """Sun as an exact TRX string (6 decimals)."""
    sign = "-" if sun < 0 else ""
    whole, frac = divmod(abs(sun), SUN_PER_TRX)
    return f"{sign}{whole}.{frac:06d}"


# --- the planner's cost model --------------------------------------------------------------------


def energy_limit_for_margin(prices: ResourcePrices, margin_bps: int = DEFAULT_MARGIN_BPS) -> int:
    """The largest estimate whose fee limit (estimate x margin) still fits under the maximum."""
    return prices.max_energy * 10_000 // (10_000 + margin_bps)


def size_bound(*, signatures: int = 1, permission_id: int = 0) -> LinearBound:
    """``bytes(n) <= 500 KiB`` as a linear bound: 32 bytes per packed recipient over a fixed part
    (sized with the widest length prefixes, so it never under-counts)."""
    wide = 16_000
    base = disburse_tx_bytes(wide, signatures=signatures, permission_id=permission_id) - 32 * wide
    return LinearBound("bytes", base, 32, MAX_TX_BYTES)


def cost_model(
    model: EnergyModel,
    prices: ResourcePrices | None = None,
    *,
    margin_bps: int = DEFAULT_MARGIN_BPS,
    signatures: int = 1,
    permission_id: int = 0,
) -> LinearCostModel:
    """The planner's model of a TRON batch: energy (every recipient fresh, the worst case) under
    what the maximal fee limit buys with the margin, and bytes under 500 KiB."""
    prices = prices or ResourcePrices()
    return LinearCostModel(
        unit="energy",
        base=model.per_batch,
        per_item=max(model.per_fresh, model.per_warm),
        limit=energy_limit_for_margin(prices, margin_bps),
        extra_bounds=(size_bound(signatures=signatures, permission_id=permission_id),),
    )
