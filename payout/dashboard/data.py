"""Everything the dashboard shows, as plain dataclasses; the only module that reads the ledger,
the chains and the service's stores for the pages.

Amounts stay integers in base units here; each view also carries its text in token units (exact,
via :func:`payout.amount.format_amount`) or labelled base units when the token's decimals cannot be
read. Nothing here writes except :func:`retry_payouts`, which marks rows owed again through the
ledger (the same status change ``--retry-skipped`` makes): the next run or the worker pays them,
there is no second payment path.

Pages whose data the service (``payout serve``) owns are read through small protocols
(:class:`WebhookSource`); until one is given, those pages say the feature is not configured.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select

from payout.amount import format_amount
from payout.dashboard.explorer import address_link, chain_name, tx_link
from payout.exceptions import PayoutError
from payout.ledger import Ledger, batches, payouts, runs
from payout.report import TOKEN_READ_TIMEOUT, TokenResolver
from payout.types import BatchStatus, ExecutorKind, Network, PayoutStatus, Scope

if TYPE_CHECKING:
    from payout.dashboard.config import SafeNetwork

#: Gas of one plain ERC-20 ``transfer`` to a fresh recipient, measured by ``make bench`` on anvil
#: (README, "N separate transfer transactions"). The savings shown are an estimate from it.
SEPARATE_TRANSFER_GAS = 51_435

#: Rows still owed (not paid, not in flight).
OWED_STATUSES = (PayoutStatus.PLANNED, PayoutStatus.FAILED, PayoutStatus.SKIPPED)
#: Rows an operator can ask to be paid again.
RETRYABLE_STATUSES = (PayoutStatus.FAILED, PayoutStatus.SKIPPED)

NATIVE_DECIMALS = {Network.EVM: 18, Network.TRON: 6}
NATIVE_SYMBOL = {Network.EVM: "ETH", Network.TRON: "TRX"}
#: Gas coin of the EVM chains whose coin is not ETH.
EVM_COIN = {56: "BNB", 137: "POL"}


def native_symbol(network: Network, chain_id: int) -> str:
    if network is Network.EVM:
        return EVM_COIN.get(chain_id, "ETH")
    return NATIVE_SYMBOL[network]


def _when(value: Any) -> str:
    """A stored timestamp as ``YYYY-MM-DD HH:MM UTC`` (SQLite returns naive UTC datetimes)."""
    if not isinstance(value, datetime):
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _day(value: Any) -> date | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    day: date = value.astimezone(UTC).date()
    return day


# --- scopes and tokens ----------------------------------------------------------------------------


def scope_key(scope: Scope) -> str:
    """``network:chain:payer:token``: a scope in a form field or URL."""
    return f"{scope.network.value}:{scope.chain_id}:{scope.payer}:{scope.token}"


def parse_scope_key(text: str) -> Scope:
    """Inverse of :func:`scope_key` (ValueError when malformed)."""
    network, chain_id, payer, token = text.split(":")
    return Scope(Network(network), int(chain_id), payer, token)


@dataclass(frozen=True)
class ScopeInfo:
    """A scope with its labels: chain name, token symbol and decimals (None: unknown)."""

    scope: Scope
    chain: str
    symbol: str | None
    decimals: int | None
    token_note: str | None = None

    @property
    def key(self) -> str:
        return scope_key(self.scope)

    @property
    def token_label(self) -> str:
        return self.symbol or self.scope.token

    def units(self, amount: int | None) -> str:
        """``amount`` in token units (exact) or as labelled base units."""
        if amount is None:
            return ""
        if self.decimals is None:
            return f"{amount} base units"
        return format_amount(amount, self.decimals, symbol=self.symbol or "", grouping=True)

    def native(self, amount: int | None) -> str:
        """A gas-coin amount (wei / sun) in coin units."""
        if amount is None:
            return ""
        network = self.scope.network
        return format_amount(
            amount,
            NATIVE_DECIMALS[network],
            symbol=native_symbol(network, self.scope.chain_id),
            min_decimals=2,
        )


def _connect_evm(url: str, what: str) -> tuple[Any, str | None]:
    """(Chain, None) once ``url`` has answered its chain id, or (None, why not)."""
    from payout.chain import Chain

    try:
        chain = Chain(url, timeout=TOKEN_READ_TIMEOUT, retries=0)
        _ = chain.chain_id
    except PayoutError as exc:
        return None, f"{what} cannot be read ({exc})"
    return chain, None


class Chains:
    """Read-only access to the configured chains, opened lazily and once per request set.

    ``rpc_url`` answers for the EVM chain it is connected to, ``tron_node_url`` for its TRON
    chain; a scope on any other chain is shown from the ledger alone, with the reason.
    ``safe_rpc_urls`` (the Safe networks of ``payout serve``) also answer, for the Safe page and
    for token facts, on the chains they are connected to.
    """

    def __init__(
        self, rpc_url: str | None, tron_node_url: str | None, safe_rpc_urls: Sequence[str] = ()
    ) -> None:
        self.rpc_url = rpc_url
        self.tron_node_url = tron_node_url
        self.tokens = TokenResolver(rpc_url, tron_node_url)
        self.safe_rpc_urls = [u for u in dict.fromkeys(safe_rpc_urls) if u != rpc_url]
        #: url -> (Chain or None, why not): the Safe networks' endpoints, opened lazily, once.
        self._safe_evm: dict[str, tuple[Any, str | None]] = {}
        self._safe_tokens: dict[Scope, tuple[str, int] | None] = {}
        self._evm: Any = None
        self._evm_error: str | None = None
        self._tron: Any = None
        self._tron_chain_id: int | None = None
        self._tron_error: str | None = None

    def evm(self, chain_id: int) -> tuple[Any, str | None]:
        """(Chain, None) for ``chain_id``, or (None, why not)."""
        if self.rpc_url is None:
            return None, "no EVM endpoint configured (PAYOUT_RPC_URL)"
        if self._open_evm() is None:
            return None, self._evm_error
        if self._evm.chain_id != chain_id:
            return None, f"the EVM endpoint is chain {self._evm.chain_id}, not {chain_id}"
        return self._evm, None

    def _open_evm(self) -> Any:
        """The ``rpc_url`` endpoint, opened once (None when unset or unreadable)."""
        if self.rpc_url is not None and self._evm is None and self._evm_error is None:
            self._evm, self._evm_error = _connect_evm(self.rpc_url, "the EVM endpoint")
        return self._evm

    def safe_evm(self, chain_id: int) -> tuple[Any, str | None]:
        """(Chain, None) for ``chain_id`` through ``rpc_url`` or a Safe network's endpoint, or
        (None, why not)."""
        chain, why = self.evm(chain_id)
        if chain is not None:
            return chain, None
        failed = []
        for url in self.safe_rpc_urls:
            opened, error = self._open_safe_endpoint(url)
            if opened is not None and opened.chain_id == chain_id:
                return opened, None
            if error is not None:
                failed.append(error)
        if self.safe_rpc_urls and why is not None:
            why = f"{why}; no Safe network's endpoint is chain {chain_id}"
        return None, "; ".join([why or f"chain {chain_id} is not configured", *failed])

    def safe_network_chain_id(self, network: SafeNetwork) -> int | None:
        """The chain id ``network``'s endpoint answers with (None when it cannot be read)."""
        if network.rpc_url == self.rpc_url:
            opened = self._open_evm()
        else:
            opened, _error = self._open_safe_endpoint(network.rpc_url)
        return None if opened is None else int(opened.chain_id)

    def _open_safe_endpoint(self, url: str) -> tuple[Any, str | None]:
        if url not in self._safe_evm:
            self._safe_evm[url] = _connect_evm(url, "a Safe network's endpoint")
        return self._safe_evm[url]

    def tron(self, chain_id: int) -> tuple[Any, str | None]:
        """(tronpy client, None) for ``chain_id``, or (None, why not)."""
        if self.tron_node_url is None:
            return None, "no TRON node configured (PAYOUT_TRON_NODE_URL)"
        if self._tron is None and self._tron_error is None:
            from payout.tron.client import connect
            from payout.tron.deploy import chain_id as read_chain_id

            try:
                client = connect(self.tron_node_url, timeout=TOKEN_READ_TIMEOUT)
                self._tron_chain_id = read_chain_id(client)
                self._tron = client
            except PayoutError as exc:
                self._tron_error = f"the TRON node cannot be read ({exc})"
        if self._tron is None:
            return None, self._tron_error
        if self._tron_chain_id != chain_id:
            return None, f"the TRON node is chain {self._tron_chain_id:#x}, not {chain_id:#x}"
        return self._tron, None

    def info(self, scope: Scope) -> ScopeInfo:
        facts = self.tokens(scope)
        if facts is None and scope.network is Network.EVM and self.safe_rpc_urls:
            facts = self._safe_token(scope)
        name = chain_name(scope.network, scope.chain_id)
        if facts is None:
            return ScopeInfo(scope, name, None, None, self.tokens.reason(scope))
        return ScopeInfo(scope, name, facts[0], facts[1])

    def _safe_token(self, scope: Scope) -> tuple[str, int] | None:
        """Token facts of a scope on a Safe network's chain (None: not one, or unreadable; the
        reason given is then :attr:`tokens`' own)."""
        if scope not in self._safe_tokens:
            facts: tuple[str, int] | None = None
            chain, _why = self.safe_evm(scope.chain_id)
            if chain is not None:
                try:
                    token = chain.token(scope.token)
                    facts = (token.symbol, token.decimals)
                except (PayoutError, ValueError):
                    facts = None
            self._safe_tokens[scope] = facts
        return self._safe_tokens[scope]


