"""The worker's Safe payer: propose batches, wait for the owners' signatures, execute, settle.

For a network with ``executor = "safe"`` the worker never signs a payment itself. Each round of a
(Safe, token) group, under the payer's lock:

1. **settle** every Safe batch of the group the ledger has with a Safe nonce, from the chain
   (:func:`payout.safe.pipeline.settle_safe_batch`): a batch the disburser executed for the Safe is
   paid (whoever executed it: this worker, a signer with ``payout safe execute``, the Safe web
   app); a batch whose Safe nonce was used by another transaction (a rejection, a replacement)
   can never execute, so its rows are released (owed again) and proposed anew;
2. **propose** the group's owed rows that are in no live proposal through
   :func:`payout.safe.pipeline.propose_payouts` (the same ledger records as
   ``payout safe propose``), at the Safe's next free nonce: after every live proposal of this
   Safe in the ledger (all tokens) and every transaction queued in the Transaction Service, so
   proposals queue in nonce order and never two share a nonce;
3. **publish** every live proposal: written to the proposals folder (for signers' ``payout safe
   sign``) and posted to the Transaction Service with the proposer's signature when one is
   configured; a proposal recorded by a worker killed before publishing it is rebuilt from the
   ledger (its safeTxHash checked) and published by the next round;
4. **collect signatures** (the folder's files, the service's confirmations, on-chain
   ``approveHash``; all verified on chain) and, with ``execute = true``, execute the proposal at
   the Safe's current nonce once the threshold is met (write-ahead, like ``payout safe
   execute``).

Rows in a live proposal are ``proposed`` to API clients; they cannot be cancelled (whoever holds
the signatures can execute them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from payout import fault
from payout.disburser import BatchReceipt
from payout.exceptions import PayoutError, ProposalNotRebuilt
from payout.ledger import BatchRecord, Ledger
from payout.safe.execution import (
    LedgerRecorder,
    choose_signatures,
    collect_checks,
    execute_proposal,
)
from payout.safe.pipeline import propose_payouts, settle_safe_batch
from payout.safe.proposal import (
    OwnerSignature,
    Proposal,
    build_proposal,
    load_proposal,
    next_nonce,
    save_proposal,
)
from payout.safe.safe_state import SafeState, read_safe
from payout.safe.service import SafeService, ServiceConfig, ServiceTx
from payout.safe.signature import add_signature, sign_eip712
from payout.service.runtime import NetworkContext, Service
from payout.signer import Signer
from payout.types import (
    Batch,
    BatchStatus,
    ExecutorKind,
    Network,
    Payout,
    PayoutStatus,
    Scope,
    TokenInfo,
)
from payout.wallet import PreparedTx, Wallet

log = logging.getLogger("payout.service.safe")

#: Ledger statuses of a Safe batch that may still execute (or is executing).
_LIVE = (BatchStatus.PLANNED, BatchStatus.FAILED, BatchStatus.SUBMITTED)


@dataclass(frozen=True)
class LiveProposal:
    """A proposed Safe transaction of the ledger that can still execute, rebuilt and signed."""

    record: BatchRecord
    proposal: Proposal

    @property
    def nonce(self) -> int:
        return self.proposal.transactions[0].nonce

    @property
    def safe_tx_hash(self) -> str:
        return "0x" + self.proposal.transactions[0].safe_tx_hash.hex()


class SafePayer:
    """Proposes, watches and (optionally) executes the Safe batches of one network."""

    def __init__(
        self,
        service: Service,
        network: NetworkContext,
        *,
        proposer: Signer | None = None,
        executor: Wallet | None = None,
    ) -> None:
        cfg = network.config.safe
        assert cfg is not None, "a Safe payer needs a network with executor = safe"
        self.service = service
        self.network = network
        self.config = cfg
        self.proposer = proposer
        self.executor = executor if cfg.execute else None
        self.safe_service = (
            SafeService(network.chain_id, ServiceConfig(cfg.service_url, cfg.service_api_key))
            if cfg.service_url
            else None
        )
        self._rebuilt: dict[str, Proposal] = {}

    @property
    def ledger(self) -> Ledger:
        return self.service.ledger

    def token_info(self, token: str) -> TokenInfo:
        t = self.network.token(token)
        assert t is not None, f"token {token} is not configured"
        return TokenInfo(t.address, t.symbol, t.decimals, chain_id=self.network.chain_id)

    def scope(self, token: str) -> Scope:
        return Scope(Network.EVM, self.network.chain_id, self.network.payer, token)

    # --- one round ------------------------------------------------------------------------------

    def run(self, token: str, *, claim: bool, limit: int) -> None:
        """One round for the group (see the module doc); call it under the payer's lock."""
        store = self.service.store
        name, safe = self.network.name, self.network.payer
        chain = self.network.chain()
        if claim:
            store.claim(name, safe, token, limit)
        try:
            state = read_safe(chain, safe)
            self.settle(token, state)
            store.sync(name, safe, token)
            listed = self._service_pending(state)
            self.propose(token, state, listed, limit)
            store.sync(name, safe, token)
            files = self._files()
            for live in self.live(token, state):
                signed = self.publish(live, state, listed, files)
                waiting = live.record.status is not BatchStatus.SUBMITTED
                ready = waiting and live.nonce == state.nonce
                if ready and self.execute(signed, state):
                    state = read_safe(chain, safe)
                    self.settle(token, state)
        finally:
            store.sync(name, safe, token)

    # --- 1. settle ------------------------------------------------------------------------------

    def settle(self, token: str, state: SafeState) -> None:
        """Record executed batches as paid; release batches whose Safe nonce another transaction
        used (their rows are owed again and proposed anew)."""
        chain = self.network.chain()
        scope = self.scope(token)
        records = self.ledger.batches(scope, status=_LIVE, executor=ExecutorKind.SAFE)
        for record in sorted(records, key=lambda r: r.safe_nonce or 0):
            if record.safe_nonce is None:
                continue  # planned but never proposed (killed in between): proposed again
            outcome = settle_safe_batch(chain, self.ledger, scope, record.batch_id).outcome
            if outcome == "confirmed":
                # batch.paid was written with the confirmation (the ledger's batch listener).
                self._archive(record)
                continue
            if outcome == "pending" or record.safe_nonce >= state.nonce:
                continue
            reason = (
                f"Safe nonce {record.safe_nonce} was used by another transaction (the Safe is at "
                f"{state.nonce}): this proposal can never execute; its rows are proposed again"
            )
            self.ledger.release_batch(scope, record.batch_id, reason=reason)
            # Killed here: the release is committed; the next round proposes the rows again.
            fault.checkpoint("after-release")
            self._rebuilt.pop(record.safe_tx_hash or "", None)
            # batch.replaced was written with the release (the ledger's batch listener).
            log.warning("%s: %s", self.network.name, reason)
            self._archive(record)

    def _archive(self, record: BatchRecord) -> None:
        """Move the files of a proposal that is settled (paid or replaced) to ``done/``: the
        folder keeps only what signers still have to sign."""
        folder = self.config.proposals_dir
        if folder is None or not record.safe_tx_hash or not folder.is_dir():
            return
        for path in folder.glob(f"*-{record.safe_tx_hash[2:10]}*.json"):
            (folder / "done").mkdir(exist_ok=True)
            path.replace(folder / "done" / path.name)

    # --- 2. propose -----------------------------------------------------------------------------

    def _live_nonces(self, state: SafeState) -> list[int]:
        """Safe nonces of every live proposal of this Safe in the ledger (every token)."""
        out = []
        for record in self.ledger.batches(None, status=_LIVE, executor=ExecutorKind.SAFE):
            s = record.scope
            if (s.chain_id, s.payer) != (self.network.chain_id, self.network.payer):
                continue
            if record.safe_nonce is not None and record.safe_nonce >= state.nonce:
                out.append(record.safe_nonce)
        return out

    def owed(self, token: str, state: SafeState) -> list[Payout]:
        """The group's queued rows that are neither settled nor in a live proposal."""
        store = self.service.store
        rows = store.queued(self.network.name, self.network.payer, token)
        if not rows:
            return []
        scope = self.scope(token)
        known = {
            r.payout_id: r
            for r in self.ledger.payouts(scope, payout_ids=[r.payout_id for r in rows])
        }
        live = {
            record.batch_id
            for record in self.ledger.batches(scope, status=_LIVE, executor=ExecutorKind.SAFE)
            if record.safe_nonce is not None
            and (record.safe_nonce >= state.nonce or record.status is BatchStatus.SUBMITTED)
        }
        owed: list[Payout] = []
        for r in rows:
            found = known.get(r.payout_id)
            if found is not None and (
                found.status not in (PayoutStatus.PLANNED, PayoutStatus.FAILED)
                or found.batch_id in live
            ):
                continue
            owed.append(
                Payout(
                    r.payout_id,
                    r.recipient,
                    int(r.amount),
                    len(owed) + 1,
                    r.memo,
                    token,
                    Network.EVM,
                    f"payout-service:{self.network.name}",
                )
            )
        return owed

    def propose(
        self, token: str, state: SafeState, listed: dict[str, ServiceTx] | None, limit: int
    ) -> Proposal | None:
        """Propose the owed rows at the Safe's next free nonce (see the module doc)."""
        payouts = self.owed(token, state)[:limit]
        if not payouts:
            return None
        queued = self._live_nonces(state) + [t.nonce for t in (listed or {}).values()]
        outcome = propose_payouts(
            self.network.chain(),
            self.ledger,
            safe=self.network.payer,
            payouts=payouts,
            token=self.token_info(token),
            disburser=self.network.disburser,
            on_failure=self.service.config.on_failure,
            start_nonce=next_nonce(state.nonce, queued),
            source=f"payout-service:{self.network.name}",
            # Each round proposes about one small batch: the Safe's rolling replay word makes
            # consecutive proposals share one storage word (see Ledger.with_rolling_keys).
            rolling_replay=True,
        )
        # Killed here: the ledger has the proposal, nobody else does yet; the next round
        # rebuilds it from the ledger and publishes it (never proposes the rows again).
        fault.checkpoint("after-propose")
        if outcome.proposal is not None:
            self._remember(outcome.proposal)
        return outcome.proposal

    def _remember(self, proposal: Proposal) -> None:
        for tx in proposal.transactions:
            one = proposal.with_transactions([tx])
            self._rebuilt["0x" + tx.safe_tx_hash.hex()] = one

    # --- 3. publish -----------------------------------------------------------------------------

    def live(self, token: str, state: SafeState) -> list[LiveProposal]:
        """The group's proposals that can still execute, by nonce, rebuilt from the ledger."""
        scope = self.scope(token)
        out = []
        for record in self.ledger.batches(scope, status=_LIVE, executor=ExecutorKind.SAFE):
            if record.safe_nonce is None or record.safe_tx_hash is None:
                continue
            if record.safe_nonce < state.nonce:
                continue
            proposal = self._rebuilt.get(record.safe_tx_hash)
            if proposal is None:
                proposal = self.rebuild(record, state, token)
                self._rebuilt[record.safe_tx_hash] = proposal
            out.append(LiveProposal(record, proposal))
        return sorted(out, key=lambda p: p.nonce)

    def rebuild(self, record: BatchRecord, state: SafeState, token: str) -> Proposal:
        """The proposal of a ledger batch, its safeTxHash checked against the recorded one."""
        chain = self.network.chain()
        batch: Batch = self.ledger.load_batch(record.scope, record.batch_id)
        info = self.token_info(token)
        # The first transaction of a proposal resets a non-zero allowance first: the allowance
        # it was built with is not recorded, so both forms are tried against the hash.
        for allowance in (0, 1):
            proposal = build_proposal(
                chain,
                state.address,
                [batch],
                token_symbol=info.symbol,
                token_decimals=info.decimals,
                mode=record.mode,
                start_nonce=record.safe_nonce,
                state=state,
                allowance=allowance,
            )
            if "0x" + proposal.transactions[0].safe_tx_hash.hex() == record.safe_tx_hash:
                return proposal
        raise ProposalNotRebuilt(record.batch_id, str(record.safe_tx_hash))

    def _service_pending(self, state: SafeState) -> dict[str, ServiceTx] | None:
        if self.safe_service is None:
            return None
        return {
            "0x" + t.safe_tx_hash.hex(): t
            for t in self.safe_service.pending(self.network.payer, state.nonce)
        }

    def _proposer_signature(self, proposal: Proposal) -> OwnerSignature | None:
        if self.proposer is None:
            return None
        return sign_eip712(proposal, proposal.transactions[0], self.proposer)

    def _files(self) -> dict[str, list[OwnerSignature]]:
        """safeTxHash -> signatures found in the proposals folder (signers sign files in place or
        drop signed copies there; every signature is verified on chain before it counts)."""
        out: dict[str, list[OwnerSignature]] = {}
        folder = self.config.proposals_dir
        if folder is None or not folder.is_dir():
            return out
        for path in sorted(folder.glob("*.json")):
            try:
                found = load_proposal(path)
            except PayoutError:
                continue
            if (found.chain_id, found.safe) != (self.network.chain_id, self.network.payer):
                continue
            for tx in found.transactions:
                out.setdefault("0x" + tx.safe_tx_hash.hex(), []).extend(tx.signatures)
        return out

    def _file_path(self, live: LiveProposal, suffix: str = "") -> Path:
        path = self.config.proposal_file(live.nonce, live.safe_tx_hash, suffix)
        assert path is not None, "called only with a proposals folder"
        return path

    def publish(
        self,
        live: LiveProposal,
        state: SafeState,
        listed: dict[str, ServiceTx] | None,
        files: dict[str, list[OwnerSignature]],
    ) -> Proposal:
        """Make sure signers can see ``live`` (folder file, Transaction Service); returns it with
        every signature known so far (``files``: the folder's, from :meth:`_files`)."""
        proposal = live.proposal
        tx = proposal.transactions[0]
        own = self._proposer_signature(proposal)
        if own is not None and state.is_owner(own.owner):
            proposal = add_signature(proposal, tx.nonce, own)
        for sig in files.get(live.safe_tx_hash, []):
            proposal = add_signature(proposal, tx.nonce, sig)
        if self.config.proposals_dir is not None and live.safe_tx_hash not in files:
            save_proposal(proposal, self._file_path(live))
            # batch.proposed was written with the proposal's ledger record (the batch listener).
            # Killed here: the file is written; the next round finds it and posts the proposal.
            fault.checkpoint("after-publish")
        if listed is not None and self.safe_service is not None:
            found = listed.get(live.safe_tx_hash)
            if found is None:
                # payout.toml refuses a service without the proposer's keystore.
                assert own is not None, "a Transaction Service needs the proposer's signature"
                self.safe_service.propose(proposal, tx, own)
                log.info(
                    "%s: Safe transaction %s (nonce %d) posted to the Transaction Service",
                    self.network.name,
                    live.safe_tx_hash,
                    live.nonce,
                )
            else:
                before = proposal
                for sig in found.confirmations:
                    proposal = add_signature(proposal, tx.nonce, sig)
                if proposal != before and self.config.proposals_dir is not None:
                    # The dashboard reads signatures from the folder: keep the service's there.
                    save_proposal(proposal, self._file_path(live, ".service"))
        return proposal

    # --- 4. execute -----------------------------------------------------------------------------

    def execute(self, proposal: Proposal, state: SafeState) -> bool:
        """Execute the proposal at the Safe's nonce when the threshold is met (``execute = true``
        only). True when it was executed (or found executed)."""
        if self.executor is None:
            return False
        chain = self.network.chain()
        tx = proposal.transactions[0]
        checks = collect_checks(chain, proposal, tx, state, self.executor.address)
        if len(choose_signatures(checks, state.threshold)) < state.threshold:
            return False
        recorder = _EventRecorder(self, {tx.batch.batch_id: "0x" + tx.safe_tx_hash.hex()})
        results = execute_proposal(
            chain, proposal, self.executor, recorder=recorder, nonces=[tx.nonce]
        )
        for result in results:
            log.info(
                "%s: Safe transaction nonce %d %s (%s)",
                self.network.name,
                result.nonce,
                result.outcome,
                result.tx_hash,
            )
        return bool(results)


class _EventRecorder(LedgerRecorder):
    """The ledger recorder of ``payout safe execute``, announcing the broadcast (batch.submitted)
    and the payment's rows as the worker's other paths do."""

    def __init__(self, payer: SafePayer, safe_tx_hashes: dict[bytes, str]) -> None:
        super().__init__(payer.ledger, safe_tx_hashes=safe_tx_hashes)
        self.payer = payer

    def submitted(self, batch: Batch, signed: PreparedTx) -> None:
        # batch.submitted is written with the write-ahead record (the ledger's batch listener).
        super().submitted(batch, signed)
        net = self.payer.network
        self.payer.service.store.sync(net.name, net.payer, batch.token)

    def confirmed(self, batch: Batch, receipt: BatchReceipt) -> None:
        before = self.ledger.batch(batch.scope, batch.batch_id).status
        super().confirmed(batch, receipt)
        if before is not BatchStatus.CONFIRMED:
            # batch.paid was written with the confirmation (the ledger's batch listener).
            self.payer._archive(self.ledger.batch(batch.scope, batch.batch_id))
