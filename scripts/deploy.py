"""Deploy the disburser with ape: ``ape run deploy --network ethereum:sepolia:node --account A``.

Same deterministic CREATE2 deployment as ``payout deploy`` (the address is the same on every
chain); updates the registry file and can export the standard-JSON input for explorers. On a local
network, ``--account TEST::0`` uses ape's first test account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option

from payout.chain import Chain
from payout.deployment import deploy_disburser, record_deployment, write_standard_json
from payout.signer import ApeAccountSigner
from payout.wallet import Wallet


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option(
    "--registry",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("deployments.json"),
    show_default=True,
)
@click.option(
    "--export-standard-json", type=click.Path(dir_okay=False, path_type=Path), default=None
)
def cli(provider: Any, account: Any, registry: Path, export_standard_json: Path | None) -> None:
    """Deploy (or find) the disburser at its CREATE2 address and record it."""
    url = getattr(provider, "http_uri", None) or provider.uri
    chain = Chain(str(url))
    wallet = Wallet(chain, ApeAccountSigner(account, str(getattr(account, "alias", account))))
    deployment = deploy_disburser(chain, wallet)
    record_deployment(registry, deployment)
    action = "deployed" if deployment.deployed_now else "already deployed (nothing sent)"
    click.echo(
        f"Disburser {action} at {deployment.address} on chain {deployment.chain_id}"
        + (f", tx {deployment.tx_hash}" if deployment.tx_hash else "")
        + f"; recorded in {registry}"
    )
    if export_standard_json is not None:
        info = write_standard_json(export_standard_json)
        click.echo(f"Standard-JSON input for verification: {info['path']} ({info['contract']})")