# --- runs, batches, rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    status: PayoutStatus
    rows: int
    amount: str


@dataclass(frozen=True)
class ScopeSummary:
    info: ScopeInfo
    counts: tuple[StatusCount, ...]
    owed_rows: int
    owed_amount: str


@dataclass(frozen=True)
class RunView:
    id: int
    command: str
    executor: str | None
    chain: str
    payer: str | None
    token: str | None
    source: str | None
    rows: int | None
    note: str | None
    created_at: str
    batch_statuses: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class BatchView:
    info: ScopeInfo
    batch_id: str
    index: int
    status: BatchStatus
    executor: ExecutorKind
    mode: str
    count: int
    total: str
    tx_hash: str | None
    tx_url: str | None
    safe_nonce: int | None
    safe_tx_hash: str | None
    cost: str
    fee: str
    error: str | None
    run_id: int | None
    created_at: str
    confirmed_at: str

    @property
    def path(self) -> str:
        s = self.info.scope
        return f"batches/{s.network.value}/{s.chain_id}/{s.payer}/{self.batch_id}"


@dataclass(frozen=True)
class RowView:
    info: ScopeInfo
    payout_id: str
    recipient: str
    recipient_url: str | None
    amount: str
    status: PayoutStatus
    batch_id: str | None
    tx_hash: str | None
    tx_url: str | None
    error: str | None
    source: str | None
    line: int | None
    updated_at: str

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES

    @property
    def form_value(self) -> str:
        return f"{self.info.key}|{self.payout_id}"


