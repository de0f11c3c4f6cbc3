"""Review: a proposal's approvals may only be ``approve(0)`` (USDT's rule) or ``approve(total)``.

An edited approve amount (say, unlimited) keeps the spender and token the review checks, but leaves
an allowance the batch never uses (and, with USDT, blocks the next batch's approval).
"""

from __future__ import annotations

from payout.address import tron_to_evm
from payout.disburser import encode_approve
from payout.tron.multisig import ProposalTx, review
from payout.tron.transaction import SignedTx

from .test_multisig_file import DISBURSER, _proposal


def _with_approve_amount(amount: int) -> list[str]:
    proposal = _proposal()
    approve = proposal.transactions[0].tx.raw_data
    approve["contract"][0]["parameter"]["value"]["data"] = encode_approve(
        tron_to_evm(DISBURSER), amount
    ).hex()
    proposal.transactions[0] = ProposalTx(f"approve({amount})", SignedTx.build(approve))
    return list(review(proposal).problems)


def test_an_approval_of_another_amount_than_the_batch_total_is_a_problem() -> None:
    problems = _with_approve_amount(2**256 - 1)
    assert any("not 0 or the batch total" in p for p in problems), problems


def test_approve_zero_and_approve_total_are_accepted() -> None:
    assert _with_approve_amount(0) == []
    assert _with_approve_amount(_proposal().batch["total"]) == []
