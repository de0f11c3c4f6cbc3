"""`payout serve` with Safe payers on two EVM networks (two anvils, different chain ids): the
dashboard's Safe proposals page shows every pending proposal of every Safe network, each labelled
with its network, chain and Safe, with the signatures found in that network's proposals folder
checked against that network's chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.dashboard import browser, screenshot
from support.safe_env import SafeEnv, setup_safe_env
from support.safe_env import signer as dev_signer

from payout._cli.main import cli
from payout.chain import Chain
from payout.demo import demo_recipients
from payout.deployment import deploy_disburser
from payout.devnet import Devnet, dev_private_key, start_anvil
from payout.signer import LocalSigner, write_keystore
from payout.wallet import Wallet

from .conftest import FAST, PASSWORD
from .service_support import create_key, start_server, wait_until

#: Not the session anvil's chain id (31337): the two networks' Safes live on different chains.
SECOND_CHAIN_ID = 31_339
#: Owners 1, 2, 3 of each Safe (2 of 3).
OWNERS = (1, 2, 3)


@pytest.fixture(scope="module")
def node2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    log = tmp_path_factory.mktemp("anvil-safe2") / "anvil.log"
    with start_anvil(chain_id=SECOND_CHAIN_ID, log_path=log) as devnet:
        yield devnet


@dataclass
class SafeNetwork:
    """One Safe payer network of the test: its name in payout.toml, chain, Safe and token."""

    name: str
    chain: Chain
    safe: str
    token: str
    disburser: str

    def table(self) -> str:
        return f"""
[networks.{self.name}]
rpc_url = "{self.chain.url}"
executor = "safe"
safe = "{self.safe}"
disburser = "{self.disburser}"
proposals_dir = "proposals-{self.name}"
safe_poll_seconds = 0.2
[networks.{self.name}.tokens.USDC]
address = "{self.token}"
decimals = 6
"""


def _safe_network(name: str, env: SafeEnv) -> SafeNetwork:
    safe = env.new_safe("1.4.1", [dev_signer(i).address for i in OWNERS], 2)
    token = env.token(fund=safe, amount=1_000 * 10**6)
    return SafeNetwork(name, env.chain, safe, token.address, env.disburser)


def _proposal_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".service.json"))


def _sign(path: Path, keystore: Path, net: SafeNetwork, ledger: Path) -> None:
    """Owner signs the proposal file in place (`payout safe sign`, checked against the ledger)."""
    result = CliRunner().invoke(
        cli,
        [
            "safe",
            "sign",
            str(path),
            "--rpc-url",
            net.chain.url,
            "--keystore",
            str(keystore),
            "--token",
            net.token,
            "--ledger",
            f"sqlite:///{ledger}",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)


def test_dashboard_shows_the_pending_proposals_of_every_safe_network(
    chain: Chain,
    disburser: str,
    tmp_path: Path,
    node2: Devnet,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYOUT_KEYSTORE_PASSWORD", PASSWORD)  # owner 1 signs with the CLI
    chain2 = Chain(node2.url)
    assert chain2.chain_id == SECOND_CHAIN_ID != chain.chain_id
    disburser2 = deploy_disburser(chain2, Wallet(chain2, LocalSigner(dev_private_key(0)), FAST))
    nets = [
        _safe_network("mainsafe", setup_safe_env(chain, disburser)),
        _safe_network("othersafe", setup_safe_env(chain2, disburser2.address)),
    ]
    owner1 = tmp_path / "owner1.json"
    write_keystore(owner1, dev_private_key(OWNERS[0]), PASSWORD, iterations=16)
    ledger = tmp_path / "ledger.sqlite"
    config = tmp_path / "payout.toml"
    config.write_text(
        "[service]\n"
        f'ledger = "sqlite:///{ledger}"\n'
        "flush_seconds = 3600\n"  # each network's group is flushed at 3 requests
        "flush_rows = 3\n"
        "rate_limit = 1000\n" + "".join(n.table() for n in nets)
    )
    server = start_server(config, tmp_path / "serve.log")
    try:
        key = create_key(config, "read", "write")
        with server.client(key) as http:
            for net in nets:
                rows = [
                    {"network": net.name, "token": "USDC", "recipient": r, "amount": "2.50"}
                    for r in demo_recipients(3, seed=f"{tmp_path}/{net.name}")
                ]
                made = http.post("/v1/payouts", json={"payouts": rows})
                assert made.status_code == 201, made.text
            # Each network's worker writes its proposal into that network's folder.
            for net in nets:
                folder = tmp_path / f"proposals-{net.name}"
                wait_until(lambda f=folder: len(_proposal_files(f)) == 1, what=f"{net.name}")
                # Owner 1 signs each network's proposal file in place.
                (path,) = _proposal_files(folder)
                _sign(path, owner1, net, ledger)

        with browser() as ctx:
            page = ctx.new_page()
            page.goto(f"{server.url}/dashboard/safe")
            page.get_by_label("API key").fill(key)
            page.get_by_label("API key").press("Enter")
            page.wait_for_url(f"{server.url}/dashboard/safe")
            cards = page.locator("section.proposal")
            assert cards.count() == 2
            for net in nets:
                card = page.locator("section.proposal", has_text=net.safe)
                assert card.count() == 1, f"no proposal of {net.name} shown"
                text = card.inner_text()
                assert "7.50 USDC to 3 recipients" in text  # token facts read from its chain
                # Owner 1's signature, from this network's folder, checked on this chain.
                assert "1 of 2 needed" in text
                signed = card.locator("tr", has_text=dev_signer(OWNERS[0]).address).inner_text()
                assert "signed" in signed and "eip712: valid" in signed
                waiting = card.locator("tr", has_text=dev_signer(OWNERS[1]).address).inner_text()
                assert "waiting" in waiting
            for net in nets:
                # Labelled with its network (payout.toml name), chain and Safe.
                text = page.locator("section.proposal", has_text=net.safe).inner_text()
                assert net.name in text
                assert f"chain id {net.chain.chain_id}" in text
            screenshot(page, "service-safe-proposals-two-networks")
    finally:
        server.stop()
