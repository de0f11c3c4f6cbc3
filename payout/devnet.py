"""A throw-away local EVM chain (anvil) for the demo, benchmarks and tests.

The anvil binary is looked up in this order: the repository's ``tools/bin/anvil`` wrapper (which
adds ``--enable-tx-gas-limit``), ``node_modules/.bin/anvil`` and then ``PATH``. Whatever binary is
found, the EIP-7825 per-transaction gas cap (16,777,216) is always enforced, as on mainnet.

Usage::

    with start_anvil() as devnet:
        chain = Chain(devnet.url)
        ...
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from payout.exceptions import AnvilNotFound as AnvilNotFound
from payout.exceptions import DevnetStartError as DevnetStartError

#: anvil's well-known development mnemonic: public test keys, never for a real chain.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
_REPO_ROOT = Path(__file__).resolve().parent.parent


def find_anvil() -> tuple[list[str], bool]:
    """Return the command that runs anvil and whether it already adds the gas-cap flag."""
    wrapper = _REPO_ROOT / "tools" / "bin" / "anvil"
    if wrapper.is_file() and os.access(wrapper, os.X_OK):
        return [str(wrapper)], True
    local = _REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if local.is_file() and os.access(local, os.X_OK):
        return [str(local)], False
    found = shutil.which("anvil")
    if found is None:
        raise AnvilNotFound()
    # A wrapper named anvil on PATH (tools/bin in the Makefile's PATH) already adds the flag.
    return [found], Path(found).resolve() == wrapper.resolve()


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_private_key(index: int) -> bytes:
    """The private key of anvil's development account ``index`` (public test key)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return bytes(acct.key)


@dataclass
class Devnet:
    """A running anvil process. Stop it with :meth:`stop` or use it as a context manager."""

    url: str
    port: int
    chain_id: int
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate anvil and wait for it (killed if it does not exit within ``timeout``).

        The signal goes to anvil's own process group (it runs in a new session), so the npm
        wrapper and the real binary it spawns both stop.
        """
        if self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def __enter__(self) -> Devnet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=1.0) as resp:
            return b"result" in resp.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_anvil(
    *,
    port: int | None = None,
    chain_id: int = DEFAULT_CHAIN_ID,
    block_time: float | None = None,
    accounts: int = 10,
    balance_eth: int = 10_000,
    timeout: float = 30.0,
    log_path: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> Devnet:
    """Start anvil on ``port`` (a free one when None) and wait until it answers JSON-RPC.

    Blocks are mined per transaction unless ``block_time`` (seconds) is given. Raises
    :class:`DevnetStartError` when it does not answer within ``timeout`` seconds.
    """
    command, has_cap = find_anvil()
    chosen = port if port is not None else free_port()
    args = [
        *command,
        "--port",
        str(chosen),
        "--host",
        "127.0.0.1",
        "--chain-id",
        str(chain_id),
        "--accounts",
        str(accounts),
        "--balance",
        str(balance_eth),
        "--mnemonic",
        DEV_MNEMONIC,
    ]
    if not has_cap:
        args.append("--enable-tx-gas-limit")
    if block_time is not None:
        args += ["--block-time", str(block_time)]
    args += list(extra_args)
    log = open(log_path, "wb") if log_path is not None else None  # noqa: SIM115 - owned by the Popen
    try:
        process = subprocess.Popen(
            args,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal is handled by us, not anvil
        )
    finally:
        if log is not None:
            log.close()
    url = f"http://127.0.0.1:{chosen}"
    devnet = Devnet(url=url, port=chosen, chain_id=chain_id, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _answers(url):
            return devnet
        time.sleep(0.05)
    output = ""
    if log_path is not None:
        with contextlib.suppress(OSError):
            output = log_path.read_text(errors="replace")
    devnet.stop()
    raise DevnetStartError(chosen, timeout, output)
