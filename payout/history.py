"""The chain's own record of a payer's batches, read back when the ledger does not know them.

A lost (or replaced) ledger must not let a re-sent file pay anyone twice. Batch ids commit to the
ordered payout ids, so re-cutting the same rows with another batch size gives new ids the contract
has never seen. Before planning, the payer's ``BatchDisbursed`` events are therefore read from the
disburser; every executed batch the ledger does not know is decoded (recipients and amounts) from
its transaction's logs, matched to the file's rows by (recipient, amount) in file order, and the
candidate payout ids are verified by recomputing the batch id:

* verified -> the rows are recorded as paid (adopted, with the transaction hash) and not paid;
* not verifiable (rows whose recipient and amount appear in an unknown batch but whose ids do not
  reproduce its batch id) -> nothing is paid: :class:`UnverifiedChainBatches` lists the rows and
  transactions, and ``payout recover`` resolves them (adopt as paid, or mark the batch unrelated).

Every batch seen on chain and not planned by this ledger is stored (``chain_batches``) with its
rows, so a later file is matched against it without scanning again; the scan resumes from a
per-scope cursor. :func:`read_chain_batch` is the ONE place that knows how a batch looks on chain:
if the contract's events or transfers change, only it changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from payout.batching import derive_batch_id
from payout.chain import TRANSFER_TOPIC, Chain
from payout.disburser import (
    BATCH_DISBURSED_TOPIC,
    TRANSFER_SKIPPED_TOPIC,
    BatchEvent,
    Disburser,
    decode_batch_event,
)
from payout.exceptions import InputError, RpcRejected
from payout.exceptions import UnreadableChainBatch as UnreadableChainBatch
from payout.exceptions import UnverifiedChainBatches as UnverifiedChainBatches
from payout.ledger import ChainBatchRecord, Ledger
from payout.types import Batch, ExecutorKind, Network, PayMode, Payout, PayoutStatus, Scope

#: Blocks below the head that a scan cursor stays behind (a reorg may still replace them).
REORG_MARGIN = 64
#: First eth_getLogs window; halved when a provider refuses the range, down to one block.
LOG_WINDOW = 50_000


# --- errors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockedRow:
    """A file row whose recipient and amount appear in a batch the ledger cannot verify."""

    payout: Payout
    tx_hash: str
    batch_id: str


# --- the chain's record of one batch -------------------------------------------------------------


@dataclass(frozen=True)
class ChainRow:
    """One recipient of an executed batch: paid, or skipped on chain (skip-and-report mode)."""

    recipient: str
    amount: int
    paid: bool = True


@dataclass(frozen=True)
class ChainBatch:
    """An executed batch as the chain records it."""

    event: BatchEvent
    rows: tuple[ChainRow, ...]
    #: The transaction's target: the disburser (sent directly by the payer) or a wallet (Safe).
    tx_to: str | None

    @property
    def batch_id_hex(self) -> str:
        return "0x" + self.event.batch_id.hex()

    @property
    def executor(self) -> ExecutorKind:
        return ExecutorKind.SAFE if self.tx_to == self.event.payer else ExecutorKind.WALLET

    @property
    def mode(self) -> PayMode:
        return PayMode.STRICT if all(r.paid for r in self.rows) else PayMode.SKIP


def _b(value: Any) -> bytes:
    return bytes.fromhex(str(value)[2:])


def read_chain_batch(chain: Chain, disburser: str, event: BatchEvent) -> ChainBatch:
    """Decode the rows of the executed batch behind ``event`` from its transaction's logs.

    Within one disburse call the token emits one ``Transfer`` per paid recipient, in batch order
    (the pull from the payer goes to the disburser and is not a row), the disburser emits
    ``TransferSkipped(batchId, index, recipient, amount)`` per skipped row, and
    ``BatchDisbursed`` closes the call. Logs are used rather than the transaction input so that any
    calling path (direct call, Safe, MultiSend, smart account) reads the same. The paid rows must
    add up to the event's count and total, or :class:`UnreadableChainBatch` is raised.
    """
    batch_hex = "0x" + event.batch_id.hex()
    receipt = chain.receipt(event.tx_hash)
    if receipt is None:
        raise UnreadableChainBatch(batch_hex, event.tx_hash, "no receipt")
    logs = sorted(receipt.get("logs", []), key=lambda log: int(str(log["logIndex"]), 16))
    d = disburser.lower()
    payer = event.payer.lower()
    token = event.token.lower()
    paid: list[ChainRow] = []
    skipped: dict[int, ChainRow] = {}
    for log in logs:
        index = int(str(log["logIndex"]), 16)
        if index >= event.log_index:
            break
        address = str(log["address"]).lower()
        topics = [_b(t) for t in log.get("topics", [])]
        if not topics:
            continue
        if address == d and topics[0] == BATCH_DISBURSED_TOPIC:
            paid, skipped = [], {}  # an earlier batch of the same transaction ends here
        elif address == d and topics[0] == TRANSFER_SKIPPED_TOPIC and topics[1] == event.batch_id:
            data = _b(log["data"])
            position = int.from_bytes(data[0:32], "big")
            recipient = to_checksum_address("0x" + data[44:64].hex())
            skipped[position] = ChainRow(recipient, int.from_bytes(data[64:96], "big"), False)
        elif address == token and topics[0] == TRANSFER_TOPIC and len(topics) == 3:
            source, to = "0x" + topics[1][12:].hex(), "0x" + topics[2][12:].hex()
            if to != d and source in (d, payer):
                amount = int.from_bytes(_b(log["data"]), "big")
                paid.append(ChainRow(to_checksum_address(to), amount))
    if len(paid) != event.count or sum(r.amount for r in paid) != event.total:
        raise UnreadableChainBatch(
            batch_hex,
            event.tx_hash,
            f"{len(paid)} transfers of {sum(r.amount for r in paid)} in its logs, the event says "
            f"{event.count} of {event.total}",
        )
    rows: list[ChainRow] = []
    transfers = iter(paid)
    for position in range(len(paid) + len(skipped)):
        row = skipped.get(position)
        rows.append(row if row is not None else next(transfers))
    tx = chain.transaction(event.tx_hash) or {}
    to_field = tx.get("to")
    return ChainBatch(event, tuple(rows), to_checksum_address(to_field) if to_field else None)


def chain_logs_events(
    disburser: Disburser, payer: str, token: str, from_block: int, to_block: int
) -> list[BatchEvent]:
    """The payer's ``BatchDisbursed`` events of ``token`` in [from_block, to_block], read in
    windows that halve when a provider refuses a range (public nodes cap it)."""
    from payout.disburser import addr_word

    topics: list[bytes | Sequence[bytes] | None] = [
        BATCH_DISBURSED_TOPIC,
        addr_word(payer),
        addr_word(token),
        None,
    ]
    out: list[BatchEvent] = []
    window = LOG_WINDOW
    start = from_block
    while start <= to_block:
        stop = min(start + window - 1, to_block)
        try:
            logs = disburser.chain.logs(
                address=disburser.address, topics=topics, from_block=start, to_block=stop
            )
        except RpcRejected:
            if window == 1:
                raise
            window = max(1, window // 2)
            continue
        out += [decode_batch_event(log) for log in logs]
        start = stop + 1
    return sorted(out, key=lambda e: (e.block_number, e.log_index))


def deployment_block(chain: Chain, address: str, head: int) -> int:
    """The first block where ``address`` has code (binary search), or 0 when the node cannot
    answer for old blocks (a pruned node): then the scan starts at genesis."""
    try:
        if not chain.code(address, hex(head)):
            return head
        low, high = 0, head
        while low < high:
            mid = (low + high) // 2
            if chain.code(address, hex(mid)):
                high = mid
            else:
                low = mid + 1
        return low
    except RpcRejected:
        return 0


# --- matching -------------------------------------------------------------------------------------


def match_rows(rows: Sequence[ChainRow], candidates: Sequence[Payout]) -> list[Payout] | None:
    """The file rows a chain batch most likely paid: each chain row matched by (recipient, amount)
    to the earliest unused candidate after the previous match (a batch is cut in file order),
    else the earliest unused one. None when a chain row has no candidate."""
    where: dict[tuple[str, int], list[int]] = {}
    for i, p in enumerate(candidates):
        where.setdefault((p.recipient, p.amount), []).append(i)
    used: set[int] = set()
    previous = -1
    out: list[Payout] = []
    for row in rows:
        positions = [i for i in where.get((row.recipient, row.amount), []) if i not in used]
        if not positions:
            return None
        after = [i for i in positions if i > previous]
        pick = after[0] if after else positions[0]
        used.add(pick)
        previous = pick
        out.append(candidates[pick])
    return out


#: Alternative assignments tried when a recipient and amount repeat in the file.
MAX_MATCH_ATTEMPTS = 256


def index_rows(candidates: Sequence[Payout]) -> dict[tuple[str, int], list[int]]:
    """(recipient, amount) -> positions in ``candidates`` (built once per file)."""
    where: dict[tuple[str, int], list[int]] = {}
    for i, p in enumerate(candidates):
        where.setdefault((p.recipient, p.amount), []).append(i)
    return where


def find_verified(
    batch: ChainBatch,
    scope: Scope,
    disburser: str,
    candidates: Sequence[Payout],
    where: dict[tuple[str, int], list[int]] | None = None,
    used: set[int] | frozenset[int] = frozenset(),
) -> list[Payout] | None:
    """The file rows, in file order, whose payout ids reproduce the batch's id, or None.

    A batch is cut from the owed rows in file order, so its rows are an increasing selection of
    the candidates; when a (recipient, amount) repeats, the choices are searched depth-first
    (earliest first, at most :data:`MAX_MATCH_ATTEMPTS` complete assignments). ``where``
    (:func:`index_rows` of ``candidates``) and ``used`` (positions taken by other batches) let a
    caller match many batches against a large file without re-indexing it."""
    if where is None:
        where = index_rows(candidates)
    options = [
        [i for i in where.get((r.recipient, r.amount), []) if i not in used] for r in batch.rows
    ]
    if any(not o for o in options):
        return None
    attempts = 0
    chosen: list[int] = []

    def search(k: int, previous: int) -> list[Payout] | None:
        nonlocal attempts
        if k == len(options):
            attempts += 1
            picked = [candidates[i] for i in chosen]
            return picked if verifies(batch, scope, disburser, picked) else None
        for i in options[k]:
            if i <= previous:
                continue
            chosen.append(i)
            found = search(k + 1, i)
            chosen.pop()
            if found is not None or attempts >= MAX_MATCH_ATTEMPTS:
                return found
        return None

    return search(0, -1)


def verifies(batch: ChainBatch, scope: Scope, disburser: str, payouts: Sequence[Payout]) -> bool:
    """Whether these ordered payout ids reproduce the batch's id (this toolkit derived it)."""
    return (
        derive_batch_id(
            network=scope.network,
            chain_id=scope.chain_id,
            disburser=disburser,
            payer=scope.payer,
            token=scope.token,
            payout_ids=[p.payout_id for p in payouts],
        )
        == batch.event.batch_id
    )


