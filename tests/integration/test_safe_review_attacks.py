"""A signer's defence, tried as an attacker would (issue 9): a real proposal file written by
``payout safe propose`` on anvil with real Safe contracts is edited consistently (calldata, listed
rows, totals, approvals and the safeTxHash recomputed, as anyone with this toolkit can), then handed
to a signer who runs ``payout safe review`` and ``payout safe sign``.

The signer works in their own folder: no ledger there unless the test says so. Each attack must be
refused by ``review`` (exit 9, DO NOT SIGN, the reason) and by ``sign`` (same checks, same code).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from support.safe_env import SafeEnv, setup_safe_env, signer

from payout._cli.main import cli
from payout.chain import Chain
from payout.demo_token import DemoToken, deploy_token, mint
from payout.devnet import dev_private_key
from payout.disburser import encode_approve, encode_disburse
from payout.safe.multisend import InnerCall, decode_multisend, encode_multisend
from payout.safe.proposal import (
    PayoutRow,
    Proposal,
    ProposedTx,
    TokenRef,
    load_proposal,
    safe_tx_hashes,
    save_proposal,
)
from payout.signer import write_keystore
from payout.wallet import Wallet

from .conftest import FAST, PASSWORD

ATTACKER = "0x000000000000000000000000000000000000bEEF"
REFUSED = 9


def cli_run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def safe_env(chain: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(chain, disburser)


@pytest.fixture(scope="module")
def owner_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("owners")
    out = {}
    for i in (1, 2, 3):
        out[i] = folder / f"owner{i}.json"
        write_keystore(out[i], dev_private_key(i), PASSWORD, iterations=16)
    return out


@dataclass
class Stand:
    """A 2-of-3 Safe holding USDC (what the operator pays) and USDT; a proposal written by
    ``propose`` from payees.csv with the operator's ledger; the signer's own folder."""

    chain: Chain
    safe: str
    usdc: str
    usdt: str
    csv: Path
    proposal: Path
    ledger_url: str
    signer_dir: Path
    monkeypatch: pytest.MonkeyPatch

    def edit(self, name: str, change: Callable[[Proposal], Proposal]) -> str:
        """The attacker's copy: ``change`` applied, every safeTxHash recomputed to match."""
        proposal = change(load_proposal(self.proposal))
        proposal = proposal.with_transactions(rehash(proposal, tx) for tx in proposal.transactions)
        path = self.signer_dir / name
        save_proposal(proposal, path)
        return str(path)

    def with_ledger(self) -> None:
        """The signer is the operator (or has the operator's ledger)."""
        self.monkeypatch.setenv("PAYOUT_LEDGER_URL", self.ledger_url)


def rehash(proposal: Proposal, tx: ProposedTx) -> ProposedTx:
    h = safe_tx_hashes(
        tx.safe_tx, safe=proposal.safe, chain_id=proposal.chain_id, version=proposal.safe_version
    )
    return replace(tx, safe_tx_hash=h.safe_tx_hash)


def with_calls(tx: ProposedTx, calls: list[InnerCall]) -> ProposedTx:
    return replace(tx, safe_tx=replace(tx.safe_tx, data=encode_multisend(calls)))


