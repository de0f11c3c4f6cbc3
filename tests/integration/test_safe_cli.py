"""``payout safe ...`` as a new user runs it: keystores, files passed between signers, JSON output,
a Transaction Service (local stand-in, safe-eth-py's client), and crashes of a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from support.demo_token import unblacklist
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer, wallet
from support.safe_service import SafeServiceStandIn

from payout._cli.main import cli
from payout.chain import Chain
from payout.demo_token import blacklist
from payout.deployment import deploy_disburser
from payout.devnet import dev_private_key
from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.signer import write_keystore
from payout.types import Network, PayoutStatus, Scope

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def evm() -> Chain:
    from ape import networks

    return Chain(networks.provider.http_uri)


@pytest.fixture(scope="session")
def safe_env(evm: Chain) -> SafeEnv:
    disburser = deploy_disburser(evm, wallet(evm, 0)).address
    return setup_safe_env(evm, disburser)


@pytest.fixture(scope="session")
def keystores(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for i in (1, 2, 3, EXECUTOR_INDEX):
        out[i] = folder / f"dev{i}.json"
        write_keystore(out[i], dev_private_key(i), PASSWORD, iterations=16)
    return out


@pytest.fixture
def env(evm: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "PAYOUT_RPC_URL": evm.url,
        "PAYOUT_LEDGER_URL": "sqlite:///" + str(tmp_path / "ledger.sqlite"),
        "PAYOUT_KEYSTORE_PASSWORD": PASSWORD,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.fixture
def funded_safe(evm: Chain, safe_env: SafeEnv, tmp_path: Path) -> dict[str, Any]:
    """A 2-of-3 Safe (v1.4.1) holding exactly what payees.csv pays."""
    safe = safe_env.new_safe("1.4.1", [signer(i).address for i in (1, 2, 3)], 2)
    rows = payouts(30, prefix=f"cli-{tmp_path.name}", amount=1_500_000)
    csv_path = tmp_path / "payees.csv"
    lines = ["id,recipient,amount"] + [
        f"{p.payout_id},{p.recipient},{p.amount / 10**6}" for p in rows
    ]
    csv_path.write_text("\n".join(lines) + "\n")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    return {"safe": safe, "rows": rows, "csv": csv_path, "token": token.address}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _paid(evm: Chain, token: str, rows: list[Any]) -> list[int]:
    return [evm.token_balance(token, p.recipient) for p in rows]


def test_propose_review_sign_merge_execute(
    evm: Chain,
    env: dict[str, str],
    funded_safe: dict[str, Any],
    keystores: dict[int, Path],
    tmp_path: Path,
) -> None:
    safe, token, rows = funded_safe["safe"], funded_safe["token"], funded_safe["rows"]
    result = run(
        "safe",
        "propose",
        str(funded_safe["csv"]),
        "--safe",
        safe,
        "--token",
        token,
        "--max-batch-size",
        "25",
        "--tx-builder",
        "txb",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [t["count"] for t in data["transactions"]] == [25, 5]
    assert data["new"] == 30 and len(data["txBuilderFiles"]) == 2
    builder = json.loads(Path(data["txBuilderFiles"][0]).read_text())
    assert builder["chainId"] == str(evm.chain_id) and builder["meta"]["checksum"].startswith("0x")

    review = run("safe", "review", "safe-proposal.json", "--json", "--token", token)
    assert review.exit_code == 0, review.output
    shown = json.loads(review.output)
    assert shown["ok"] and shown["transactions"][0]["batch"]["count"] == 25
    assert shown["transactions"][0]["batch"]["recipients"]["count"] == 25  # long: summarised
    assert len(shown["transactions"][1]["batch"]["recipients"]) == 5  # short: listed

    for i in (1, 2):
        signed = run(
            "safe",
            "sign",
            "safe-proposal.json",
            "--keystore",
            str(keystores[i]),
            "--out",
            f"sig{i}.json",
            "--json",
        )
        assert signed.exit_code == 0, signed.output
        assert json.loads(signed.output)["signed"] == [0, 1]
    merged = run("safe", "merge", "sig1.json", "sig2.json", "--out", "signed.json", "--json")
    assert json.loads(merged.output)["signatures"] == {"0": 2, "1": 2}

    executed = run(
        "safe", "execute", "signed.json", "--keystore", str(keystores[EXECUTOR_INDEX]), "--json"
    )
    assert executed.exit_code == 0, executed.output
    out = json.loads(executed.output)
    assert [r["outcome"] for r in out["results"]] == ["paid", "paid"]
    assert sum(r["paid"] for r in out["results"]) == 30
    assert _paid(evm, token, rows) == [p.amount for p in rows]
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        statuses = {r.status for r in ledger.payouts(Scope(Network.EVM, evm.chain_id, safe, token))}
    assert statuses == {PayoutStatus.CONFIRMED}

    again = run(
        "safe", "execute", "signed.json", "--keystore", str(keystores[EXECUTOR_INDEX]), "--json"
    )
    assert [r["outcome"] for r in json.loads(again.output)["results"]] == ["already paid"] * 2
    # The summary does not claim this run paid anyone.
    text = run("safe", "execute", "signed.json", "--keystore", str(keystores[EXECUTOR_INDEX]))
    assert text.exit_code == 0, text.output
    assert "0 Safe transaction(s) executed now, 0 payouts paid" in text.output
    assert "2 already executed before (30 payouts)" in text.output
    assert _paid(evm, token, rows) == [p.amount for p in rows]
    nothing = run(
        "safe", "propose", str(funded_safe["csv"]), "--safe", safe, "--token", token, "--json"
    )
    assert json.loads(nothing.output)["alreadyPaid"] == 30
    assert json.loads(nothing.output)["proposal"] is None


def _sign_and_execute(proposal: str, keystores: dict[int, Path], tag: str) -> dict[str, Any]:
    for i in (1, 2):
        signed = run(
            "safe", "sign", proposal, "--keystore", str(keystores[i]), "--out", f"{tag}-sig{i}.json"
        )
        assert signed.exit_code == 0, signed.output
    merged = run("safe", "merge", f"{tag}-sig1.json", f"{tag}-sig2.json", "--out", f"{tag}.json")
    assert merged.exit_code == 0, merged.output
    executed = run(
        "safe", "execute", f"{tag}.json", "--keystore", str(keystores[EXECUTOR_INDEX]), "--json"
    )
    assert executed.exit_code == 0, executed.output
    out: dict[str, Any] = json.loads(executed.output)
    return out


def test_propose_retry_skipped_pays_an_excluded_row_once_on_request(
    evm: Chain,
    env: dict[str, str],
    funded_safe: dict[str, Any],
    keystores: dict[int, Path],
) -> None:
    safe, token, rows = funded_safe["safe"], funded_safe["token"], funded_safe["rows"]
    csv = str(funded_safe["csv"])
    blocked = rows[4]
    blacklist(wallet(evm, 0), token, blocked.recipient)
    scope = Scope(Network.EVM, evm.chain_id, safe, token)

    def status() -> dict[str, PayoutStatus]:
        with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
            return {r.payout_id: r.status for r in ledger.payouts(scope)}

    def propose(*extra: str) -> Result:
        return run("safe", "propose", csv, "--safe", safe, "--token", token, *extra)

    first = propose("--on-failure", "exclude", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert [e["payoutId"] for e in data["excluded"]] == [blocked.payout_id]
    assert [t["count"] for t in data["transactions"]] == [29]
    assert data["skipped_still_owed"] == 1 and data["retried_skipped"] == 0
    assert status()[blocked.payout_id] is PayoutStatus.SKIPPED
    assert (
        sum(r["paid"] for r in _sign_and_execute("safe-proposal.json", keystores, "a")["results"])
        == 29
    )

    # Still blacklisted: the retry is refused before anything is written; the row stays aside.
    refused = propose("--retry-skipped", "--out", "refused.json")
    # A predicted row failure is an input error (exit 2), as for plan and send, and the row is
    # named by its line in the file (header on line 1: rows[4] is line 6) and its cause.
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert f"{blocked.payout_id} ({csv}:6)" in text
    assert f"the recipient {blocked.recipient} ({csv}:6) is blacklisted by the token" in text
    assert not Path("refused.json").exists()
    assert status()[blocked.payout_id] is PayoutStatus.SKIPPED

    unblacklist(wallet(evm, 0), token, blocked.recipient)

    # Without the flag: nothing is proposed for the row, and the output says it is still owed.
    plain = propose("--json", "--out", "plain.json")
    assert plain.exit_code == 0, plain.output
    data = json.loads(plain.output)
    assert data["proposal"] is None and data["toPay"] == 0 and data["alreadyPaid"] == 29
    assert data["skipped_still_owed"] == 1 and data["retried_skipped"] == 0
    human = propose("--out", "plain.json")
    assert human.exit_code == 0, human.output
    assert "1 row(s) of this file are set aside as skipped and still owed" in human.output
    assert "--retry-skipped" in human.output and "Nothing to propose." in human.output
    assert not Path("plain.json").exists()
    assert status()[blocked.payout_id] is PayoutStatus.SKIPPED
    assert evm.token_balance(token, blocked.recipient) == 0

    retried = propose("--retry-skipped", "--json", "--out", "retry.json")
    assert retried.exit_code == 0, retried.output
    data = json.loads(retried.output)
    assert data["retried_skipped"] == 1 and data["skipped_still_owed"] == 0
    assert data["toPay"] == 1 and data["alreadyPaid"] == 29
    assert [(t["count"], t["total"]) for t in data["transactions"]] == [(1, blocked.amount)]
    assert status()[blocked.payout_id] is PayoutStatus.PLANNED
    results = _sign_and_execute("retry.json", keystores, "b")["results"]
    assert [(r["outcome"], r["paid"]) for r in results] == [("paid", 1)]

    assert _paid(evm, token, rows) == [p.amount for p in rows]
    assert evm.token_balance(token, safe) == 0
    assert set(status().values()) == {PayoutStatus.CONFIRMED}
    # Paid once: proposing again (with or without the flag) finds nothing owed.
    for extra in ((), ("--retry-skipped",)):
        last = propose(*extra, "--json", "--out", "last.json")
        data = json.loads(last.output)
        assert data["proposal"] is None and data["alreadyPaid"] == 30
        assert data["skipped_still_owed"] == 0 and data["retried_skipped"] == 0


def test_review_refuses_a_tampered_file_and_non_owners_cannot_sign(
    env: dict[str, str],
    funded_safe: dict[str, Any],
    keystores: dict[int, Path],
    safe_env: SafeEnv,
) -> None:
    safe, token = funded_safe["safe"], funded_safe["token"]
    assert (
        run("safe", "propose", str(funded_safe["csv"]), "--safe", safe, "--token", token).exit_code
        == 0
    )
    doc = json.loads(Path("safe-proposal.json").read_text())
    doc["transactions"][0]["safeTx"]["to"] = safe_env.disburser  # delegatecall elsewhere
    Path("evil.json").write_text(json.dumps(doc))
    result = run("safe", "review", "evil.json")
    assert result.exit_code == 9
    assert "DO NOT SIGN" in result.output and "does not match its fields" in result.output
    refused = run("safe", "sign", "evil.json", "--keystore", str(keystores[1]))
    assert refused.exit_code == 9 and "failed review" in refused.output
    outsider = Path("outsider.json")
    write_keystore(outsider, dev_private_key(8), PASSWORD, iterations=16)
    not_owner = run("safe", "sign", "safe-proposal.json", "--keystore", str(outsider))
    assert not_owner.exit_code == 7 and "not an owner" in not_owner.output


def test_transaction_service_round_trip(
    evm: Chain,
    env: dict[str, str],
    funded_safe: dict[str, Any],
    keystores: dict[int, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    safe, token, rows = funded_safe["safe"], funded_safe["token"], funded_safe["rows"]
    with SafeServiceStandIn(evm.url, api_key="k") as service:
        monkeypatch.setenv("PAYOUT_SAFE_SERVICE_URL", service.url)
        monkeypatch.setenv("PAYOUT_SAFE_SERVICE_API_KEY", "k")
        proposed = run(
            "safe",
            "propose",
            str(funded_safe["csv"]),
            "--safe",
            safe,
            "--token",
            token,
            "--post",
            "--keystore",
            str(keystores[1]),
            "--json",
        )
        assert proposed.exit_code == 0, proposed.output
        assert json.loads(proposed.output)["service"] == ["proposed"]
        # Signer 2 has only the file from the proposer; posts a confirmation, keeps no file.
        signed = run(
            "safe",
            "sign",
            "safe-proposal.json",
            "--keystore",
            str(keystores[2]),
            "--out",
            "mine.json",
            "--post",
            "--json",
        )
        assert json.loads(signed.output)["service"] == ["confirmation posted"]
        assert len(next(iter(service.txs.values())).confirmations) == 2
        # The executor starts from the unsigned proposal and takes signatures from the service.
        Path("unsigned.json").write_text(Path("safe-proposal.json").read_text())
        doc = json.loads(Path("unsigned.json").read_text())
        for tx in doc["transactions"]:
            tx["signatures"] = []
        Path("unsigned.json").write_text(json.dumps(doc))
        executed = run(
            "safe",
            "execute",
            "unsigned.json",
            "--from-service",
            "--keystore",
            str(keystores[EXECUTOR_INDEX]),
            "--json",
        )
        assert executed.exit_code == 0, executed.output
    assert _paid(evm, token, rows) == [p.amount for p in rows]


@pytest.mark.parametrize("point", ["before-broadcast", "after-broadcast", "after-receipt"])
def test_execute_killed_at_each_moment_is_finished_by_running_it_again(
    evm: Chain,
    env: dict[str, str],
    funded_safe: dict[str, Any],
    keystores: dict[int, Path],
    point: str,
) -> None:
    safe, token, rows = funded_safe["safe"], funded_safe["token"], funded_safe["rows"]
    assert (
        run(
            "safe",
            "propose",
            str(funded_safe["csv"]),
            "--safe",
            safe,
            "--token",
            token,
            "--max-batch-size",
            "15",
        ).exit_code
        == 0
    )
    for i in (1, 2):
        assert (
            run("safe", "sign", "safe-proposal.json", "--keystore", str(keystores[i])).exit_code
            == 0
        )
    command = [
        sys.executable,
        "-m",
        "payout._cli.main",
        "safe",
        "execute",
        "safe-proposal.json",
        "--keystore",
        str(keystores[EXECUTOR_INDEX]),
        "--json",
    ]
    crashed = subprocess.run(
        command,
        env={**os.environ, "PAYOUT_FAULT": f"{point}:2"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr
    paid_now = _paid(evm, token, rows)
    # The first batch is paid; the second is paid only if the crash came after its broadcast.
    assert paid_now[:15] == [p.amount for p in rows[:15]]
    expected_second = point != "before-broadcast"
    assert (paid_now[15:] == [p.amount for p in rows[15:]]) is expected_second
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        second = ledger.batches(Scope(Network.EVM, evm.chain_id, safe, token))[1]
        assert second.status.value == "submitted"  # written ahead of the broadcast
    resumed = subprocess.run(
        command, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    outcomes = [r["outcome"] for r in json.loads(resumed.stdout)["results"]]
    assert outcomes == ["already paid", "already paid" if expected_second else "paid"]
    assert _paid(evm, token, rows) == [p.amount for p in rows]
    assert evm.token_balance(token, safe) == 0
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        statuses = {r.status for r in ledger.payouts(Scope(Network.EVM, evm.chain_id, safe, token))}
    assert statuses == {PayoutStatus.CONFIRMED}


def test_eth_sign_on_chain_approval_and_devnet_safe_from_the_cli(
    evm: Chain, env: dict[str, str], safe_env: SafeEnv, keystores: dict[int, Path], tmp_path: Path
) -> None:
    owners = [signer(i).address for i in (1, 2, 3)]
    created = run(
        "safe",
        "devnet",
        *[a for o in owners for a in ("--owner", o)],
        "--threshold",
        "2",
        "--version",
        "1.3.0",
        "--json",
    )
    assert created.exit_code == 0, created.output
    safe = json.loads(created.output)["safe"]
    rows = payouts(4, prefix=f"cli-kinds-{tmp_path.name}")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows)).address
    Path("p.csv").write_text(
        "recipient,amount,id\n"
        + "".join(f"{p.recipient},{p.amount / 10**6},{p.payout_id}\n" for p in rows)
    )
    assert run("safe", "propose", "p.csv", "--safe", safe, "--token", token).exit_code == 0
    eth_signed = run(
        "safe",
        "sign",
        "safe-proposal.json",
        "--keystore",
        str(keystores[1]),
        "--eth-sign",
        "--json",
    )
    assert json.loads(eth_signed.output)["method"] == "eth_sign"
    approved = run(
        "safe",
        "sign",
        "safe-proposal.json",
        "--keystore",
        str(keystores[2]),
        "--on-chain",
        "--json",
    )
    assert json.loads(approved.output)["method"] == "approved_hash"
    review = json.loads(run("safe", "review", "safe-proposal.json", "--json").output)
    kinds = {s["type"]: s["valid"] for s in review["transactions"][0]["signatures"]}
    assert kinds == {"eth_sign": True, "approved_hash": True}
    done = run(
        "safe", "execute", "safe-proposal.json", "--keystore", str(keystores[EXECUTOR_INDEX])
    )
    assert done.exit_code == 0, done.output
    assert _paid(evm, token, rows) == [p.amount for p in rows]


def test_lost_ledger_safe_propose_with_another_batch_size_proposes_nothing_paid(
    evm: Chain,
    env: dict[str, str],
    funded_safe: dict[str, Any],
    keystores: dict[int, Path],
    tmp_path: Path,
) -> None:
    """Issue 8: the Safe paid the file, the ledger is lost, the file is proposed again with
    another batch size: the Safe's executed batches are read back from the chain (through
    execTransaction -> MultiSend -> disburse) and nothing is proposed again."""
    safe, token, rows = funded_safe["safe"], funded_safe["token"], funded_safe["rows"]
    csv = str(funded_safe["csv"])
    first = run("safe", "propose", csv, "--safe", safe, "--token", token, "--max-batch-size", "25")
    assert first.exit_code == 0, first.output
    _sign_and_execute("safe-proposal.json", keystores, "lost")
    assert _paid(evm, token, rows) == [p.amount for p in rows]
    ledger_file = Path(env["PAYOUT_LEDGER_URL"].split(":///", 1)[1])
    for suffix in ("", "-wal", "-shm"):
        Path(str(ledger_file) + suffix).unlink(missing_ok=True)

    again = run(
        "safe", "propose", csv, "--safe", safe, "--token", token, "--max-batch-size", "12", "--json"
    )
    assert again.exit_code == 0, again.output
    out = json.loads(again.output)
    assert out["alreadyPaid"] == 30 and out["proposal"] is None
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        found = ledger.batches(Scope(Network.EVM, evm.chain_id, safe, token))
    assert sorted(b.count for b in found) == [5, 25]
    assert {b.executor.value for b in found} == {"safe"}
    assert _paid(evm, token, rows) == [p.amount for p in rows]
