"""The hot wallet against anvil: fees, a stuck transaction replaced with a fee bump, lost nonces,
a dead RPC endpoint."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from payout.chain import Chain
from payout.devnet import Devnet, dev_private_key, free_port, start_anvil
from payout.exceptions import NonceConsumed, RpcUnavailable
from payout.signer import LocalSigner
from payout.wallet import PreparedTx, SendSettings, Wallet

RECIPIENT = "0x000000000000000000000000000000000000bEEF"


@pytest.fixture
def manual_chain() -> Any:
    """An anvil that mines only when told to (``evm_mine``): transactions wait in the pool."""
    with start_anvil(extra_args=("--no-mining",)) as node:
        yield node


def _wait_until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_stuck_transaction_is_replaced_with_higher_fees(manual_chain: Devnet) -> None:
    chain = Chain(manual_chain.url)
    settings = SendSettings(replace_after=0.2, fee_bump_percent=25, poll_interval=0.02)
    wallet = Wallet(chain, LocalSigner(dev_private_key(1)), settings)
    signed: list[PreparedTx] = []
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["receipt"] = wallet.transact(
                RECIPIENT, b"", value=1, gas=21_000, label="pay", on_signed=signed.append
            )
        except Exception as exc:  # surfaced by the assertion below
            result["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    # The original and one replacement, which the node has accepted (it is recorded before it
    # is broadcast, so wait for the node to know it).
    _wait_until(lambda: any(chain.transaction(v.tx_hash) is not None for v in signed[1:]))
    chain.request("evm_mine", [])
    worker.join(timeout=30)
    assert "error" not in result, result.get("error")
    first, second = signed[0], signed[1]
    assert first.nonce == second.nonce
    assert second.fees.max_fee >= first.fees.max_fee * 125 // 100
    assert second.fees.max_priority_fee >= first.fees.max_priority_fee * 125 // 100
    receipt = result["receipt"]
    mined = receipt["transactionHash"]
    assert mined in {v.tx_hash for v in signed[1:]}
    assert chain.receipt(first.tx_hash) is None
    assert chain.native_balance(RECIPIENT) == 1


def test_nonce_taken_by_another_transaction_is_reported(manual_chain: Devnet) -> None:
    chain = Chain(manual_chain.url)
    settings = SendSettings(replace_after=3600, poll_interval=0.02, nonce_grace=0.3)
    ours = Wallet(chain, LocalSigner(dev_private_key(2)), settings)
    result: dict[str, Any] = {}
    signed: list[PreparedTx] = []

    def run() -> None:
        try:
            ours.transact(RECIPIENT, b"", value=5, gas=21_000, label="pay", on_signed=signed.append)
        except Exception as exc:
            result["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    _wait_until(lambda: bool(signed))
    # Another process with the same key (its own wallet: what it signs is not ours) replaces
    # our transaction in the pool (higher fee).
    elsewhere = Wallet(chain, LocalSigner(dev_private_key(2)), settings)
    other = elsewhere.prepare(
        RECIPIENT, b"", gas=21_000, nonce=signed[0].nonce, value=7, fees=signed[0].fees.bumped(50)
    )
    _wait_until(lambda: chain.transaction(signed[0].tx_hash) is not None)
    chain.send_raw(other.signed.raw)
    chain.request("evm_mine", [])
    worker.join(timeout=30)
    assert isinstance(result.get("error"), NonceConsumed)
    assert chain.native_balance(RECIPIENT) == 7


def test_dead_endpoint_is_a_clear_chain_error() -> None:
    chain = Chain(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(RpcUnavailable) as info:
        chain.block_number()
    assert "does not answer" in str(info.value)
    assert info.value.exit_code == 4


def test_node_dying_mid_run_is_a_clear_chain_error() -> None:
    node = start_anvil()
    chain = Chain(node.url, timeout=2)
    assert chain.block_number() == 0
    node.stop()
    assert not node.running
    with pytest.raises(RpcUnavailable):
        chain.fee_data()


def test_waits_for_the_configured_confirmations(manual_chain: Devnet) -> None:
    chain = Chain(manual_chain.url)
    settings = SendSettings(confirmations=3, replace_after=3600, poll_interval=0.02)
    wallet = Wallet(chain, LocalSigner(dev_private_key(3)), settings)
    signed: list[PreparedTx] = []
    result: dict[str, Any] = {}

    def run() -> None:
        result["receipt"] = wallet.transact(
            RECIPIENT, b"", value=2, gas=21_000, label="pay", on_signed=signed.append
        )
        result["head"] = chain.block_number()

    worker = threading.Thread(target=run)
    worker.start()
    _wait_until(lambda: bool(signed) and chain.transaction(signed[0].tx_hash) is not None)
    deadline = time.monotonic() + 20
    while worker.is_alive() and time.monotonic() < deadline:
        chain.request("evm_mine", [])  # one block at a time, until the wallet is satisfied
        worker.join(timeout=0.05)
    worker.join(timeout=5)
    assert not worker.is_alive()
    mined_at = int(result["receipt"]["blockNumber"], 16)
    assert result["head"] - mined_at + 1 >= 3
