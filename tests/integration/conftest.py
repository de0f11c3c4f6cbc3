"""Integration tests: the ``payout`` CLI in-process (CliRunner) and as a real subprocess, on one
anvil per session (started with :mod:`payout.devnet`, the way the demo does it).

Each test gets a fresh token and its own ledger, so tests never see each other's payouts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eth_utils.crypto import keccak

from payout._cli.main import cli
from payout.chain import Chain
from payout.demo import demo_recipients
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import Devnet, dev_private_key, start_anvil
from payout.signer import LocalSigner, write_keystore
from payout.wallet import SendSettings, Wallet

PASSWORD = "correct horse battery staple"
FAST = SendSettings(poll_interval=0.02, receipt_timeout=60)
PAYOUT_BIN = str(Path(sys.executable).parent / "payout")
#: A subprocess that hangs is a failure, not a stuck suite.
SUBPROCESS_TIMEOUT = 120


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    with start_anvil(accounts=20, log_path=log) as devnet:
        yield devnet


@pytest.fixture(scope="session")
def chain(node: Devnet) -> Chain:
    return Chain(node.url)


@pytest.fixture(scope="session")
def disburser(chain: Chain) -> str:
    return deploy_disburser(chain, Wallet(chain, LocalSigner(dev_private_key(0)), FAST)).address


@pytest.fixture(scope="session")
def deployer(chain: Chain) -> Wallet:
    return Wallet(chain, LocalSigner(dev_private_key(0)), FAST)


_next_payer = iter(range(1, 1_000_000))


@dataclass
class Payer:
    """A payer with 100 ETH for gas and an encrypted keystore file."""

    index: int
    address: str
    keystore: Path
    key: bytes

    @property
    def signer(self) -> LocalSigner:
        return LocalSigner(self.key)


@pytest.fixture(scope="session")
def keystores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


def make_payer(chain: Chain, keystores: Path, *, eth: int = 100) -> Payer:
    """A fresh key (no other test uses it: clean nonce and balances) funded with ``eth`` ETH."""
    index = next(_next_payer)
    key = keccak(text=f"integration-payer/{index}")
    path = keystores / f"payer-{index}.json"
    # A low scrypt work factor keeps each subprocess's unlock fast; only tests do this.
    address = write_keystore(path, key, PASSWORD, iterations=2**4)
    if eth:
        chain.request("anvil_setBalance", [address, hex(eth * 10**18)])
    return Payer(index, address, path, key)


@pytest.fixture
def payer(chain: Chain, keystores: Path) -> Payer:
    return make_payer(chain, keystores)


@pytest.fixture
def env(
    node: Devnet, disburser: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment of a CLI run: this session's chain, a per-test ledger, the keystore password."""
    values = {
        "PAYOUT_RPC_URL": node.url,
        "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "PAYOUT_KEYSTORE_PASSWORD": PASSWORD,
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PAYOUT_FAULT", raising=False)
    return values


@pytest.fixture
def usdc(chain: Chain, deployer: Wallet, payer: Payer) -> str:
    """A fresh DemoUSDC; the test's payer holds 1,000,000 of it."""
    token = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
    mint(deployer, token, payer.address, 1_000_000 * 10**6)
    return token


@pytest.fixture
def usdt(chain: Chain, deployer: Wallet, payer: Payer) -> str:
    """A fresh DemoUSDT (approve from non-zero reverts); the payer holds 1,000,000."""
    token = deploy_token(deployer, DemoToken.USDT, "Demo Tether USD", "USDT")
    mint(deployer, token, payer.address, 1_000_000 * 10**6)
    return token


def write_csv(
    path: Path, rows: Sequence[tuple[str, str, str]], header: str = "recipient,amount,id"
) -> Path:
    path.write_text(header + "\n" + "".join(f"{r},{a},{i}\n" for r, a, i in rows))
    return path


@pytest.fixture
def payout_file(tmp_path: Path) -> Callable[..., tuple[Path, list[tuple[str, str, str]]]]:
    """``make(n, start=0, seed=...)``: a CSV of n fresh recipients (amounts 1.01, 1.02, ...)."""

    def make(
        n: int, start: int = 0, seed: str = "t", name: str = "payouts.csv"
    ) -> tuple[Path, list[tuple[str, str, str]]]:
        recipients = demo_recipients(start + n, seed=f"{tmp_path}/{seed}")[start:]
        rows = [
            (r, f"{1 + (start + i + 1) / 100:.2f}", f"id-{start + i}")
            for i, r in enumerate(recipients)
        ]
        return write_csv(tmp_path / name, rows), rows

    return make


def delete_ledger(env: dict[str, str]) -> None:
    """Lose the SQLite ledger of ``env`` (with its WAL files), as a deleted disk or directory."""
    path = Path(env["PAYOUT_LEDGER_URL"].split(":///", 1)[1])
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def base_units(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 10**6 + int((frac + "000000")[:6])


def invoke(*args: str, input: str | None = None) -> Result:
    """The CLI in-process (environment from the ``env`` fixture)."""
    return CliRunner(mix_stderr=False).invoke(cli, list(args), input=input, catch_exceptions=False)


def run(
    *args: str,
    env: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``payout ARGS`` as a real subprocess (time-limited)."""
    full = dict(os.environ)
    if env:
        full.update(env)
    if extra_env:
        full.update(extra_env)
    return subprocess.run(
        [PAYOUT_BIN, *args],
        env=full,
        input=input,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


def as_json(text: str) -> Any:
    return json.loads(text)


def send(
    env: dict[str, str],
    payer: Payer,
    token: str,
    file: Path,
    *extra: str,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``payout send FILE --token TOKEN --keystore PAYER --yes [EXTRA]`` as a real subprocess."""
    args = ("send", str(file), "--token", token, "--keystore", str(payer.keystore), "--yes")
    return run(*args, *extra, env=env, extra_env=extra_env)


@pytest.fixture
def paid(
    env: dict[str, str],
    payer: Payer,
    usdc: str,
    payout_file: Callable[..., tuple[Path, list[tuple[str, str, str]]]],
) -> list[tuple[str, str, str]]:
    """15 rows paid in USDC by ``payout send`` in two batches (8 + 7); returns the rows."""
    file, rows = payout_file(15)
    proc = send(env, payer, usdc, file, "--max-batch-size", "8")
    assert proc.returncode == 0, proc.stderr
    return rows
