"""One ledger holding every kind of scope: an EVM hot wallet, a Safe and a TRON payer, each left
with a batch in flight by a real process killed mid-payout (``PAYOUT_FAULT``), plus rows of a chain
nobody can read here. ``payout status`` / ``payout report`` must show every scope (token facts
from the scope's own chain, else base units, labelled) and ``payout resume`` must settle every
open batch by executor kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer
from support.tron_payout import TronEnv, recipients, rows_for, tron_env, units

from payout.amount import format_amount
from payout.chain import Chain
from payout.devnet import dev_private_key, free_port
from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.safe.pipeline import propose_payouts
from payout.safe.proposal import save_proposal
from payout.safe.signature import sign_proposal
from payout.signer import write_keystore
from payout.types import ExecutorKind, Network, Payout, Scope

from .conftest import PASSWORD, Payer, as_json, base_units, run, send

__all__ = ["tron_env"]  # the fixture, imported for pytest

#: A chain id no endpoint of this test serves: its token cannot be read.
ELSEWHERE_CHAIN = 10


@pytest.fixture(scope="session")
def safe_env(chain: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(chain, disburser)


@dataclass
class Mixed:
    """The ledger's scopes and what each one pays."""

    wallet: Scope
    wallet_rows: list[tuple[str, str, str]]
    safe: Scope
    safe_rows: list[Payout]
    tron: Scope
    tron_rows: list[tuple[str, str, str]]
    elsewhere: Scope

    def scope_json(self, status: dict[str, Any], scope: Scope) -> dict[str, Any]:
        (found,) = [
            s
            for s in status["scopes"]
            if (s["network"], s["chain_id"], s["payer"], s["token"])
            == (scope.network.value, scope.chain_id, scope.payer, scope.token)
        ]
        return found


