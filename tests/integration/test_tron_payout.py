"""TRC-20 payouts through the `payout tron` CLI on the local TRON node (tronpy over HTTP).

Covers deployment, batch payout, idempotent re-runs, wrong-network addresses, a replayed batch id,
OUT_OF_ENERGY, the TRX pre-flight and the plan's bounds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.tron_payout import (
    PASSWORD,
    TronEnv,
    recipients,
    rows_for,
    signer_of,
    tron_env,
    units,
)

from payout.amount import format_amount
from payout.disburser import DISBURSE_SIGNATURE
from payout.exceptions import (
    BatchAlreadyExecutedError,
    DisburserCodeMismatch,
    LedgerError,
    TronOutOfEnergy,
)
from payout.ledger import Ledger
from payout.manifest import ManifestOptions, read_manifest
from payout.tron.deploy import read_registry, verify_disburser
from payout.tron.executor import TronExecutor, TronSendSettings, disburse_calldata, simulate
from payout.tron.pipeline import open_context, scope_of, send_file
from payout.types import BatchStatus, Network, PayoutStatus, TokenInfo

__all__ = ["tron_env"]  # the fixture, imported for pytest


def test_deploy_with_tronpy_records_and_verifies(tron_env: TronEnv, tmp_path: Path) -> None:
    from support.tron_payout import keystore_for

    keystore = keystore_for(tmp_path, "deployer", tron_env.node.accounts[1].private_key)
    registry = tmp_path / "deployments-tron.json"
    result = tron_env.cli(
        "deploy", "--keystore", str(keystore), "--registry", str(registry), "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["energy_used"] > 0
    assert verify_disburser(tron_env.client, data["address"]) == data["address"]
    assert list(read_registry(registry).values()) == [data["address"]]
    # A contract that is not the shipped disburser is refused before any payout.
    with pytest.raises(DisburserCodeMismatch):
        verify_disburser(tron_env.client, tron_env.token)


def test_send_pays_each_row_once_across_runs(tron_env: TronEnv) -> None:
    people = recipients(7, "send")
    rows = rows_for(people)
    path = tron_env.write_file(rows)
    before = tron_env.balance(tron_env.payer.address)
    result = tron_env.cli(
        "send",
        str(path),
        "--keystore",
        str(tron_env.payer_keystore),
        "--max-batch-size",
        "3",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [b["count"] for b in report["batches"]] == [3, 3, 1]
    assert all(b["status"] == "confirmed" for b in report["batches"])
    assert all(b["energy_used"] <= b["fee_limit_sun"] // 100 for b in report["batches"])
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    paid = sum(units(a) for _r, a, _i in rows)
    assert tron_env.balance(tron_env.payer.address) == before - paid
    assert tron_env.balance(tron_env.disburser) == 0

    # The same file plus two new rows: only the new rows are paid.
    more = rows + rows_for(recipients(2, "send-more"), prefix="extra")
    again = tron_env.cli(
        "send",
        str(tron_env.write_file(more, "more.csv")),
        "--keystore",
        str(tron_env.payer_keystore),
        "--json",
    )
    assert again.exit_code == 0, again.output
    second = json.loads(again.output)
    assert second["paid"] == 2 and second["plan"]["already_paid"] == 7
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)  # not paid twice
    with Ledger.open(tron_env.ledger_url) as ledger:
        records = ledger.payouts(scope_of(_ctx(tron_env)))
    assert len(records) == 9
    assert {r.status for r in records} == {PayoutStatus.CONFIRMED}
    assert all(r.tx_hash and r.block_number and r.log_index is not None for r in records)
    report = tron_env.cli("report", "--format", "json")
    assert report.exit_code == 0, report.output
    lines = json.loads(report.output)
    assert sorted(r["payout_id"] for r in lines) == sorted(r.payout_id for r in records)
    assert {r["symbol"] for r in lines} == {"USDT"} and all(r["tx_hash"] for r in lines)


def _ctx(env: TronEnv):  # type: ignore[no-untyped-def]
    return open_context(
        env.node.url, token=env.token, disburser=env.disburser, payer=env.payer.address
    )


def test_wrong_network_addresses_are_refused(tron_env: TronEnv) -> None:
    evm = "0x52908400098527886E0F7030069857D2E4169EE7"
    rows = [(recipients(1, "wn")[0], "1.5", "ok-1"), (evm, "2", "evm-1")]
    path = tron_env.write_file(rows, "mixed.csv")
    result = tron_env.cli("validate", str(path), "--json")
    assert result.exit_code == 2
    report, _end = json.JSONDecoder().raw_decode(result.output)
    assert json.loads(result.output) == report  # one JSON document: the issues, no error object
    issues = report["issues"]
    assert [(i["line"], i["code"]) for i in issues] == [(3, "address_other_network")]
    assert "EVM" in issues[0]["message"] or "Ethereum" in issues[0]["message"]
    # The reverse: a TRON address in an EVM payout file.
    evm_file = tron_env.write_file([(tron_env.payer.address, "1", "t-1")], "evm.csv")
    manifest = read_manifest(
        evm_file, ManifestOptions(token=TokenInfo("0x" + "11" * 20, "USDC", 6))
    )
    assert [i.code for i in manifest.errors] == ["address_other_network"]
    assert "TRON" in manifest.errors[0].message
    # A network column saying tron validates the row as TRON.
    ok = tron_env.write_file([(recipients(1, "wn2")[0], "1", "n-1")], "net.csv")
    assert tron_env.cli("validate", str(ok)).exit_code == 0


def test_replayed_batch_id_pays_nobody_twice(tron_env: TronEnv, tmp_path: Path) -> None:
    rows = rows_for(recipients(3, "replay"))
    path = tron_env.write_file(rows)
    first = tron_env.cli("send", str(path), "--keystore", str(tron_env.payer_keystore), "--json")
    assert first.exit_code == 0, first.output
    batch = json.loads(first.output)["batches"][0]
    # A second ledger (lost or copied ledger) derives the same batch id: the chain refuses it.
    other_ledger = f"sqlite:///{tmp_path / 'other.sqlite'}"
    again = tron_env.cli(
        "send",
        str(path),
        "--keystore",
        str(tron_env.payer_keystore),
        extra_env={"PAYOUT_LEDGER_URL": other_ledger},
    )
    assert again.exit_code == LedgerError.exit_code
    assert "already executed on chain" in again.output
    # Replaying the batch call itself: the disburser reverts BatchAlreadyExecuted.
    with Ledger.open(tron_env.ledger_url) as ledger:
        stored = ledger.load_batch(scope_of(_ctx(tron_env)), batch["batch_id"])
    sim = simulate(
        tron_env.client,
        tron_env.payer.address,
        tron_env.disburser,
        DISBURSE_SIGNATURE,
        disburse_calldata(stored)[4:],
    )
    assert not sim.ok
    from payout.revert import translate

    assert isinstance(translate(sim.return_data), BatchAlreadyExecutedError)
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)


def test_out_of_energy_when_the_energy_factor_rises(tron_env: TronEnv) -> None:
    """The token's dynamic energy factor goes up between simulation and execution (it changes
    every few hours on mainnet): the batch runs OUT_OF_ENERGY, nothing moves, rows stay owed,
    and the next run pays them with a fresh simulation."""
    rows = rows_for(recipients(2, "oe"))
    path = tron_env.write_file(rows)
    ctx = _ctx(tron_env)

    def raise_factor(what: str, data: dict[str, object]) -> None:
        if what == "signed":
            tron_env.node.set_energy_factor(tron_env.token, 120_000)  # x13

    before = tron_env.balance(tron_env.payer.address)
    with Ledger.open(tron_env.ledger_url) as ledger:
        with pytest.raises(TronOutOfEnergy) as caught:
            send_file(
                ctx,
                ledger,
                tron_env.payer,
                path,
                settings=TronSendSettings(margin_bps=1_000),
                on_event=raise_factor,
            )
        assert caught.value.energy_used > 0
        (batch,) = ledger.batches(scope_of(ctx))
        assert batch.status is BatchStatus.FAILED
        assert {r.status for r in ledger.payouts(scope_of(ctx))} == {PayoutStatus.FAILED}
        assert tron_env.balance(tron_env.payer.address) == before
        assert all(tron_env.balance(r) == 0 for r, _a, _i in rows)
        report = send_file(ctx, ledger, tron_env.payer, path)
        assert [r.status for r in report.results] == [BatchStatus.CONFIRMED]
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)


def test_trx_preflight_refuses_a_payer_short_of_trx(tron_env: TronEnv, tmp_path: Path) -> None:
    """Insufficient TRX for energy: refused before anything is signed, with the shortfall."""
    from support.tron_payout import keystore_for

    from payout.tron.deploy import mint

    poor = signer_of("poor payer")
    tron_env.node.faucet(poor.address, 20 * 1_000_000)  # 20 TRX: not enough for 5 USDT transfers
    mint(tron_env.client, tron_env.payer, tron_env.token, poor.address, 1_000 * 10**6)
    keystore = keystore_for(tmp_path, "poor payer")
    path = tron_env.write_file(rows_for(recipients(5, "poor")))
    result = tron_env.cli("send", str(path), "--keystore", str(keystore))
    assert result.exit_code == 5, result.output
    assert "TRX" in result.output and "short by" in result.output
    assert all(tron_env.balance(r) == 0 for r in recipients(5, "poor"))
    assert PASSWORD  # the keystore was unlocked from the environment, never from argv


def test_plan_reports_energy_budget_and_bounds(tron_env: TronEnv) -> None:
    path = tron_env.write_file(rows_for(recipients(12, "plan")))
    result = tron_env.cli(
        "plan", str(path), "--payer", tron_env.payer.address, "--max-batch-size", "5", "--json"
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [b["count"] for b in plan["batches"]] == [5, 5, 2]
    model = plan["energy_model"]
    assert model["source"] == "simulated"
    # x4.4 energy factor: a TRC-20 transfer to a new holder costs ~120-135 k energy.
    assert 110_000 < model["per_fresh"] < 140_000
    assert plan["trx_budget"]["ok"] and plan["trx_budget"]["needed_sun"] > 0
    assert plan["separate_transfers"]["energy"] > 0
    # Planning sends nothing: recipients still hold nothing.
    assert all(tron_env.balance(r) == 0 for r in recipients(12, "plan"))


def test_plan_then_send_number_batches_alike_and_show_token_units(tron_env: TronEnv) -> None:
    """`tron plan` stores its plan in the ledger; a later `tron send` of the same file must
    show the same batch numbers (the ledger's index), and the approval in token units."""
    people = recipients(5, "plan-send")
    rows = [(a, f"{i + 6}.923456", f"ps-{i}") for i, a in enumerate(people)]
    path = tron_env.write_file(rows, "plan-send.csv")
    planned = tron_env.cli(
        "plan", str(path), "--payer", tron_env.payer.address, "--max-batch-size", "2", "--json"
    )
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    indexes = [b["index"] for b in plan["batches"]]
    assert len(indexes) == 3 and indexes == list(range(indexes[0], indexes[0] + 3))
    # Planning again (as people do before sending) keeps the numbers too.
    table = tron_env.cli(
        "plan", str(path), "--payer", tron_env.payer.address, "--max-batch-size", "2"
    )
    assert table.exit_code == 0, table.output
    sent = tron_env.cli(
        "send", str(path), "--keystore", str(tron_env.payer_keystore), "--max-batch-size", "2"
    )
    assert sent.exit_code == 0, sent.output
    # The walkthrough saw "approved 34623456": now token units with the symbol, in words.
    for b in plan["batches"]:
        amount = format_amount(b["total"], 6, symbol="USDT")
        assert f"approved {amount} for the disburser: txID " in sent.output
    for i in indexes:
        assert f"batch {i} confirmed: txID " in sent.output
    with Ledger.open(tron_env.ledger_url) as ledger:
        records = ledger.batches(scope_of(_ctx(tron_env)))
    by_id = {r.batch_id: r for r in records}
    for b in plan["batches"]:
        assert by_id[b["batch_id"]].index == b["index"]
        assert by_id[b["batch_id"]].status is BatchStatus.CONFIRMED
    # No other (abandoned) copy of the plan under the same numbers.
    assert {r.status for r in records if r.index in indexes} == {BatchStatus.CONFIRMED}


@pytest.mark.parametrize(("factor", "size"), [(34_000, 1), (34_000, 40), (0, 1), (0, 40)])
def test_planned_energy_bounds_the_real_cost(tron_env: TronEnv, factor: int, size: int) -> None:
    """The plan's worst-case estimate must never be below what the batch really burns
    (USDT-like x4.4 and plain x1.0 tokens, one and many recipients)."""
    tron_env.node.set_energy_factor(tron_env.token, factor)
    rows = rows_for(recipients(size, f"bound-{factor}"))
    ctx = _ctx(tron_env)
    with Ledger.open(tron_env.ledger_url) as ledger:
        report = send_file(
            ctx, ledger, tron_env.payer, tron_env.write_file(rows), max_batch_size=50
        )
    assert report.plan is not None
    (planned,) = report.plan.batches
    (result,) = report.results
    assert result.energy_used <= planned.cost_estimate
    # ... and not wildly above it. The linear model prices the pull path; a batch of up to 3 rows
    # is paid by transferFrom straight from the payer and costs less (about 1.8x less at one row).
    slack = 2 if size <= 3 else 3 / 2
    assert planned.cost_estimate <= result.energy_used * slack
    assert result.energy_used == result.energy_estimate  # simulation is exact on this node
    _ = Network, TronExecutor


def test_help_lists_every_command_on_one_line() -> None:
    from click.testing import CliRunner

    from payout._cli.main import cli
    from payout._cli.tron import tron

    result = CliRunner().invoke(cli, ["tron", "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    listing = result.output[result.output.index("Commands:") :].splitlines()[1:]
    assert sorted(line.split()[0] for line in listing if line.strip()) == sorted(tron.commands)
    for line in listing:
        assert not line.rstrip().endswith("..."), f"help cut short: {line}"


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from payout._cli.main import cli

    args = ["tron", "demo", "--payees", "40", "--max-batch-size", "15"]
    result = CliRunner().invoke(cli, [*args, "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    demo = json.loads(result.output)
    assert (demo["paid"], demo["batches"]) == (40, 3)
    assert demo["ledger"] == {"confirmed": 40} and demo["first_payee_paid"] is True
    # A batch pays USDT's own transfer energy per recipient, plus a small batch share.
    assert demo["single_transfer_energy"] < demo["energy_per_recipient"]
    assert demo["energy_per_recipient"] < demo["single_transfer_energy"] * 5 // 4
    assert demo["fee_sun"] >= demo["energy_used"] * 100
