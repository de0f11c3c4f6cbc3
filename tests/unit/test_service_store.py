"""The service store's group commit: many requests in one transaction, each answered as if it had
been committed alone (idempotency, payout-id conflicts), nothing answered before it is on disk.
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from payout.ledger import Ledger
from payout.service import migrate
from payout.service.group import GroupCommitter, Job
from payout.service.store import (
    DuplicateConflict,
    IdempotencyMismatch,
    NewPayout,
    Store,
    StoredAnswer,
    _RequestJob,
)
from payout.types import Network

PAYER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TOKEN = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
ALICE = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
BOB = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"


def _row(pid: str, recipient: str = ALICE, amount: int = 1_000_000) -> NewPayout:
    return NewPayout(
        "anvil", Network.EVM, 31337, PAYER, TOKEN, "USDC", 6, pid, recipient, amount, None
    )


def _render(records: list[dict[str, Any]], created: int) -> dict[str, Any]:
    return {"ids": [r["id"] for r in records], "created": created}


@pytest.fixture
def store(ledger_url: str) -> Iterator[Store]:
    url = ledger_url
    migrate.upgrade(url)
    ledger = Ledger.open(url)
    s = Store(ledger, {("anvil", TOKEN): 6})
    yield s
    s.close()
    ledger.close()


def _job(rows: list[NewPayout], key: str | None = None, body: str = "b1") -> _RequestJob:
    return _RequestJob(rows, "k1", key, body, _render)


def _outcome(job: _RequestJob) -> StoredAnswer | Exception:
    try:
        return job.wait()
    except Exception as exc:
        return exc


def test_one_group_answers_each_request_as_if_committed_alone(store: Store) -> None:
    jobs = [
        _job([_row("a"), _row("b")], key="key-1"),  # stored: 201
        _job([_row("a"), _row("b")], key="key-1"),  # same key, same body: the same answer
        _job([_row("c")], key="key-1", body="b2"),  # same key, another body: 409
        _job([_row("a", amount=5)]),  # id of request 1 with another amount: conflict
        _job([_row("b"), _row("d")]),  # b exists as asked: returned; d new: 201
        _job([_row("e"), _row("e", recipient=BOB)]),  # one id twice in a request: conflict
        _job([_row("a")]),  # only existing rows: 200
    ]
    store._commit_requests(jobs)
    out = [_outcome(j) for j in jobs]
    first, repeat, mismatch, conflict, mixed, twice, existing = out
    assert isinstance(first, StoredAnswer) and first.status_code == 201
    assert first.body["created"] == 2
    assert repeat == first
    assert isinstance(mismatch, IdempotencyMismatch)
    assert isinstance(conflict, DuplicateConflict)
    assert conflict.conflicts[0][:2] == (0, "a") and "already requested" in conflict.conflicts[0][2]
    assert isinstance(mixed, StoredAnswer) and mixed.status_code == 201
    assert mixed.body["ids"][0] == first.body["ids"][1] and mixed.body["created"] == 1
    assert isinstance(twice, DuplicateConflict) and "the same id as row 0" in twice.conflicts[0][2]
    assert isinstance(existing, StoredAnswer) and existing.status_code == 200
    assert existing.body["ids"] == first.body["ids"][:1]
    # Committed: the stored answer is replayed by a later group, rows stored once each.
    again = _job([_row("a"), _row("b")], key="key-1")
    store._commit_requests([again])
    assert again.wait() == first
    page, _more = store.list_payouts(limit=100)
    assert sorted(p["payout_id"] for p in page) == ["a", "b", "d"]
    with pytest.raises(IdempotencyMismatch):
        store.idempotent_answer("k1", "key-1", "b2")


def test_a_failed_transaction_fails_every_request_of_the_group_and_stores_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store._store_requests

    def broken(conn: Any, jobs: Any) -> Any:
        real(conn, jobs)  # rows written inside the transaction, then the commit fails
        raise OSError("disk full")

    monkeypatch.setattr(store, "_store_requests", broken)
    jobs = [_job([_row("x")]), _job([_row("y")], key="key-2")]
    with pytest.raises(OSError):
        store._requests.process(jobs)
    monkeypatch.undo()
    assert store.list_payouts(limit=10)[0] == []
    assert store.idempotent_answer("k1", "key-2", "b1") is None


def test_concurrent_requests_share_commits_and_are_answered_after_them(store: Store) -> None:
    """While one group commits, the requests arriving queue and go together in the next one."""
    gate = threading.Event()
    entered = threading.Event()
    real = store._commit_requests

    def slow(jobs: Any) -> None:
        entered.set()
        gate.wait(30)
        real(jobs)

    store._requests.process = slow
    answers: dict[int, StoredAnswer] = {}

    def submit(i: int) -> None:
        answers[i] = store.submit(
            [_row(f"p{i}")], api_key_id="k1", idempotency_key=None, body_sha256="x", render=_render
        )

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert entered.wait(30)
    others = [threading.Thread(target=submit, args=(i,)) for i in range(1, 21)]
    for t in others:
        t.start()
    # Nobody is answered while the first group has not committed.
    assert not answers
    while store._requests._queue.qsize() < 20:
        threading.Event().wait(0.01)
    gate.set()
    for t in [first, *others]:
        t.join(30)
    assert sorted(answers) == list(range(21))
    assert all(a.status_code == 201 for a in answers.values())
    assert store._requests.groups == 2 and store._requests.jobs == 21
    assert len(store.list_payouts(limit=100)[0]) == 21


def test_group_committer_splits_groups_at_the_size_limit() -> None:
    seen: list[int] = []

    def process(jobs: Any) -> None:
        seen.append(sum(j.size for j in jobs))
        for j in jobs:
            j.finish(True)

    committer: GroupCommitter[Job[bool]] = GroupCommitter(process, max_size=5)
    jobs = [Job[bool](2) for _ in range(6)]
    for j in jobs:  # all waiting when the writer looks: groups of 2 requests (4 rows) each
        committer._queue.put(j)
    committer._queue.put(None)
    committer._loop()
    assert seen == [4, 4, 4]
    assert all(j.wait() for j in jobs)