# --- recovery before planning ---------------------------------------------------------------------


@dataclass
class Recovery:
    """What :func:`recover` found and did for one scope."""

    scope: Scope
    #: (batch id, tx hash, rows) of batches adopted as paid in this run.
    adopted: list[tuple[str, str, int]] = field(default_factory=list)
    blocked: list[BlockedRow] = field(default_factory=list)
    #: Executed batches of the payer this ledger did not plan (all, whatever their state).
    unknown: int = 0

    @property
    def adopted_rows(self) -> int:
        return sum(n for _b, _t, n in self.adopted)


def scan(ledger: Ledger, disburser: Disburser, scope: Scope) -> list[ChainBatchRecord]:
    """Read the payer's new batch events since the scope's cursor; store the batches this ledger
    did not plan (with their rows); return every stored batch still open (not adopted, not
    marked unrelated)."""
    chain = disburser.chain
    head = chain.block_number()
    cursor = ledger.scan_cursor(scope, disburser.address)
    start = deployment_block(chain, disburser.address, head) if cursor is None else cursor + 1
    if start <= head:
        known = ledger.known_batch_ids(scope)
        seen = {r.batch_id for r in ledger.chain_batches(scope)}
        found = []
        for event in chain_logs_events(disburser, scope.payer, scope.token, start, head):
            hex_id = "0x" + event.batch_id.hex()
            if hex_id in known or hex_id in seen:
                continue
            found.append(read_chain_batch(chain, disburser.address, event))
            seen.add(hex_id)
        ledger.add_chain_batches(scope, [_record(scope, b) for b in found])
        ledger.set_scan_cursor(scope, disburser.address, max(start - 1, head - REORG_MARGIN))
    return ledger.chain_batches(scope, status="open")


