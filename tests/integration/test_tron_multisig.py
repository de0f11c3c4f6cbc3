"""TRON native multisig via the CLI: permission, propose, sign, review, broadcast, expiry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.tron_payout import (
    TronEnv,
    keystore_for,
    recipients,
    rows_for,
    signer_of,
    tron_env,
    units,
)

from payout.exceptions import SignerError, TronError, TronPermissionInvalid
from payout.ledger import Ledger
from payout.tron.deploy import mint
from payout.tron.permission import PayoutPermission, PermissionKey, set_payout_permission
from payout.tron.pipeline import open_context, propose_file, scope_of
from payout.types import BatchStatus, PayoutStatus

__all__ = ["tron_env"]


def _multisig_payer(env: TronEnv, tmp_path: Path) -> tuple[str, Path]:
    """A fresh account with TRX and tokens, and its (owner) keystore."""
    owner = signer_of("multisig owner")
    env.node.faucet(owner.address, 5_000 * 1_000_000)
    mint(env.client, env.payer, env.token, owner.address, 10_000 * 10**6)
    return owner.address, keystore_for(tmp_path, "multisig owner")


def _json(text: str) -> dict[str, object]:
    value, _end = json.JSONDecoder().raw_decode(text)
    assert isinstance(value, dict)
    return value


def test_two_of_three_propose_sign_review_broadcast(tron_env: TronEnv, tmp_path: Path) -> None:
    payer, owner_keystore = _multisig_payer(tron_env, tmp_path)
    holders = {name: keystore_for(tmp_path, name) for name in ("alice", "bob", "carol", "mallory")}
    keys = [signer_of(n).address for n in ("alice", "bob", "carol")]
    result = tron_env.cli(
        "permission",
        "--keystore",
        str(owner_keystore),
        *(arg for k in keys for arg in ("--key", f"{k}:1")),
        "--threshold",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    permission_id = _json(result.output)["permission_id"]
    assert permission_id == 3  # after the account's default "active" (id 2)

    rows = rows_for(recipients(4, "ms"))
    path = tron_env.write_file(rows)
    out = tmp_path / "proposals"
    proposed = tron_env.cli(
        "propose",
        str(path),
        "--payer",
        payer,
        "--permission-id",
        str(permission_id),
        "--out",
        str(out),
        "--json",
    )
    assert proposed.exit_code == 0, proposed.output
    (txfile,) = _json(proposed.output)["files"]  # type: ignore[misc]

    review = _json(tron_env.cli("review", txfile, "--json").output)
    assert review["ready"] is False and review["problems"] == []
    approve, disburse = review["transactions"]  # type: ignore[misc]
    assert approve["function"] == "approve" and approve["permission_id"] == permission_id
    assert disburse["function"] == "disburse"
    assert [(r["recipient"], r["amount"]) for r in disburse["details"]["recipients"]] == [
        (r, units(a)) for r, a, _i in rows
    ]
    # Token units next to the base units, read from the node (symbol and decimals).
    assert review["token"]["symbol"] == "USDT" and review["token"]["decimals"] == 6
    assert [r["amount_units"] for r in disburse["details"]["recipients"]] == [
        a for _r, a, _i in rows
    ]
    assert disburse["details"]["total_units"] == "4.10"
    shown = tron_env.cli("review", txfile)
    assert shown.exit_code == 0, shown.output
    assert "amount (USDT)" in shown.output and "total 4.10 USDT" in shown.output
    assert "approve 4.10 USDT to " in shown.output and "base units" not in shown.output
    # No node answering: base units, saying so.
    offline = tron_env.cli("review", txfile, "--node", "http://127.0.0.1:1")
    assert offline.exit_code == 0, offline.output
    assert "amounts in base units: the token's decimals could not be read" in offline.output
    assert "total 4100000 base units" in offline.output and "USDT" not in offline.output
    document = json.loads(Path(txfile).read_text())
    assert disburse["txID"] == document["transactions"][1]["txID"]
    assert document["transactions"][1]["raw_data"]["contract"][0]["Permission_id"] == permission_id
    expires = document["transactions"][1]["raw_data"]["expiration"]
    assert 22 * 3600_000 < expires - document["created_ms"] <= 24 * 3600_000

    # A key outside the permission cannot sign.
    outsider = tron_env.cli("sign", txfile, "--keystore", str(holders["mallory"]))
    assert outsider.exit_code == SignerError.exit_code and "cannot sign" in outsider.output

    assert tron_env.cli("sign", txfile, "--keystore", str(holders["alice"])).exit_code == 0
    short = tron_env.cli("broadcast", txfile)
    assert short.exit_code == TronError.exit_code and "weight 1" in short.output
    assert all(tron_env.balance(r) == 0 for r, _a, _i in rows)

    signed = tron_env.cli("sign", txfile, "--keystore", str(holders["carol"]), "--json")
    assert signed.exit_code == 0 and _json(signed.output)["ready"] is True
    sent = tron_env.cli("broadcast", txfile, "--json")
    assert sent.exit_code == 0, sent.output
    assert _json(sent.output)["status"] == "confirmed"
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)

    # Broadcasting the same file again pays nobody twice.
    again = tron_env.cli("broadcast", txfile, "--json")
    assert again.exit_code == 0, again.output
    for address, amount, _id in rows:
        assert tron_env.balance(address) == units(amount)
    ctx = open_context(
        tron_env.node.url, token=tron_env.token, disburser=tron_env.disburser, payer=payer
    )
    with Ledger.open(tron_env.ledger_url) as ledger:
        assert {r.status for r in ledger.payouts(scope_of(ctx))} == {PayoutStatus.CONFIRMED}


def test_expired_proposal_releases_its_rows(tron_env: TronEnv, tmp_path: Path) -> None:
    payer, owner_keystore = _multisig_payer(tron_env, tmp_path)
    owner = signer_of("multisig owner")
    holders = [signer_of(n) for n in ("dave", "erin")]
    result = set_payout_permission(
        tron_env.client,
        owner,
        PayoutPermission(keys=tuple(PermissionKey(h.address, 1) for h in holders), threshold=2),
    )
    ctx = open_context(
        tron_env.node.url, token=tron_env.token, disburser=tron_env.disburser, payer=payer
    )
    path = tron_env.write_file(rows_for(recipients(2, "exp")))
    with Ledger.open(tron_env.ledger_url) as ledger:
        _plan, files = propose_file(
            ctx,
            ledger,
            path,
            tmp_path / "out",
            permission_id=int(result["permission_id"]),
            expiration_ms=60_000,
        )
        (batch,) = ledger.batches(scope_of(ctx))
        assert batch.status is BatchStatus.SUBMITTED
    # Still collecting signatures: resume leaves it alone.
    waiting = tron_env.cli("resume", "--payer", payer, "--json")
    assert waiting.exit_code == 0, waiting.output
    assert _json(waiting.output)["settled"][0]["status"] == "submitted"  # type: ignore[index]
    # The chain's clock passes the expiration (signers offline cannot know; the node refuses).
    tron_env.node.advance_time(120_000)
    for holder in ("dave", "erin"):
        signing = tron_env.cli(
            "sign", str(files[0]), "--keystore", str(keystore_for(tmp_path, holder))
        )
        assert signing.exit_code == 0, signing.output
    late = tron_env.cli("broadcast", str(files[0]))
    assert late.exit_code == TronError.exit_code and "xpir" in late.output
    released = tron_env.cli("resume", "--payer", payer, "--json")
    assert released.exit_code == 0, released.output
    with Ledger.open(tron_env.ledger_url) as ledger:
        (batch,) = ledger.batches(scope_of(ctx))
        assert batch.status is BatchStatus.ABANDONED
        assert {r.status for r in ledger.payouts(scope_of(ctx))} == {PayoutStatus.PLANNED}
    _ = owner_keystore


def test_a_permission_without_contract_calls_is_refused(tron_env: TronEnv, tmp_path: Path) -> None:
    payer, _keystore = _multisig_payer(tron_env, tmp_path)
    owner = signer_of("multisig owner")
    result = set_payout_permission(
        tron_env.client,
        owner,
        PayoutPermission(
            keys=(PermissionKey(signer_of("frank").address, 1),),
            threshold=1,
            name="transfers-only",
            operations=(1,),
        ),
    )
    ctx = open_context(
        tron_env.node.url, token=tron_env.token, disburser=tron_env.disburser, payer=payer
    )
    with (
        Ledger.open(tron_env.ledger_url) as ledger,
        pytest.raises(TronPermissionInvalid, match="31"),
    ):
        propose_file(
            ctx,
            ledger,
            tron_env.write_file(rows_for(recipients(1, "perm"))),
            tmp_path / "out",
            permission_id=int(result["permission_id"]),
        )
