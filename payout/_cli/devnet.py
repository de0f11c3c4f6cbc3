"""``payout devnet``: local chains for trying the toolkit (never for real money)."""

from __future__ import annotations

import click

from payout._cli.options import emit_json, json_option


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


# The TRON node lives in its own module (owned by the TRON devnet).
from payout._cli.tron_devnet import devnet_tron  # noqa: E402

devnet.add_command(devnet_tron)