def _record(scope: Scope, batch: ChainBatch) -> ChainBatchRecord:
    return ChainBatchRecord(
        scope=scope,
        batch_id=batch.batch_id_hex,
        tx_hash=batch.event.tx_hash,
        block_number=batch.event.block_number,
        log_index=batch.event.log_index,
        executor=batch.executor,
        rows=tuple((r.recipient, r.amount, r.paid) for r in batch.rows),
        status="open",
    )


def _as_chain_batch(record: ChainBatchRecord) -> ChainBatch:
    payer = record.scope.payer
    event = BatchEvent(
        payer,
        record.scope.token,
        bytes.fromhex(record.batch_id[2:]),
        sum(1 for r in record.rows if r[2]),
        sum(r[1] for r in record.rows if r[2]),
        record.tx_hash,
        record.block_number,
        record.log_index,
    )
    to = payer if record.executor is ExecutorKind.SAFE else None
    return ChainBatch(event, tuple(ChainRow(*r) for r in record.rows), to)


def recover(
    ledger: Ledger,
    disburser: Disburser,
    scope: Scope,
    rows: Sequence[Payout],
    *,
    adopt_unverified: Sequence[str] = (),
) -> Recovery:
    """Before planning ``rows`` (registered, file order): adopt the executed batches the ledger
    does not know whose payout ids verify, and list the rows that match an unverifiable one.

    ``adopt_unverified`` (transaction hashes, from ``payout recover --adopt``) adopts the matching
    rows of those transactions' batches even though their ids do not reproduce the batch id.
    Raises nothing itself: the caller refuses on :attr:`Recovery.blocked`.
    """
    report = Recovery(scope)
    open_batches = scan(ledger, disburser, scope)
    report.unknown = len(open_batches)
    if not open_batches:
        return report
    ids = [p.payout_id for p in rows]
    records = {r.payout_id: r for r in ledger.payouts(scope, payout_ids=ids)}
    owed = [
        p
        for p in rows
        if p.payout_id in records
        and records[p.payout_id].status in (PayoutStatus.PLANNED, PayoutStatus.FAILED)
    ]
    forced = {h.lower() for h in adopt_unverified}
    where = index_rows(owed)
    position = {p.payout_id: i for i, p in enumerate(owed)}
    used: set[int] = set()
    for record in open_batches:
        batch = _as_chain_batch(record)
        matched = find_verified(batch, scope, disburser.address, owed, where, used)
        if matched is None and record.tx_hash.lower() in forced:
            matched = match_rows(batch.rows, [p for i, p in enumerate(owed) if i not in used])
        if matched is not None:
            adopt(ledger, disburser, scope, batch, matched)
            used.update(position[p.payout_id] for p in matched)
            report.adopted.append((record.batch_id, record.tx_hash, len(matched)))
            continue
        if record.tx_hash.lower() in forced:
            raise InputError(
                f"transaction {record.tx_hash} paid {len(batch.rows)} row(s); the file does not "
                "hold a row for each of them (by recipient and amount)",
                hint="pass the file that was paid (or one holding all of its rows), or mark it "
                "--unrelated",
            )
        report.blocked += [
            BlockedRow(owed[i], record.tx_hash, record.batch_id)
            for i in _positions(batch, where, used)
        ]
    return report


