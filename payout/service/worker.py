"""The worker: flushes requested payouts per (network, payer, token) through the CLI's pipeline.

A group is flushed when its oldest request has waited ``flush_seconds`` or it has ``flush_rows``
rows (withdrawals go out within seconds; a payroll posted at once goes in one run). A flush, under
the payer's lock (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so two workers never use one
payer's nonce):

1. checks the payer's balance alerts;
2. claims the group's requested rows (``requested`` -> ``queued``: no longer cancellable);
3. hands every queued row of the group to :func:`payout.pipeline.send`, which settles what an
   earlier (maybe killed) run left in flight from the chain, registers the rows in the ledger
   (ids already paid are not paid again), plans, simulates, checks liquidity, saves the plan and
   pays batch by batch write-ahead;
4. announces every status change by webhook (outbox, in the same transaction as the change).

A Safe payer (``executor = "safe"``) is grouped and flushed the same way, but its flush
proposes instead of sending and its queued rows are looked at again every
``safe_poll_seconds`` (signatures, execution, settling): :mod:`payout.service.safe_payer`.

Each hot-wallet network is paid by its executor kind (:meth:`Worker.payer_for`): the EVM hot wallet
through :func:`payout.pipeline.send`, the TRON hot wallet through
:func:`payout.tron.pipeline.send_manifest` (:mod:`payout.service.tron`). Networks run in parallel (a
thread each): a network whose node is down or whose payer is short waits and retries without
holding up the others. Webhook delivery runs in its own thread.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from payout.exceptions import LedgerConflictError, PayoutError
from payout.exceptions import WorkerAlreadyRunning as WorkerAlreadyRunning
from payout.executor import ExecutionEvent
from payout.manifest import Manifest
from payout.pipeline import PlanOptions, send, target_on
from payout.service.alert import check_balances
from payout.service.runtime import NetworkContext, Service
from payout.service.safe_payer import SafePayer
from payout.service.webhook import Deliverer
from payout.signer import Signer, load_keystore
from payout.types import Payout
from payout.wallet import SendSettings, Wallet

log = logging.getLogger("payout.service.worker")

#: Most rows one flush hands to the pipeline (the rest wait for the next flush).
MAX_ROWS_PER_FLUSH = 5_000
#: After a failed flush (shortfall, node down) the group waits this long, doubling, capped.
RETRY_SECONDS = 2.0
RETRY_CAP_SECONDS = 60.0

#: ``on_batch(event type, data)``: a batch event to announce by webhook.
BatchCallback = Callable[[str, dict[str, Any]], None]
#: How a worker thread pays one flush: ``pay(rows, token address, on_batch)``; True when a batch is
#: left submitted that the chain has neither settled nor proved dead (it may still land): the group
#: is looked at again after a back-off, not on the next tick.
Pay = Callable[[Manifest, str, BatchCallback], bool]

_BATCH_EVENTS = {
    "batch-signed": "batch.submitted",
    "batch-confirmed": "batch.paid",
    "batch-failed": "batch.failed",
    "batch-skipped-already-paid": "batch.paid",
}


def keystore_signer(network: NetworkContext) -> Signer:
    """The hot wallet's signer from the network's keystore (password from its env variable)."""
    assert network.config.keystore is not None
    return load_keystore(network.config.keystore, os.environ.get(network.config.password_env))


def safe_payer_for(service: Service, network: NetworkContext, settings: SendSettings) -> SafePayer:
    """The Safe payer of a network: its proposer from the network's keystore (if any), its
    executor's wallet when ``execute = true``."""
    cfg = network.config.safe
    assert cfg is not None
    proposer = keystore_signer(network) if network.config.keystore is not None else None
    executor: Wallet | None = None
    if cfg.execute and cfg.executor_keystore is not None:
        if cfg.executor_keystore == network.config.keystore and proposer is not None:
            key = proposer
        else:
            key = load_keystore(cfg.executor_keystore, os.environ.get(cfg.executor_password_env))
        executor = Wallet(network.chain(), key, settings)
    return SafePayer(service, network, proposer=proposer, executor=executor)


