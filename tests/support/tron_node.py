"""The local TRON node for tests: in-process fixtures and a subprocess launcher with a deadline.

Import the fixtures into a ``conftest.py`` (``from support.tron_node import tron_devnet, ...``)::

    def test_x(tron_devnet, tron_client, tron_dev_keys): ...

``tron_devnet`` is a fresh chain per test (instant blocks); starting one takes milliseconds.
``spawn_devnet_process`` runs ``payout devnet tron`` as a real process and waits (bounded) until the
node answers, for tests of the CLI itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tronpy import Tron
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider

from payout.tron.devnet import TronDevnet

REPO = Path(__file__).resolve().parents[2]
PROBE_ARTIFACT = Path(__file__).resolve().parent / "tron_contracts" / "Probe.json"
START_TIMEOUT_S = 30.0


@pytest.fixture
def tron_devnet() -> Iterator[TronDevnet]:
    """A fresh local TRON node (instant blocks) with ten funded development accounts."""
    with TronDevnet() as node:
        yield node


@pytest.fixture
def tron_client(tron_devnet: TronDevnet) -> Tron:
    """A tronpy client talking HTTP to ``tron_devnet``."""
    return Tron(HTTPProvider(tron_devnet.url, timeout=30))


@pytest.fixture
def tron_dev_keys(tron_devnet: TronDevnet) -> list[PrivateKey]:
    """tronpy keys of the node's funded development accounts (public test keys)."""
    return [PrivateKey(account.private_key) for account in tron_devnet.accounts]


def probe_artifact() -> dict[str, Any]:
    """ABI and creation bytecode of the ``Probe`` / ``Child`` test contracts."""
    data: dict[str, Any] = json.loads(PROBE_ARTIFACT.read_text())
    return data


def post(url: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST JSON to the node and return its JSON answer (no tronpy in between)."""
    request = urllib.request.Request(
        f"{url}/{path}",
        data=json.dumps(payload or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply: dict[str, Any] = json.loads(response.read())
        return reply


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_node(url: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
    """Poll ``wallet/getnodeinfo`` until the node answers; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return post(url, "wallet/getnodeinfo")
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise TimeoutError(f"TRON devnet at {url} did not answer within {timeout:.0f} s: {last}")


@dataclass
class DevnetProcess:
    url: str
    process: subprocess.Popen[str]

    def output(self) -> str:
        """Everything the process printed (call after it stopped)."""
        out, _ = self.process.communicate(timeout=10)
        return out


@contextmanager
def spawn_devnet_process(*args: str, timeout: float = START_TIMEOUT_S) -> Iterator[DevnetProcess]:
    """Run ``payout devnet tron --port <free> [args]`` and yield once it answers; stop it after."""
    port = free_port()
    command = [sys.executable, "-m", "payout._cli.main", "devnet", "tron", "--port", str(port)]
    process = subprocess.Popen(
        [*command, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_node(url, timeout)
        except TimeoutError:
            process.kill()
            out, _ = process.communicate(timeout=10)
            raise TimeoutError(f"payout devnet tron did not start:\n{out}") from None
        yield DevnetProcess(url, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def deploy_probe(
    client: Tron, key: PrivateKey, initial: int = 7, fee_limit: int = 1_000_000_000
) -> tuple[Any, dict[str, Any]]:
    """Deploy the ``Probe`` test contract with tronpy; returns (contract, transaction info)."""
    from tronpy.abi import trx_abi
    from tronpy.contract import Contract

    artifact = probe_artifact()["Probe"]
    constructor_args = trx_abi.encode_single("(uint256)", [initial]).hex()
    contract = Contract(
        name="Probe", bytecode=artifact["bytecode"] + constructor_args, abi=artifact["abi"]
    )
    owner = key.public_key.to_base58check_address()
    txn = client.trx.deploy_contract(owner, contract).fee_limit(fee_limit).build().sign(key)
    info = txn.broadcast().wait()
    return client.get_contract(info["contract_address"]), info