def _row_view(info: ScopeInfo, r: Any) -> RowView:
    scope = info.scope
    return RowView(
        info=info,
        payout_id=r["payout_id"],
        recipient=r["recipient"],
        recipient_url=address_link(scope.network, scope.chain_id, r["recipient"]),
        amount=info.units(int(r["amount"])),
        status=PayoutStatus(r["status"]),
        batch_id=r["batch_id"],
        tx_hash=r["tx_hash"],
        tx_url=tx_link(scope.network, scope.chain_id, r["tx_hash"]),
        error=r["error"],
        source=r["source"],
        line=r["line"],
        updated_at=_when(r["updated_at"]),
    )


def _scope_of(r: Any) -> Scope:
    return Scope(Network(r["network"]), int(r["chain_id"]), r["payer"], r["token"])


def _batch_view(info: ScopeInfo, r: Any) -> BatchView:
    scope = info.scope
    unit = r["cost_unit"] or ("energy" if scope.network is Network.TRON else "gas")
    gas = r["gas_used"]
    estimate = r["cost_estimate"]
    cost = (
        f"{int(gas):,} {unit}" if gas else (f"~{int(estimate):,} {unit} (est.)" if estimate else "")
    )
    return BatchView(
        info=info,
        batch_id=r["batch_id"],
        index=int(r["batch_index"]),
        status=BatchStatus(r["status"]),
        executor=ExecutorKind(r["executor"]),
        mode=r["mode"],
        count=int(r["count"]),
        total=info.units(int(r["total"])),
        tx_hash=r["tx_hash"],
        tx_url=tx_link(scope.network, scope.chain_id, r["tx_hash"]),
        safe_nonce=r["safe_nonce"],
        safe_tx_hash=r["safe_tx_hash"],
        cost=cost,
        fee=info.native(int(r["fee_paid"])) if r["fee_paid"] else "",
        error=r["error"],
        run_id=r["run_id"],
        created_at=_when(r["created_at"]),
        confirmed_at=_when(r["confirmed_at"]),
    )


