"""`payout serve` with many networks: two EVM chains (two anvils, different chain ids) and TRON in
one payout.toml; one request mixing them is routed per row, each network progresses on its own,
and the address-network risk checks refuse what could never reach its owner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak
from support.tron_payout import TronEnv, recipients, tron_env, units

from payout.chain import Chain
from payout.demo import demo_recipients
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import Devnet, dev_private_key, start_anvil
from payout.signer import LocalSigner
from payout.wallet import Wallet

from .conftest import FAST, Payer, make_payer
from .service_networks import network_table, service_header, tron_env_vars, tron_network
from .service_support import Receiver, create_key, start_server, wait_until, webhook_receiver

__all__ = ["tron_env"]

SECOND_CHAIN_ID = 31_338
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def node2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A second anvil with its own chain id."""
    log = tmp_path_factory.mktemp("anvil2") / "anvil.log"
    with start_anvil(chain_id=SECOND_CHAIN_ID, log_path=log) as devnet:
        yield devnet


@pytest.fixture(scope="module")
def chain2(node2: Devnet) -> Chain:
    return Chain(node2.url)


@pytest.fixture(scope="module")
def deployer2(chain2: Chain) -> Wallet:
    return Wallet(chain2, LocalSigner(dev_private_key(0)), FAST)


@pytest.fixture(scope="module")
def disburser2(chain2: Chain, deployer2: Wallet) -> str:
    return deploy_disburser(chain2, deployer2).address


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _statuses(http: Any, ids: list[str]) -> list[str]:
    return [http.get(f"/v1/payouts/{i}").json()["status"] for i in ids]


def _contract_on_chain2_only(chain: Chain, chain2: Chain) -> str:
    """A contract (a demo token standing in for a Safe) deployed on the second chain only, by a
    key that never deployed anything on the first (so its address is empty there)."""
    key = keccak(text="contract wallet deployer on chain 2 only")
    signer = LocalSigner(key)
    chain2.request("anvil_setBalance", [signer.address, hex(10**18)])
    contract = deploy_token(Wallet(chain2, signer, FAST), DemoToken.USDC, "Wallet", "WAL")
    assert chain2.code(contract) and not chain.code(contract)
    return contract


@dataclass
class ThreeNetworks:
    """anvil (the session's chain), anvil2 (chain id 31338) and TRON in one payout.toml."""

    config: Path
    payer2: Payer
    usdc2: str
    #: A contract deployed on anvil2 only.
    wallet_contract: str


@pytest.fixture
def three_networks(
    node: Any,
    chain: Chain,
    usdc: str,
    disburser: str,
    payer: Payer,
    node2: Devnet,
    chain2: Chain,
    deployer2: Wallet,
    disburser2: str,
    keystores: Path,
    tron_env: TronEnv,
    receiver: Receiver,
    tmp_path: Path,
) -> ThreeNetworks:
    """payer2 holds no USDC on anvil2 (tests fund it when they need to)."""
    payer2 = make_payer(chain2, keystores)
    usdc2 = deploy_token(deployer2, DemoToken.USDC, "Demo USD Coin", "USDC")
    config = tmp_path / "payout.toml"
    evm = {"kind": "evm", "password_env": "PAYOUT_KEYSTORE_PASSWORD"}
    config.write_text(
        service_header(f"sqlite:///{tmp_path / 'service.sqlite'}", receiver.url)
        + network_table(
            "anvil",
            url=node.url,
            keystore=payer.keystore,
            disburser=disburser,
            token=("USDC", usdc),
            **evm,
        )
        + network_table(
            "anvil2",
            url=node2.url,
            keystore=payer2.keystore,
            disburser=disburser2,
            token=("USDC", usdc2),
            **evm,
        )
        + tron_network(tron_env)
    )
    return ThreeNetworks(config, payer2, usdc2, _contract_on_chain2_only(chain, chain2))


