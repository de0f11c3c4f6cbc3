"""Rows set aside as skipped stay owed: re-sends say so, and ``--retry-skipped`` pays them once."""

from __future__ import annotations

import json

from support.demo_token import unblacklist
from support.tron_payout import (
    TronEnv,
    block_recipient,
    rows_for,
    tron_blocking_env,
)
from support.tron_payout import recipients as tron_recipients
from support.tron_payout import units as tron_units

from payout.chain import Chain
from payout.demo_token import blacklist
from payout.wallet import Wallet

from .conftest import Payer, as_json, base_units, invoke, run, send

__all__ = ["tron_blocking_env"]  # the fixture, imported for pytest


def _statuses(env: dict[str, str]) -> dict[str, str]:
    report = as_json(run("report", "--json", env=env).stdout)
    return {r["payout_id"]: r["status"] for r in report}


def test_skipped_row_is_reported_as_owed_and_paid_once_on_request(
    env: dict[str, str], chain: Chain, deployer: Wallet, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(5)
    blocked, blocked_amount, _id = rows[3]
    blacklist(deployer, usdc, blocked)

    first = send(env, payer, usdc, file, "--on-failure", "skip", "--json")
    assert first.returncode == 0, first.stderr
    out = as_json(first.stdout)
    assert out["paid_rows"] == 4 and out["skipped_still_owed"] == 1
    assert _statuses(env)["id-3"] == "skipped"

    # Without the flag: nobody is paid, and the output names the owed row and the way to pay it.
    again = send(env, payer, usdc, file)
    assert again.returncode == 0, again.stderr
    assert "0 recipients paid" in again.stdout and "4 were already paid" in again.stdout
    assert "1 row(s) of this file are set aside as skipped and still owed" in again.stdout
    assert "--retry-skipped" in again.stdout
    assert as_json(send(env, payer, usdc, file, "--json").stdout)["skipped_still_owed"] == 1

    planned = invoke(
        "plan", str(file), "--token", usdc, "--keystore", str(payer.keystore), "--json"
    )
    assert planned.exit_code == 0, planned.output
    assert as_json(planned.stdout)["skipped_still_owed"] == 1
    assert as_json(planned.stdout)["scopes"][0]["payouts"] == 0
    human = invoke("plan", str(file), "--token", usdc, "--keystore", str(payer.keystore))
    assert "set aside as skipped and still owed" in human.stdout
    assert "--retry-skipped" in human.stdout

    unblacklist(deployer, usdc, blocked)

    # plan --retry-skipped counts the row into the plan and writes nothing.
    dry = invoke(
        "plan",
        str(file),
        "--token",
        usdc,
        "--keystore",
        str(payer.keystore),
        "--retry-skipped",
        "--json",
    )
    assert dry.exit_code == 0, dry.output
    scope = as_json(dry.stdout)["scopes"][0]
    assert scope["payouts"] == 1 and scope["retried_skipped"] == 1
    assert scope["total_base_units"] == base_units(blocked_amount)
    assert as_json(dry.stdout)["skipped_still_owed"] == 0
    assert _statuses(env)["id-3"] == "skipped"

    payer_before = chain.token_balance(usdc, payer.address)
    retried = send(env, payer, usdc, file, "--retry-skipped", "--json")
    assert retried.returncode == 0, retried.stderr
    out = as_json(retried.stdout)
    assert out["paid_rows"] == 1 and out["retried_skipped"] == 1
    assert out["already_paid"] == 4 and out["skipped_still_owed"] == 0
    assert chain.token_balance(usdc, blocked) == base_units(blocked_amount)
    assert chain.token_balance(usdc, payer.address) == payer_before - base_units(blocked_amount)
    assert set(_statuses(env).values()) == {"confirmed"}

    # Nothing is owed any more: a further re-send (with or without the flag) pays nobody.
    for extra in ((), ("--retry-skipped",)):
        last = send(env, payer, usdc, file, *extra, "--json")
        assert last.returncode == 0, last.stderr
        assert as_json(last.stdout)["paid_rows"] == 0
        assert as_json(last.stdout)["already_paid"] == 5
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)