class DashboardData:
    """Read the pages' data from one ledger and the configured chains."""

    def __init__(self, ledger: Ledger, chains: Chains) -> None:
        self.ledger = ledger
        self.chains = chains
        self._infos: dict[Scope, ScopeInfo] = {}

    def info(self, scope: Scope) -> ScopeInfo:
        if scope not in self._infos:
            self._infos[scope] = self.chains.info(scope)
        return self._infos[scope]

    def summaries(self) -> list[ScopeSummary]:
        """Per scope: rows and amount by status, and what is still owed."""
        out = []
        for scope in self.ledger.scopes():
            info = self.info(scope)
            counts = self.ledger.status_counts(scope)
            owed = [counts.get(s, (0, 0)) for s in OWED_STATUSES]
            out.append(
                ScopeSummary(
                    info,
                    tuple(
                        StatusCount(s, counts[s][0], info.units(counts[s][1]))
                        for s in PayoutStatus
                        if s in counts
                    ),
                    sum(c for c, _ in owed),
                    info.units(sum(a for _, a in owed)),
                )
            )
        return out

    def runs(self, limit: int = 50) -> list[RunView]:
        """The latest runs (command invocations) with their batches' statuses."""
        with self.ledger.engine.connect() as conn:
            rows = list(
                conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings()
            )
            ids = [int(r["id"]) for r in rows]
            per_run: dict[int, dict[str, int]] = defaultdict(dict)
            # send/propose record their run before the scope is known: name the chain of the
            # run's batches instead.
            run_chain: dict[int, str] = {}
            if ids:
                for run_id, network, chain_id in conn.execute(
                    select(batches.c.run_id, batches.c.network, batches.c.chain_id)
                    .where(batches.c.run_id.in_(ids))
                    .distinct()
                ):
                    run_chain[int(run_id)] = chain_name(Network(network), int(chain_id))
                for run_id, status, n in conn.execute(
                    select(batches.c.run_id, batches.c.status, func.count())
                    .where(batches.c.run_id.in_(ids))
                    .group_by(batches.c.run_id, batches.c.status)
                ):
                    per_run[int(run_id)][str(status)] = int(n)
        out = []
        for r in rows:
            network = Network(r["network"]) if r["network"] else None
            out.append(
                RunView(
                    id=int(r["id"]),
                    command=r["command"],
                    executor=r["executor"],
                    chain=chain_name(network, int(r["chain_id"]))
                    if network and r["chain_id"] is not None
                    else run_chain.get(int(r["id"]), ""),
                    payer=r["payer"],
                    token=r["token"],
                    source=Path(r["source"]).name if r["source"] else None,
                    rows=r["rows"],
                    note=r["note"],
                    created_at=_when(r["created_at"]),
                    batch_statuses=tuple(sorted(per_run.get(int(r["id"]), {}).items())),
                )
            )
        return out

    def batches(
        self, *, run_id: int | None = None, status: Iterable[BatchStatus] | None = None
    ) -> list[BatchView]:
        """Batches, newest first."""
        query = select(batches).order_by(batches.c.id.desc())
        if run_id is not None:
            query = query.where(batches.c.run_id == run_id)
        if status is not None:
            query = query.where(batches.c.status.in_([s.value for s in status]))
        with self.ledger.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        return [_batch_view(self.info(_scope_of(r)), r) for r in rows]

    def batch(
        self, network: Network, chain_id: int, payer: str, batch_id: str
    ) -> tuple[BatchView, list[RowView]] | None:
        """One batch and its rows (None when the ledger has no such batch)."""
        with self.ledger.engine.connect() as conn:
            row = (
                conn.execute(
                    select(batches).where(
                        batches.c.network == network.value,
                        batches.c.chain_id == chain_id,
                        batches.c.payer == payer,
                        batches.c.batch_id == batch_id.lower(),
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            rows = list(
                conn.execute(
                    select(payouts)
                    .where(
                        payouts.c.network == network.value,
                        payouts.c.chain_id == chain_id,
                        payouts.c.payer == payer,
                        payouts.c.batch_id == row["batch_id"],
                    )
                    .order_by(payouts.c.batch_position, payouts.c.id)
                ).mappings()
            )
        info = self.info(_scope_of(row))
        return _batch_view(info, row), [_row_view(self.info(_scope_of(r)), r) for r in rows]

    def rows(
        self,
        status: Sequence[PayoutStatus],
        *,
        limit: int = 500,
        payout_ids: Sequence[str] | None = None,
    ) -> list[RowView]:
        """Rows in the given statuses (latest change first)."""
        query = (
            select(payouts)
            .where(payouts.c.status.in_([s.value for s in status]))
            .order_by(payouts.c.updated_at.desc(), payouts.c.id.desc())
            .limit(limit)
        )
        if payout_ids is not None:
            query = query.where(payouts.c.payout_id.in_(list(payout_ids)))
        with self.ledger.engine.connect() as conn:
            found = list(conn.execute(query).mappings())
        return [_row_view(self.info(_scope_of(r)), r) for r in found]

    def find_rows(self, text: str, *, limit: int = 200) -> list[RowView]:
        """Rows whose payout id or recipient is ``text`` (exact) or starts with it."""
        needle = text.strip()
        if not needle:
            return []
        query = (
            select(payouts)
            .where(
                (payouts.c.payout_id == needle)
                | (payouts.c.recipient == needle)
                | payouts.c.payout_id.startswith(needle, autoescape=True)
            )
            .order_by(payouts.c.id.desc())
            .limit(limit)
        )
        with self.ledger.engine.connect() as conn:
            found = list(conn.execute(query).mappings())
        return [_row_view(self.info(_scope_of(r)), r) for r in found]


# --- retry ----------------------------------------------------------------------------------------


@dataclass
class RetryResult:
    """What a retry request did, per scope."""

    marked: int = 0
    #: The rows marked owed again, by scope and payout id.
    rows: list[tuple[Scope, str]] = field(default_factory=list)
    #: Rows asked for that were not failed/skipped any more (paid or planned meanwhile).
    not_retryable: list[str] = field(default_factory=list)


def retry_payouts(
    ledger: Ledger, requests: Iterable[tuple[Scope, str]], *, actor: str
) -> RetryResult:
    """Mark failed / skipped rows owed again (``planned``), as ``--retry-skipped`` does.

    Nothing is paid here: the next ``payout send`` of the file (or the service's worker) plans and
    pays them, with the same simulation and ledger checks as any row, at most once. Each scope's
    change is recorded as a run (``dashboard retry``) naming who asked. Rows that are no longer
    failed or skipped (paid, in flight, already planned) are left alone and reported.
    """
    result = RetryResult()
    by_scope: dict[Scope, list[str]] = defaultdict(list)
    for scope, payout_id in requests:
        if payout_id not in by_scope[scope]:
            by_scope[scope].append(payout_id)
    for scope, ids in by_scope.items():
        current = {r.payout_id: r.status for r in ledger.payouts(scope, payout_ids=ids)}
        wanted = [pid for pid in ids if current.get(pid) in RETRYABLE_STATUSES]
        result.not_retryable += [pid for pid in ids if pid not in wanted]
        if not wanted:
            continue
        changed = ledger.set_payout_status(scope, wanted, PayoutStatus.PLANNED)
        result.marked += changed
        result.rows += [(scope, pid) for pid in wanted]
        ledger.start_run(
            "dashboard retry",
            scope=scope,
            rows=changed,
            note=f"marked owed again by {actor}: "
            + ", ".join(wanted[:20])
            + (f" and {len(wanted) - 20} more" if len(wanted) > 20 else ""),
        )
    return result


# --- balances -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceView:
    info: ScopeInfo
    token_balance: str
    gas_balance: str
    owed: str
    low_token: bool
    low_gas: bool
    note: str | None

    @property
    def low(self) -> bool:
        return self.low_token or self.low_gas


def balances(data: DashboardData, *, min_gas_wei: int, min_trx_sun: int) -> list[BalanceView]:
    """Per (network, payer, token): token and gas-coin balances read from the chain, what the
    ledger still owes, and whether either is low (token below what is owed, gas coin below the
    configured floor). Scopes on chains that are not configured show the ledger side only."""
    out = []
    for scope in data.ledger.scopes():
        info = data.info(scope)
        counts = data.ledger.status_counts(scope)
        owed = sum(counts.get(s, (0, 0))[1] for s in OWED_STATUSES)
        token_balance: int | None = None
        gas: int | None = None
        note: str | None = None
        try:
            if scope.network is Network.TRON:
                client, note = data.chains.tron(scope.chain_id)
                if client is not None:
                    from payout.tron.token import balance_of, trx_balance

                    token_balance = balance_of(client, scope.token, scope.payer)
                    gas = trx_balance(client, scope.payer)
            else:
                chain, note = data.chains.evm(scope.chain_id)
                if chain is not None:
                    token_balance = chain.token_balance(scope.token, scope.payer)
                    gas = chain.native_balance(scope.payer)
        except (PayoutError, ValueError) as exc:
            note = f"balance could not be read: {exc}"
        floor = min_trx_sun if scope.network is Network.TRON else min_gas_wei
        out.append(
            BalanceView(
                info=info,
                token_balance=info.units(token_balance) if token_balance is not None else "",
                gas_balance=info.native(gas) if gas is not None else "",
                owed=info.units(owed),
                low_token=token_balance is not None and token_balance < owed,
                low_gas=gas is not None and gas < floor,
                note=note,
            )
        )
    return out


# --- costs per day --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCost:
    day: date
    rows: int
    #: Paid amount summed over the chain's stablecoins at face value, in token units (exact text).
    paid: str
    paid_units: int
    paid_decimals: int
    fee: int
    separate_fee: int | None

    @property
    def saved(self) -> int | None:
        return None if self.separate_fee is None else self.separate_fee - self.fee


@dataclass(frozen=True)
class ChainCosts:
    network: Network
    chain_id: int
    chain: str
    coin: str
    days: tuple[DayCost, ...]
    note: str

    @property
    def coin_decimals(self) -> int:
        return NATIVE_DECIMALS[self.network]

    def coin_text(self, amount: int | None) -> str:
        if amount is None:
            return "n/a"
        return format_amount(amount, self.coin_decimals, symbol=self.coin, min_decimals=2)

    @property
    def total_fee(self) -> int:
        return sum(d.fee for d in self.days)

    @property
    def total_saved(self) -> int | None:
        saved = [d.saved for d in self.days]
        return None if any(s is None for s in saved) else sum(s or 0 for s in saved)


def daily_costs(data: DashboardData) -> list[ChainCosts]:
    """Per chain and UTC day of confirmation: rows paid, amount paid, fee paid, and (EVM) the
    estimated fee of paying the same rows with separate transfers at the batch's gas price."""
    with data.ledger.engine.connect() as conn:
        rows = list(
            conn.execute(
                select(batches)
                .where(batches.c.status == BatchStatus.CONFIRMED.value)
                .order_by(batches.c.confirmed_at)
            ).mappings()
        )
        # Rows actually paid per batch (a skip-and-report batch pays fewer than it carried).
        paid_rows = {
            (n, int(c), p, b): int(k)
            for n, c, p, b, k in conn.execute(
                select(
                    payouts.c.network,
                    payouts.c.chain_id,
                    payouts.c.payer,
                    payouts.c.batch_id,
                    func.count(),
                )
                .where(payouts.c.status == PayoutStatus.CONFIRMED.value)
                .group_by(
                    payouts.c.network, payouts.c.chain_id, payouts.c.payer, payouts.c.batch_id
                )
            )
        }
    per_chain: dict[tuple[Network, int], dict[date, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        day = _day(r["confirmed_at"] or r["updated_at"])
        if day is None:
            continue
        scope = _scope_of(r)
        info = data.info(scope)
        acc = per_chain[(scope.network, scope.chain_id)].setdefault(
            day, {"rows": 0, "amount": 0, "decimals": None, "fee": 0, "separate": 0}
        )
        paid = int(r["paid_total"] or r["total"])
        decimals = info.decimals if info.decimals is not None else 0
        # Face value across the chain's stablecoins: bring every amount to the largest decimals.
        if acc["decimals"] is None:
            acc["decimals"] = decimals
        if decimals > acc["decimals"]:
            acc["amount"] *= 10 ** (decimals - acc["decimals"])
            acc["decimals"] = decimals
        acc["amount"] += paid * 10 ** (acc["decimals"] - decimals)
        paid_count = paid_rows.get(
            (r["network"], int(r["chain_id"]), r["payer"], r["batch_id"]), int(r["count"])
        )
        acc["rows"] += paid_count
        fee = int(r["fee_paid"] or 0)
        gas = int(r["gas_used"] or 0)
        acc["fee"] += fee
        if scope.network is Network.EVM and gas and acc["separate"] is not None:
            acc["separate"] += paid_count * SEPARATE_TRANSFER_GAS * fee // gas
        else:
            acc["separate"] = None
    out = []
    for (network, chain_id), days in sorted(per_chain.items(), key=lambda kv: kv[0][1]):
        note = (
            f"separate transfers estimated at {SEPARATE_TRANSFER_GAS:,} gas each (a fresh "
            "recipient, measured by make bench) at each batch's own gas price"
            if network is Network.EVM
            else "TRON: a batch costs about the same energy per recipient as separate transfers "
            "(see docs/tron.md); no saving is estimated"
        )
        out.append(
            ChainCosts(
                network,
                chain_id,
                chain_name(network, chain_id),
                native_symbol(network, chain_id),
                tuple(
                    DayCost(
                        day,
                        a["rows"],
                        format_amount(a["amount"], a["decimals"] or 0, grouping=True),
                        a["amount"],
                        a["decimals"] or 0,
                        a["fee"],
                        a["separate"],
                    )
                    for day, a in sorted(days.items())
                ),
                note,
            )
        )
    return out


# --- Safe proposals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerView:
    owner: str
    signed: bool
    how: str


@dataclass(frozen=True)
class ProposalView:
    batch: BatchView
    rows: tuple[RowView, ...]
    safe: str
    #: The Safe network's name in ``payout.toml`` (None: the standalone dashboard, or unknown).
    network: str | None
    threshold: int | None
    signers: tuple[SignerView, ...]
    executable: bool
    note: str | None

    @property
    def signed_count(self) -> int:
        return sum(1 for s in self.signers if s.signed)


def _file_signatures(folders: Iterable[Path]) -> dict[str, list[tuple[Any, Any, Any]]]:
    """safeTxHash -> [(proposal, tx, signature)] from every proposal / signature file in the
    folders (files that are not proposals are ignored). A safeTxHash commits to the chain id and
    the Safe, so files of several networks cannot be mistaken for one another."""
    out: dict[str, list[tuple[Any, Any, Any]]] = defaultdict(list)
    from payout.safe.proposal import load_proposal

    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                proposal = load_proposal(path)
            except (PayoutError, ValueError, OSError):
                continue
            for tx in proposal.transactions:
                for sig in tx.signatures:
                    out["0x" + tx.safe_tx_hash.hex()].append((proposal, tx, sig))
    return out


def safe_proposals(
    data: DashboardData,
    proposals_dir: Path | None,
    safe_networks: Sequence[SafeNetwork] = (),
) -> list[ProposalView]:
    """Safe batches proposed and not executed yet, on every chain: who signed (signatures in the
    proposal files of ``proposals_dir`` and of every Safe network's folder, each checked against
    its own chain, and approveHash calls on chain), the safeTxHash, the rows and the total in
    token units read from the chain. Each is labelled with its Safe network's name when it is one
    of ``safe_networks``."""
    pending = data.batches(status=[BatchStatus.PLANNED, BatchStatus.FAILED])
    pending = [b for b in pending if b.executor is ExecutorKind.SAFE and b.safe_tx_hash]
    folders = [proposals_dir, *(n.proposals_dir for n in safe_networks)]
    unique = list(dict.fromkeys(f for f in folders if f is not None))
    files = _file_signatures(unique) if pending else {}
    names = {
        (chain_id, n.safe.lower()): n.name
        for n in safe_networks
        if pending and (chain_id := data.chains.safe_network_chain_id(n)) is not None
    }
    out = []
    for b in pending:
        scope = b.info.scope
        found = data.batch(scope.network, scope.chain_id, scope.payer, b.batch_id)
        rows = tuple(found[1]) if found else ()
        chain, note = data.chains.safe_evm(scope.chain_id)
        signers: dict[str, SignerView] = {}
        threshold: int | None = None
        executable = False
        if chain is not None:
            from payout.safe.safe_state import is_hash_approved, read_safe
            from payout.safe.signature import check_signature

            try:
                state = read_safe(chain, scope.payer)
                threshold = state.threshold
                digest = bytes.fromhex(b.safe_tx_hash[2:]) if b.safe_tx_hash else b""
                for proposal, tx, sig in files.get(b.safe_tx_hash or "", []):
                    check = check_signature(chain, proposal, tx, sig, state)
                    if check.valid or sig.owner not in signers:
                        signers[sig.owner] = SignerView(
                            sig.owner, check.valid, f"{sig.kind}: {check.reason}"
                        )
                for owner in state.owners:
                    if (owner not in signers or not signers[owner].signed) and is_hash_approved(
                        chain, scope.payer, owner, digest
                    ):
                        signers[owner] = SignerView(owner, True, "approveHash on chain")
                for owner in state.owners:
                    signers.setdefault(owner, SignerView(owner, False, "not signed yet"))
                if b.safe_nonce is not None and b.safe_nonce < state.nonce:
                    note = (
                        f"Safe nonce {b.safe_nonce} is already used (the Safe is at "
                        f"{state.nonce}): this proposal can no longer execute"
                    )
                executable = sum(1 for s in signers.values() if s.signed) >= state.threshold
            except (PayoutError, ValueError) as exc:
                note = f"the Safe could not be read: {exc}"
        else:
            for _p, _tx, sig in files.get(b.safe_tx_hash or "", []):
                signers[sig.owner] = SignerView(sig.owner, False, f"{sig.kind}: not checked")
        out.append(
            ProposalView(
                batch=b,
                rows=rows,
                safe=scope.payer,
                network=names.get((scope.chain_id, scope.payer.lower())),
                threshold=threshold,
                signers=tuple(signers.values()),
                executable=executable,
                note=note,
            )
        )
    return out


# --- reconcile ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileView:
    info: ScopeInfo
    ok: bool
    batches_on_chain: int
    transfers_on_chain: int
    rows_paid_in_ledger: int
    amount_on_chain: str
    amount_in_ledger: str
    mismatches: tuple[Any, ...]
    skipped_reason: str | None = None


@dataclass(frozen=True)
class ReconcileRun:
    at: str
    views: tuple[ReconcileView, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.views if v.skipped_reason is None)


def reconcile_all(data: DashboardData, disburser: str | None) -> ReconcileRun:
    """Reconcile every scope of the ledger whose chain is configured (read-only)."""
    started = time.monotonic()
    views = []
    evm_target: Any = None
    evm_error: str | None = None
    for scope in data.ledger.scopes():
        info = data.info(scope)
        try:
            if scope.network is Network.TRON:
                client, why = data.chains.tron(scope.chain_id)
                if client is None:
                    views.append(_not_reconciled(info, why))
                    continue
                from payout.tron.reconcile import reconcile as tron_reconcile

                report = tron_reconcile(client, data.ledger, scope)
            else:
                chain, why = data.chains.evm(scope.chain_id)
                if chain is None:
                    views.append(_not_reconciled(info, why))
                    continue
                if evm_target is None and evm_error is None:
                    from payout.pipeline import target_on

                    try:
                        evm_target = target_on(chain, disburser)
                    except PayoutError as exc:
                        evm_error = f"the disburser cannot be checked: {exc}"
                if evm_target is None:
                    views.append(_not_reconciled(info, evm_error))
                    continue
                from payout.reconcile import reconcile as evm_reconcile

                report = evm_reconcile(evm_target.chain, evm_target.disburser, data.ledger, scope)
        except PayoutError as exc:
            views.append(_not_reconciled(info, f"reconcile failed: {exc}"))
            continue
        views.append(
            ReconcileView(
                info=info,
                ok=report.ok,
                batches_on_chain=report.batches_on_chain,
                transfers_on_chain=report.transfers_on_chain,
                rows_paid_in_ledger=report.rows_paid_in_ledger,
                amount_on_chain=info.units(report.amount_on_chain),
                amount_in_ledger=info.units(report.amount_in_ledger),
                mismatches=tuple(report.mismatches),
            )
        )
    return ReconcileRun(
        _when(datetime.now(UTC)), tuple(views), round(time.monotonic() - started, 2)
    )


def _not_reconciled(info: ScopeInfo, why: str | None) -> ReconcileView:
    return ReconcileView(info, True, 0, 0, 0, "", "", (), why or "not configured")


# --- webhooks (owned by the service) --------------------------------------------------------------


@dataclass(frozen=True)
class WebhookDeliveryView:
    id: str
    event: str
    url: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str
    retryable: bool


class WebhookSource(Protocol):
    """The service's webhook delivery log (``payout serve`` provides it)."""

    def deliveries(self, limit: int) -> Sequence[WebhookDeliveryView]:
        """The latest deliveries, newest first."""
        ...

    def retry(self, delivery_id: str, *, actor: str) -> bool:
        """Queue a failed delivery again; False when it cannot be retried."""
        ...


class ServiceWebhooks:
    """The payout service's webhook log as a :class:`WebhookSource`: its store's ``deliveries``
    (newest first) and ``replay`` (deliver a message again to every endpoint)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def deliveries(self, limit: int) -> Sequence[WebhookDeliveryView]:
        out = []
        for d in self.store.deliveries(limit=limit):
            code = d.get("last_status_code")
            error = d.get("last_error") or (f"HTTP {code}" if code and code >= 300 else None)
            out.append(
                WebhookDeliveryView(
                    id=str(d["message_id"]),
                    event=str(d["event_type"]),
                    url=str(d["url"]),
                    status=str(d["status"]),
                    attempts=int(d["attempts"]),
                    last_error=error,
                    created_at=str(d.get("delivered_at") or d.get("next_attempt_at") or ""),
                    retryable=d["status"] == "failed",
                )
            )
        return out

    def retry(self, delivery_id: str, *, actor: str) -> bool:
        return self.store.replay(delivery_id) is not None