def _positions(
    batch: ChainBatch, where: dict[tuple[str, int], list[int]], used: set[int]
) -> list[int]:
    """Unused file positions with a recipient and amount of ``batch`` (the rows it blocks)."""
    pairs = {(r.recipient, r.amount) for r in batch.rows}
    return sorted({i for pair in pairs for i in where.get(pair, []) if i not in used})


def preview(
    disburser: Disburser, scope: Scope, rows: Sequence[Payout], ledger: Ledger | None = None
) -> tuple[set[str], list[BlockedRow]]:
    """What :func:`recover` would find for ``rows``, without writing anything (``payout plan``):
    the payout ids executed batches verifiably paid, and the rows an unverifiable batch blocks."""
    chain = disburser.chain
    head = chain.block_number()
    cursor = ledger.scan_cursor(scope, disburser.address) if ledger is not None else None
    start = deployment_block(chain, disburser.address, head) if cursor is None else cursor + 1
    stored = ledger.chain_batches(scope) if ledger is not None else []
    skip = {r.batch_id for r in stored} | (
        ledger.known_batch_ids(scope) if ledger is not None else set()
    )
    found = [_as_chain_batch(r) for r in stored if r.status == "open"]
    for event in chain_logs_events(disburser, scope.payer, scope.token, start, head):
        if "0x" + event.batch_id.hex() not in skip:
            found.append(read_chain_batch(chain, disburser.address, event))
    paid: set[str] = set()
    blocked: list[BlockedRow] = []
    if not found:
        return paid, blocked
    owed = list(rows)
    if ledger is not None:
        records = {
            r.payout_id: r for r in ledger.payouts(scope, payout_ids=[p.payout_id for p in rows])
        }
        owed = [
            p
            for p in rows
            if p.payout_id not in records
            or records[p.payout_id].status in (PayoutStatus.PLANNED, PayoutStatus.FAILED)
        ]
    where = index_rows(owed)
    position = {p.payout_id: i for i, p in enumerate(owed)}
    used: set[int] = set()
    for batch in found:
        matched = find_verified(batch, scope, disburser.address, owed, where, used)
        if matched is not None:
            paid.update(p.payout_id for p in matched)
            used.update(position[p.payout_id] for p in matched)
            continue
        blocked += [
            BlockedRow(owed[i], batch.event.tx_hash, batch.batch_id_hex)
            for i in _positions(batch, where, used)
        ]
    return paid, blocked


