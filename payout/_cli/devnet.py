"""``payout devnet``: local chains for trying the toolkit (never for real money)."""

from __future__ import annotations

from typing import Any

import click

from payout._cli.options import ADDRESS, emit_json, eth, json_option, rpc_option
from payout._cli.options import units as units_text


@click.group()
def devnet() -> None:
    """Start a local chain in the foreground (Ctrl-C stops it)."""


@devnet.command("evm")
@click.option("--port", type=click.IntRange(1, 65535), default=8545, show_default=True)
@click.option("--chain-id", type=click.IntRange(min=1), default=31337, show_default=True)
@click.option(
    "--block-time",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between blocks (default: a block per transaction).",
)
@json_option
def devnet_evm(port: int, chain_id: int, block_time: float | None, as_json: bool) -> None:
    """anvil with the 16,777,216 per-transaction gas cap and the well-known test accounts.

    The CREATE2 deployer is pre-deployed, so `payout deploy` works right away.
    """
    import signal
    import threading

    from payout.devnet import start_anvil

    node = start_anvil(port=port, chain_id=chain_id, block_time=block_time)
    info = {"url": node.url, "chain_id": node.chain_id, "pid": node.process.pid}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"anvil is running at {node.url} (chain id {node.chain_id}); Ctrl-C stops it.")
        click.echo(
            "Test accounts use the public mnemonic 'test test ... junk': never send real funds."
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while node.running and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()


#: Chain ids of local development chains (anvil, hardhat, ganache): the only ones these touch.
LOCAL_CHAIN_IDS = (31337, 1337)


def _local_chain(rpc_url: str) -> Any:
    from payout.chain import Chain
    from payout.exceptions import ConfigError

    chain = Chain(rpc_url)
    if chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(
            f"chain {chain.chain_id} at {rpc_url} is not a local development chain",
            hint="`payout devnet token` and `payout devnet fund` only work on anvil "
            "(start one with `payout devnet evm`); pass its URL with --rpc-url.",
        )
    return chain


def _dev_wallet(chain: Any) -> Any:
    from payout.devnet import dev_private_key
    from payout.signer import LocalSigner
    from payout.wallet import SendSettings, Wallet

    settings = SendSettings(poll_interval=0.05, receipt_timeout=60)
    return Wallet(chain, LocalSigner(dev_private_key(0), label="anvil account 0"), settings)


@devnet.command("token")
@rpc_option
@click.option(
    "--kind",
    type=click.Choice(["usdc", "usdt"]),
    default="usdc",
    show_default=True,
    help="usdc: 6 decimals with an issuer blacklist; usdt: Ethereum USDT's quirks (no return "
    "values, approve from non-zero to non-zero reverts).",
)
@json_option
def devnet_token(rpc_url: str, kind: str, as_json: bool) -> None:
    """Deploy a USDC- or USDT-like test token on a LOCAL anvil chain (anyone may mint it).

    Then give it to the payer or the Safe with `payout devnet fund ADDRESS --token TOKEN`.
    """
    from payout.demo_token import DemoToken, deploy_token

    chain = _local_chain(rpc_url)
    symbol = kind.upper()
    token_kind = DemoToken.USDC if kind == "usdc" else DemoToken.USDT
    address = deploy_token(_dev_wallet(chain), token_kind, f"Demo {symbol}", symbol)
    if as_json:
        emit_json({"token": address, "symbol": symbol, "decimals": 6, "chain_id": chain.chain_id})
        return
    click.echo(f"Test token {symbol} (6 decimals) deployed at {address} on chain {chain.chain_id}.")
    click.echo(f"Fund an account: payout devnet fund ADDRESS --token {address} --amount 100000")


@devnet.command("fund")
@click.argument("addresses", type=ADDRESS, nargs=-1, required=True)
@rpc_option
@click.option(
    "--eth",
    "eth_amount",
    default="100",
    show_default=True,
    help="Set each account's ETH balance to at least this much (for gas); 0 leaves it.",
)
@click.option("--token", type=ADDRESS, default=None, help="Test token to mint (`devnet token`).")
@click.option(
    "--amount",
    default=None,
    help="Token amount to mint to each account, in token units (e.g. 100000 or 12.5).",
)
@json_option
def devnet_fund(
    addresses: tuple[str, ...],
    rpc_url: str,
    eth_amount: str,
    token: str | None,
    amount: str | None,
    as_json: bool,
) -> None:
    """Give accounts (a new keystore's address, a Safe) test ETH and test tokens on LOCAL anvil.

    \b
    payout devnet fund $(payout keys address payer.json) --token TOKEN --amount 100000
    """
    from payout.amount import parse_amount
    from payout.demo_token import mint
    from payout.exceptions import InputError

    if (token is None) != (amount is None):
        raise InputError(
            "--token and --amount go together",
            hint="pass both to mint a test token (`payout devnet token` deploys one), or neither "
            "to send only ETH",
        )
    chain = _local_chain(rpc_url)
    wei = 0 if eth_amount.strip() == "0" else parse_amount(eth_amount, 18, max_units=2**256 - 1)
    info = chain.token(token) if token is not None else None
    units = parse_amount(amount, info.decimals, symbol=info.symbol) if info and amount else 0
    wallet = _dev_wallet(chain) if info is not None else None
    funded = []
    for address in addresses:
        if wei and chain.native_balance(address) < wei:
            chain.request("anvil_setBalance", [address, hex(wei)])
        if wallet is not None and info is not None:
            mint(wallet, info.address, address, units)
        funded.append(
            {
                "address": address,
                "eth_wei": str(chain.native_balance(address)),
                **(
                    {
                        "token": info.address,
                        "balance": str(chain.token_balance(info.address, address)),
                    }
                    if info is not None
                    else {}
                ),
            }
        )
    if as_json:
        emit_json({"chain_id": chain.chain_id, "accounts": funded})
        return
    for row in funded:
        line = f"{row['address']}: {eth(int(row['eth_wei']))} ETH"
        if info is not None:
            line += f", {units_text(int(row['balance']), info.decimals)} {info.symbol}"
        click.echo(line)


# --- TRON: test token and funding on the local TRON node ------------------------------------------

SUN_PER_TRX = 1_000_000

tron_node_url_option = click.option(
    "--node",
    "node_url",
    envvar="PAYOUT_TRON_NODE_URL",
    default="http://127.0.0.1:8090",
    show_default=True,
    help="The local TRON node started by `payout devnet tron` (env PAYOUT_TRON_NODE_URL).",
)


def _local_tron(node_url: str) -> Any:
    from payout.exceptions import ConfigError
    from payout.tron.client import connect

    client = connect(node_url)
    try:
        info = client.provider.make_request("devnet/info", {})
    except Exception as exc:  # a real node answers 404 / non-JSON: not ours to fund
        raise ConfigError(
            f"{node_url} is not the local TRON node (no devnet/info endpoint)",
            hint="start one with `payout devnet tron` and pass its URL with --node; on real "
            "networks buy TRX and use the real token",
        ) from exc
    if not isinstance(info, dict):
        raise ConfigError(
            f"{node_url} is not the local TRON node",
            hint="start one with `payout devnet tron` and pass its URL with --node",
        )
    return client


def _tron_dev_signer() -> Any:
    from payout.tron.devnet import dev_account
    from payout.tron.signer import TronSigner

    return TronSigner.from_private_key(dev_account(0).private_key, label="TRON dev account 0")


@devnet.command("tron-token")
@tron_node_url_option
@json_option
def devnet_tron_token(node_url: str, as_json: bool) -> None:
    """Deploy a USDT-on-TRON-like test token (6 decimals, anyone may mint) on the LOCAL TRON node.

    Then give it to the payer with `payout devnet tron-fund T... --token TOKEN --amount 100000`.
    """
    from payout.tron.deploy import deploy_usdt_mock

    client = _local_tron(node_url)
    token = deploy_usdt_mock(client, _tron_dev_signer())
    if as_json:
        emit_json({"token": token.address, "decimals": 6, "chain_id": token.chain_id})
        return
    click.echo(f"Test token USDT (6 decimals, TRON USDT's quirks) deployed at {token.address}.")
    click.echo(
        f"Fund an account: payout devnet tron-fund T... --token {token.address} --amount 100000"
    )


@devnet.command("tron-fund")
@click.argument("addresses", nargs=-1, required=True)
@tron_node_url_option
@click.option(
    "--trx",
    "trx_amount",
    default="10000",
    show_default=True,
    help="TRX to send to each account from the node's faucet (fees, energy); 0 sends none.",
)
@click.option("--token", default=None, help="Test token to mint (`devnet tron-token`).")
@click.option(
    "--amount",
    default=None,
    help="Token amount to mint to each account, in token units (e.g. 100000 or 12.5).",
)
@json_option
def devnet_tron_fund(
    addresses: tuple[str, ...],
    node_url: str,
    trx_amount: str,
    token: str | None,
    amount: str | None,
    as_json: bool,
) -> None:
    """Give TRON accounts test TRX and test tokens on the LOCAL TRON node.

    A new key has no TRON account until it receives TRX (the node says "account does not exist").

    \b
    payout devnet tron-fund $(payout keys address --tron payer.json) --token T... --amount 100000
    """
    from payout.address import normalize_tron_address
    from payout.amount import parse_amount
    from payout.exceptions import InputError
    from payout.tron.deploy import mint
    from payout.tron.token import balance_of, token_info

    if (token is None) != (amount is None):
        raise InputError(
            "--token and --amount go together",
            hint="pass both to mint a test token (`payout devnet tron-token` deploys one), or "
            "neither to send only TRX",
        )
    targets = [normalize_tron_address(a) for a in addresses]
    client = _local_tron(node_url)
    sun = 0 if trx_amount.strip() == "0" else parse_amount(trx_amount, 6, max_units=2**63 - 1)
    info = token_info(client, normalize_tron_address(token)) if token is not None else None
    units = parse_amount(amount, info.decimals, symbol=info.symbol) if info and amount else 0
    signer = _tron_dev_signer() if info is not None else None
    funded = []
    for address in targets:
        if sun:
            client.provider.make_request("devnet/faucet", {"address": address, "amount": sun})
        if signer is not None and info is not None:
            mint(client, signer, info.address, address, units)
        sun_now = int(client.get_account(address).get("balance", 0))
        row: dict[str, Any] = {"address": address, "trx_sun": str(sun_now)}
        if info is not None:
            row["token"] = info.address
            row["balance"] = str(balance_of(client, info.address, address))
        funded.append(row)
    if as_json:
        emit_json({"accounts": funded})
        return
    for row in funded:
        line = f"{row['address']}: {units_text(int(row['trx_sun']), 6)} TRX"
        if info is not None:
            line += f", {units_text(int(row['balance']), info.decimals)} {info.symbol}"
        click.echo(line)


# The TRON node lives in its own module (owned by the TRON devnet).
from payout._cli.tron_devnet import devnet_tron  # noqa: E402

devnet.add_command(devnet_tron)
