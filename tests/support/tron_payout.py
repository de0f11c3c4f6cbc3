"""A TRC-20 payout environment on the local TRON node: disburser + USDT-on-TRON mock, a funded payer
with an encrypted keystore, payout files, and a CLI runner (in-process or a real subprocess).

Each test gets a fresh chain (``tron_devnet`` starts in milliseconds), its own ledger and files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from tronpy import Tron

from payout._cli.main import cli
from payout.address import tron_to_evm
from payout.signer import write_keystore
from payout.tron.client import connect
from payout.tron.deploy import (
    TronDeployment,
    deploy_contract,
    deploy_disburser,
    deploy_usdt_mock,
    mint,
)
from payout.tron.devnet import TronDevnet
from payout.tron.signer import TronSigner
from payout.tron.token import balance_of
from payout.tron.transaction import send_call
from support.tron_node import probe_artifact

PASSWORD = "tron test password"
#: TRON USDT's dynamic energy factor (x4.4).
USDT_FACTOR = 34_000
REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT = 120


def key_of(label: str) -> bytes:
    return keccak(f"tron test key {label}".encode())


def signer_of(label: str) -> TronSigner:
    return TronSigner.from_private_key(key_of(label))


def keystore_for(directory: Path, label: str, key: bytes | None = None) -> Path:
    path = directory / f"{label}.json"
    if not path.exists():
        # A low scrypt work factor keeps each unlock fast; only tests do this.
        write_keystore(path, key or key_of(label), PASSWORD, iterations=2**4)
    return path


@dataclass
class TronEnv:
    """One chain with the payer funded in TRX and tokens."""

    node: TronDevnet
    client: Tron
    payer: TronSigner
    payer_keystore: Path
    disburser: str
    token: str
    ledger_url: str
    workdir: Path

    def balance(self, address: str) -> int:
        return balance_of(self.client, self.token, address)

    def write_file(
        self,
        rows: Sequence[tuple[str, str, str]],
        name: str = "payouts.csv",
        header: str = "recipient,amount,id",
    ) -> Path:
        path = self.workdir / name
        path.write_text(header + "\n" + "".join(f"{r},{a},{i}\n" for r, a, i in rows))
        return path

    def env(self) -> dict[str, str]:
        return {
            "PAYOUT_TRON_NODE_URL": self.node.url,
            "PAYOUT_TRON_TOKEN": self.token,
            "PAYOUT_TRON_DISBURSER": self.disburser,
            "PAYOUT_LEDGER_URL": self.ledger_url,
            "PAYOUT_KEYSTORE_PASSWORD": PASSWORD,
        }

    def cli(self, *args: str, extra_env: dict[str, str] | None = None) -> Result:
        """``payout tron ...`` in-process."""
        env = {**self.env(), **(extra_env or {})}
        return CliRunner().invoke(cli, ["tron", *args], env=env, catch_exceptions=False)

    def run(
        self, *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``payout tron ...`` as a real subprocess (bounded by a timeout)."""
        env = {**os.environ, **self.env(), **(extra_env or {})}
        env.pop("PAYOUT_FAULT", None) if not (extra_env and "PAYOUT_FAULT" in extra_env) else None
        return subprocess.run(
            [sys.executable, "-m", "payout._cli.main", "tron", *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )


def recipients(n: int, seed: str) -> list[str]:
    return [signer_of(f"{seed}-{i}").address for i in range(n)]


def rows_for(addresses: Sequence[str], prefix: str = "inv") -> list[tuple[str, str, str]]:
    """Amounts 1.01, 1.02, ... (token units) with ids ``prefix-i``."""
    return [(a, f"1.{i + 1:02d}", f"{prefix}-{i}") for i, a in enumerate(addresses)]


def units(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 10**6 + int((frac + "000000")[:6])


@contextmanager
def _environment(
    workdir: Path, deploy_token: Callable[[Tron, TronSigner], TronDeployment]
) -> Iterator[TronEnv]:
    """A fresh node; the disburser and ``deploy_token``'s token (factor x4.4) deployed with
    tronpy; the payer (dev account 0) holds 1,000,000 tokens and an encrypted keystore."""
    with TronDevnet() as node:
        client = connect(node.url)
        payer = TronSigner.from_private_key(node.accounts[0].private_key)
        disburser = deploy_disburser(client, payer).address
        token = deploy_token(client, payer).address
        node.set_energy_factor(token, USDT_FACTOR)
        mint(client, payer, token, payer.address, 1_000_000 * 10**6)
        keystore = keystore_for(workdir, "payer", node.accounts[0].private_key)
        yield TronEnv(
            node=node,
            client=client,
            payer=payer,
            payer_keystore=keystore,
            disburser=disburser,
            token=token,
            ledger_url=f"sqlite:///{workdir / 'ledger.sqlite'}",
            workdir=workdir,
        )


@pytest.fixture
def tron_env(tmp_path: Path) -> Iterator[TronEnv]:
    """The payout environment with the shipped USDT-on-TRON mock."""
    with _environment(tmp_path, deploy_usdt_mock) as env:
        yield env


def deploy_recipient_blocking_usdt(client: Tron, signer: TronSigner) -> TronDeployment:
    """The test-only ``RecipientBlockingUSDT`` (tests/support/tron_contracts/Probe.sol): TRON
    USDT's behaviour plus ``blockRecipient(address)``."""
    artifact = probe_artifact()["RecipientBlockingUSDT"]
    return deploy_contract(
        client,
        signer,
        name="RecipientBlockingUSDT",
        init_code=bytes.fromhex(artifact["bytecode"]),
        abi=artifact["abi"],
    )


def block_recipient(env: TronEnv, recipient: str) -> None:
    """Make every transfer of the env's ``RecipientBlockingUSDT`` to ``recipient`` revert."""
    data = keccak(text="blockRecipient(address)")[:4] + abi_encode(
        ["address"], [tron_to_evm(recipient)]
    )
    send_call(env.client, env.payer, env.token, data, fee_limit_sun=100 * 1_000_000)


@pytest.fixture
def tron_blocking_env(tmp_path: Path) -> Iterator[TronEnv]:
    """The payout environment with ``RecipientBlockingUSDT`` (see :func:`block_recipient`)."""
    with _environment(tmp_path, deploy_recipient_blocking_usdt) as env:
        yield env


def parse_json(text: str) -> Any:
    return json.loads(text)
