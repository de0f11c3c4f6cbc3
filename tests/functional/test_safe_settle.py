"""Settling Safe batches from the chain: an executed batch is never recorded as failed, even when
the node cannot show its event (pruned logs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer, wallet

from payout.chain import Chain
from payout.demo_token import DemoToken
from payout.disburser import Disburser
from payout.exceptions import LedgerError
from payout.ledger import Ledger
from payout.safe.execution import LedgerRecorder, execute_proposal
from payout.safe.pipeline import propose_payouts, settle_safe_batch
from payout.safe.signature import sign_proposal
from payout.types import BatchStatus, PayoutStatus, Scope


@pytest.fixture(scope="session")
def safe_env(evm: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(evm, disburser)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open("sqlite:///" + str(tmp_path / "ledger.sqlite")) as led:
        yield led


def _executed_outside_the_ledger(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger, prefix: str
) -> tuple[Scope, str, list[int]]:
    """Propose into ``ledger``, then execute the signed proposal without recording it (as the
    Safe web app or a crashed executor would). Returns the scope, batch id and row amounts."""
    owners = [signer(i) for i in (1, 2, 3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(5, prefix=prefix)
    token = safe_env.token(DemoToken.USDC, fund=safe, amount=sum(p.amount for p in rows))
    outcome = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    proposal = outcome.proposal
    assert proposal is not None
    for owner in owners[:2]:
        proposal, _ = sign_proposal(evm, proposal, owner)
    results = execute_proposal(evm, proposal, wallet(evm, EXECUTOR_INDEX), recorder=None)
    assert [r.outcome for r in results] == ["paid"]
    scope = Scope(rows[0].network, evm.chain_id, safe, token.address)
    return scope, "0x" + proposal.transactions[0].batch.batch_id.hex(), [p.amount for p in rows]


def test_executed_batch_is_settled_as_paid(evm: Chain, safe_env: SafeEnv, ledger: Ledger) -> None:
    scope, batch_id, _ = _executed_outside_the_ledger(evm, safe_env, ledger, "settle-found")
    assert settle_safe_batch(evm, ledger, scope, batch_id).outcome == "confirmed"
    assert {r.status for r in ledger.payouts(scope)} == {PayoutStatus.CONFIRMED}


def test_executed_batch_whose_event_is_missing_is_never_marked_failed(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope, batch_id, _ = _executed_outside_the_ledger(evm, safe_env, ledger, "settle-pruned")
    before = {r.payout_id: r.status for r in ledger.payouts(scope)}
    # A node that pruned its logs: the contract says executed, but no BatchDisbursed is found.
    monkeypatch.setattr(Disburser, "find_batch", lambda self, *a, **k: None)

    with pytest.raises(LedgerError, match="executed"):
        settle_safe_batch(evm, ledger, scope, batch_id)

    # Nothing changed: the rows are not owed again (that would pay them twice later).
    assert {r.payout_id: r.status for r in ledger.payouts(scope)} == before
    assert PayoutStatus.FAILED not in before.values()
    assert ledger.batch(scope, batch_id).status is not BatchStatus.FAILED


def test_losing_executor_of_a_race_records_the_batch_as_paid(
    evm: Chain, safe_env: SafeEnv, ledger: Ledger
) -> None:
    """Two executors send the same signed Safe transaction into one block: the second reverts
    (GS026, the nonce moved). Its revert must not make the rows owed again."""
    owners = [signer(i) for i in (1, 2, 3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(4, prefix="settle-race")
    token = safe_env.token(DemoToken.USDC, fund=safe, amount=sum(p.amount for p in rows))
    outcome = propose_payouts(
        evm, ledger, safe=safe, payouts=rows, token=token, disburser=safe_env.disburser
    )
    proposal = outcome.proposal
    assert proposal is not None
    for owner in owners[:2]:
        proposal, _ = sign_proposal(evm, proposal, owner)

    executors = [wallet(evm, EXECUTOR_INDEX), wallet(evm, 0)]
    # Each executor checks the Safe (nonce, signatures, simulation) before it sends; both must
    # have done so before either transaction reaches the node, or the slower one sees the other's
    # pending transaction and rightly refuses to send (GS026). A barrier makes that order certain
    # instead of leaving it to the machine's load.
    ready = threading.Barrier(len(executors), timeout=120)
    for w in executors:

        def broadcast(signed: object, _send: object = w.broadcast) -> None:
            ready.wait()
            _send(signed)  # type: ignore[operator]

        w.broadcast = broadcast  # type: ignore[method-assign]
    start = {
        w.address: evm.request("eth_getTransactionCount", [w.address, "latest"]) for w in executors
    }
    results: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            results[i] = execute_proposal(
                evm, proposal, executors[i], recorder=LedgerRecorder(ledger)
            )
        except Exception as exc:  # the assertion below shows it
            results[i] = exc

    evm.request("evm_setAutomine", [False])
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        # Both transactions must be waiting in the node before one block takes them together.
        deadline = 60.0
        t0 = time.monotonic()
        while time.monotonic() - t0 < deadline:
            pending = [
                evm.request("eth_getTransactionCount", [w.address, "pending"]) for w in executors
            ]
            if all(p != start[w.address] for p, w in zip(pending, executors, strict=True)):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the two executions never reached the node")
        evm.request("evm_mine", [])
    finally:
        evm.request("evm_setAutomine", [True])
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()

    errors = [r for r in results.values() if isinstance(r, Exception)]
    assert not errors, errors
    outcomes = sorted(r[0].outcome for r in results.values())  # type: ignore[index]
    assert outcomes == ["already paid", "paid"], results
    assert [evm.token_balance(token.address, p.recipient) for p in rows] == [p.amount for p in rows]
    scope = Scope(rows[0].network, evm.chain_id, safe, token.address)
    assert {r.status for r in ledger.payouts(scope)} == {PayoutStatus.CONFIRMED}
