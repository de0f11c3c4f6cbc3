"""``payout devnet token/fund`` and ``tron-token/tron-fund``: a brand-new keystore gets test coins
and a test token on the local chains, so the operator, Safe and TRON guides can be followed from
``payout keys new`` on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.signer import write_keystore
from payout.tron.client import connect
from payout.tron.devnet import TronDevnet, dev_account
from payout.tron.signer import keystore_tron_address
from payout.tron.token import balance_of

from .conftest import PASSWORD, as_json, invoke


def test_evm_token_and_fund_give_a_new_key_gas_and_tokens(
    chain: Chain, env: dict[str, str], tmp_path: Path
) -> None:
    keystore = tmp_path / "new.json"
    address = write_keystore(keystore, keccak(text=f"{tmp_path}/devnet-fund"), PASSWORD)
    assert chain.native_balance(address) == 0

    made = invoke("devnet", "token", "--kind", "usdt", "--json")
    assert made.exit_code == 0, made.output + made.stderr
    token = as_json(made.output)["token"]
    assert chain.token(token).symbol == "USDT"

    funded = invoke("devnet", "fund", address, "--token", token, "--amount", "250.5", "--json")
    assert funded.exit_code == 0, funded.output + funded.stderr
    assert chain.native_balance(address) == 100 * 10**18
    assert chain.token_balance(token, address) == 250_500_000
    assert as_json(funded.output)["accounts"][0]["balance"] == "250500000"

    # Minting again adds; ETH already above --eth is left alone.
    again = invoke("devnet", "fund", address, "--eth", "1", "--token", token, "--amount", "1")
    assert again.exit_code == 0, again.stderr
    assert chain.native_balance(address) == 100 * 10**18
    assert chain.token_balance(token, address) == 251_500_000


def test_evm_fund_refuses_half_a_token_request(env: dict[str, str]) -> None:
    result = invoke("devnet", "fund", "0x" + "11" * 20, "--amount", "5")
    assert result.exit_code == 2
    assert "--token and --amount go together" in result.stderr


@pytest.fixture
def tron_node() -> Iterator[TronDevnet]:
    with TronDevnet() as node:
        yield node


def test_tron_token_and_fund_open_the_account_of_a_new_key(
    tron_node: TronDevnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYOUT_TRON_NODE_URL", tron_node.url)
    keystore = tmp_path / "tron.json"
    write_keystore(keystore, keccak(text=f"{tmp_path}/tron-fund"), PASSWORD)
    shown = invoke("keys", "address", "--tron", str(keystore))
    assert shown.exit_code == 0
    address = shown.output.strip()
    assert address == keystore_tron_address(keystore) and address.startswith("T")
    assert tron_node.balance(address) == 0

    made = invoke("devnet", "tron-token", "--json")
    assert made.exit_code == 0, made.output + made.stderr
    token = as_json(made.output)["token"]

    funded = invoke(
        "devnet", "tron-fund", address, "--trx", "500", "--token", token, "--amount", "12.25"
    )
    assert funded.exit_code == 0, funded.output + funded.stderr
    assert tron_node.balance(address) == 500 * 10**6
    assert balance_of(connect(tron_node.url), token, address) == 12_250_000


def test_tron_fund_refuses_an_endpoint_that_is_not_a_tron_node(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The EVM JSON-RPC endpoint: the error names the HTTP status and says which URL to pass.
    result = invoke("devnet", "tron-fund", dev_account(0).base58, "--node", env["PAYOUT_RPC_URL"])
    assert result.exit_code != 0
    assert "TRON node" in result.stderr and "PAYOUT_TRON_NODE_URL" in result.stderr