def test_retry_of_a_still_blacklisted_row_refuses_and_leaves_it_set_aside(
    env: dict[str, str], deployer: Wallet, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(3)
    blacklist(deployer, usdc, rows[0][0])
    assert send(env, payer, usdc, file, "--on-failure", "exclude").returncode == 0
    assert _statuses(env)["id-0"] == "skipped"
    # Still blacklisted: the default refuse mode stops the retry before anything is written,
    # so the row stays set aside (a later plain send does not pick it up by accident).
    refused = send(env, payer, usdc, file, "--retry-skipped")
    assert refused.returncode == 2, refused.stderr
    assert _statuses(env)["id-0"] == "skipped"
    plain = send(env, payer, usdc, file, "--json")
    assert plain.returncode == 0, plain.stderr
    assert as_json(plain.stdout)["paid_rows"] == 0
    assert as_json(plain.stdout)["skipped_still_owed"] == 1


def test_tron_send_reports_the_skipped_row_and_retries_it_only_on_request(
    tron_blocking_env: TronEnv,
) -> None:
    env = tron_blocking_env
    people = tron_recipients(4, "retry")
    rows = rows_for(people)
    block_recipient(env, people[1])
    path = env.write_file(rows)
    send_args = ("send", str(path), "--keystore", str(env.payer_keystore), "--json")

    first = env.cli(*send_args, "--mode", "skip")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["skipped_still_owed"] == 1

    # Without the flag: nothing planned, the plan says the row is still owed and how to pay it.
    again = env.cli(*send_args, "--mode", "skip")
    assert again.exit_code == 0, again.output
    out = json.loads(again.output)
    assert out["batches"] == [] and out["skipped_still_owed"] == 1
    assert out["plan"]["skipped_still_owed"] == 1 and out["plan"]["to_pay"] == 0
    assert any("--retry-skipped" in note for note in out["plan"]["notes"])

    # With it, the row (and only it) is planned again; still refused, it is skipped again and
    # stays owed, and nobody else is paid twice.
    payer_before = env.balance(env.payer.address)
    retried = env.cli(*send_args, "--mode", "skip", "--retry-skipped")
    assert retried.exit_code == 0, retried.output
    out = json.loads(retried.output)
    assert out["plan"]["retried_skipped"] == 1 and out["plan"]["to_pay"] == 1
    (batch,) = out["batches"]
    assert batch["count"] == 1 and out["skipped_still_owed"] == 1
    assert env.balance(env.payer.address) == payer_before
    for i, (address, amount, _id) in enumerate(rows):
        assert env.balance(address) == (0 if i == 1 else tron_units(amount))


def test_tron_plan_counts_the_skipped_row_as_owed_and_plans_it_again_only_on_request(
    tron_blocking_env: TronEnv,
) -> None:
    env = tron_blocking_env
    people = tron_recipients(3, "plan-retry")
    rows = rows_for(people)
    block_recipient(env, people[2])
    path = env.write_file(rows)
    plan_args = ("plan", str(path), "--keystore", str(env.payer_keystore))

    first = env.cli("send", str(path), "--keystore", str(env.payer_keystore), "--mode", "skip")
    assert first.exit_code == 0, first.output

    # Without the flag: the skipped row is not planned; the plan says it is still owed and how.
    owed = env.cli(*plan_args, "--json")
    assert owed.exit_code == 0, owed.output
    out = json.loads(owed.output)
    assert out["to_pay"] == 0 and out["batches"] == []
    assert out["skipped_still_owed"] == 1 and out["retried_skipped"] == 0
    assert any("--retry-skipped" in note for note in out["notes"])
    human = env.cli(*plan_args)
    assert human.exit_code == 0, human.output
    assert "1 row(s) of this file are set aside as skipped and still owed" in human.output
    assert human.output.count("--retry-skipped") == 1

    # With it, the row (and only it) is planned again, and the ledger owes it as planned: a
    # later plain plan neither counts it as skipped nor retries it.
    retried = env.cli(*plan_args, "--retry-skipped", "--json")
    assert retried.exit_code == 0, retried.output
    out = json.loads(retried.output)
    assert out["retried_skipped"] == 1 and out["skipped_still_owed"] == 0
    assert out["to_pay"] == 1 and out["total"] == tron_units(rows[2][1])
    assert not any("still owed" in note for note in out["notes"])
    plain = json.loads(env.cli(*plan_args, "--json").output)
    assert plain["skipped_still_owed"] == 0 and plain["retried_skipped"] == 0
    assert plain["to_pay"] == 1 and plain["already_paid"] == 2

    # A plain send pays what the plan holds; still blocked, the row is skipped again and owed,
    # and nobody is paid twice.
    payer_before = env.balance(env.payer.address)
    sent = env.cli(
        "send", str(path), "--keystore", str(env.payer_keystore), "--mode", "skip", "--json"
    )
    assert sent.exit_code == 0, sent.output
    out = json.loads(sent.output)
    (batch,) = out["batches"]
    assert batch["count"] == 1 and out["skipped_still_owed"] == 1
    assert env.balance(env.payer.address) == payer_before
    for i, (address, amount, _id) in enumerate(rows):
        assert env.balance(address) == (0 if i == 2 else tron_units(amount))
