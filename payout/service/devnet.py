"""``payout serve --devnet``: a local anvil with a token, the disburser and a funded payer, and the
payout.toml that serves it (everything under a work folder; the chain stops with the server)."""

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
from payout.wallet import SendSettings, Wallet

#: The keystore password of the devnet payer lives only in this process's environment.
PASSWORD_ENV = "PAYOUT_DEVNET_KEYSTORE_PASSWORD"
FUNDS = 1_000_000


@contextlib.contextmanager
def devnet_config(
    workdir: Path, on_step: Callable[[str], None] = lambda _t: None
) -> Iterator[Path]:
    """Start anvil, deploy a USDC-like token and the disburser, fund a payer, write
    ``workdir/payout.toml`` (network ``devnet``); anvil stops when the block exits."""
    with local_chain(workdir, on_step) as (node, chain):
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
        )
        yield config