def adopt(
    ledger: Ledger, disburser: Disburser, scope: Scope, batch: ChainBatch, payouts: Sequence[Payout]
) -> None:
    """Record an executed chain batch as paying ``payouts`` (in its order), from its receipt."""
    from payout.executor import settle_from_receipt

    plan = Batch(
        index=0,
        batch_id=batch.event.batch_id,
        network=Network.EVM,
        chain_id=scope.chain_id,
        payer=scope.payer,
        token=scope.token,
        disburser=disburser.address,
        payouts=tuple(payouts),
        total=sum(p.amount for p in payouts),
        cost_estimate=0,
    )
    receipt = disburser.chain.receipt(batch.event.tx_hash)
    if receipt is None:
        raise UnreadableChainBatch(batch.batch_id_hex, batch.event.tx_hash, "no receipt")
    ledger.save_plan([plan], executor=batch.executor, mode=batch.mode)
    ledger.record_submission(
        scope,
        plan.batch_id,
        tx_hash=batch.event.tx_hash,
        note="adopted from the chain: executed before this ledger knew it",
    )
    settle_from_receipt(ledger, disburser, plan, receipt)
    ledger.set_chain_batch_status(scope, batch.batch_id_hex, "adopted")


def guard(ledger: Ledger, disburser: Disburser, scope: Scope, rows: Sequence[Payout]) -> Recovery:
    """:func:`recover`, refusing (:class:`UnverifiedChainBatches`) when any row is blocked."""
    report = recover(ledger, disburser, scope, rows)
    if report.blocked:
        raise UnverifiedChainBatches(scope, report.blocked)
    return report


def mark_unrelated(ledger: Ledger, scope: Scope, tx_hashes: Sequence[str]) -> int:
    """Mark the stored chain batches of these transactions as unrelated to any file (their rows
    may be paid); returns how many were marked."""
    wanted = {h.lower() for h in tx_hashes}
    count = 0
    for record in ledger.chain_batches(scope, status="open"):
        if record.tx_hash.lower() in wanted:
            ledger.set_chain_batch_status(scope, record.batch_id, "unrelated")
            count += 1
    return count


# --- the chain a ledger scope lives on ------------------------------------------------------------


def chain_genesis(chain: Chain) -> str:
    """The hash of the chain's block 0 (cached per connection): a restarted dev chain or another
    network reusing the chain id has another one."""
    cached: str | None = getattr(chain, "_payout_genesis", None)
    if cached is None:
        cached = str(chain.block(0)["hash"]).lower()
        chain._payout_genesis = cached  # type: ignore[attr-defined]
    return cached


def pin(ledger: Ledger, chain: Chain, scopes: Sequence[Scope]) -> None:
    """Pin each EVM scope on ``chain`` to its genesis, refusing (``ChainResetError``) when the
    ledger knows the chain id with another genesis."""
    here = [s for s in scopes if s.network is Network.EVM and s.chain_id == chain.chain_id]
    if not here:
        return
    genesis = chain_genesis(chain)
    for scope in dict.fromkeys(here):
        ledger.pin_chain(scope, genesis)
