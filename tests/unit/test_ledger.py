"""Ledger behaviour on SQLite and on a real PostgreSQL server (every test runs on both)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from payout.batching import derive_batch_id, plan_batches
from payout.config import resolve_ledger_url
from payout.exceptions import (
    InvalidTransitionError,
    LedgerConflictError,
    LedgerError,
    LedgerNotFoundError,
    LedgerUnavailableError,
)
from payout.ledger import Ledger, PayoutOutcome
from payout.types import (
    UINT96_MAX,
    BatchStatus,
    ExecutorKind,
    Network,
    PayMode,
    Payout,
    PayoutStatus,
    Scope,
)

PAYER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TOKEN = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
OTHER_TOKEN = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
ALICE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
BOB = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
SCOPE = Scope(Network.EVM, 1, PAYER, TOKEN)


def rows(n: int, *, start: int = 0, amount: int = 1_000_000) -> list[Payout]:
    return [
        Payout(f"p{i}", ALICE if i % 2 else BOB, amount + i, line=i + 2, source="f.csv")
        for i in range(start, start + n)
    ]


def plan(payouts: list[Payout], *, size: int = 3) -> list:  # type: ignore[type-arg]
    return plan_batches(
        payouts, chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=size
    )


def status_of(ledger: Ledger, *ids: str) -> list[PayoutStatus]:
    found = {r.payout_id: r.status for r in ledger.payouts(SCOPE, payout_ids=list(ids))}
    return [found[i] for i in ids]


def submit_and_confirm(ledger: Ledger, batch, tx: str = "0x01") -> None:  # type: ignore[no-untyped-def]
    ledger.record_submission(SCOPE, batch.batch_id, tx_hash=tx, nonce=0)
    ledger.record_confirmation(SCOPE, batch.batch_id, tx_hash=tx, block_number=7, gas_used=300)


# --- schema -------------------------------------------------------------------------------------


def test_schema_is_created_versioned_and_reopened(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as first:
        assert first.schema_version() == 2
        first.register(rows(2), SCOPE)
    with Ledger.open(ledger_url) as again:
        assert again.schema_version() == 2
        assert len(again.payouts(SCOPE)) == 2


def test_ledger_from_a_newer_version_is_refused(ledger_url: str) -> None:
    Ledger.open(ledger_url).close()
    engine = create_engine(resolve_ledger_url(ledger_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(LedgerUnavailableError, match="newer"):
        Ledger.open(ledger_url)


def test_default_location_is_dot_payout_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAYOUT_LEDGER_URL", raising=False)
    with Ledger.open() as ledger:
        assert ledger.dialect == "sqlite"
        ledger.register(rows(1), SCOPE)
    assert (tmp_path / ".payout" / "ledger.sqlite").is_file()


def test_env_url_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere.sqlite"
    monkeypatch.setenv("PAYOUT_LEDGER_URL", f"sqlite:///{target}")
    with Ledger.open() as ledger:
        ledger.register(rows(1), SCOPE)
    assert target.is_file()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    with (
        Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger,
        ledger.engine.connect() as conn,
    ):
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


# --- idempotency --------------------------------------------------------------------------------


def test_register_inserts_planned_rows_and_is_idempotent(ledger: Ledger) -> None:
    first = ledger.register(rows(4), SCOPE)
    assert first.new == 4
    assert [p.payout_id for p in first.to_plan] == ["p0", "p1", "p2", "p3"]
    again = ledger.register(rows(4), SCOPE)
    assert again.new == 0
    # Still owed (nothing was paid): planned again, nothing duplicated.
    assert [p.payout_id for p in again.to_plan] == ["p0", "p1", "p2", "p3"]
    assert len(ledger.payouts(SCOPE)) == 4
    assert status_of(ledger, "p0", "p3") == [PayoutStatus.PLANNED] * 2


def test_overlapping_file_plans_only_what_is_not_paid(ledger: Ledger) -> None:
    reg = ledger.register(rows(6), SCOPE)
    batches = plan(reg.to_plan)
    ledger.save_plan(batches, executor=ExecutorKind.WALLET)
    submit_and_confirm(ledger, batches[0])  # p0..p2 paid

    overlap = rows(6, start=3)  # p3..p8: p3..p5 known and unpaid, p6..p8 new
    again = ledger.register(overlap + rows(3), SCOPE)  # also repeats the paid ones
    assert again.new == 3
    assert sorted(again.paid) == ["p0", "p1", "p2"]
    assert [p.payout_id for p in again.to_plan] == ["p3", "p4", "p5", "p6", "p7", "p8"]


def test_same_id_with_other_amount_or_recipient_is_a_conflict(ledger: Ledger) -> None:
    ledger.register(rows(3), SCOPE)
    changed = rows(3)
    changed[1] = changed[1]._replace(amount=changed[1].amount + 1)
    changed[2] = changed[2]._replace(recipient=ALICE if changed[2].recipient == BOB else BOB)
    brand_new = Payout("new-1", ALICE, 5)
    with pytest.raises(LedgerConflictError) as info:
        ledger.register([*changed, brand_new], SCOPE)
    assert {c[0] for c in info.value.conflicts} == {"p1", "p2"}
    # Atomic: the valid new row of the refused file was not inserted either.
    assert ledger.payouts(SCOPE, payout_ids=["new-1"]) == []


def test_paid_id_is_never_planned_again_even_from_another_file(ledger: Ledger) -> None:
    reg = ledger.register(rows(3), SCOPE)
    batches = plan(reg.to_plan)
    ledger.save_plan(batches, executor=ExecutorKind.WALLET)
    submit_and_confirm(ledger, batches[0])
    other_file = [p._replace(source="g.csv", line=p.line + 10) for p in rows(3)]
    again = ledger.register(other_file, SCOPE)
    assert again.to_plan == []
    assert sorted(again.paid) == ["p0", "p1", "p2"]


def test_scopes_are_independent(ledger: Ledger) -> None:
    ledger.register(rows(2), SCOPE)
    for other in (
        Scope(Network.EVM, 1, PAYER, OTHER_TOKEN),
        Scope(Network.EVM, 10, PAYER, TOKEN),
        Scope(Network.EVM, 1, DISBURSER, TOKEN),
    ):
        reg = ledger.register([p._replace(amount=7) for p in rows(2)], other)
        assert reg.new == 2
    assert len(ledger.scopes()) == 4


def test_register_refuses_rows_of_another_token(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="not evm"):
        ledger.register([Payout("x", ALICE, 1, token=OTHER_TOKEN)], SCOPE)


def test_uint96_amounts_round_trip_exactly(ledger: Ledger) -> None:
    ledger.register([Payout("big", ALICE, UINT96_MAX)], SCOPE)
    (record,) = ledger.payouts(SCOPE)
    assert record.amount == UINT96_MAX
    assert ledger.status_counts(SCOPE)[PayoutStatus.PLANNED] == (1, UINT96_MAX)


# --- plans and batches --------------------------------------------------------------------------


def test_save_plan_is_idempotent_and_load_batch_rederives_the_id(ledger: Ledger) -> None:
    reg = ledger.register(rows(7), SCOPE)
    batches = plan(reg.to_plan)
    ledger.save_plan(batches, executor=ExecutorKind.WALLET, mode=PayMode.SKIP)
    ledger.save_plan(batches, executor=ExecutorKind.WALLET, mode=PayMode.SKIP)
    stored = ledger.batches(SCOPE)
    assert [b.batch_id for b in stored] == [b.batch_id_hex for b in batches]
    assert [b.count for b in stored] == [3, 3, 1]
    assert all(b.mode is PayMode.SKIP and b.status is BatchStatus.PLANNED for b in stored)
    loaded = ledger.load_batch(SCOPE, batches[1].batch_id)
    assert [p.payout_id for p in loaded.payouts] == ["p3", "p4", "p5"]
    assert [(p.recipient, p.amount) for p in loaded.payouts] == [
        (p.recipient, p.amount) for p in batches[1].payouts
    ]
    assert loaded.total == batches[1].total
    rederived = derive_batch_id(
        network=Network.EVM,
        chain_id=1,
        disburser=loaded.disburser,
        payer=loaded.payer,
        token=loaded.token,
        payout_ids=[p.payout_id for p in loaded.payouts],
    )
    assert rederived == batches[1].batch_id


def test_replanning_moves_rows_and_abandons_the_old_batch(ledger: Ledger) -> None:
    reg = ledger.register(rows(4), SCOPE)
    old = plan(reg.to_plan, size=4)
    ledger.save_plan(old, executor=ExecutorKind.WALLET)
    new = plan(reg.to_plan, size=2)
    ledger.save_plan(new, executor=ExecutorKind.WALLET)
    states = {b.batch_id: b.status for b in ledger.batches(SCOPE)}
    assert states[old[0].batch_id_hex] is BatchStatus.ABANDONED
    assert [states[b.batch_id_hex] for b in new] == [BatchStatus.PLANNED] * 2


def test_a_submitted_batch_cannot_be_planned_again(ledger: Ledger) -> None:
    reg = ledger.register(rows(3), SCOPE)
    batches = plan(reg.to_plan)
    ledger.save_plan(batches, executor=ExecutorKind.WALLET)
    ledger.record_submission(SCOPE, batches[0].batch_id, tx_hash="0xaa", nonce=3)
    with pytest.raises(InvalidTransitionError):
        ledger.save_plan(batches, executor=ExecutorKind.WALLET)
    # Only the chain settles a submitted row: no manual status change.
    for target in (PayoutStatus.PLANNED, PayoutStatus.SKIPPED):
        with pytest.raises(InvalidTransitionError):
            ledger.set_payout_status(SCOPE, ["p0"], target)
    # Its rows are in flight: another file run reports them instead of planning them.
    again = ledger.register(rows(3), SCOPE)
    assert again.to_plan == [] and sorted(again.in_flight) == ["p0", "p1", "p2"]


def test_save_plan_refuses_changed_or_taken_rows(ledger: Ledger) -> None:
    reg = ledger.register(rows(4), SCOPE)
    changed = [reg.to_plan[0]._replace(amount=1), *reg.to_plan[1:2]]
    with pytest.raises(LedgerConflictError):
        ledger.save_plan(plan(changed), executor=ExecutorKind.WALLET)
    (first,) = plan(reg.to_plan[:2])
    ledger.save_plan([first], executor=ExecutorKind.WALLET)
    ledger.record_submission(SCOPE, first.batch_id, tx_hash="0xaa", nonce=0)
    # The same rows in another batch (other order): they are in flight, refused.
    with pytest.raises(InvalidTransitionError):
        ledger.save_plan(plan(list(reversed(reg.to_plan[:2]))), executor=ExecutorKind.WALLET)
    # Nothing was half-written by the refused plans.
    assert [b.batch_id for b in ledger.batches(SCOPE)] == [first.batch_id_hex]
    assert status_of(ledger, "p0", "p1", "p2") == [
        PayoutStatus.SUBMITTED,
        PayoutStatus.SUBMITTED,
        PayoutStatus.PLANNED,
    ]


def test_save_plan_requires_registered_rows(ledger: Ledger) -> None:
    with pytest.raises(LedgerNotFoundError):
        ledger.save_plan(plan(rows(2)), executor=ExecutorKind.WALLET)


# --- write-ahead and settlement -----------------------------------------------------------------


def test_write_ahead_records_attempts_before_broadcast(ledger: Ledger) -> None:
    reg = ledger.register(rows(3), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET)
    ledger.record_submission(
        SCOPE, batch.batch_id, tx_hash="0xaa", nonce=5, raw_tx="0x02f8", fees={"maxFeePerGas": 10}
    )
    # A fee bump: same nonce, new hash; both stay candidates.
    ledger.record_submission(
        SCOPE, batch.batch_id, tx_hash="0xbb", nonce=5, fees={"maxFeePerGas": 13}
    )
    (open_batch,) = ledger.open_batches(SCOPE)
    assert open_batch.status is BatchStatus.SUBMITTED and open_batch.nonce == 5
    assert [(a.tx_hash, a.status) for a in open_batch.attempts] == [
        ("0xaa", "pending"),
        ("0xbb", "pending"),
    ]
    assert open_batch.attempts[0].raw_tx == "0x02f8"
    assert open_batch.attempts[1].fees == {"maxFeePerGas": "13"}
    assert status_of(ledger, "p0", "p1", "p2") == [PayoutStatus.SUBMITTED] * 3

    ledger.record_confirmation(
        SCOPE,
        batch.batch_id,
        tx_hash="0xbb",
        block_number=42,
        gas_used=90_001,
        fee_paid=123,
        outcomes=[PayoutOutcome("p0", log_index=1, gas_share=40_000)],
    )
    settled = ledger.batch(SCOPE, batch.batch_id)
    assert settled.status is BatchStatus.CONFIRMED and settled.block_number == 42
    assert {a.tx_hash: a.status for a in settled.attempts} == {"0xaa": "replaced", "0xbb": "mined"}
    p0, p1 = ledger.payouts(SCOPE, payout_ids=["p0", "p1"])
    assert (p0.status, p0.tx_hash, p0.block_number, p0.log_index, p0.gas_share) == (
        PayoutStatus.CONFIRMED,
        "0xbb",
        42,
        1,
        40_000,
    )
    assert p1.gas_share == 30_000  # equal share of 90,001 over 3 rows
    assert ledger.open_batches(SCOPE) == []
    # Settling again from the same receipt (a resume after a crash) is harmless...
    ledger.record_confirmation(SCOPE, batch.batch_id, tx_hash="0xbb", block_number=42)
    # ...but a different transaction for a confirmed batch is a contradiction.
    with pytest.raises(InvalidTransitionError):
        ledger.record_confirmation(SCOPE, batch.batch_id, tx_hash="0xcc", block_number=43)


def test_submission_refuses_a_batch_whose_rows_changed(ledger: Ledger) -> None:
    reg = ledger.register(rows(3), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET)
    ledger.set_payout_status(SCOPE, ["p1"], PayoutStatus.SKIPPED, error="operator excluded")
    with pytest.raises(LedgerError, match="refusing to submit"):
        ledger.record_submission(SCOPE, batch.batch_id, tx_hash="0xaa", nonce=0)
    assert status_of(ledger, "p0") == [PayoutStatus.PLANNED]  # rolled back


def test_skip_and_report_outcomes_leave_rows_owed_but_set_aside(ledger: Ledger) -> None:
    reg = ledger.register(rows(3), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET, mode=PayMode.SKIP)
    ledger.record_submission(SCOPE, batch.batch_id, tx_hash="0xaa", nonce=0)
    ledger.record_confirmation(
        SCOPE,
        batch.batch_id,
        tx_hash="0xaa",
        block_number=3,
        outcomes=[PayoutOutcome("p1", PayoutStatus.SKIPPED, error="recipient blacklisted")],
    )
    assert status_of(ledger, "p0", "p1", "p2") == [
        PayoutStatus.CONFIRMED,
        PayoutStatus.SKIPPED,
        PayoutStatus.CONFIRMED,
    ]
    again = ledger.register(rows(3), SCOPE)
    assert again.to_plan == [] and [p.payout_id for p in again.skipped] == ["p1"]
    ledger.set_payout_status(SCOPE, ["p1"], PayoutStatus.PLANNED)
    assert [p.payout_id for p in ledger.register(rows(3), SCOPE).to_plan] == ["p1"]


def test_reverted_batch_rows_are_owed_and_the_same_id_can_be_replanned(ledger: Ledger) -> None:
    reg = ledger.register(rows(3), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET)
    ledger.record_submission(SCOPE, batch.batch_id, tx_hash="0xaa", nonce=0)
    ledger.record_failure(SCOPE, batch.batch_id, error="TransferFailed(1)", tx_hash="0xaa")
    assert status_of(ledger, "p0") == [PayoutStatus.FAILED]
    again = ledger.register(rows(3), SCOPE)
    assert [p.payout_id for p in again.to_plan] == ["p0", "p1", "p2"]
    (replanned,) = plan(again.to_plan)
    assert replanned.batch_id == batch.batch_id  # a reverted id was never consumed on chain
    ledger.save_plan([replanned], executor=ExecutorKind.WALLET)
    assert ledger.batch(SCOPE, batch.batch_id).status is BatchStatus.PLANNED
    assert ledger.batch(SCOPE, batch.batch_id).attempts[0].status == "reverted"


def test_release_returns_rows_to_planned(ledger: Ledger) -> None:
    reg = ledger.register(rows(2), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET)
    ledger.record_submission(SCOPE, batch.batch_id, tx_hash="0xaa", nonce=0)
    ledger.release_batch(SCOPE, batch.batch_id, reason="nonce 0 used by another transaction")
    record = ledger.batch(SCOPE, batch.batch_id)
    assert record.status is BatchStatus.ABANDONED
    assert record.attempts[0].status == "dropped"
    p0, _p1 = ledger.payouts(SCOPE)
    assert (p0.status, p0.batch_id, p0.tx_hash) == (PayoutStatus.PLANNED, None, None)
    assert ledger.open_batches() == []


def test_confirmed_rows_cannot_go_back(ledger: Ledger) -> None:
    reg = ledger.register(rows(1), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET)
    submit_and_confirm(ledger, batch)
    for target in (PayoutStatus.PLANNED, PayoutStatus.SKIPPED):
        with pytest.raises(InvalidTransitionError):
            ledger.set_payout_status(SCOPE, ["p0"], target)
    with pytest.raises(InvalidTransitionError):
        ledger.release_batch(SCOPE, batch.batch_id, reason="no")
    with pytest.raises(InvalidTransitionError):
        ledger.record_failure(SCOPE, batch.batch_id, error="no")
    with pytest.raises(LedgerError):
        ledger.set_payout_status(SCOPE, ["p0"], PayoutStatus.CONFIRMED)
    assert status_of(ledger, "p0") == [PayoutStatus.CONFIRMED]


def test_confirmation_of_a_planned_batch_is_refused(ledger: Ledger) -> None:
    reg = ledger.register(rows(1), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.WALLET)
    with pytest.raises(InvalidTransitionError):
        ledger.record_confirmation(SCOPE, batch.batch_id, tx_hash="0x1", block_number=1)


def test_unknown_batch_and_payout_are_reported(ledger: Ledger) -> None:
    with pytest.raises(LedgerNotFoundError):
        ledger.batch(SCOPE, bytes(32))
    with pytest.raises(LedgerNotFoundError):
        ledger.set_payout_status(SCOPE, ["nope"], PayoutStatus.SKIPPED)


def test_safe_annotations_and_runs(ledger: Ledger) -> None:
    run = ledger.start_run("safe propose", scope=SCOPE, executor=ExecutorKind.SAFE, rows=1)
    assert run >= 1
    reg = ledger.register(rows(1), SCOPE, run_id=run)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.SAFE, run_id=run)
    ledger.annotate_batch(SCOPE, batch.batch_id, safe_nonce=4, safe_tx_hash="0xsafe")
    record = ledger.batch((Network.EVM, 1, PAYER), batch.batch_id)
    assert (record.executor, record.safe_nonce, record.safe_tx_hash) == (
        ExecutorKind.SAFE,
        4,
        "0xsafe",
    )


def test_a_safe_proposal_and_its_release_are_told_to_listeners_in_their_transaction(
    ledger: Ledger,
) -> None:
    """The service writes batch.proposed / batch.replaced from these calls (an outbox row in the
    same transaction): a listener that fails rolls the change back, so no change commits without
    its event and no event exists for a change that did not commit."""
    seen: list[tuple[BatchStatus, int | None, str | None, str | None]] = []
    ledger.batch_listeners.append(
        lambda _conn, c: seen.append((c.status, c.safe_nonce, c.safe_tx_hash, c.error))
    )
    reg = ledger.register(rows(2), SCOPE)
    (batch,) = plan(reg.to_plan)
    ledger.save_plan([batch], executor=ExecutorKind.SAFE)
    ledger.annotate_batch(SCOPE, batch.batch_id, note="a note is no proposal")
    assert seen == []

    def refuse(_conn: object, _change: object) -> None:
        raise RuntimeError("outbox write failed")

    ledger.batch_listeners.append(refuse)
    with pytest.raises(RuntimeError):
        ledger.annotate_batch(SCOPE, batch.batch_id, safe_nonce=4, safe_tx_hash="0xsafe")
    assert ledger.batch(SCOPE, batch.batch_id).safe_tx_hash is None
    ledger.batch_listeners.remove(refuse)
    seen.clear()
    ledger.annotate_batch(SCOPE, batch.batch_id, safe_nonce=4, safe_tx_hash="0xsafe")
    assert seen == [(BatchStatus.PLANNED, 4, "0xsafe", "a note is no proposal")]

    ledger.batch_listeners.append(refuse)
    with pytest.raises(RuntimeError):
        ledger.release_batch(SCOPE, batch.batch_id, reason="nonce 4 used")
    assert ledger.batch(SCOPE, batch.batch_id).status is BatchStatus.PLANNED
    ledger.batch_listeners.remove(refuse)
    ledger.release_batch(SCOPE, batch.batch_id, reason="nonce 4 used")
    assert seen[-1] == (BatchStatus.ABANDONED, 4, "0xsafe", "nonce 4 used")
    assert status_of(ledger, "p0", "p1") == [PayoutStatus.PLANNED] * 2


def test_iter_payouts_streams_everything(ledger: Ledger) -> None:
    ledger.register(rows(25), SCOPE)
    streamed = list(ledger.iter_payouts(SCOPE, batch_size=7))
    assert [r.payout_id for r in streamed] == [f"p{i}" for i in range(25)]
    assert streamed[0].as_dict()["amount"] == 1_000_000


def test_concurrent_registrations_insert_each_id_once(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as setup:
        setup.register(rows(1), SCOPE)  # schema exists before the race
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Ledger.open(ledger_url) as mine:
                barrier.wait(timeout=30)
                results.append(mine.register(rows(200), SCOPE).new)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [0, 199]
    with Ledger.open(ledger_url) as check:
        assert len(check.payouts(SCOPE)) == 200


# --- chain pin, rows owed without a live batch (issue 8) ---------------------------------------


def test_a_scope_is_pinned_to_its_chain_and_a_reset_chain_is_refused(ledger: Ledger) -> None:
    from payout.exceptions import ChainResetError

    ledger.pin_chain(SCOPE, "0xaa")
    ledger.pin_chain(SCOPE, "0xaa")  # the same chain: fine, every time
    with pytest.raises(ChainResetError, match="block 0 is 0xbb, the ledger pinned 0xaa"):
        ledger.pin_chain(SCOPE, "0xbb")
    # Another scope on the same chain id inherits the pin: a reset chain is refused for it too.
    with pytest.raises(ChainResetError):
        ledger.pin_chain(Scope(Network.EVM, 1, PAYER, OTHER_TOKEN), "0xbb")
    ledger.pin_chain(Scope(Network.EVM, 5, PAYER, TOKEN), "0xbb")  # another chain id: its own
    ledger.set_scan_cursor(SCOPE, DISBURSER, 42)
    assert ledger.scan_cursor(SCOPE, DISBURSER) == 42
    assert ledger.scan_cursor(SCOPE, TOKEN) is None  # another disburser: scanned from scratch


def test_rows_owed_without_a_live_batch_are_found(ledger: Ledger) -> None:
    payouts = rows(7)
    ledger.register(payouts, SCOPE)  # registered, never planned (a kill before the plan)
    assert [r.payout_id for r in ledger.owed_without_batch(SCOPE)] == [f"p{i}" for i in range(7)]
    batches = plan(payouts)  # 3 + 3 + 1
    ledger.save_plan(batches, executor=ExecutorKind.WALLET)
    assert ledger.owed_without_batch(SCOPE) == []
    ledger.record_submission(SCOPE, batches[0].batch_id, tx_hash="0x01", nonce=0)
    ledger.release_batch(SCOPE, batches[0].batch_id, reason="nonce 0 used by another tx")
    ledger.record_submission(SCOPE, batches[1].batch_id, tx_hash="0x02", nonce=1)
    ledger.record_failure(SCOPE, batches[1].batch_id, error="reverted", tx_hash="0x02")
    owed = ledger.owed_without_batch(SCOPE)
    assert [r.payout_id for r in owed] == [f"p{i}" for i in range(6)]
    assert {r.status for r in owed} == {PayoutStatus.PLANNED, PayoutStatus.FAILED}
