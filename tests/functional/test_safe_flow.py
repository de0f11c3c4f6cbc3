"""Paying from real Safes (safe-eth-py's shipped v1.3.0 and v1.4.1 contracts) on anvil: propose,
sign with every signature type, execute, record in the ledger, never pay twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer, wallet

from payout.chain import Chain
from payout.demo_token import DemoToken
from payout.exceptions import SafeNonceConsumed, SafeThresholdNotMet
from payout.ledger import Ledger
from payout.safe.execution import execute_proposal
from payout.safe.multisend import decode_multisend
from payout.safe.pipeline import execute_file, propose_payouts
from payout.safe.proposal import (
    SIG_APPROVED_HASH,
    SIG_CONTRACT,
    SIG_EIP712,
    SIG_ETH_SIGN,
    load_proposal,
    save_proposal,
)
from payout.safe.review import review_proposal
from payout.safe.signature import add_signature, merge_proposals, sign_proposal
from payout.types import BatchStatus, PayoutStatus, Scope


@pytest.fixture(scope="session")
def safe_env(evm: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(evm, disburser)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open("sqlite:///" + str(tmp_path / "ledger.sqlite")) as led:
        yield led


def _balances(chain: Chain, token: str, rows: list) -> list[int]:  # type: ignore[type-arg]
    return [chain.token_balance(token, p.recipient) for p in rows]


def test_two_of_three_pays_every_batch_once_and_records_the_ledger(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger, tmp_path: Path
) -> None:
    owners = [signer(i) for i in (1, 2, 3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(250, prefix="two-of-three")
    token = safe_env.token(DemoToken.USDC, fund=safe, amount=sum(p.amount for p in rows))

    outcome = propose_payouts(
        evm,
        ledger,
        safe=safe,
        payouts=rows,
        token=token,
        disburser=safe_env.disburser,
        max_batch_size=100,
    )
    proposal = outcome.proposal
    assert proposal is not None
    assert [tx.nonce for tx in proposal.transactions] == [0, 1, 2]
    assert [tx.batch.count for tx in proposal.transactions] == [100, 100, 50]
    for tx in proposal.transactions:
        calls = decode_multisend(tx.safe_tx.data)
        assert [c.to for c in calls] == [token.address, safe_env.disburser]
        assert tx.safe_tx.operation == 1 and tx.safe_tx.safe_tx_gas == 0
        assert tx.safe_tx.base_gas == 0 and tx.safe_tx.gas_price == 0

    path = tmp_path / "proposal.json"
    save_proposal(proposal, path)
    # Each signer signs their own copy; the copies are merged.
    copies = []
    for i, owner in enumerate(owners[:2]):
        mine, _ = sign_proposal(evm, load_proposal(path), owner)
        save_proposal(mine, tmp_path / f"sig{i}.json")
        copies.append(load_proposal(tmp_path / f"sig{i}.json"))
    merged = merge_proposals(copies[0], [("sig1.json", copies[1])])
    assert all(len(tx.signatures) == 2 for tx in merged.transactions)
    signed = tmp_path / "signed.json"
    save_proposal(merged, signed)

    review = review_proposal(evm, merged)
    assert review.ok, review.critical
    assert [t.status for t in review.transactions] == [
        "ready",
        "ready after nonce 0",
        "ready after nonce 0",
    ]

    executor = wallet(evm, EXECUTOR_INDEX)
    results = execute_file(evm, ledger, signed, executor)
    assert [r.outcome for r in results] == ["paid", "paid", "paid"]
    assert _balances(evm, token.address, rows) == [p.amount for p in rows]
    assert evm.token_balance(token.address, safe) == 0

    scope = Scope(rows[0].network, evm.chain_id, safe, token.address)
    records = ledger.payouts(scope)
    assert {r.status for r in records} == {PayoutStatus.CONFIRMED}
    assert all(r.tx_hash and r.log_index is not None and r.gas_share for r in records)
    batches = ledger.batches(scope)
    assert [b.status for b in batches] == [BatchStatus.CONFIRMED] * 3
    assert [b.safe_nonce for b in batches] == [0, 1, 2]

    # Executing the same file again pays nobody twice.
    again = execute_file(evm, ledger, signed, executor)
    assert [r.outcome for r in again] == ["already paid"] * 3
    assert _balances(evm, token.address, rows) == [p.amount for p in rows]
    # Proposing the same file again finds everything paid.
    second = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    assert second.proposal is None and len(second.registration.paid) == 250


@pytest.mark.parametrize("version", ["1.3.0", "1.4.1"])
def test_three_of_five_with_contract_owner_approved_hash_and_eth_sign(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger, version: str
) -> None:
    # Owner 0 of the paying Safe is itself a 2-of-2 Safe (the other version, to mix them).
    inner_owners = [signer(6), signer(7)]
    other = "1.4.1" if version == "1.3.0" else "1.3.0"
    owner_safe = safe_env.new_safe(other, [s.address for s in inner_owners], 2)
    eoas = [signer(i) for i in (1, 2, 3, 4)]
    safe = safe_env.new_safe(version, [owner_safe, *[e.address for e in eoas]], 3)
    rows = payouts(40, prefix=f"three-of-five-{version}")
    token = safe_env.token(DemoToken.USDT, fund=safe, amount=sum(p.amount for p in rows))
    outcome = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    proposal = outcome.proposal
    assert proposal is not None and proposal.safe_version == version

    # Contract owner: both owners of the owner Safe sign its SafeMessage; the parts merge.
    for inner in inner_owners:
        proposal, _ = sign_proposal(evm, proposal, inner, owner_safe=owner_safe)
    # One owner approves on chain, one signs eth_sign style.
    proposal, _ = sign_proposal(
        evm, proposal, eoas[0], method=SIG_APPROVED_HASH, wallet=wallet(evm, 1)
    )
    proposal, _ = sign_proposal(evm, proposal, eoas[1], method=SIG_ETH_SIGN)
    kinds = sorted(s.kind for s in proposal.transactions[0].signatures)
    assert kinds == sorted([SIG_CONTRACT, SIG_APPROVED_HASH, SIG_ETH_SIGN])

    review = review_proposal(evm, proposal)
    assert review.ok
    checks = review.transactions[0].signatures
    assert all(c.valid for c in checks), [(c.owner, c.reason) for c in checks]

    results = execute_proposal(evm, proposal, wallet(evm, EXECUTOR_INDEX))
    assert results[0].outcome == "paid"
    used = {c.kind for c in results[0].signatures_used}
    assert used == {SIG_CONTRACT, SIG_APPROVED_HASH, SIG_ETH_SIGN}
    assert _balances(evm, token.address, rows) == [p.amount for p in rows]


def test_threshold_not_met_names_the_missing_owners(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owners = [signer(i) for i in (1, 2, 3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(5, prefix="threshold")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    proposal = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    ).proposal
    assert proposal is not None
    proposal, _ = sign_proposal(evm, proposal, owners[0])
    with pytest.raises(SafeThresholdNotMet) as err:
        execute_proposal(evm, proposal, wallet(evm, EXECUTOR_INDEX))
    assert "1 valid signature(s), the threshold is 2" in str(err.value)
    assert owners[1].address in (err.value.hint or "")
    assert _balances(evm, token.address, rows) == [0] * 5


def test_executor_who_is_an_owner_counts_as_a_signature(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owners = [signer(i) for i in (1, 2, 3)]
    safe = safe_env.new_safe("1.3.0", [o.address for o in owners], 2)
    rows = payouts(3, prefix="owner-executor")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    proposal = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    ).proposal
    assert proposal is not None
    proposal, _ = sign_proposal(evm, proposal, owners[0])
    results = execute_proposal(evm, proposal, wallet(evm, 3))  # owner 3 sends it
    assert results[0].outcome == "paid"
    assert {c.kind for c in results[0].signatures_used} == {SIG_EIP712, SIG_APPROVED_HASH}


def test_nonce_used_by_another_transaction_is_reported_and_reproposed_once(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owners = [signer(i) for i in (1, 2)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 1)
    first_rows = payouts(4, prefix="nonce-a")
    other_rows = payouts(3, prefix="nonce-b")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in first_rows + other_rows) * 2)
    first = propose_payouts(
        evm, ledger, safe=safe, payouts=first_rows, token=token, disburser=safe_env.disburser
    ).proposal
    assert first is not None and first.transactions[0].nonce == 0
    first, _ = sign_proposal(evm, first, owners[0])
    # Someone else proposes and executes a different transaction with the same nonce.
    competing = propose_payouts(
        evm,
        ledger,
        safe=safe,
        payouts=other_rows,
        token=token,
        disburser=safe_env.disburser,
        start_nonce=0,
    ).proposal
    assert competing is not None and competing.transactions[0].nonce == 0
    competing, _ = sign_proposal(evm, competing, owners[1])
    execute_proposal(evm, competing, wallet(evm, EXECUTOR_INDEX))

    with pytest.raises(SafeNonceConsumed) as err:
        execute_proposal(evm, first, wallet(evm, EXECUTOR_INDEX))
    assert "Propose it again" in (err.value.hint or "")
    assert _balances(evm, token.address, first_rows) == [0] * 4

    again = propose_payouts(
        evm, ledger, safe=safe, payouts=first_rows, token=token, disburser=safe_env.disburser
    )
    assert again.proposal is not None and again.proposal.transactions[0].nonce == 1
    signed, _ = sign_proposal(evm, again.proposal, owners[0])
    execute_proposal(evm, signed, wallet(evm, EXECUTOR_INDEX))
    assert _balances(evm, token.address, first_rows) == [p.amount for p in first_rows]


def test_pending_proposal_rows_are_not_proposed_twice(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owners = [signer(1), signer(2)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 1)
    rows = payouts(6, prefix="pending")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows) * 2)
    first = propose_payouts(
        evm, ledger, safe=safe, payouts=rows[:4], token=token, disburser=safe_env.disburser
    )
    assert first.proposal is not None
    # An overlapping file: the 4 rows of the unexecuted proposal are left out, the next nonce is 1.
    second = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    assert sorted(second.pending) == sorted(p.payout_id for p in rows[:4])
    assert second.proposal is not None
    assert second.proposal.transactions[0].batch.payout_ids == tuple(p.payout_id for p in rows[4:])
    assert second.proposal.transactions[0].nonce == 1
    # Both execute in order; everyone is paid exactly once.
    for proposal in (first.proposal, second.proposal):
        signed, _ = sign_proposal(evm, proposal, owners[0])
        execute_proposal(evm, signed, wallet(evm, EXECUTOR_INDEX))
    assert _balances(evm, token.address, rows) == [p.amount for p in rows]


def test_signatures_merge_from_separate_files_keep_one_entry_per_owner(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owners = [signer(1), signer(2), signer(3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(2, prefix="merge")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    base = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    ).proposal
    assert base is not None
    a, _ = sign_proposal(evm, base, owners[2])
    b, _ = sign_proposal(evm, base, owners[0])
    merged = merge_proposals(a, [("b", b), ("a-again", a)])
    sigs = merged.transactions[0].signatures
    assert [s.owner for s in sigs] == sorted(
        (owners[2].address, owners[0].address), key=lambda x: int(x, 16)
    )
    # A copy of another proposal cannot be merged in.
    other = add_signature(base, 0, sigs[0])
    from dataclasses import replace

    tampered_tx = replace(
        other.transactions[0], safe_tx=replace(other.transactions[0].safe_tx, nonce=7)
    )
    from payout.exceptions import SafeProposalFileError

    with pytest.raises(SafeProposalFileError):
        merge_proposals(base, [("evil.json", other.with_transactions([tampered_tx]))])
