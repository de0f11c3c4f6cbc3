"""Start and stop a local TRON node: :class:`TronDevnet`.

Usage::

    with TronDevnet() as node:              # instant blocks: every broadcast is mined at once
        client = Tron(HTTPProvider(node.url))
        node.faucet(address, 5_000 * 1_000_000)
        ...

``block_mode="interval"`` produces a block every 3 s instead (for demos). The node runs in-process
on a background thread; ``port=0`` picks a free port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from types import TracebackType

from eth_utils.crypto import keccak

from payout.exceptions import TronDevnetError
from payout.tron.devnet.address import address_of_private_key, parse_address, to_base58
from payout.tron.devnet.chain import Chain, ChainConfig, GenesisAccount
from payout.tron.devnet.server import make_server

SUN_PER_TRX = 1_000_000


def _dev_key(label: str) -> bytes:
    return keccak(f"payout tron devnet {label}".encode())


@dataclass(frozen=True)
class DevAccount:
    """A pre-funded development account. Its key is public: never use it on a real network."""

    private_key: bytes
    address: bytes  # 21 bytes

    @property
    def base58(self) -> str:
        return to_base58(self.address)

    @property
    def private_key_hex(self) -> str:
        return self.private_key.hex()


def dev_account(index: int) -> DevAccount:
    """The ``index``-th well-known development account (deterministic, publicly known key)."""
    key = _dev_key(f"account {index}")
    return DevAccount(key, address_of_private_key(key))


#: Keys of the block producer and of the faucet (both public, development only).
WITNESS_KEY = _dev_key("witness")
FAUCET_KEY = _dev_key("faucet")
DEFAULT_DEV_ACCOUNTS = 10
DEFAULT_DEV_BALANCE_SUN = 1_000_000 * SUN_PER_TRX
FAUCET_BALANCE_SUN = 100_000_000_000 * SUN_PER_TRX


class TronDevnet:
    """A local TRON full node (HTTP API on ``url``) for tests, development and demos."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        block_mode: str = "instant",
        dev_accounts: int = DEFAULT_DEV_ACCOUNTS,
        dev_balance_sun: int = DEFAULT_DEV_BALANCE_SUN,
        config: ChainConfig | None = None,
    ) -> None:
        if block_mode not in ("instant", "interval"):
            raise TronDevnetError(f"block mode must be 'instant' or 'interval', not {block_mode!r}")
        self.host = host
        self.port = port
        self.block_mode = block_mode
        self.accounts = [dev_account(i) for i in range(dev_accounts)]
        self._dev_balance_sun = dev_balance_sun
        self._config = config or ChainConfig()
        self._chain: Chain | None = None
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Create the genesis block, start serving and return the node's URL."""
        if self._server is not None:
            return self.url
        genesis = [GenesisAccount(address_of_private_key(FAUCET_KEY), FAUCET_BALANCE_SUN)]
        genesis += [GenesisAccount(a.address, self._dev_balance_sun) for a in self.accounts]
        self._chain = Chain(
            genesis=genesis,
            witness_key=WITNESS_KEY,
            faucet_key=FAUCET_KEY,
            config=self._config,
            instant=self.block_mode == "instant",
        )
        try:
            self._server = make_server(self._chain, self.host, self.port)
        except OSError as exc:
            self._chain = None
            raise TronDevnetError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = int(self._server.server_address[1])
        self._stopping.clear()
        serve = threading.Thread(
            target=self._server.serve_forever, name="tron-devnet-http", daemon=True
        )
        serve.start()
        self._threads = [serve]
        if self.block_mode == "interval":
            producer = threading.Thread(
                target=self._produce, name="tron-devnet-blocks", daemon=True
            )
            producer.start()
            self._threads.append(producer)
        return self.url

    def _produce(self) -> None:
        interval = self._config.block_interval_ms / 1000
        while not self._stopping.wait(interval):
            self.chain.seal_block()

    def stop(self) -> None:
        """Stop serving and producing blocks (the chain's data is kept until the object goes)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def __enter__(self) -> TronDevnet:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- access ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` of the running node."""
        if self._server is None:
            raise TronDevnetError("the node is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def chain(self) -> Chain:
        """The in-process chain (for assertions and development shortcuts)."""
        if self._chain is None:
            raise TronDevnetError("the node is not running; call start() first")
        return self._chain

    # --- development helpers ---------------------------------------------------------------------

    def faucet(self, address: str | bytes, amount_sun: int) -> str:
        """Send TRX from the genesis faucet (a signed TransferContract); returns the txID."""
        return self.chain.faucet(parse_address(address), amount_sun)

    def balance(self, address: str | bytes) -> int:
        """TRX balance in sun."""
        return self.chain.balance(parse_address(address))

    def set_energy_factor(self, contract: str | bytes, energy_factor: int) -> None:
        """Set a contract's dynamic energy factor (1/10,000 units; 34,000 = x4.4 like TRON USDT)."""
        self.chain.set_energy_factor(parse_address(contract), energy_factor)

    def stake(self, address: str | bytes, *, energy_sun: int = 0, bandwidth_sun: int = 0) -> None:
        """Give an account staked TRX for energy / bandwidth without a transaction."""
        self.chain.stake(parse_address(address), energy_sun=energy_sun, bandwidth_sun=bandwidth_sun)

    def mine(self, blocks: int = 1) -> int:
        """Produce blocks; returns the new head number."""
        return self.chain.mine(blocks).number

    def advance_time(self, ms: int) -> int:
        """Move the node's clock forward and produce a block there; returns its timestamp."""
        return self.chain.advance_time(ms).timestamp
