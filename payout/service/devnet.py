"""``payout serve --devnet``: a local anvil and a local TRON node, each with a token, the disburser
and a funded payer, and the payout.toml that serves both (everything under a work folder; the
chains stop with the server)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from payout.config import sqlite_url
from payout.demo import local_chain
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import dev_private_key
from payout.signer import LocalSigner, write_keystore
from payout.tron.client import connect
from payout.tron.demo import USDT_ENERGY_FACTOR
from payout.tron.deploy import deploy_disburser as deploy_tron_disburser
from payout.tron.deploy import deploy_usdt_mock
from payout.tron.deploy import mint as tron_mint
from payout.tron.devnet import TronDevnet
from payout.tron.signer import TronSigner, tron_address_of_evm
from payout.wallet import SendSettings, Wallet

#: The keystore password of the devnet payer lives only in this process's environment.
PASSWORD_ENV = "PAYOUT_DEVNET_KEYSTORE_PASSWORD"
FUNDS = 1_000_000
TRON_FUNDS_TRX = 10_000


@contextlib.contextmanager
def devnet_config(
    workdir: Path, on_step: Callable[[str], None] = lambda _t: None
) -> Iterator[Path]:
    """Start anvil and the local TRON node, deploy a token (USDC-like on anvil, USDT-on-TRON-like)
    and the disburser on each, fund a payer on each, write ``workdir/payout.toml`` (networks
    ``devnet`` and ``tron``); both nodes stop when the block exits."""
    with local_chain(workdir, on_step) as (node, chain), _tron_devnet(on_step) as tron:
        settings = SendSettings(poll_interval=0.05)
        deployer = Wallet(chain, LocalSigner(dev_private_key(0), label="dev 0"), settings)
        disburser = deploy_disburser(chain, deployer).address
        token = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
        password = secrets.token_urlsafe(16)
        os.environ[PASSWORD_ENV] = password
        keystore = workdir / "payer.json"
        keystore.unlink(missing_ok=True)
        payer = write_keystore(keystore, secrets.token_bytes(32), password, iterations=2**12)
        chain.request("anvil_setBalance", [payer, hex(100 * 10**18)])
        mint(deployer, token, payer, FUNDS * 10**6)
        on_step(f"token USDC at {token}, disburser at {disburser}, payer {payer} (1,000,000 USDC)")
        config = workdir / "payout.toml"
        config.write_text(
            f"""[service]
ledger = "{sqlite_url(workdir / "ledger.sqlite")}"
flush_seconds = 2
flush_rows = 500

[networks.devnet]
kind = "evm"
rpc_url = "{node.url}"
executor = "wallet"
keystore = "{keystore}"
password_env = "{PASSWORD_ENV}"
disburser = "{disburser}"
[networks.devnet.tokens.USDC]
address = "{token}"
decimals = 6
[networks.devnet.alerts]
USDC = "1000"
gas = "1"
"""
            + _tron_network(tron, workdir, password, on_step)
        )
        yield config


@contextlib.contextmanager
def _tron_devnet(on_step: Callable[[str], None]) -> Iterator[TronDevnet]:
    """The in-process local TRON node (instant blocks), stopped when the block exits."""
    with TronDevnet(block_mode="instant") as node:
        on_step(f"local TRON node at {node.url}")
        yield node
    on_step("TRON node stopped")


def _tron_network(
    node: TronDevnet, workdir: Path, password: str, on_step: Callable[[str], None]
) -> str:
    """Deploy the disburser and a USDT-on-TRON-like token (TRON USDT's energy factor), fund a
    fresh payer with TRX and tokens; returns its ``[networks.tron]`` table."""
    client = connect(node.url)
    deployer = TronSigner.from_private_key(node.accounts[0].private_key, label="tron dev 0")
    disburser = deploy_tron_disburser(client, deployer).address
    token = deploy_usdt_mock(client, deployer).address
    node.set_energy_factor(token, USDT_ENERGY_FACTOR)
    keystore = workdir / "tron-payer.json"
    keystore.unlink(missing_ok=True)
    payer = tron_address_of_evm(
        write_keystore(keystore, secrets.token_bytes(32), password, iterations=2**12)
    )
    node.faucet(payer, TRON_FUNDS_TRX * 10**6)
    tron_mint(client, deployer, token, payer, FUNDS * 10**6)
    on_step(
        f"TRON: token USDT at {token}, disburser at {disburser}, payer {payer} "
        f"(1,000,000 USDT, {TRON_FUNDS_TRX:,} TRX)"
    )
    return f"""
[networks.tron]
kind = "tron"
node_url = "{node.url}"
executor = "tron"
keystore = "{keystore}"
password_env = "{PASSWORD_ENV}"
disburser = "{disburser}"
[networks.tron.tokens.USDT]
address = "{token}"
decimals = 6
[networks.tron.alerts]
USDT = "1000"
gas = "100"
"""
