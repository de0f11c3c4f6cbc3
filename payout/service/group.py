"""Group commit: many threads hand their writes to one writer that commits them together.

On SQLite every commit is an ``fsync`` and a turn of the database's single write lock; on
PostgreSQL a round trip and a WAL flush. One transaction per API request caps the request rate at
the commit rate, and concurrent requests queue on the lock. A :class:`GroupCommitter` runs one
thread: it takes every job waiting (up to ``max_size`` units), hands them to ``process`` which
writes them all in ONE transaction, and wakes each caller only after that transaction committed
(or failed). So durability is unchanged (an answer means the data is on disk) while the commit
cost is shared by every request that arrived during the previous commit. Nothing waits on purpose:
a lone request is committed at once; under load, groups grow by themselves.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger("payout.service.group")

R = TypeVar("R")


class Job(Generic[R]):
    """One caller's write: ``size`` units (rows) of work; finished with a result or an error."""

    def __init__(self, size: int = 1) -> None:
        self.size = max(1, size)
        self._done = threading.Event()
        self._result: R | None = None
        self._error: BaseException | None = None

    def finish(self, result: R) -> None:
        self._result = result
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self) -> R:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


J = TypeVar("J", bound=Job)  # type: ignore[type-arg]


class GroupCommitter(Generic[J]):
    """A writer thread committing the waiting jobs in groups (see the module doc).

    ``process(jobs)`` must finish or fail every job it is given, after its transaction ended;
    a job it leaves open is failed with the exception it raised (or a RuntimeError).
    """

    def __init__(
        self, process: Callable[[Sequence[J]], None], *, max_size: int = 10_000, name: str = ""
    ) -> None:
        self.process = process
        self.max_size = max_size
        self.name = name or "payout-group-commit"
        self._queue: queue.SimpleQueue[J | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        #: Groups committed and jobs in them (for the bench and the logs).
        self.groups = 0
        self.jobs = 0

    def run(self, job: J) -> J:
        """Queue ``job`` and wait until its group's transaction ended; returns the job."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the service is stopping")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name=self.name)
                self._thread.start()
        self._queue.put(job)
        job._done.wait()
        return job

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _loop(self) -> None:
        carry: J | None = None
        while True:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is None:
                return
            group = [first]
            size = first.size
            stop = False
            while size < self.max_size:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if size + nxt.size > self.max_size:
                    carry = nxt
                    break
                group.append(nxt)
                size += nxt.size
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[J]) -> None:
        try:
            self.process(group)
        except Exception as exc:  # a bug or a database fault: every caller gets the error
            log.exception("group commit of %d job(s) failed", len(group))
            for job in group:
                if not job.finished:
                    job.fail(exc)
        else:
            for job in group:
                if not job.finished:
                    job.fail(RuntimeError("group commit left a request unanswered"))
        self.groups += 1
        self.jobs += len(group)
