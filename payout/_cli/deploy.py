"""``payout deploy``: deterministic (CREATE2) deployment of the disburser and its code check."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import (
    disburser_option,
    emit_json,
    json_option,
    open_signer,
    rpc_option,
    signer_options,
)


@click.command()
@rpc_option
@signer_options
@disburser_option
@click.option(
    "--registry",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("deployments.json"),
    show_default=True,
    help="Deployment registry file (chain id -> address, code hash, tx hash).",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Only verify that the code at the address is the shipped disburser (no signer needed).",
)
@click.option(
    "--export-standard-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the solc standard-JSON input for block-explorer verification. Alone (no "
    "--rpc-url use), nothing else happens.",
)
@click.option("--address-only", is_flag=True, help="Print the deterministic address and exit.")
@json_option
def deploy(
    rpc_url: str,
    keystore: Path | None,
    account_alias: str | None,
    disburser: str | None,
    registry: Path,
    check_only: bool,
    export_standard_json: Path | None,
    address_only: bool,
    as_json: bool,
) -> None:
    """Deploy the disburser through the CREATE2 deployer: the same address on every chain.

    Already deployed (by anyone) at that address: nothing is sent, the code is checked and the
    registry updated. Every payout command also refuses a disburser whose runtime code differs
    from the shipped artifact.
    """
    from payout import deployment as dep

    result: dict[str, object] = {"address": dep.disburser_address()}
    if address_only:
        _out(result, as_json, f"Disburser address on every chain: {result['address']}")
        return
    if export_standard_json is not None:
        exported = dep.write_standard_json(export_standard_json)
        result["standardJson"] = exported
        if not check_only and keystore is None and account_alias is None:
            text = (
                f"Wrote {export_standard_json} (compiler {exported['compilerVersion']}, "
                f"contract {exported['contract']}, no constructor arguments)."
            )
            _out(result, as_json, text)
            return
    from payout.chain import Chain

    chain = Chain(rpc_url)
    if check_only:
        address = dep.verify_disburser(chain, disburser)
        result.update({"chainId": chain.chain_id, "address": address, "verified": True})
        _out(
            result,
            as_json,
            f"OK: {address} on chain {chain.chain_id} runs the shipped disburser "
            f"(code hash 0x{dep.shipped_code().runtime_hash.hex()}).",
        )
        return
    from payout.wallet import Wallet

    wallet = Wallet(chain, open_signer(keystore, account_alias))
    deployment = dep.deploy_disburser(chain, wallet)
    dep.record_deployment(registry, deployment)
    result.update(
        {
            "chainId": deployment.chain_id,
            "address": deployment.address,
            "codeHash": deployment.code_hash,
            "txHash": deployment.tx_hash,
            "blockNumber": deployment.block_number,
            "deployedNow": deployment.deployed_now,
            "registry": str(registry),
        }
    )
    if deployment.deployed_now:
        text = (
            f"Deployed the disburser at {deployment.address} on chain {deployment.chain_id} "
            f"(tx {deployment.tx_hash}, block {deployment.block_number}); recorded in {registry}."
        )
    else:
        text = (
            f"The disburser is already at {deployment.address} on chain {deployment.chain_id} "
            f"with the shipped code; nothing sent; recorded in {registry}."
        )
    _out(result, as_json, text)


def _out(result: dict[str, object], as_json: bool, text: str) -> None:
    if as_json:
        emit_json(result)
    else:
        click.echo(text)