@pytest.fixture
def mixed(
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    disburser: str,
    safe_env: SafeEnv,
    tron_env: TronEnv,
    payout_file: Callable[..., tuple[Path, list[tuple[str, str, str]]]],
    tmp_path: Path,
) -> Mixed:
    ledger_url = env["PAYOUT_LEDGER_URL"]
    assert tron_env.ledger_url == ledger_url  # one ledger for every scope

    # Hot wallet: killed right after broadcasting the first of two batches.
    file, wallet_rows = payout_file(10)
    crashed = send(
        env,
        payer,
        usdc,
        file,
        "--max-batch-size",
        "5",
        extra_env={"PAYOUT_FAULT": "after-broadcast:1"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr

    # Safe (1 of 1): executed on chain, killed before the ledger heard of the receipt.
    owner = signer(1)
    safe = safe_env.new_safe("1.4.1", [owner.address], 1)
    safe_rows = payouts(6, prefix=f"mixed-safe-{tmp_path.name}")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in safe_rows))
    assert token.address != usdc
    with Ledger.open(ledger_url) as ledger:
        proposal = propose_payouts(
            chain, ledger, safe=safe, payouts=safe_rows, token=token, disburser=disburser
        ).proposal
    assert proposal is not None
    proposal, _ = sign_proposal(chain, proposal, owner)
    proposal_file = tmp_path / "safe-proposal.json"
    save_proposal(proposal, proposal_file)
    executor = tmp_path / "executor.json"
    write_keystore(executor, dev_private_key(EXECUTOR_INDEX), PASSWORD, iterations=16)
    crashed = run(
        "safe",
        "execute",
        str(proposal_file),
        "--keystore",
        str(executor),
        env=env,
        extra_env={"PAYOUT_FAULT": "after-receipt:1"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr

    # TRON: killed after broadcasting the second of two batches.
    tron_rows = rows_for(recipients(4, f"mixed-{tmp_path.name}"))
    crashed = tron_env.run(
        "send",
        str(tron_env.write_file(tron_rows, "tron.csv")),
        "--keystore",
        str(tron_env.payer_keystore),
        "--max-batch-size",
        "2",
        extra_env={"PAYOUT_FAULT": "after-broadcast:2"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr

    # Rows owed on a chain none of our endpoints serves.
    elsewhere = Scope(Network.EVM, ELSEWHERE_CHAIN, payer.address, usdc)
    with Ledger.open(ledger_url) as ledger:
        ledger.register([Payout("far-1", wallet_rows[0][0], 4_200_000)], elsewhere)
        scopes = set(ledger.scopes())
        open_kinds = sorted(b.executor.value for b in ledger.open_batches())
    wallet_scope = Scope(Network.EVM, chain.chain_id, payer.address, usdc)
    safe_scope = Scope(Network.EVM, chain.chain_id, safe, token.address)
    (tron_scope,) = [s for s in scopes if s.network is Network.TRON]
    assert scopes == {wallet_scope, safe_scope, tron_scope, elsewhere}
    assert open_kinds == ["safe", "tron", "wallet"]
    return Mixed(wallet_scope, wallet_rows, safe_scope, safe_rows, tron_scope, tron_rows, elsewhere)


def test_status_and_report_show_every_scope_of_a_mixed_ledger(
    env: dict[str, str], mixed: Mixed, tron_env: TronEnv
) -> None:
    plain = run("status", "--json", env=env)
    assert plain.returncode == 0, plain.stderr
    status = as_json(plain.stdout)
    wallet = mixed.scope_json(status, mixed.wallet)
    assert (wallet["symbol"], wallet["decimals"]) == ("USDC", 6)
    assert [b["executor"] for b in wallet["batches"]["in_flight"]] == ["wallet"]
    safe = mixed.scope_json(status, mixed.safe)
    assert safe["symbol"] == "USDC" and safe["token_unknown_reason"] is None
    assert [b["executor"] for b in safe["batches"]["in_flight"]] == ["safe"]
    assert safe["owed"]["amount"] == format_amount(sum(p.amount for p in mixed.safe_rows), 6)
    # TRON without a TRON node: base units, with the reason; never the EVM node's answer.
    tron = mixed.scope_json(status, mixed.tron)
    assert tron["symbol"] is None and tron["decimals"] is None
    assert "TRON node" in tron["token_unknown_reason"]
    assert tron["cost_unit"] == "energy" and tron["fee_unit"] == "sun"
    assert [b["executor"] for b in tron["batches"]["in_flight"]] == ["tron"]
    assert tron["rows"]["submitted"]["amount"] is None
    assert tron["rows"]["submitted"]["amount_base_units"] == sum(
        units(a) for _r, a, _i in mixed.tron_rows[2:]
    )
    # A chain the EVM endpoint is not: not read from the wrong chain.
    far = mixed.scope_json(status, mixed.elsewhere)
    assert far["symbol"] is None and f"not chain {ELSEWHERE_CHAIN}" in far["token_unknown_reason"]
    assert far["owed"] == {"count": 1, "amount_base_units": 4_200_000, "amount": None}

    human = run("status", env=env)
    assert human.returncode == 0, human.stderr
    assert human.stdout.count("symbol unknown: amounts in base units") == 2
    assert "USDC, 6 decimals" in human.stdout
    assert "(tron): `payout resume --tron-node URL`" in human.stdout
    assert "(safe): `payout resume`" in human.stdout
    assert "TRON node" in human.stderr

    with_tron = run("status", "--tron-node", tron_env.node.url, "--json", env=env)
    assert with_tron.returncode == 0, with_tron.stderr
    tron = mixed.scope_json(as_json(with_tron.stdout), mixed.tron)
    assert (tron["symbol"], tron["decimals"]) == ("USDT", 6)
    assert tron["rows"]["confirmed"]["amount"] == format_amount(
        sum(units(a) for _r, a, _i in mixed.tron_rows[:2]), 6
    )

    only_tron = run("status", "--payer", mixed.tron.payer, "--json", env=env)
    assert [s["network"] for s in as_json(only_tron.stdout)["scopes"]] == ["tron"]

    report = run("report", "--json", env=env)
    assert report.returncode == 0, report.stderr
    rows = as_json(report.stdout)
    assert len(rows) == 10 + 6 + 4 + 1
    by_network = {r["network"] for r in rows}
    assert by_network == {"evm", "tron"}
    for r in rows:
        if r["network"] == "tron" or r["chain_id"] == ELSEWHERE_CHAIN:
            assert r["amount"] is None and r["symbol"] is None and r["decimals"] is None
            assert r["amount_base_units"] > 0
        else:
            assert r["symbol"] == "USDC" and r["decimals"] == 6
            assert r["amount"] is not None
    wallet_amounts = {r["payout_id"]: r["amount"] for r in rows if r["payer"] == mixed.wallet.payer}
    assert all(wallet_amounts[i] == a for _r, a, i in mixed.wallet_rows)

    tron_report = run("report", "--json", "--tron-node", tron_env.node.url, env=env)
    tron_rows = [r for r in as_json(tron_report.stdout) if r["network"] == "tron"]
    assert {r["symbol"] for r in tron_rows} == {"USDT"}
    assert sorted(r["amount"] for r in tron_rows) == sorted(a for _r, a, _i in mixed.tron_rows)

    # reconcile checks the EVM endpoint's scopes and names every scope it left out, and why.
    checked = run("reconcile", "--json", env=env)
    assert checked.returncode in (0, 6), checked.stderr  # 6: the crashed batches are unsettled
    result = as_json(checked.stdout)
    assert {(s["payer"], s["token"]) for s in result["scopes"]} == {
        (mixed.wallet.payer, mixed.wallet.token),
        (mixed.safe.payer, mixed.safe.token),
    }
    left = {
        (s["network"], s["chain_id"], s["payer"]): s["reason"] for s in result["not_reconciled"]
    }
    assert set(left) == {
        ("tron", mixed.tron.chain_id, mixed.tron.payer),
        ("evm", ELSEWHERE_CHAIN, mixed.elsewhere.payer),
    }
    tron_reason = left[("tron", mixed.tron.chain_id, mixed.tron.payer)]
    assert "`payout tron reconcile`" in tron_reason
    assert "--rpc-url" in left[("evm", ELSEWHERE_CHAIN, mixed.elsewhere.payer)]
    table = run("reconcile", env=env)
    assert table.returncode == checked.returncode, table.stderr
    assert table.stdout.count("not reconciled") == 2
    assert f"not reconciled tron chain {mixed.tron.chain_id} payer {mixed.tron.payer}" in (
        table.stdout
    )
    assert "`payout tron reconcile`" in table.stdout


def test_resume_settles_every_open_batch_by_executor_kind(
    env: dict[str, str], chain: Chain, mixed: Mixed, payer: Payer, tron_env: TronEnv
) -> None:
    # No key, no TRON node: the Safe batch is settled (nothing is sent); the rest is left open
    # with what to run.
    first = run("resume", "--json", env=env)
    # Rows are still owed (no key, no TRON node, another chain): listed, exit status 6.
    assert first.returncode == 6, first.stderr
    out = as_json(first.stdout)
    assert out["owed_rows"] == len(out["owed"]) > 0
    assert [(b["status"], b["paid"]) for b in out["safe"]["settled"]] == [("confirmed", 6)]
    assert out["wallet"]["signer"] is None and out["wallet"]["settled"] == []
    assert sorted(b["status"] for b in out["wallet"]["left_open"]) == ["planned", "submitted"]
    assert all("--keystore" in b["reason"] for b in out["wallet"]["left_open"])
    assert [b["status"] for b in out["tron"]["left_open"]] == ["submitted"]
    assert "`payout tron resume`" in out["tron"]["left_open"][0]["reason"]
    assert out["tron"]["settled"] == []

    human = run("resume", env=env)
    assert human.returncode == 6, human.stderr
    assert "left open" in human.stdout and "payout tron resume" in human.stdout
    assert "Still owed" in human.stdout and "Done" not in human.stdout

    # The payer's key and the TRON node: the hot wallet settles and sends the rest, TRON settles.
    second = run(
        "resume",
        "--keystore",
        str(payer.keystore),
        "--tron-node",
        tron_env.node.url,
        "--json",
        env=env,
    )
    # Only the row registered on another chain (no batch, never sent) is still owed.
    assert second.returncode == 6, second.stderr
    out = as_json(second.stdout)
    assert [(o["payout_id"], o["chain_id"]) for o in out["owed"]] == [("far-1", ELSEWHERE_CHAIN)]
    assert "--rpc-url" in out["owed"][0]["reason"]
    assert [b["status"] for b in out["wallet"]["settled"]] == ["confirmed"]
    assert [(b["status"], b["paid"]) for b in out["wallet"]["sent"]] == [("confirmed", 5)]
    assert out["settled_from_chain"] == out["wallet"]["settled"]  # the first version's keys
    assert [(b["status"], b["paid"]) for b in out["tron"]["settled"]] == [("confirmed", 2)]
    assert out["safe"]["settled"] == [] and out["left_open"] == 0

    for recipient, amount, _id in mixed.wallet_rows:
        assert chain.token_balance(mixed.wallet.token, recipient) == base_units(amount)
    for p in mixed.safe_rows:
        assert chain.token_balance(mixed.safe.token, p.recipient) == p.amount
    for recipient, amount, _id in mixed.tron_rows:
        assert tron_env.balance(recipient) == units(amount)
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        assert ledger.open_batches() == []
        kinds = {b.executor for b in ledger.batches()}
    assert kinds == set(ExecutorKind)
    status = as_json(run("status", "--json", env=env).stdout)
    assert all(s["batches"]["in_flight"] == [] for s in status["scopes"])


def test_resume_of_a_tron_only_ledger_needs_no_evm_endpoint(tron_env: TronEnv) -> None:
    rows = rows_for(recipients(2, "tron-only"))
    crashed = tron_env.run(
        "send",
        str(tron_env.write_file(rows)),
        "--keystore",
        str(tron_env.payer_keystore),
        extra_env={"PAYOUT_FAULT": "after-broadcast:1"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr
    dead_rpc = f"http://127.0.0.1:{free_port()}"
    resumed = run(
        "resume",
        "--json",
        env={**tron_env.env(), "PAYOUT_RPC_URL": dead_rpc},
    )
    assert resumed.returncode == 0, resumed.stderr
    out = as_json(resumed.stdout)
    assert [(b["status"], b["paid"]) for b in out["tron"]["settled"]] == [("confirmed", 2)]
    for recipient, amount, _id in rows:
        assert tron_env.balance(recipient) == units(amount)
