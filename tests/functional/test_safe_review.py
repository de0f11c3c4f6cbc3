"""Review catches what a signer must not sign, and execution translates Safe reverts (GS codes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer, wallet

from payout.chain import Chain
from payout.demo_token import DemoToken
from payout.disburser import encode_approve, encode_disburse
from payout.exceptions import SafeExecutionFailed, SafeProposalRejected
from payout.ledger import Ledger
from payout.safe.execution import (
    _raw_call,
    exec_transaction_calldata,
    execute_proposal,
    explain_revert,
)
from payout.safe.multisend import InnerCall, decode_multisend, encode_multisend
from payout.safe.pipeline import propose_payouts
from payout.safe.proposal import PayoutRow, Proposal, ProposedTx, safe_tx_hashes
from payout.safe.review import require_clean, review_proposal
from payout.safe.signature import sign_proposal
from payout.types import Payout


@pytest.fixture(scope="session")
def safe_env(evm: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(evm, disburser)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open("sqlite:///" + str(tmp_path / "ledger.sqlite")) as led:
        yield led


@pytest.fixture
def proposed(evm: Chain, safe_env: SafeEnv, ledger: Ledger) -> tuple[Proposal, str]:
    owners = [signer(1), signer(2), signer(3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(30, prefix="review")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    outcome = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    assert outcome.proposal is not None
    return outcome.proposal, token.address


def _rehash(proposal: Proposal, tx: ProposedTx) -> ProposedTx:
    """An attacker who edits the fields and writes a matching hash into the file."""
    h = safe_tx_hashes(
        tx.safe_tx, safe=proposal.safe, chain_id=proposal.chain_id, version=proposal.safe_version
    )
    return replace(tx, safe_tx_hash=h.safe_tx_hash)


def _codes(review: object) -> set[str]:
    return {f.code for f in review.critical}  # type: ignore[attr-defined]


def test_clean_proposal_shows_the_hashes_a_hardware_wallet_displays(
    evm: Chain, proposed: tuple[Proposal, str]
) -> None:
    proposal, token = proposed
    review = review_proposal(evm, proposal, expected_token=token)
    assert review.ok
    tx = review.transactions[0]
    from eth_utils.crypto import keccak

    assert tx.hashes.safe_tx_hash == keccak(
        b"\x19\x01" + tx.hashes.domain_hash + tx.hashes.message_hash
    )
    # The domain hash is what the Safe contract itself computes.
    from payout.safe.safe_state import read_domain_separator

    assert tx.hashes.domain_hash == read_domain_separator(evm, proposal.safe)
    assert tx.decoded.count == 30 and tx.decoded.total == proposal.transactions[0].batch.total
    # The digest is keccak256 of the packed rows exactly as in the calldata (20-byte recipient,
    # then the amount in the batch's amount width).
    width = max(1, (max(a for _, a in tx.decoded.recipients).bit_length() + 7) // 8)
    assert tx.decoded.digest == keccak(
        b"".join(
            int(r, 16).to_bytes(20, "big") + a.to_bytes(width, "big")
            for r, a in tx.decoded.recipients
        )
    )


def test_hash_in_file_is_never_trusted(evm: Chain, proposed: tuple[Proposal, str]) -> None:
    proposal, _ = proposed
    tx = proposal.transactions[0]
    # Change one recipient's amount in the calldata and the listed rows, keep the old hash.
    calls = decode_multisend(tx.safe_tx.data)
    data = bytearray(calls[-1].data)
    # The last byte of the packed rows (the last amount's): after the selector, six head words
    # and the length word of ``bytes packed``.
    packed_len = int.from_bytes(data[4 + 6 * 32 : 4 + 7 * 32], "big")
    data[4 + 7 * 32 + packed_len - 1] ^= 1
    calls[-1] = replace(calls[-1], data=bytes(data))
    forged = replace(tx, safe_tx=replace(tx.safe_tx, data=encode_multisend(calls)))
    review = review_proposal(evm, proposal.with_transactions([forged]))
    assert "hash_mismatch" in _codes(review)
    assert "total" in _codes(review) and "payouts_mismatch" in _codes(review)
    with pytest.raises(SafeProposalRejected):
        require_clean(review)


def test_delegatecall_to_anything_but_multisend_call_only_is_critical(
    evm: Chain, proposed: tuple[Proposal, str], safe_env: SafeEnv
) -> None:
    proposal, _ = proposed
    tx = proposal.transactions[0]
    # MultiSend (not call-only) style target, or any contract: full control of the Safe.
    evil = _rehash(proposal, replace(tx, safe_tx=replace(tx.safe_tx, to=safe_env.disburser)))
    review = review_proposal(evm, proposal.with_transactions([evil]))
    assert "untrusted_delegatecall" in _codes(review)
    assert "hash_mismatch" not in _codes(review)


def test_approval_other_than_total_and_unexpected_token_are_critical(
    evm: Chain, proposed: tuple[Proposal, str], safe_env: SafeEnv
) -> None:
    proposal, token = proposed
    tx = proposal.transactions[0]
    calls = decode_multisend(tx.safe_tx.data)
    calls[0] = InnerCall(0, calls[0].to, 0, encode_approve(safe_env.disburser, 2**256 - 1))
    bigger = _rehash(
        proposal, replace(tx, safe_tx=replace(tx.safe_tx, data=encode_multisend(calls)))
    )
    review = review_proposal(evm, proposal.with_transactions([bigger]))
    assert "approval_total" in _codes(review)

    other_token = safe_env.token(DemoToken.USDT).address
    review = review_proposal(evm, proposal, expected_token=other_token)
    assert "unexpected_token" in _codes(review)
    assert token != other_token


def test_chain_mismatch_unknown_disburser_and_listed_rows_mismatch(
    evm: Chain, proposed: tuple[Proposal, str]
) -> None:
    proposal, token = proposed
    review = review_proposal(evm, replace(proposal, chain_id=1))
    assert "chain_id" in _codes(review)
    # A disburser address whose code is not the shipped disburser (here: the token).
    review = review_proposal(evm, replace(proposal, disburser=token))
    assert "disburser_code" in _codes(review)
    # The file lists a different recipient than the calldata pays.
    tx = proposal.transactions[0]
    rows = list(tx.batch.payouts)
    rows[0] = PayoutRow(
        rows[0].payout_id, "0x000000000000000000000000000000000000dEaD", rows[0].amount
    )
    lying = replace(tx, batch=replace(tx.batch, payouts=tuple(rows)))
    review = review_proposal(evm, proposal.with_transactions([lying]))
    assert _codes(review) == {"payouts_mismatch"}


def test_signature_of_another_transaction_is_reported_invalid(
    evm: Chain, proposed: tuple[Proposal, str]
) -> None:
    proposal, _ = proposed
    signed, _ = sign_proposal(evm, proposal, signer(1))
    tx = signed.transactions[0]
    other = replace(tx, safe_tx=replace(tx.safe_tx, nonce=5))
    review = review_proposal(evm, signed.with_transactions([_rehash(signed, other)]))
    checks = review.transactions[0].signatures
    assert [c.valid for c in checks] == [False]
    assert any(f.code == "signature" for f in review.transactions[0].findings)


def test_nonce_already_used_is_flagged(evm: Chain, safe_env: SafeEnv, ledger: Ledger) -> None:
    owner = signer(1)
    safe = safe_env.new_safe("1.3.0", [owner.address], 1)
    rows = payouts(3, prefix="used")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows) * 2)
    a = propose_payouts(
        evm, ledger, safe=safe, payouts=rows[:1], token=token, disburser=safe_env.disburser
    ).proposal
    b = propose_payouts(
        evm,
        ledger,
        safe=safe,
        payouts=rows[1:],
        token=token,
        disburser=safe_env.disburser,
        start_nonce=0,
    ).proposal
    assert a is not None and b is not None
    signed, _ = sign_proposal(evm, b, owner)
    execute_proposal(evm, signed, wallet(evm, EXECUTOR_INDEX))
    review = review_proposal(evm, a)
    assert review.transactions[0].status == "nonce used"
    assert any(f.code == "nonce_used" for f in review.transactions[0].findings)


def test_usdt_existing_allowance_is_reset_to_zero_first(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owner = signer(1)
    safe = safe_env.new_safe("1.4.1", [owner.address], 1)
    rows = payouts(5, prefix="usdt-allowance")
    token = safe_env.token(DemoToken.USDT, fund=safe, amount=sum(p.amount for p in rows))
    # Leave a non-zero allowance behind (as an old approval would).
    setup = propose_payouts(
        evm, ledger, safe=safe, payouts=rows[:1], token=token, disburser=safe_env.disburser
    ).proposal
    assert setup is not None
    tx = setup.transactions[0]
    leftover = [InnerCall(0, token.address, 0, encode_approve(safe_env.disburser, 123))]
    approve_only = _rehash(
        setup, replace(tx, safe_tx=replace(tx.safe_tx, data=encode_multisend(leftover)))
    )
    pre = setup.with_transactions([approve_only])
    signed, _ = sign_proposal(evm, pre, owner)
    # Sent raw: this transaction is deliberately not a payout batch (review would refuse it).
    from payout.safe.execution import choose_signatures, collect_checks
    from payout.safe.safe_state import read_safe
    from payout.safe.signature import encode_signatures

    state = read_safe(evm, safe)
    stx = signed.transactions[0]
    sigs = encode_signatures(
        choose_signatures(collect_checks(evm, signed, stx, state, owner.address), 1)
    )
    wallet(evm, EXECUTOR_INDEX).transact(
        safe, exec_transaction_calldata(stx.safe_tx, sigs), label="leftover"
    )
    assert evm.allowance(token.address, safe, safe_env.disburser) == 123

    outcome = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    assert outcome.proposal is not None
    calls = decode_multisend(outcome.proposal.transactions[0].safe_tx.data)
    assert [c.data for c in calls[:2]] == [
        encode_approve(safe_env.disburser, 0),
        encode_approve(safe_env.disburser, sum(p.amount for p in rows)),
    ]
    signed, _ = sign_proposal(evm, outcome.proposal, owner)
    execute_proposal(evm, signed, wallet(evm, EXECUTOR_INDEX))
    assert evm.allowance(token.address, safe, safe_env.disburser) == 0

    # Without the reset, USDT reverts inside the Safe: GS013, explained from the inner calls.
    rows2 = payouts(2, prefix="usdt-no-reset")
    from payout.demo_token import mint

    mint(wallet(evm, 0), token.address, safe, sum(p.amount for p in rows2))
    again = propose_payouts(
        evm, ledger, safe=safe, payouts=rows2, token=token, disburser=safe_env.disburser
    ).proposal
    assert again is not None
    # Set an allowance after proposing, so the proposal's approve(total) now meets a non-zero one.
    tx2 = again.transactions[0]
    pre2 = _rehash(
        again, replace(tx2, safe_tx=replace(tx2.safe_tx, data=encode_multisend(leftover)))
    )
    s2, _ = sign_proposal(evm, again.with_transactions([pre2]), owner)
    st2 = s2.transactions[0]
    sigs2 = encode_signatures(
        choose_signatures(collect_checks(evm, s2, st2, read_safe(evm, safe), owner.address), 1)
    )
    wallet(evm, EXECUTOR_INDEX).transact(
        safe, exec_transaction_calldata(st2.safe_tx, sigs2), label="leftover"
    )
    # The original proposal (nonce 2 was used by the leftover approval): re-propose at nonce 3...
    stale = propose_payouts(
        evm, ledger, safe=safe, payouts=rows2, token=token, disburser=safe_env.disburser
    ).proposal
    assert stale is not None
    tx3 = stale.transactions[0]
    no_reset = [
        c
        for c in decode_multisend(tx3.safe_tx.data)
        if c.data != encode_approve(safe_env.disburser, 0)
    ]
    broken = _rehash(
        stale, replace(tx3, safe_tx=replace(tx3.safe_tx, data=encode_multisend(no_reset)))
    )
    signed3, _ = sign_proposal(evm, stale.with_transactions([broken]), owner)
    review = review_proposal(evm, signed3)
    assert any(f.code == "allowance" for f in review.findings)
    with pytest.raises(SafeExecutionFailed) as err:
        execute_proposal(evm, signed3, wallet(evm, EXECUTOR_INDEX))
    assert err.value.code == "GS013"
    assert "approve call 1 reverts" in str(err.value)
    assert evm.token_balance(token.address, rows2[0].recipient) == 0


def test_gs026_unsorted_or_foreign_signatures_are_translated(
    evm: Chain, proposed: tuple[Proposal, str]
) -> None:
    proposal, _ = proposed
    signed, _ = sign_proposal(evm, proposal, signer(1))
    signed, _ = sign_proposal(evm, signed, signer(2))
    tx = signed.transactions[0]
    sigs = [s.signature for s in tx.signatures]
    backwards = b"".join(reversed(sigs))  # descending owner order
    data = exec_transaction_calldata(tx.safe_tx, backwards)
    ok, revert, message = _raw_call(evm, wallet(evm, EXECUTOR_INDEX).address, signed.safe, data)
    assert not ok
    error = explain_revert(evm, signed, tx, revert, message)
    assert error.code == "GS026"
    assert "sorted" in str(error)
    too_few = exec_transaction_calldata(tx.safe_tx, sigs[0])
    ok, revert, message = _raw_call(evm, signed.safe, signed.safe, too_few)
    assert not ok
    assert explain_revert(evm, signed, tx, revert, message).code == "GS020"


def test_nonce_gap_warns_unless_the_ledger_knows_the_queued_proposals(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    owner = signer(1)
    safe = safe_env.new_safe("1.4.1", [owner.address], 1)
    rows = payouts(6, prefix="gap")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))

    def propose(part: list[Payout]) -> Proposal:
        outcome = propose_payouts(
            evm, ledger, safe=safe, payouts=part, token=token, disburser=safe_env.disburser
        )
        assert outcome.proposal is not None
        return outcome.proposal

    first, second = propose(rows[:3]), propose(rows[3:])
    assert [t.nonce for t in second.transactions] == [1]

    def gaps(review: object) -> list[str]:
        return [
            f.message
            for tx in review.transactions  # type: ignore[attr-defined]
            for f in tx.findings
            if f.code == "nonce_gap"
        ]

    assert gaps(review_proposal(evm, first)) == []
    # Alone, nonce 1 waits for a transaction nobody has shown the signer: warned.
    (alone,) = gaps(review_proposal(evm, second))
    assert "nonce 1 leaves a gap: the Safe's next nonce is 0" in alone
    # The operator's ledger knows the proposal at nonce 0: no gap.
    assert gaps(review_proposal(evm, second, ledger=ledger)) == []
    # Far above both: warned, naming what the ledger knows.
    tx = second.transactions[0]
    far = second.with_transactions(
        [_rehash(second, replace(tx, safe_tx=replace(tx.safe_tx, nonce=9)))]
    )
    (message,) = gaps(review_proposal(evm, far, ledger=ledger))
    assert "nonce 9" in message and "up to 0" in message and "1 to 8" in message


def test_a_row_paid_twice_under_one_payout_id_is_critical(
    evm: Chain, proposed: tuple[Proposal, str], safe_env: SafeEnv, tmp_path: Path
) -> None:
    proposal, token = proposed
    tx = proposal.transactions[0]
    rows = list(tx.batch.payouts)
    csv = tmp_path / "payees.csv"
    csv.write_text(
        "id,recipient,amount\n"
        + "".join(f"{r.payout_id},{r.recipient},{Decimal(r.amount) / 10**6}\n" for r in rows)
    )
    rows[1] = rows[0]  # the first row paid twice, everything consistent
    total = sum(r.amount for r in rows)
    pairs = [(r.recipient, r.amount) for r in rows]
    calls = decode_multisend(tx.safe_tx.data)
    calls[0] = replace(calls[0], data=encode_approve(safe_env.disburser, total))
    calls[-1] = replace(
        calls[-1],
        data=encode_disburse(
            token, tx.batch.batch_id, tx.batch.replay_key, total, pairs, tx.batch.mode
        ),
    )
    forged = _rehash(
        proposal,
        replace(
            tx,
            safe_tx=replace(tx.safe_tx, data=encode_multisend(calls)),
            batch=replace(tx.batch, total=total, payouts=tuple(rows)),
        ),
    )
    review = review_proposal(
        evm, proposal.with_transactions([forged]), expected_token=token, payout_file=csv
    )
    assert _codes(review) == {"rows_duplicate"}
    (dup,) = review.rows.differences
    assert (dup.kind, dup.payout_id) == ("duplicate", rows[0].payout_id)
    # The row paid twice displaced the second row of the file: shown as not proposed.
    assert [d.payout_id for d in review.rows.not_proposed] == [tx.batch.payouts[1].payout_id]
    assert any(f.code == "rows_not_proposed" for f in review.findings)