def test_one_request_mixing_networks_is_routed_per_row_and_networks_progress_apart(
    three_networks: ThreeNetworks,
    chain: Chain,
    usdc: str,
    chain2: Chain,
    deployer2: Wallet,
    tron_env: TronEnv,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    config, usdc2 = three_networks.config, three_networks.usdc2
    wallet_contract, payer2 = three_networks.wallet_contract, three_networks.payer2
    server = start_server(config, tmp_path / "serve.log", extra_env=tron_env_vars())
    try:
        key = create_key(config, "read", "write")
        evm = demo_recipients(3, seed=f"{tmp_path}/mixed")
        trx = recipients(3, f"{tmp_path}/mixed")
        rows: list[dict[str, str]] = []
        for i in range(3):
            # The same EVM address on both chains, with different amounts: routing per row.
            rows.append(
                {"network": "anvil", "token": "USDC", "recipient": evm[i], "amount": f"1.{i}"}
            )
            rows.append(
                {"network": "tron", "token": "USDT", "recipient": trx[i], "amount": f"3.{i}"}
            )
            rows.append(
                {"network": "anvil2", "token": "USDC", "recipient": evm[i], "amount": f"2.{i}"}
            )
        # The contract exists on anvil2: a valid recipient there.
        rows.append(
            {"network": "anvil2", "token": "USDC", "recipient": wallet_contract, "amount": "7"}
        )
        with server.client(key) as http:
            created = http.post("/v1/payouts", json={"payouts": rows})
            assert created.status_code == 201, created.text
            made = created.json()["payouts"]
            assert [p["network"] for p in made] == [r["network"] for r in rows]
            chain_ids = {p["network"]: p["chain_id"] for p in made}
            assert chain_ids["anvil"] == chain.chain_id != chain_ids["anvil2"] == SECOND_CHAIN_ID
            ids = {net: [p["id"] for p in made if p["network"] == net] for net in chain_ids}

            # anvil and TRON are paid while anvil2's payer is short (its rows wait, queued).
            wait_until(
                lambda: set(_statuses(http, ids["anvil"] + ids["tron"])) == {"paid"},
                what="anvil and TRON rows paid",
            )
            assert set(_statuses(http, ids["anvil2"])) <= {"requested", "queued"}
            for i in range(3):
                assert chain.token_balance(usdc, evm[i]) == units(f"1.{i}")
                assert tron_env.balance(trx[i]) == units(f"3.{i}")
                assert chain2.token_balance(usdc2, evm[i]) == 0

            # Funded: anvil2 catches up on its own.
            mint(deployer2, usdc2, payer2.address, 1_000 * 10**6)
            wait_until(
                lambda: set(_statuses(http, ids["anvil2"])) == {"paid"},
                timeout=120,
                what="anvil2 rows paid after funding",
            )
            for i in range(3):
                assert chain2.token_balance(usdc2, evm[i]) == units(f"2.{i}")
                assert chain.token_balance(usdc, evm[i]) == units(f"1.{i}")
            assert chain2.token_balance(usdc2, wallet_contract) == 7 * 10**6
            wait_until(
                lambda: (
                    {e["data"]["network"] for e in receiver.events("batch.paid")}
                    == {"anvil", "anvil2", "tron"}
                ),
                what="batch.paid of every network",
            )
            balances = {b["network"]: b for b in http.get("/v1/balances").json()["data"]}
            assert set(balances) == {"anvil", "anvil2", "tron"}
            assert balances["anvil2"]["chain_id"] == SECOND_CHAIN_ID
    finally:
        server.stop()


def test_address_network_risk_with_two_chains_and_tron(
    three_networks: ThreeNetworks, tmp_path: Path
) -> None:
    """A contract on anvil2 only is refused on anvil (funds there could never be moved by it);
    a TRON address on an EVM network and an 0x address on TRON are refused; each problem names
    the row's field, and nothing of the request is stored."""
    config, wallet_contract = three_networks.config, three_networks.wallet_contract
    server = start_server(config, tmp_path / "serve.log", extra_env=tron_env_vars())
    try:
        key = create_key(config, "read", "write")
        evm_ok = demo_recipients(1, seed=f"{tmp_path}/risk")[0]
        tron_ok = recipients(1, f"{tmp_path}/risk")[0]
        good = [
            {"network": "anvil", "token": "USDC", "recipient": evm_ok, "amount": "1"},
            {"network": "tron", "token": "USDT", "recipient": tron_ok, "amount": "1"},
        ]
        cases = [
            (
                {"network": "anvil", "token": "USDC", "recipient": wallet_contract, "amount": "1"},
                "address_network_risk",
            ),
            (
                {"network": "anvil", "token": "USDC", "recipient": tron_ok, "amount": "1"},
                "address_other_network",
            ),
            (
                {"network": "anvil2", "token": "USDC", "recipient": tron_ok, "amount": "1"},
                "address_other_network",
            ),
            (
                {"network": "tron", "token": "USDT", "recipient": evm_ok, "amount": "1"},
                "address_other_network",
            ),
            (
                {"network": "tron", "token": "USDT", "recipient": wallet_contract, "amount": "1"},
                "address_other_network",
            ),
        ]
        with server.client(key) as http:
            for bad, code in cases:
                answer = http.post("/v1/payouts", json={"payouts": [*good, bad]})
                assert answer.status_code == 422, answer.text
                assert answer.headers["content-type"] == PROBLEM
                errors = [(e["field"], e["code"]) for e in answer.json()["errors"]]
                assert errors == [("payouts[2].recipient", code)], (bad, errors)
                if code == "address_network_risk":
                    detail = answer.json()["errors"][0]["detail"]
                    assert "anvil2" in detail and wallet_contract in detail
            # All refusals at once: every bad row named.
            answer = http.post("/v1/payouts", json={"payouts": [bad for bad, _ in cases]})
            assert [e["field"] for e in answer.json()["errors"]] == [
                f"payouts[{i}].recipient" for i in range(len(cases))
            ]
            assert http.get("/v1/payouts").json()["data"] == []
            # The same contract on the chain where it exists is accepted.
            ok = http.post(
                "/v1/payouts",
                json={
                    "network": "anvil2",
                    "token": "USDC",
                    "recipient": wallet_contract,
                    "amount": "1",
                },
            )
            assert ok.status_code == 201, ok.text
    finally:
        server.stop()
