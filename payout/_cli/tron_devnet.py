"""``payout devnet tron``: the local TRON node in the foreground (development only)."""

from __future__ import annotations

from decimal import Decimal

import click

from payout._cli.options import emit_json, json_option

SUN_PER_TRX = 1_000_000


@click.command("tron")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8090,
    show_default=True,
    help="HTTP port (8090 is java-tron's; 0 picks a free one).",
)
@click.option(
    "--blocks",
    "block_mode",
    type=click.Choice(["interval", "instant"]),
    default="interval",
    show_default=True,
    help="interval: a block every 3 s like mainnet; instant: a block per transaction.",
)
@click.option(
    "--accounts",
    type=click.IntRange(0, 100),
    default=10,
    show_default=True,
    help="Pre-funded development accounts.",
)
@click.option(
    "--show-keys",
    is_flag=True,
    help="Also print the development accounts' private keys (public, well-known test keys).",
)
@json_option
def devnet_tron(
    host: str, port: int, block_mode: str, accounts: int, show_keys: bool, as_json: bool
) -> None:
    """A local TRON full node (java-tron HTTP API) for tronpy, tests and demos.

    Transactions are checked and executed like on mainnet (signatures and permissions, TaPoS,
    expiration, energy and bandwidth fees); docs/tron-node.md lists where it differs. Extra
    endpoints: devnet/faucet {"address", "amount"}, devnet/mine, devnet/increasetime {"ms"},
    devnet/setenergyfactor {"contract_address", "energy_factor"}. Ctrl-C stops it.
    """
    import signal
    import threading

    from payout.tron.devnet import TronDevnet

    node = TronDevnet(host=host, port=port, block_mode=block_mode, dev_accounts=accounts)
    url = node.start()
    balance = node.balance(node.accounts[0].address) if node.accounts else 0
    rows = [
        {"address": a.base58, **({"private_key": a.private_key_hex} if show_keys else {})}
        for a in node.accounts
    ]
    if as_json:
        emit_json(
            {
                "url": url,
                "blocks": block_mode,
                "balance_sun": balance,
                "accounts": rows,
                "dev_only": True,
            }
        )
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        console.print(
            f"TRON devnet is running at [bold]{url}[/] ({block_mode} blocks); Ctrl-C stops it."
        )
        table = Table(title=f"Development accounts ({Decimal(balance) / SUN_PER_TRX:,} TRX each)")
        table.add_column("#", justify="right")
        table.add_column("address")
        if show_keys:
            table.add_column("private key (public test key)")
        for index, row in enumerate(rows):
            table.add_row(str(index), *row.values())
        console.print(table)
        console.print(
            "[yellow]DEV ONLY:[/] these keys are derived from a public seed and known to anyone; "
            "never send real funds to them."
            + ("" if show_keys else " Keys: --show-keys, or payout.tron.devnet.dev_account(i).")
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
