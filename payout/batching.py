"""Gas-bounded (or energy/size-bounded) batch planning and deterministic batch ids.

The planner is generic: a :class:`CostModel` says how many recipients one batch may hold and what a
batch of ``n`` costs. :func:`evm_gas_model` bounds EVM batches by the 16,777,216 per-transaction gas
cap minus a margin; the TRON path builds a :class:`LinearCostModel` in energy with an extra bound on
the transaction size (500 KiB). Estimates are worst cases (every recipient fresh: a zero token
balance costs a new storage slot), so a planned batch never exceeds the cap.

Batch ids are derived, never random (:func:`derive_batch_id`): planning the same payouts again gives
the same ids. The contract executes a *replay key* at most once per payer
(:func:`derive_replay_keys`: the batches of one planned run share a 256-bit storage word, so only
the first pays for a fresh slot); the key is derived from the run's batch ids, recorded in the
ledger before the batch is sent and read back from there, so resubmitting a batch after a crash
cannot pay anyone twice.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from payout.address import address_bytes, keccak256, normalize_address
from payout.exceptions import PlanError
from payout.types import TX_GAS_CAP, Batch, Network, Payout

#: Conservative EVM defaults; callers pass figures measured against the deployed disburser.
#: Per batch: intrinsic 21,000 + calldata head + the pull (transferFrom) + the replay marker
#: (5,000 in a run's word in use, 22,100 for a fresh word) + event: ~73,500 gas before refunds
#: with a word in use (make bench). The per-recipient figure's margin over the measured ~25,750
#: covers the difference from a few dozen rows on, and every batch is simulated before sending.
DEFAULT_BASE_GAS = 60_000
#: Per recipient, worst case: a transfer to an address with no balance (new storage slot,
#: 20,000 + cold account/slot access) plus at most 32 calldata bytes (a 20-byte recipient and up
#: to 12 amount bytes) and the loop.
DEFAULT_PER_RECIPIENT_GAS = 26_500
#: Head room under the per-transaction cap for estimate error and token quirks.
DEFAULT_GAS_MARGIN = 1_000_000
#: Largest batch by default, whatever the cost model allows: keeps one failure's blast radius and
#: a Safe signer's review manageable.
DEFAULT_MAX_BATCH_SIZE = 500

#: Domain tag of batch ids; bump the version if the derivation ever changes.
BATCH_ID_DOMAIN = b"stablecoin-payouts/batch-id/v1"
#: Domain tag of replay keys (:func:`derive_replay_keys`).
REPLAY_KEY_DOMAIN = b"stablecoin-payouts/replay-key/v1"
#: Batches per replay word: the contract's bitmap word has 256 bits.
REPLAY_WORD_BITS = 256
_LEN2 = [n.to_bytes(2, "big") for n in range(1024)]
_NETWORK_AND_TOKEN = operator.itemgetter(6, 5)  # Payout.network, Payout.token


@runtime_checkable
class CostModel(Protocol):
    """What a batch of ``count`` recipients costs and how many fit in one transaction."""

    @property
    def unit(self) -> str:
        """Name of the cost unit (``"gas"``, ``"energy"``)."""
        ...

    def max_items(self) -> int:
        """The largest number of recipients one batch may hold under every bound."""
        ...

    def estimate(self, count: int) -> int:
        """Worst-case cost of a batch of ``count`` recipients, in :attr:`unit`."""
        ...


@dataclass(frozen=True)
class LinearBound:
    """``base + per_item * n <= limit``: e.g. gas under the cap, or bytes under the size limit."""

    name: str
    base: int
    per_item: int
    limit: int

    def max_items(self) -> int:
        if self.per_item <= 0:
            raise PlanError(f"{self.name}: the per-recipient figure must be positive")
        return max(0, (self.limit - self.base) // self.per_item)

    def cost(self, count: int) -> int:
        return self.base + self.per_item * count


@dataclass(frozen=True)
class LinearCostModel:
    """A linear cost (``base + per_item * n``, in ``unit``) bounded by ``limit`` and optional
    extra bounds (transaction size, ...)."""

    unit: str
    base: int
    per_item: int
    limit: int
    extra_bounds: tuple[LinearBound, ...] = ()

    @property
    def primary(self) -> LinearBound:
        return LinearBound(self.unit, self.base, self.per_item, self.limit)

    def max_items(self) -> int:
        return min(b.max_items() for b in (self.primary, *self.extra_bounds))

    def estimate(self, count: int) -> int:
        return self.base + self.per_item * count


def evm_gas_model(
    *,
    base_gas: int = DEFAULT_BASE_GAS,
    per_recipient_gas: int = DEFAULT_PER_RECIPIENT_GAS,
    tx_gas_cap: int = TX_GAS_CAP,
    margin_gas: int = DEFAULT_GAS_MARGIN,
) -> LinearCostModel:
    """Gas model of a disburse transaction: at most ``tx_gas_cap - margin_gas`` gas per batch."""
    if margin_gas < 0 or margin_gas >= tx_gas_cap:
        raise PlanError(f"gas margin {margin_gas} must be between 0 and the cap {tx_gas_cap}")
    return LinearCostModel("gas", base_gas, per_recipient_gas, tx_gas_cap - margin_gas)


def _scope_parts(
    network: Network, chain_id: int, disburser: str, payer: str, token: str, count: int
) -> list[bytes]:
    """The common prefix of batch ids and replay words: ``network || 0x00 || uint256(chain_id) ||
    disburser20 || payer20 || token20 || uint256(count)`` (addresses as 20-byte account ids)."""
    return [
        network.value.encode("ascii"),
        b"\x00",
        chain_id.to_bytes(32, "big"),
        address_bytes(network, disburser),
        address_bytes(network, payer),
        address_bytes(network, token),
        count.to_bytes(32, "big"),
    ]


def derive_batch_id(
    *,
    network: Network,
    chain_id: int,
    disburser: str,
    payer: str,
    token: str,
    payout_ids: Sequence[str],
) -> bytes:
    """The 32-byte batch id of an ordered list of payout ids.

    ``keccak256(DOMAIN || network || 0x00 || uint256(chain_id) || disburser20 || payer20 || token20
    ||
    uint256(n) || for each id: uint16(len(utf8(id))) || utf8(id))`` where the addresses are the
    20-byte
    account ids (TRON addresses without their 0x41 prefix). Length prefixes make the encoding
    unambiguous; recipients and amounts are deliberately left out: a payout id is bound to its
    recipient and amount by the ledger, and if the ledger were lost, a re-derived id still matches
    the
    one the contract has already executed.
    """
    if not payout_ids:
        raise PlanError("a batch needs at least one payout")
    parts = [
        BATCH_ID_DOMAIN,
        *_scope_parts(network, chain_id, disburser, payer, token, len(payout_ids)),
    ]
    encoded = [pid.encode("utf-8") for pid in payout_ids]
    longest = max(map(len, encoded))
    if longest > 0xFFFF:
        raise PlanError(f"a payout id of {longest} bytes is too long for a batch id")
    if longest < len(_LEN2):
        # Interleave prefixes and ids by C-level slice assignment (1M rows = 1M ids to hash).
        body: list[bytes] = [b""] * (2 * len(encoded))
        body[0::2] = map(_LEN2.__getitem__, map(len, encoded))
        body[1::2] = encoded
        parts += body
    else:
        for raw in encoded:
            parts.append(len(raw).to_bytes(2, "big"))
            parts.append(raw)
    return keccak256(b"".join(parts))


def replay_word(seed: bytes, word: int = 0) -> bytes:
    """The 31-byte word key of the ``word``-th group of 256 batches of the run ``seed``."""
    return keccak256(REPLAY_KEY_DOMAIN + seed + word.to_bytes(32, "big"))[:31]


def derive_replay_keys(
    *,
    network: Network,
    chain_id: int,
    disburser: str,
    payer: str,
    token: str,
    batch_ids: Sequence[bytes],
) -> list[bytes]:
    """The replay key of each batch of one run (same order): ``word key (31 bytes) || k mod 256``.

    The word key is the first 31 bytes of ``keccak256(REPLAY_KEY_DOMAIN || run || uint256(k >>
    8))`` where ``run = keccak256(network || 0x00 || uint256(chain_id) || disburser20 || payer20 ||
    token20 || uint256(n) || batch ids)``: the batches of a run share one storage word of the
    contract's bitmap (256 per word), so every batch after the first pays ~5,000 gas for its
    marker instead of a fresh 22,100-gas slot. Derived from the run's content (its batch ids, which
    commit to the ordered payout ids): the same run planned again, by this ledger or another
    operator's, gets the same keys and the contract refuses it.
    """
    run = keccak256(
        b"".join(
            [*_scope_parts(network, chain_id, disburser, payer, token, len(batch_ids)), *batch_ids]
        )
    )
    words: dict[int, bytes] = {}
    keys = []
    for k in range(len(batch_ids)):
        word = words.get(k >> 8)
        if word is None:
            word = words[k >> 8] = replay_word(run, k >> 8)
        keys.append(word + bytes([k & 0xFF]))
    return keys


def group_payouts(
    payouts: Iterable[Payout], default_token: str | None = None
) -> dict[tuple[Network, str | None], list[Payout]]:
    """Split payouts by (network, token), keeping file order within and between groups.

    Rows without a token are grouped under ``default_token``.
    """
    rows = payouts if isinstance(payouts, list) else list(payouts)
    keys = set(map(_NETWORK_AND_TOKEN, rows))
    if len(keys) == 1:  # the usual file: one network, one token (C-level check, no Python loop)
        ((network, token),) = keys
        return {(network, token or default_token): rows} if rows else {}
    groups: dict[tuple[Network, str | None], list[Payout]] = {}
    for p in rows:
        key = (p.network, p.token or default_token)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append(p)
    return groups


def plan_batches(
    payouts: Iterable[Payout],
    *,
    network: Network = Network.EVM,
    chain_id: int,
    payer: str,
    disburser: str,
    token: str | None = None,
    cost_model: CostModel | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    start_index: int = 0,
) -> list[Batch]:
    """Cut payouts into batches, per token, in file order.

    ``token`` is the default for rows without one. Every payout must be of ``network`` (plan each
    network with its own payer and disburser; see :func:`group_payouts`). Batches hold at most
    ``min(max_batch_size, cost_model.max_items())`` payouts; ``cost_model`` defaults to
    :func:`evm_gas_model` on EVM and is required on TRON.
    """
    # Planning allocates a few objects per payout and no reference cycles; with a million payouts
    # alive, each cyclic-GC pass would rescan all of them (half of the planning time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _plan(
            payouts,
            network=network,
            chain_id=chain_id,
            payer=payer,
            disburser=disburser,
            token=token,
            cost_model=cost_model,
            max_batch_size=max_batch_size,
            start_index=start_index,
        )
    finally:
        if gc_was_enabled:
            gc.enable()


def _plan(
    payouts: Iterable[Payout],
    *,
    network: Network,
    chain_id: int,
    payer: str,
    disburser: str,
    token: str | None,
    cost_model: CostModel | None,
    max_batch_size: int,
    start_index: int,
) -> list[Batch]:
    if cost_model is None:
        if network is Network.TRON:
            raise PlanError("TRON batches need an energy/size cost model")
        cost_model = evm_gas_model()
    if max_batch_size < 1:
        raise PlanError(f"maximum batch size {max_batch_size} must be at least 1")
    per_batch = min(max_batch_size, cost_model.max_items())
    if per_batch < 1:
        raise PlanError(
            f"not even one recipient fits in a batch under the {cost_model.unit} bound "
            f"(a batch of 1 costs {cost_model.estimate(1)})",
            hint="Lower the margin or pass measured cost figures.",
        )
    payer_c = normalize_address(network, payer)
    disburser_c = normalize_address(network, disburser)
    default_token = normalize_address(network, token) if token else None
    batches: list[Batch] = []
    index = start_index
    for (net, group_token), rows in group_payouts(payouts, default_token).items():
        if net is not network:
            raise PlanError(
                f"{len(rows)} payout(s) are for {net}, but this plan is for {network}",
                hint="Plan each network separately with its own payer and disburser.",
            )
        if group_token is None:
            raise PlanError(f"{len(rows)} payout(s) have no token and no default token was given")
        chunks = [
            tuple(rows[start : start + per_batch]) for start in range(0, len(rows), per_batch)
        ]
        ids = [
            derive_batch_id(
                network=network,
                chain_id=chain_id,
                disburser=disburser_c,
                payer=payer_c,
                token=group_token,
                payout_ids=[p.payout_id for p in chunk],
            )
            for chunk in chunks
        ]
        keys = derive_replay_keys(
            network=network,
            chain_id=chain_id,
            disburser=disburser_c,
            payer=payer_c,
            token=group_token,
            batch_ids=ids,
        )
        for chunk, batch_id, replay_key in zip(chunks, ids, keys, strict=True):
            batches.append(
                Batch(
                    index=index,
                    batch_id=batch_id,
                    network=network,
                    chain_id=chain_id,
                    payer=payer_c,
                    token=group_token,
                    disburser=disburser_c,
                    payouts=chunk,
                    total=sum(p.amount for p in chunk),
                    cost_estimate=cost_model.estimate(len(chunk)),
                    cost_unit=cost_model.unit,
                    replay_key=replay_key,
                )
            )
            index += 1
    return batches


@dataclass(frozen=True)
class PlanSummary:
    """Totals of a plan, for display and cost comparison."""

    batches: int
    payouts: int
    total: int
    cost_estimate: int
    cost_unit: str
    largest_batch: int


def summarize(batches: Sequence[Batch]) -> PlanSummary:
    return PlanSummary(
        batches=len(batches),
        payouts=sum(b.count for b in batches),
        total=sum(b.total for b in batches),
        cost_estimate=sum(b.cost_estimate for b in batches),
        cost_unit=batches[0].cost_unit if batches else "gas",
        largest_batch=max((b.count for b in batches), default=0),
    )
