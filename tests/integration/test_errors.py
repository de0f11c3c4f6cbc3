"""Errors: one or two lines with a hint and a category exit status; --debug adds the traceback;
--json turns the error into JSON on stdout."""

from __future__ import annotations

from pathlib import Path

from payout.chain import Chain
from payout.devnet import free_port

from .conftest import Payer, as_json, run


def test_dead_rpc_is_one_line_and_a_hint(payer: Payer, tmp_path: Path) -> None:
    env = {
        "PAYOUT_RPC_URL": f"http://127.0.0.1:{free_port()}",
        "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'l.sqlite'}",
    }
    proc = run("deploy", "--check", env=env)
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Error: the RPC endpoint") and "does not answer" in lines[0]
    assert lines[1].startswith("Hint: ")
    assert "Traceback" not in proc.stderr

    debug = run("--debug", "deploy", "--check", env=env)
    assert debug.returncode == 4 and "Traceback" in debug.stderr

    as_j = run("deploy", "--check", "--json", env=env)
    assert as_j.returncode == 4
    err = as_json(as_j.stdout)["error"]
    assert err["category"] == "ChainError" and err["exit_code"] == 4 and err["hint"]


def test_wrong_keystore_password(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(1)
    nonce = chain.nonce(payer.address)
    proc = run(
        "send",
        str(file),
        "--token",
        usdc,
        "--keystore",
        str(payer.keystore),
        "--yes",
        env=env,
        extra_env={"PAYOUT_KEYSTORE_PASSWORD": "wrong"},
    )
    assert proc.returncode == 7
    assert "wrong password" in proc.stderr
    assert "wrong" not in proc.stdout  # nothing echoed
    # Nothing was signed or sent: no approval, no batch, nobody paid.
    assert chain.nonce(payer.address) == nonce
    assert chain.token_balance(usdc, rows[0][0]) == 0


def test_no_signer_and_both_signers_are_refused(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(1)
    proc = run("send", str(file), "--token", usdc, "--yes", env=env)
    assert proc.returncode == 7 and "--keystore" in proc.stderr
    nonce = chain.nonce(payer.address)
    both = run(
        "send",
        str(file),
        "--token",
        usdc,
        "--keystore",
        str(payer.keystore),
        "--account",
        "treasury",
        "--yes",
        env=env,
    )
    assert both.returncode == 7, both.stderr
    assert "exactly one signer" in both.stderr
    assert chain.nonce(payer.address) == nonce
    assert chain.token_balance(usdc, rows[0][0]) == 0


def test_invalid_file_is_an_input_error_listing_rows(
    env: dict[str, str], payer: Payer, usdc: str, tmp_path: Path
) -> None:
    file = tmp_path / "bad.csv"
    file.write_text("recipient,amount\n0x123,1\n0x70997970C51812dc3A010C7d01b50e0d17dc79C8,-1\n")
    proc = run(
        "send", str(file), "--token", usdc, "--keystore", str(payer.keystore), "--yes", env=env
    )
    assert proc.returncode == 2
    assert "bad.csv" in proc.stderr
    # Every bad row is named by its line (header is line 1), not just the first one.
    assert "bad.csv:2" in proc.stderr and "bad.csv:3" in proc.stderr


def test_every_command_has_json(env: dict[str, str]) -> None:
    import click

    from payout._cli.main import cli

    # Every leaf command at any depth (no exceptions: `payout devnet tron` has --json too).
    missing: list[str] = []
    checked: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for sub_name, sub in command.commands.items():
                walk(sub, [*path, sub_name])
            return
        checked.append(" ".join(path))
        if not any(p.name == "as_json" for p in command.params):
            missing.append(" ".join(path))

    walk(cli, [])
    assert missing == []
    assert {"send", "safe execute", "tron send", "devnet tron"} <= set(checked)