@pytest.fixture
def stand(
    chain: Chain,
    disburser: str,
    safe_env: SafeEnv,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Stand:
    safe = safe_env.new_safe("1.4.1", [signer(i).address for i in (1, 2, 3)], 2)
    deployer = Wallet(chain, signer(0), FAST)
    usdc = deploy_token(deployer, DemoToken.USDC, "USD Coin", "USDC")
    usdt = deploy_token(deployer, DemoToken.USDT, "Tether USD", "USDT")
    for token in (usdc, usdt):
        mint(deployer, token, safe, 100_000 * 10**6)
    rows = [(_payee(tmp_path, i), f"{310 + i}.217") for i in range(30)]
    csv = tmp_path / "payees.csv"
    csv.write_text(
        "id,recipient,amount\n" + "".join(f"row-{i},{r},{a}\n" for i, (r, a) in enumerate(rows))
    )
    monkeypatch.chdir(tmp_path)
    proposed = cli_run("safe", "propose", str(csv), "--safe", safe, "--token", usdc)
    assert proposed.exit_code == 0, proposed.output
    signer_dir = tmp_path / "signer"
    signer_dir.mkdir()
    # The signer's machine: their own folder, no ledger unless a test hands them the operator's.
    monkeypatch.delenv("PAYOUT_LEDGER_URL")
    monkeypatch.chdir(signer_dir)
    return Stand(
        chain,
        safe,
        usdc,
        usdt,
        csv,
        tmp_path / "safe-proposal.json",
        env["PAYOUT_LEDGER_URL"],
        signer_dir,
        monkeypatch,
    )


def _payee(tmp_path: Path, i: int) -> str:
    from eth_utils.address import to_checksum_address
    from eth_utils.crypto import keccak

    return str(to_checksum_address(keccak(f"{tmp_path.name}/payee/{i}".encode())[12:]))


def review(path: str, *extra: str) -> Result:
    return cli_run("safe", "review", path, *extra)


def review_json(path: str, *extra: str) -> dict[str, Any]:
    """``review --json``: one JSON document on stdout, refused or not."""
    result = CliRunner(mix_stderr=False).invoke(
        cli, ["safe", "review", path, "--json", *extra], catch_exceptions=False
    )
    data: dict[str, Any] = json.loads(result.stdout)
    data["exit_code"] = result.exit_code
    return data


def sign(path: str, keys: dict[int, Path], *extra: str) -> Result:
    out = str(Path(path).with_suffix(".sig1.json"))
    return cli_run("safe", "sign", path, "--keystore", str(keys[1]), "--out", out, *extra)


def codes(data: dict[str, Any], severity: str = "critical") -> set[str]:
    found = {f["code"] for f in data["findings"] if f["severity"] == severity}
    for tx in data["transactions"]:
        found |= {f["code"] for f in tx["findings"] if f["severity"] == severity}
    return found


def refused(result: Result, *reasons: str) -> None:
    assert result.exit_code == REFUSED, result.output
    for reason in reasons:
        assert reason in result.output, result.output


# --- the honest proposal -------------------------------------------------------------------------


def test_honest_proposal_shows_the_chains_token_and_signs_with_the_expected_token(
    stand: Stand, owner_keys: dict[int, Path]
) -> None:
    path = str(stand.proposal)
    ok = review(path, "--token", stand.usdc)
    assert ok.exit_code == 0, ok.output
    assert "OK to sign" in ok.output
    # The token the calldata pays, as the chain names it, with its address.
    assert stand.usdc in ok.output and "USD Coin" in ok.output
    assert "Pays 9741.51 USDC" in ok.output
    # Nothing tells a signer without --token (and without the ledger) which token is meant.
    unknown = review(path)
    refused(unknown, "DO NOT SIGN", stand.usdc, "USD Coin", "--token")
    refused(sign(path, owner_keys), "--token")
    # The operator's ledger planned these batches in USDC: it confirms the token.
    stand.with_ledger()
    assert review(path).exit_code == 0
    signed = sign(path, owner_keys)
    assert signed.exit_code == 0, signed.output


# --- attack 1: token swap ------------------------------------------------------------------------


def _swap_token(proposal: Proposal, token: str) -> Proposal:
    txs = []
    for tx in proposal.transactions:
        calls = decode_multisend(tx.safe_tx.data)
        pairs = [(p.recipient, p.amount) for p in tx.batch.payouts]
        new_calls = [
            InnerCall(c.operation, token, c.value, c.data)
            if c.to == proposal.token.address
            else InnerCall(
                c.operation,
                c.to,
                c.value,
                encode_disburse(
                    token,
                    tx.batch.batch_id,
                    tx.batch.replay_key,
                    tx.batch.total,
                    pairs,
                    tx.batch.mode,
                ),
            )
            for c in calls
        ]
        txs.append(replace(with_calls(tx, new_calls), batch=replace(tx.batch, token=token)))
    # Symbol and decimals in the file stay "USDC", 6.
    return replace(
        proposal,
        token=replace(proposal.token, address=token),
        transactions=tuple(txs),
    )


def test_attack_token_swap_is_refused_with_the_chains_name_for_the_token(
    stand: Stand, owner_keys: dict[int, Path]
) -> None:
    evil = stand.edit("swap.json", lambda p: _swap_token(p, stand.usdt))
    # Without --token: the signer sees the token address and what the chain calls it.
    refused(review(evil), "DO NOT SIGN", stand.usdt, "USDT", "Tether USD")
    data = review_json(evil, "--token", stand.usdc)
    assert data["exit_code"] == REFUSED
    assert {"unexpected_token", "token_symbol"} <= codes(data)
    assert data["token"]["address"] == stand.usdt
    assert (data["token"]["symbol"], data["token"]["name"]) == ("USDT", "Tether USD")
    assert data["token"]["fileSymbol"] == "USDC"
    refused(sign(evil, owner_keys), "USDT")
    refused(sign(evil, owner_keys, "--token", stand.usdc), "you expected")
    # With the operator's ledger the batches were planned in USDC.
    stand.with_ledger()
    refused(sign(evil, owner_keys), "ledger")


# --- attack 2: decimals / symbol from the file ---------------------------------------------------


def test_attack_decimals_or_symbol_in_the_file_is_an_error_and_amounts_use_the_chain(
    stand: Stand, owner_keys: dict[int, Path]
) -> None:
    evil = stand.edit(
        "decimals.json",
        lambda p: replace(p, token=TokenRef(p.token.address, p.token.symbol, 8)),
    )
    result = review(evil, "--token", stand.usdc)
    refused(result, "DO NOT SIGN", "8 decimals", "the chain says 6")
    # Amounts are shown with the chain's decimals, never the file's.
    assert "Pays 9741.51 USDC" in result.output
    assert "97.4151" not in result.output
    refused(sign(evil, owner_keys, "--token", stand.usdc), "decimals")

    renamed = stand.edit(
        "symbol.json", lambda p: replace(p, token=TokenRef(p.token.address, "EURC", 6))
    )
    result = review(renamed, "--token", stand.usdc)
    refused(result, "EURC", "the chain says USDC")
    refused(sign(renamed, owner_keys, "--token", stand.usdc), "EURC")


# --- attack 3: consistent additions --------------------------------------------------------------


def _pay_rows(proposal: Proposal, rows: Sequence[PayoutRow]) -> Proposal:
    """The first transaction paying ``rows`` instead: calldata, listed rows, total and approval
    all consistent (the attacker's edit; the hash is recomputed by :meth:`Stand.edit`)."""
    tx = proposal.transactions[0]
    total = sum(r.amount for r in rows)
    pairs = [(r.recipient, r.amount) for r in rows]
    batch = tx.batch
    calls = [
        InnerCall(c.operation, c.to, 0, encode_approve(proposal.disburser, total))
        if c.to == proposal.token.address
        else InnerCall(
            c.operation,
            c.to,
            0,
            encode_disburse(
                proposal.token.address, batch.batch_id, batch.replay_key, total, pairs, batch.mode
            ),
        )
        for c in decode_multisend(tx.safe_tx.data)
    ]
    forged = replace(with_calls(tx, calls), batch=replace(batch, total=total, payouts=tuple(rows)))
    return proposal.with_transactions([forged, *proposal.transactions[1:]])


def _add_recipient(proposal: Proposal, amount: int) -> Proposal:
    rows = proposal.transactions[0].batch.payouts
    return _pay_rows(proposal, [*rows, PayoutRow("row-30", ATTACKER, amount)])


def _change_row(proposal: Proposal, index: int, amount: int) -> Proposal:
    rows = list(proposal.transactions[0].batch.payouts)
    rows[index] = replace(rows[index], recipient=ATTACKER, amount=amount)
    return _pay_rows(proposal, rows)


def test_attack_added_recipient_is_shown_against_the_payout_file_and_the_ledger(
    stand: Stand, owner_keys: dict[int, Path]
) -> None:
    evil = stand.edit("added.json", lambda p: _add_recipient(p, 5_000 * 10**6))
    data = review_json(evil, "--token", stand.usdc, "--file", str(stand.csv))
    assert data["exit_code"] == REFUSED
    assert "rows_added" in codes(data)
    diffs = data["rows"]["differences"]
    assert [(d["kind"], d["payoutId"], d["proposed"]["recipient"]) for d in diffs] == [
        ("added", "row-30", ATTACKER)
    ]
    assert diffs[0]["proposed"]["amount"] == 5_000 * 10**6
    shown = review(evil, "--token", stand.usdc, "--file", str(stand.csv))
    refused(shown, "added", ATTACKER, "5000.00 USDC")
    refused(sign(evil, owner_keys, "--token", stand.usdc, "--file", str(stand.csv)), "row-30")
    # Against the operator's ledger (no --token, no --file needed).
    stand.with_ledger()
    data = review_json(evil)
    assert data["exit_code"] == REFUSED and "rows_added" in codes(data)
    assert [d["against"] for d in data["rows"]["differences"]] == ["ledger"]
    refused(sign(evil, owner_keys), "row-30")


def test_attack_changed_row_names_the_file_line(stand: Stand, owner_keys: dict[int, Path]) -> None:
    evil = stand.edit("changed.json", lambda p: _change_row(p, 3, 1_000 * 10**6))
    data = review_json(evil, "--token", stand.usdc, "--file", str(stand.csv))
    assert data["exit_code"] == REFUSED and "rows_changed" in codes(data)
    (diff,) = data["rows"]["differences"]
    assert (diff["kind"], diff["payoutId"], diff["line"]) == ("changed", "row-3", 5)
    assert diff["planned"]["amount"] == 313_217_000 and diff["proposed"]["recipient"] == ATTACKER
    refused(
        review(evil, "--token", stand.usdc, "--file", str(stand.csv)), "payees.csv line 5", "row-3"
    )


def test_attack_removed_row_is_shown_against_the_ledger(
    stand: Stand, owner_keys: dict[int, Path]
) -> None:
    def drop(proposal: Proposal) -> Proposal:
        return _pay_rows(proposal, proposal.transactions[0].batch.payouts[1:])

    evil = stand.edit("removed.json", drop)
    stand.with_ledger()
    data = review_json(evil)
    assert data["exit_code"] == REFUSED and "rows_removed" in codes(data)
    (diff,) = data["rows"]["differences"]
    assert (diff["kind"], diff["payoutId"], diff["line"]) == ("removed", "row-0", 2)


# --- attack 4: approve on another token; far nonce -----------------------------------------------


def test_attack_approve_on_a_second_token_is_refused(
    stand: Stand, owner_keys: dict[int, Path]
) -> None:
    def approve_other(proposal: Proposal) -> Proposal:
        tx = proposal.transactions[0]
        calls = decode_multisend(tx.safe_tx.data)
        # The approval goes to USDT while the batch pays USDC.
        calls = [replace(c, to=stand.usdt) if c.to == proposal.token.address else c for c in calls]
        return proposal.with_transactions([with_calls(tx, calls)])

    evil = stand.edit("approve.json", approve_other)
    data = review_json(evil, "--token", stand.usdc)
    assert data["exit_code"] == REFUSED and "approve_token" in codes(data)
    refused(review(evil, "--token", stand.usdc), stand.usdt, "USDT")
    refused(sign(evil, owner_keys, "--token", stand.usdc), "approves")


def test_attack_nonce_far_above_the_safes_warns(stand: Stand, owner_keys: dict[int, Path]) -> None:
    def far(proposal: Proposal) -> Proposal:
        tx = proposal.transactions[0]
        return proposal.with_transactions([replace(tx, safe_tx=replace(tx.safe_tx, nonce=57))])

    evil = stand.edit("nonce.json", far)
    data = review_json(evil, "--token", stand.usdc)
    assert "nonce_gap" in codes(data, "warning")
    shown = review(evil, "--token", stand.usdc)
    assert "nonce 57" in shown.output and "Safe's next nonce is 0" in shown.output
    signed = sign(evil, owner_keys, "--token", stand.usdc)
    assert signed.exit_code == 0 and "nonce 57" in signed.output
