"""TRON networks in the payout service: start-up checks, the payer's balances and energy, and the
worker's TRON hot wallet.

A ``kind = "tron"`` network is paid through the same code as ``payout tron send`` / ``resume``
(:func:`payout.tron.pipeline.send_manifest`): open batches of the payer are settled from the chain
first (a worker killed after broadcasting is finished, never repeated; a transaction that expired
unsent is released only once the node's head block is past its expiration), then the rows are
registered in the ledger (ids already paid are not paid again), planned into energy- and
size-bounded batches, checked against the payer's token and TRX, and sent write-ahead.

Energy: the payer's available energy is ``EnergyLimit - EnergyUsed`` of the node's
``wallet/getaccountresource``: ``EnergyLimit`` is what the TRX the payer staked for energy and the
energy other accounts delegated to it give at the network's current total stake, ``EnergyUsed``
what it used and has not yet recovered (it recovers over 24 hours). A batch uses this energy
first and burns TRX for the rest (bounded by the batch's fee limit).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from payout.exceptions import ServiceConfigError
from payout.ledger import Ledger
from payout.manifest import Manifest
from payout.service.network import ENERGY, GAS, NetworkConfig
from payout.service.runtime import Asset, NetworkContext
from payout.service.worker import BatchCallback
from payout.signer import LocalSigner, Signer
from payout.tron.client import connect
from payout.tron.deploy import chain_id as read_chain_id
from payout.tron.deploy import verify_disburser
from payout.tron.energy import account_resources, read_prices
from payout.tron.executor import TronSendSettings
from payout.tron.pipeline import TronContext, send_manifest
from payout.tron.signer import TronSigner, keystore_tron_address
from payout.tron.token import balance_of, token_info
from payout.types import BatchStatus, PayMode

#: TRX has 6 decimals (1 TRX = 1,000,000 sun).
TRX_DECIMALS = 6

#: The worker's batch events from the TRON executor's progress events.
BATCH_EVENTS = {
    "broadcast": "batch.submitted",
    "rebroadcast": "batch.submitted",
    "confirmed": "batch.paid",
    "failed": "batch.failed",
}


def open_tron_network(config: NetworkConfig) -> NetworkContext:
    """Connect to the TRON node and check the network: chain id (from block 0), every token's
    decimals against the chain, the disburser's code against the shipped artifact, the payer's
    keystore (its address is read without decrypting it)."""
    client = connect(config.url)
    chain_id = read_chain_id(client)
    for token in config.tokens.values():
        info = token_info(client, token.address)
        if info.decimals != token.decimals:
            raise ServiceConfigError(
                config.name,
                f"networks.{config.name}.tokens.{token.symbol}.decimals",
                f"{token.decimals} configured but the token at {token.address} on TRON chain "
                f"{chain_id} has {info.decimals}",
            )
    if config.disburser is None:  # payout.toml's checks require it; kept for direct callers
        raise ServiceConfigError(
            config.name, f"networks.{config.name}.disburser", "the disburser's T... address"
        )
    disburser = verify_disburser(client, config.disburser)
    if config.keystore is None:
        raise ServiceConfigError(
            config.name, f"networks.{config.name}.keystore", "the hot wallet's keystore file"
        )
    payer = keystore_tron_address(config.keystore)
    ctx = NetworkContext(config, chain_id, payer, disburser, payer)
    ctx._local.tron = client
    return ctx


def tron_assets(network: NetworkContext) -> list[Asset]:
    """The payer's tokens, TRX (in sun) and available energy (see the module doc)."""
    client = network.tron()
    assets = [
        Asset(
            t.symbol, t.symbol, balance_of(client, t.address, network.payer), t.decimals, t.address
        )
        for t in network.config.tokens.values()
    ]
    resources = account_resources(client, network.payer)
    assets.append(Asset(GAS, "TRX", resources.balance_sun, TRX_DECIMALS))
    assets.append(Asset(ENERGY, "energy", resources.energy_left, 0))
    return assets


def tron_signer(network: NetworkContext, signer: Signer) -> TronSigner:
    """The worker's key as a TRON signer (a TRON key is a secp256k1 key held in memory)."""
    if not isinstance(signer, LocalSigner):
        raise ServiceConfigError(
            network.name, f"networks.{network.name}.keystore", "a TRON payer signs with a keystore"
        )
    return TronSigner(signer)


class TronPayer:
    """Pays the groups of one TRON network from its hot wallet (one per worker thread)."""

    def __init__(self, network: NetworkContext, signer: TronSigner) -> None:
        if signer.address != network.payer:
            raise ServiceConfigError(
                network.name,
                f"networks.{network.name}.keystore",
                f"holds the key of {signer.address}, not of the payer {network.payer}",
            )
        self.network = network
        self.signer = signer
        # disburseOrSkip whatever payout.toml's on_failure says: TRON has no per-row failure
        # prediction to exclude rows with, and a strict batch holding one row the token refuses
        # (a blacklisted recipient) would be refused at simulation on every retry, holding up
        # the group. Skipped on chain, the row is reported (payout.skipped), the rest is paid.
        self.settings = TronSendSettings(mode=PayMode.SKIP)
        self._contexts: dict[str, TronContext] = {}

    def context(self, token: str) -> TronContext:
        """The pipeline's context for ``token`` (token facts read once per thread)."""
        ctx = self._contexts.get(token)
        if ctx is None:
            client = self.network.tron()
            ctx = self._contexts[token] = TronContext(
                client=client,
                node_url=self.network.config.url,
                chain_id=self.network.chain_id,
                token=token_info(client, token),
                disburser=self.network.disburser,
                payer=self.network.payer,
                prices=read_prices(client),
            )
        return ctx

    def pay(self, manifest: Manifest, token: str, ledger: Ledger, on_batch: BatchCallback) -> bool:
        """Settle the payer's open batches, then pay ``manifest``'s rows (write-ahead). True when
        a batch is left ``submitted``: neither settled nor provably expired (its transaction may
        still land), so the worker backs off before looking again."""
        ctx = replace(self.context(token), prices=read_prices(self.network.tron()))
        name = self.network.name

        def on_event(what: str, data: dict[str, Any]) -> None:
            event = BATCH_EVENTS.get(what)
            if event is None:
                return
            on_batch(
                event,
                {
                    "network": name,
                    "batch_id": data.get("batch_id"),
                    "tx_hash": data.get("txid"),
                    "count": data.get("count"),
                    "detail": data.get("error"),
                },
            )

        report = send_manifest(
            ctx,
            ledger,
            self.signer,
            manifest,
            settings=self.settings,
            on_event=on_event,
            command="payout serve",
            # Each flush is a run of about one batch: the payer's rolling replay word makes
            # consecutive flushes share one storage word (one SSTORE of a used slot).
            rolling_replay=True,
        )
        return any(r.status is BatchStatus.SUBMITTED for r in [*report.settled, *report.results])
