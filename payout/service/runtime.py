"""The running service: configuration, database (migrated), one checked context per network.

:meth:`Service.open` migrates the database (Alembic), opens the ledger and, for every network,
connects to its node, reads the chain id, checks each configured token's decimals against the
chain and the disburser's code against the shipped artifact. The API and the worker share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from payout.address import check_address
from payout.amount import format_amount
from payout.chain import Chain
from payout.deployment import verify_disburser
from payout.exceptions import NetworkNotServed as NetworkNotServed
from payout.exceptions import PayoutError, ServiceConfigError
from payout.ledger import BatchChange, Ledger
from payout.service import migrate
from payout.service.network import ENERGY, GAS, NetworkConfig, ServiceConfig, TokenConfig
from payout.service.store import Store
from payout.signer import keystore_address
from payout.types import Network

if TYPE_CHECKING:
    from tronpy import Tron


@dataclass
class NetworkContext:
    """A configured network after its checks: chain id, payer, disburser, verified tokens."""

    config: NetworkConfig
    chain_id: int
    payer: str
    disburser: str
    #: The account that pays gas (the hot wallet; a Safe payer's executor, or None when the
    #: worker does not execute its proposals).
    gas_payer: str | None = None
    #: Chains are not shared between threads: the worker opens its own per network.
    _local: threading.local = field(default_factory=threading.local)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> Network:
        return self.config.kind

    def chain(self) -> Chain:
        """This thread's connection to the network's node (EVM networks)."""
        chain: Chain | None = getattr(self._local, "chain", None)
        if chain is None:
            chain = self._local.chain = Chain(self.config.url)
        return chain

    def tron(self) -> Tron:
        """This thread's client of the network's TRON node (TRON networks)."""
        client: Tron | None = getattr(self._local, "tron", None)
        if client is None:
            from payout.tron.client import connect

            client = self._local.tron = connect(self.config.url)
        return client

    def token(self, name: str) -> TokenConfig | None:
        return self.config.token(name)


@dataclass(frozen=True)
class Asset:
    """One balance of a payer: a token, the gas coin or (TRON) energy, in base units."""

    #: The alert key: a token symbol from payout.toml, ``gas`` or ``energy``.
    key: str
    symbol: str
    balance: int
    decimals: int
    #: The token's address; for ``gas``, the account whose gas coin it is.
    address: str | None = None


def payer_assets(network: NetworkContext) -> list[Asset]:
    """The payer's tokens, gas coin and (TRON) energy, read from the network's node now.

    The gas coin is the balance of the account that pays gas (``gas_payer``: the hot wallet, a
    Safe payer's executor); a Safe whose proposals others execute has none."""
    if network.kind is Network.TRON:
        from payout.service.tron import tron_assets

        return tron_assets(network)
    chain = network.chain()
    assets = [
        Asset(
            t.symbol, t.symbol, chain.token_balance(t.address, network.payer), t.decimals, t.address
        )
        for t in network.config.tokens.values()
    ]
    if network.gas_payer is not None:
        gas = chain.native_balance(network.gas_payer)
        assets.append(Asset(GAS, "gas coin", gas, 18, network.gas_payer))
    return assets


def open_network(config: NetworkConfig) -> NetworkContext:
    """Connect and check one network (chain id, tokens' decimals, disburser code, payer)."""
    if config.kind is Network.TRON:
        from payout.service.tron import open_tron_network

        return open_tron_network(config)
    if config.executor not in ("wallet", "safe"):
        raise NetworkNotServed(config.name, f"executor {config.executor} is not served yet")
    chain = Chain(config.url)
    chain_id = chain.chain_id
    for token in config.tokens.values():
        info = chain.token(token.address)
        if info.decimals != token.decimals:
            raise ServiceConfigError(
                config.name,
                f"networks.{config.name}.tokens.{token.symbol}.decimals",
                f"{token.decimals} configured but the token at {token.address} on chain "
                f"{chain_id} has {info.decimals}",
            )
    disburser = verify_disburser(chain, config.disburser)
    if config.safe is not None:
        from payout.safe.proposal import find_multisend
        from payout.safe.safe_state import read_safe

        # Refuse at start what could never be proposed: not a Safe (or an unsupported version),
        # no canonical MultiSendCallOnly on this chain.
        state = read_safe(chain, config.safe.address)
        find_multisend(chain)
        executor = config.safe.executor_keystore
        gas_payer = keystore_address(executor) if config.safe.execute and executor else None
        ctx = NetworkContext(config, chain_id, state.address, disburser, gas_payer)
        ctx._local.chain = chain
        return ctx
    if config.keystore is None:
        raise ServiceConfigError(
            config.name, f"networks.{config.name}.keystore", "the hot wallet's keystore file"
        )
    payer = keystore_address(config.keystore)
    ctx = NetworkContext(config, chain_id, payer, disburser, payer)
    ctx._local.chain = chain
    return ctx


class Service:
    """Configuration + ledger + service store + checked networks."""

    def __init__(
        self, config: ServiceConfig, ledger: Ledger, networks: dict[str, NetworkContext]
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.networks = networks
        decimals = {
            (n.name, t.address): t.decimals
            for n in networks.values()
            for t in n.config.tokens.values()
        }
        self.store = Store(ledger, decimals)
        self.store.endpoints = tuple((h.url, h.events) for h in config.webhooks)
        # batch.* events are written in the transaction that changes the batch (an outbox): a
        # crash can lose neither the change's event nor announce a change that did not happen.
        ledger.batch_listeners.append(self._on_batch_change)
        # Recipients already checked against the other chains: (network, address) -> problem.
        self._code_checks: dict[tuple[str, str], str | None] = {}
        self._code_lock = threading.Lock()

    def _on_batch_change(self, conn: Connection, change: BatchChange) -> None:
        for n in self.networks.values():
            if (
                n.kind is change.network
                and n.chain_id == change.chain_id
                and n.payer.lower() == change.payer.lower()
            ):
                safe = n.config.safe
                path = (
                    safe.proposal_file(change.safe_nonce, change.safe_tx_hash)
                    if safe is not None
                    and change.safe_nonce is not None
                    and change.safe_tx_hash is not None
                    else None
                )
                self.store.enqueue_batch_event(
                    conn, n.name, change, proposal_file=path.name if path else None
                )
                return

    @classmethod
    def open(cls, config: ServiceConfig) -> Service:
        """Migrate the database, open the ledger, check every network."""
        migrate.upgrade(config.ledger_url)
        ledger = Ledger.open(config.ledger_url)
        try:
            networks = {name: open_network(n) for name, n in config.networks.items()}
        except PayoutError:
            ledger.close()
            raise
        return cls(config, ledger, networks)

    def close(self) -> None:
        self.store.close()
        self.ledger.close()

    # --- address-network risk -----------------------------------------------------------------

    def recipient_problem(self, network: NetworkContext, recipient: str) -> str | None:
        """Why ``recipient`` must not be paid on ``network``, or None.

        The format checks (an address of the other family: TRON on EVM and the reverse) happen in
        validation; here: a contract on another configured EVM chain with no code on the target
        (a Safe or smart wallet deployed on one chain only: funds sent to its address on the other
        chain are unreachable)."""
        others = [
            n for n in self.networks.values() if n.kind is Network.EVM and n.name != network.name
        ]
        if network.kind is not Network.EVM or not others:
            return None
        key = (network.name, recipient)
        with self._code_lock:
            if key in self._code_checks:
                return self._code_checks[key]
        problem: str | None = None
        if not network.chain().code(recipient):
            for other in others:
                if other.chain_id != network.chain_id and other.chain().code(recipient):
                    problem = (
                        f"{recipient} is a contract on {other.name} but has no code on "
                        f"{network.name}: a contract wallet that does not exist there would "
                        f"never reach the funds"
                    )
                    break
        with self._code_lock:
            self._code_checks[key] = problem
        return problem

    def check_format(self, network: NetworkContext, text: str) -> tuple[str | None, str, str]:
        """(canonical address, '', '') or (None, code, why) for ``text`` on ``network``."""
        address, code, message = check_address(network.kind, text)
        return address, code or "", message or ""

    # --- balances ------------------------------------------------------------------------------

    def balances(self) -> list[dict[str, object]]:
        """Token and gas coin balances of every payer (base units and token units); the gas coin
        of the account that pays gas (``gas.account``); on TRON also the energy available to the
        payer (staked by it or delegated to it, not yet used)."""
        out: list[dict[str, object]] = []
        for n in self.networks.values():
            entry: dict[str, object] = {"network": n.name, "chain_id": n.chain_id, "payer": n.payer}
            tokens: list[dict[str, str]] = []
            for asset in payer_assets(n):
                if asset.key == ENERGY:
                    entry["energy"] = {"available": str(asset.balance)}
                elif asset.key == GAS:
                    entry["gas"] = {
                        "balance": format_amount(asset.balance, asset.decimals),
                        "balance_base_units": str(asset.balance),
                        "account": asset.address or n.payer,
                        **({"symbol": asset.symbol} if n.kind is Network.TRON else {}),
                    }
                else:
                    tokens.append(
                        {
                            "token": asset.symbol,
                            "token_address": asset.address or "",
                            "balance": format_amount(asset.balance, asset.decimals),
                            "balance_base_units": str(asset.balance),
                        }
                    )
            entry["tokens"] = tokens
            out.append(entry)
        return out