class Worker:
    """Runs the flush loop of every network and the webhook deliverer, in threads."""

    def __init__(
        self,
        service: Service,
        *,
        holder: str | None = None,
        tick: float = 0.1,
        signer_of: Callable[[NetworkContext], Signer] = keystore_signer,
        send_settings: SendSettings | None = None,
    ) -> None:
        self.service = service
        self.holder = holder or f"worker-{os.getpid()}"
        self.tick = tick
        self.signer_of = signer_of
        self.send_settings = send_settings or SendSettings(poll_interval=0.2)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        cfg = service.config
        self.deliverer = Deliverer(
            service.store,
            {h.url: h.secret for h in cfg.webhooks},
            base_seconds=cfg.webhook_backoff_seconds,
            cap_seconds=cfg.webhook_backoff_cap_seconds,
            max_attempts=cfg.webhook_max_attempts,
        )
        self._retry_at: dict[tuple[str, str], tuple[float, float]] = {}
        #: When each Safe group's proposals were last looked at.
        self._polled_at: dict[tuple[str, str], float] = {}

    # --- threads ----------------------------------------------------------------------------------

    def start(self, *, deliver: bool = True) -> None:
        self._single_worker_on_sqlite()
        for network in self.service.networks.values():
            t = threading.Thread(
                target=self._guard,
                args=(self._network_loop, network),
                daemon=True,
                name=f"payout-worker-{network.name}",
            )
            t.start()
            self.threads.append(t)
        if deliver:
            t = threading.Thread(
                target=self._guard,
                args=(self._delivery_loop, None),
                daemon=True,
                name="payout-webhooks",
            )
            t.start()
            self.threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)
        self.deliverer.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    _lock_file: IO[bytes] | None = None

    def _single_worker_on_sqlite(self) -> None:
        """SQLite has no row locks to share payers between workers: one worker per ledger file,
        enforced with an exclusive lock on ``<ledger>.worker.lock`` (released when the process
        ends, however it ends)."""
        engine = self.service.ledger.engine
        if engine.dialect.name != "sqlite" or not engine.url.database:
            return
        path = Path(engine.url.database + ".worker.lock")
        handle = path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise WorkerAlreadyRunning(str(path)) from None
        self._lock_file = handle

    def _guard(self, loop: Callable[..., None], arg: object) -> None:
        while not self.stopping.is_set():
            try:
                loop(arg) if arg is not None else loop()
                return
            except Exception:  # a bug or an outage must not stop the service: log, wait, go on
                log.exception("worker loop failed; restarting it")
                self.stopping.wait(1.0)

    def _delivery_loop(self) -> None:
        while not self.stopping.is_set():
            if not self.deliverer.run_once():
                self.stopping.wait(self.tick)

    def _network_loop(self, network: NetworkContext) -> None:
        if network.config.safe is not None:
            self._safe_loop(network)
            return
        pay = self.payer_for(network)
        next_alert = 0.0
        while not self.stopping.is_set():
            if time.monotonic() >= next_alert:
                check_balances(self.service.store, network)
                next_alert = time.monotonic() + self.service.config.alert_interval_seconds
            worked = self.run_due(network, pay)
            if not worked:
                self.stopping.wait(self.tick)

    def payer_for(self, network: NetworkContext) -> Pay:
        """How this thread pays a hot-wallet network's groups, per executor kind: the EVM hot
        wallet (:func:`payout.pipeline.send`) or the TRON hot wallet (:mod:`payout.service.tron`).
        Safe payers run their own loop (:mod:`payout.service.safe_payer`)."""
        ledger = self.service.ledger
        if network.config.executor == "tron":
            from payout.service.tron import TronPayer, tron_signer

            tron = TronPayer(network, tron_signer(network, self.signer_of(network)))
            return lambda manifest, token, on_batch: tron.pay(manifest, token, ledger, on_batch)
        chain = network.chain()
        target = target_on(chain, network.disburser)
        wallet = Wallet(chain, self.signer_of(network), self.send_settings)
        # Each flush is a run of about one batch: the rolling replay word makes consecutive
        # flushes share one storage word (~5,000 gas per batch instead of 22,100).
        opts = PlanOptions(
            on_failure=self.service.config.on_failure,  # type: ignore[arg-type]
            rolling_replay=True,
        )

        def pay_evm(manifest: Manifest, token: str, on_batch: BatchCallback) -> bool:
            def on_event(event: ExecutionEvent) -> None:
                name = _BATCH_EVENTS.get(event.kind)
                if name is not None:
                    on_batch(
                        name,
                        {
                            "network": network.name,
                            "batch_id": event.batch_id,
                            "tx_hash": event.tx_hash,
                            "count": event.count,
                            "detail": event.detail,
                        },
                    )

            send(manifest, target, wallet, ledger, token, opts, on_event=on_event)
            # The wallet waits for each receipt (replacing a stuck transaction) or raises.
            return False

        return pay_evm

    def _safe_loop(self, network: NetworkContext) -> None:
        payer = safe_payer_for(self.service, network, self.send_settings)
        next_alert = 0.0
        while not self.stopping.is_set():
            if time.monotonic() >= next_alert:
                check_balances(self.service.store, network)
                next_alert = time.monotonic() + self.service.config.alert_interval_seconds
            if not self.run_due_safe(network, payer):
                self.stopping.wait(self.tick)

    # --- flushing ---------------------------------------------------------------------------------

    def _group_due(self, requested: int, oldest: datetime) -> bool:
        cfg = self.service.config
        return requested >= cfg.flush_rows or oldest <= datetime.now(UTC) - timedelta(
            seconds=cfg.flush_seconds
        )

    def _back_off(self, key: tuple[str, str]) -> float:
        """Look at the group again only after a wait, doubling from :data:`RETRY_SECONDS` up to
        :data:`RETRY_CAP_SECONDS` while the reason lasts; returns the wait."""
        _at, wait = self._retry_at.get(key, (0.0, RETRY_SECONDS / 2))
        wait = min(RETRY_CAP_SECONDS, wait * 2)
        self._retry_at[key] = (time.monotonic() + wait, wait)
        return wait

    def _failed(self, key: tuple[str, str], exc: PayoutError) -> None:
        wait = self._back_off(key)
        log.warning("flush of %s/%s failed (retrying in %.0f s): %s", *key, wait, exc)

    def run_due_safe(self, network: NetworkContext, payer: SafePayer) -> int:
        """One round of every Safe group of ``network`` that is due: requested rows to propose
        (``flush_seconds`` / ``flush_rows``), or queued rows whose proposals are looked at again
        every ``safe_poll_seconds``. Returns the groups handled."""
        assert network.config.safe is not None
        poll = network.config.safe.poll_seconds
        handled = 0
        for safe, token, requested, oldest, queued in self.service.store.pending_groups(
            network.name
        ):
            if safe != network.payer:
                continue
            key = (network.name, token)
            claim = requested > 0 and self._group_due(requested, oldest)
            polled = self._polled_at.get(key, 0.0)
            look = queued > 0 and time.monotonic() >= polled + poll
            retry = self._retry_at.get(key)
            if not (claim or look) or (retry is not None and time.monotonic() < retry[0]):
                continue
            with self.service.store.payer_lock(network.name, safe, self.holder) as mine:
                if not mine:
                    continue
                self._polled_at[key] = time.monotonic()
                check_balances(self.service.store, network)
                try:
                    payer.run(token, claim=claim, limit=MAX_ROWS_PER_FLUSH)
                    self._retry_at.pop(key, None)
                except LedgerConflictError as exc:
                    bad = {c[0] for c in exc.conflicts}
                    rows = self.service.store.queued(network.name, safe, token)
                    self.service.store.mark_failed(
                        [r.pk for r in rows if r.payout_id in bad],
                        "the ledger has this payout id with another recipient or amount",
                    )
                except PayoutError as exc:
                    self._failed(key, exc)
            handled += 1
        return handled

    def run_due(self, network: NetworkContext, pay: Pay) -> int:
        """Flush every due group of ``network`` once; returns the groups flushed."""
        cfg = self.service.config
        flushed = 0
        now = datetime.now(UTC)
        for payer, token, requested, oldest, queued in self.service.store.pending_groups(
            network.name
        ):
            if payer != network.payer:
                continue
            due = (
                queued > 0
                or requested >= cfg.flush_rows
                or oldest <= now - timedelta(seconds=cfg.flush_seconds)
            )
            retry = self._retry_at.get((network.name, token))
            if not due or (retry is not None and time.monotonic() < retry[0]):
                continue
            if self.flush(network, pay, token):
                flushed += 1
        return flushed

    def flush(self, network: NetworkContext, pay: Pay, token: str) -> bool:
        """One flush of a group (see the module doc). False when another worker holds the payer."""
        store = self.service.store
        with store.payer_lock(network.name, network.payer, self.holder) as mine:
            if not mine:
                return False
            check_balances(store, network)
            store.claim(network.name, network.payer, token, MAX_ROWS_PER_FLUSH)
            rows = store.queued(network.name, network.payer, token)[:MAX_ROWS_PER_FLUSH]
            if not rows:
                return True
            payouts = [
                Payout(
                    r.payout_id,
                    r.recipient,
                    int(r.amount),
                    i + 1,
                    r.memo,
                    token,
                    network.kind,
                    f"payout-service:{network.name}",
                )
                for i, r in enumerate(rows)
            ]
            manifest = Manifest(
                path=f"payout-service:{network.name}",
                format="api",
                payouts=payouts,
                issues=[],
                rows=len(payouts),
                error_count=0,
                warning_count=0,
            )

            def on_batch(name: str, data: dict[str, Any]) -> None:
                # The batch.* event itself is written with the ledger's change of the batch (see
                # Service._on_batch_change): here the rows' new statuses are announced promptly.
                store.sync(network.name, network.payer, token)

            key = (network.name, token)
            started = time.monotonic()
            try:
                if pay(manifest, token, on_batch):
                    # A batch may still land: asking the chain again on every tick would only
                    # load the node (the same transaction is re-sent, never another one).
                    wait = self._back_off(key)
                    log.info(
                        "%s/%s: a batch is in flight, not settled yet (looked at again in %.0f s)",
                        *key,
                        wait,
                    )
                else:
                    self._retry_at.pop(key, None)
            except LedgerConflictError as exc:
                bad = {c[0] for c in exc.conflicts}
                store.mark_failed(
                    [r.pk for r in rows if r.payout_id in bad],
                    "the ledger has this payout id with another recipient or amount",
                )
            except PayoutError as exc:
                self._failed(key, exc)
            finally:
                store.sync(network.name, network.payer, token)
                log.info(
                    "flushed %d rows of %s/%s in %.2f s",
                    len(rows),
                    network.name,
                    token,
                    time.monotonic() - started,
                )
        return True
