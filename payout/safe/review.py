"""Independent review of a proposal file against the chain, before anyone signs or executes.

Nothing written in the file is trusted: the Safe version, owners, threshold and nonce come from the
chain; every hash is recomputed from the SafeTx fields; the calldata is decoded and compared with
the batch the file describes; the MultiSendCallOnly and disburser code are checked on chain.

What a hardware wallet shows when signing a SafeTx with EIP-712 is the domain hash and the message
hash; :class:`TxReview` carries both, plus the resulting safeTxHash, so a signer can compare the
three values on the device with the ones printed here.

The token is described by the chain, never by the file: its symbol, name and decimals are read
from the token contract (a file whose symbol or decimals differ is refused) and every amount is
shown with the chain's decimals. What the signer expects comes from outside the file: the token
they name (``--token``), the operator's ledger (the batches it planned, their token, rows and
safeTxHash) and the payout file itself (``--file``), compared row by row. :func:`review_for_signer`
is the one check ``payout safe review`` and ``payout safe sign`` both run.

Findings are ``critical`` (do not sign: the transaction is not what it claims, is dangerous, or
differs from what the operator planned), ``warning`` (it will not execute as is, or not soon: nonce
used, nonce gap, funds short, signature invalid) or ``info``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.amount import format_amount
from payout.chain import Chain
from payout.config import resolve_ledger_url
from payout.disburser import (
    SEL_APPROVE,
    SEL_DISBURSE,
    SEL_DISBURSE_OR_SKIP,
    Disburser,
    decode_disburse,
    pack_rows,
)
from payout.exceptions import InputError, LedgerNotFoundError, PayoutError, SafeProposalRejected
from payout.safe.multisend import (
    OPERATION_CALL,
    OPERATION_DELEGATECALL,
    InnerCall,
    MultiSendDecodeError,
    canonical_library,
    code_matches,
    decode_multisend,
)
from payout.safe.proposal import ZERO_ADDRESS, Proposal, ProposedTx, SafeTxHashes, next_nonce
from payout.safe.safe_state import SafeState, read_safe
from payout.safe.signature import SignatureCheck, check_signature, hashes_of
from payout.types import BatchStatus, ExecutorKind, Network, PayMode, PayoutStatus, Scope

if TYPE_CHECKING:
    from payout.ledger import BatchRecord, Ledger

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"

#: Up to this many recipients are listed in full; longer lists are summarised by a digest.
FULL_LIST_LIMIT = 20


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    message: str


@dataclass(frozen=True)
class DecodedBatch:
    """What the calldata actually does (decoded from the bytes that will be signed)."""

    token: str | None = None
    disburser: str | None = None
    batch_id: bytes | None = None
    replay_key: bytes | None = None
    mode: PayMode | None = None
    total: int | None = None
    approvals: tuple[int, ...] = ()
    #: The contract each ``approve`` call is sent to (must be the token the batch pays).
    approve_targets: tuple[str, ...] = ()
    recipients: tuple[tuple[str, int], ...] = ()
    #: keccak256 of the packed recipient rows (``bytes``), exactly as in the calldata.
    digest: bytes = b""

    @property
    def count(self) -> int:
        return len(self.recipients)

    @property
    def decoded_sum(self) -> int:
        return sum(a for _, a in self.recipients)


@dataclass(frozen=True)
class TokenView:
    """The token the file says it pays, as the chain describes it (the file's words beside)."""

    address: str
    #: Symbol, name and decimals read from the token contract (the file's when it did not answer).
    symbol: str
    name: str
    decimals: int
    file_symbol: str
    file_decimals: int
    #: False when no ERC-20 answered at ``address``.
    on_chain: bool
    #: What confirms this is the token the signer means: ``--token``, ``ledger`` or ``""``.
    confirmed_by: str = ""


#: Kinds of :class:`RowDiff`.
ROW_ADDED = "added"
ROW_REMOVED = "removed"
ROW_CHANGED = "changed"
ROW_DUPLICATE = "duplicate"
ROW_NOT_PROPOSED = "not proposed"


@dataclass(frozen=True)
class RowDiff:
    """One row where the proposal differs from what the operator planned.

    ``against`` is the payout file's name or ``ledger``; ``planned`` / ``proposed`` are
    ``(recipient, amount)`` in base units (None when the row is absent on that side); ``nonce`` is
    the Safe transaction the proposed row is in.
    """

    kind: str
    against: str
    payout_id: str
    nonce: int | None
    source: str | None
    line: int | None
    planned: tuple[str, int] | None
    proposed: tuple[str, int] | None

    @property
    def where(self) -> str:
        """``payees.csv line 7`` (or the source alone when the line is unknown)."""
        name = self.source or self.against
        return f"{name} line {self.line}" if self.line else name


@dataclass(frozen=True)
class RowsReport:
    """The proposal's rows compared with the payout file and/or the operator's ledger."""

    compared_with: tuple[str, ...] = ()
    differences: tuple[RowDiff, ...] = ()
    #: Rows of the payout file this proposal does not pay and the ledger does not explain (paid,
    #: or in another proposal): removed, or paid earlier from another ledger.
    not_proposed: tuple[RowDiff, ...] = ()


@dataclass(frozen=True)
class TxReview:
    """Review of one Safe transaction of the file."""

    nonce: int
    hashes: SafeTxHashes
    file_hash: bytes
    decoded: DecodedBatch
    findings: tuple[Finding, ...]
    signatures: tuple[SignatureCheck, ...]
    threshold: int
    executed: bool
    status: str

    @property
    def valid_signatures(self) -> int:
        return len({c.owner for c in self.signatures if c.valid})

    @property
    def critical(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == CRITICAL]


@dataclass(frozen=True)
class ProposalReview:
    """Review of a whole proposal file."""

    chain_id: int
    file_chain_id: int
    safe: SafeState | None
    token: TokenView
    findings: tuple[Finding, ...]
    transactions: tuple[TxReview, ...] = field(default=())
    rows: RowsReport = field(default_factory=RowsReport)

    @property
    def token_symbol(self) -> str:
        """The chain's symbol for the token (never the file's)."""
        return self.token.symbol

    @property
    def token_decimals(self) -> int:
        """The chain's decimals for the token: every amount is shown with these."""
        return self.token.decimals

    @property
    def critical(self) -> list[Finding]:
        out = [f for f in self.findings if f.severity == CRITICAL]
        for tx in self.transactions:
            out.extend(tx.critical)
        return out

    @property
    def ok(self) -> bool:
        return not self.critical


def expected_disburser_code_hash() -> str:
    """keccak256 of the disburser runtime code this toolkit ships (the audited artifact)."""
    from payout.deployment import shipped_code

    return "0x" + shipped_code().runtime_hash.hex()


# --- decoding -------------------------------------------------------------------------------------


def _decode_inner(
    calls: Sequence[InnerCall], tx: ProposedTx, findings: list[Finding]
) -> DecodedBatch:
    approvals: list[int] = []
    targets: list[str] = []
    disburse: InnerCall | None = None
    for i, call in enumerate(calls):
        if call.operation != OPERATION_CALL:
            findings.append(
                Finding(CRITICAL, "inner_delegatecall", f"inner call {i} is a DELEGATECALL")
            )
        if call.value != 0:
            findings.append(
                Finding(CRITICAL, "inner_value", f"inner call {i} sends {call.value} wei")
            )
        selector = call.data[:4]
        if selector == SEL_APPROVE and disburse is None:
            try:
                spender, amount = abi_decode(["address", "uint256"], call.data[4:])
            except Exception:
                findings.append(Finding(CRITICAL, "bad_approve", f"inner call {i}: bad approve"))
                continue
            if to_checksum_address(spender) != tx.batch.disburser:
                findings.append(
                    Finding(
                        CRITICAL,
                        "approval_spender",
                        f"inner call {i} approves {to_checksum_address(spender)}, not the "
                        f"disburser {tx.batch.disburser}",
                    )
                )
            approvals.append(int(amount))
            targets.append(to_checksum_address(call.to))
        elif selector in (SEL_DISBURSE, SEL_DISBURSE_OR_SKIP) and disburse is None:
            disburse = call
        else:
            findings.append(
                Finding(
                    CRITICAL,
                    "unexpected_call",
                    f"inner call {i} to {call.to} (selector 0x{selector.hex()}) is not part of a "
                    "payout batch",
                )
            )
    token = targets[0] if targets else None
    if disburse is None:
        findings.append(Finding(CRITICAL, "no_disburse", "no disburse call in the transaction"))
        return DecodedBatch(token=token, approvals=tuple(approvals), approve_targets=tuple(targets))
    try:
        decoded_call = decode_disburse(disburse.data)
    except Exception:
        findings.append(Finding(CRITICAL, "bad_disburse", "the disburse call cannot be decoded"))
        return DecodedBatch(token=token, approvals=tuple(approvals), approve_targets=tuple(targets))
    width, packed = pack_rows(decoded_call.rows)
    if width != decoded_call.amount_bytes:
        findings.append(
            Finding(
                WARNING,
                "amount_bytes",
                f"the rows carry {decoded_call.amount_bytes}-byte amounts where {width} suffice",
            )
        )
    digest = keccak(packed)
    return DecodedBatch(
        token=decoded_call.token,
        disburser=disburse.to,
        batch_id=decoded_call.batch_id,
        replay_key=decoded_call.replay_key,
        mode=decoded_call.mode,
        total=decoded_call.total,
        approvals=tuple(approvals),
        approve_targets=tuple(targets),
        recipients=decoded_call.rows,
        digest=digest,
    )


def describe_token(chain: Chain, address: str) -> str:
    """``0xA0b8... (USDC "USD Coin")`` as the chain names it, for messages."""
    try:
        info = chain.token(address, cached=False)
    except PayoutError:
        return f"{address} (not an ERC-20 token)"
    return f'{info.address} ({info.symbol} "{info.name}")'


def _check_decoded(
    chain: Chain,
    proposal: Proposal,
    tx: ProposedTx,
    decoded: DecodedBatch,
    findings: list[Finding],
    expected_token: str | None,
) -> None:
    batch = tx.batch
    # Every approval goes to the token the disburse call pays, and nowhere else: an allowance on
    # another token is not part of a payout batch, whatever its spender.
    pays = decoded.token if decoded.total is not None else proposal.token.address
    for i, target in enumerate(decoded.approve_targets):
        if target != pays:
            findings.append(
                Finding(
                    CRITICAL,
                    "approve_token",
                    f"approval {i} approves token {describe_token(chain, target)} for the "
                    f"disburser, but the batch pays {describe_token(chain, str(pays))}: a payout "
                    "batch approves only the token it pays",
                )
            )
    if decoded.total is None:
        return
    if decoded.token != proposal.token.address or decoded.token != batch.token:
        findings.append(
            Finding(
                CRITICAL,
                "unexpected_token",
                f"the disburse call pays token {decoded.token}, the file says {batch.token}",
            )
        )
    if expected_token is not None and decoded.token != to_checksum_address(expected_token):
        findings.append(
            Finding(
                CRITICAL,
                "unexpected_token",
                f"pays token {describe_token(chain, str(decoded.token))}, you expected "
                f"{describe_token(chain, expected_token)}",
            )
        )
    approved_token_calls = decoded.approvals
    if not approved_token_calls or approved_token_calls[-1] != decoded.total:
        last = approved_token_calls[-1] if approved_token_calls else 0
        findings.append(
            Finding(
                CRITICAL,
                "approval_total",
                f"the approval ({last}) differs from the batch total ({decoded.total})",
            )
        )
    if any(a != 0 for a in approved_token_calls[:-1]):
        findings.append(
            Finding(CRITICAL, "approval_total", "an approval before the last one is not zero")
        )
    if decoded.disburser != proposal.disburser or decoded.disburser != batch.disburser:
        findings.append(
            Finding(
                CRITICAL,
                "unexpected_disburser",
                f"disburse is called on {decoded.disburser}, the file says {batch.disburser}",
            )
        )
    if decoded.batch_id != batch.batch_id:
        findings.append(
            Finding(CRITICAL, "batch_id", "the calldata's batch id differs from the file's")
        )
    if decoded.replay_key != batch.replay_key:
        findings.append(
            Finding(CRITICAL, "replay_key", "the calldata's replay key differs from the file's")
        )
    if decoded.mode != batch.mode:
        findings.append(Finding(CRITICAL, "mode", f"the calldata uses {decoded.mode} mode"))
    if decoded.decoded_sum != decoded.total:
        findings.append(
            Finding(
                CRITICAL,
                "total",
                f"the amounts add up to {decoded.decoded_sum}, the declared total is "
                f"{decoded.total}",
            )
        )
    claimed = tuple((p.recipient, p.amount) for p in batch.payouts)
    if claimed != decoded.recipients or batch.total != decoded.total:
        findings.append(
            Finding(
                CRITICAL,
                "payouts_mismatch",
                "the recipients/amounts listed in the file differ from those in the calldata",
            )
        )


# --- review ---------------------------------------------------------------------------------------


def _review_tx(
    chain: Chain,
    proposal: Proposal,
    tx: ProposedTx,
    state: SafeState | None,
    expected_token: str | None,
    executor: str | None,
    disburser: Disburser,
) -> TxReview:
    findings: list[Finding] = []
    hashes = hashes_of(proposal, tx)
    if hashes.safe_tx_hash != tx.safe_tx_hash:
        findings.append(
            Finding(
                CRITICAL,
                "hash_mismatch",
                "the safeTxHash written in the file does not match its fields "
                f"(file 0x{tx.safe_tx_hash.hex()}, recomputed 0x{hashes.safe_tx_hash.hex()})",
            )
        )
    st = tx.safe_tx
    if st.operation == OPERATION_DELEGATECALL:
        library = canonical_library(st.to)
        if library is None:
            findings.append(
                Finding(
                    CRITICAL,
                    "untrusted_delegatecall",
                    f"DELEGATECALL to {st.to}, which is not a canonical MultiSendCallOnly: it "
                    "would run with full control of the Safe",
                )
            )
        elif not code_matches(library, chain.code(library.address)):
            findings.append(
                Finding(
                    CRITICAL,
                    "untrusted_delegatecall",
                    f"the code at {st.to} is not MultiSendCallOnly {library.version}",
                )
            )
    else:
        findings.append(
            Finding(
                CRITICAL,
                "operation",
                f"operation {st.operation}: payout batches DELEGATECALL MultiSendCallOnly",
            )
        )
    if st.value != 0:
        findings.append(Finding(CRITICAL, "value", f"sends {st.value} wei from the Safe"))
    if st.safe_tx_gas or st.base_gas or st.gas_price:
        findings.append(
            Finding(
                CRITICAL,
                "gas_fields",
                "safeTxGas/baseGas/gasPrice are not 0: a failed batch would burn the nonce and "
                "the Safe could refund the executor",
            )
        )
    if st.gas_token != ZERO_ADDRESS or st.refund_receiver != ZERO_ADDRESS:
        findings.append(
            Finding(
                CRITICAL, "refund", "gasToken/refundReceiver are set: the Safe could pay a refund"
            )
        )
    try:
        calls = decode_multisend(st.data)
        decoded = _decode_inner(calls, tx, findings)
        _check_decoded(chain, proposal, tx, decoded, findings, expected_token)
    except MultiSendDecodeError as exc:
        findings.append(Finding(CRITICAL, "calldata", str(exc)))
        decoded = DecodedBatch()

    checks: list[SignatureCheck] = []
    executed = False
    status = "unknown"
    threshold = state.threshold if state else proposal.threshold
    if state is not None:
        for sig in tx.signatures:
            checks.append(
                check_signature(chain, proposal, tx, sig, state, executor=executor, hashes=hashes)
            )
        for check in checks:
            if not check.valid:
                findings.append(
                    Finding(
                        WARNING,
                        "signature",
                        f"signature of {check.owner} ({check.kind}): {check.reason}",
                    )
                )
        replay_key = decoded.replay_key or tx.batch.replay_key
        try:
            executed = disburser.executed(state.address, replay_key)
        except PayoutError:
            executed = False
        valid = len({c.owner for c in checks if c.valid})
        if executed:
            status = "executed"
            findings.append(Finding(INFO, "executed", "this batch is already paid on chain"))
        elif tx.nonce < state.nonce:
            status = "nonce used"
            findings.append(
                Finding(
                    WARNING,
                    "nonce_used",
                    f"nonce {tx.nonce} is already used (Safe nonce {state.nonce}) and the batch "
                    "is not paid: propose it again",
                )
            )
        elif valid >= state.threshold:
            status = "ready" if tx.nonce == state.nonce else f"ready after nonce {state.nonce}"
        else:
            status = f"needs {state.threshold - valid} more signature(s)"
    return TxReview(
        nonce=tx.nonce,
        hashes=hashes,
        file_hash=tx.safe_tx_hash,
        decoded=decoded,
        findings=tuple(findings),
        signatures=tuple(checks),
        threshold=threshold,
        executed=executed,
        status=status,
    )


def review_proposal(
    chain: Chain,
    proposal: Proposal,
    *,
    expected_token: str | None = None,
    expected_safe: str | None = None,
    executor: str | None = None,
    payout_file: Path | None = None,
    ledger: Ledger | None = None,
    require_token: bool = False,
) -> ProposalReview:
    """Check ``proposal`` against the chain; a bad file gives findings, not exceptions.

    ``payout_file`` / ``ledger``: compare the rows with what the operator planned (see
    :func:`review_for_signer`). ``require_token``: nothing but ``expected_token`` or the ledger can
    confirm which token is meant; without either the review is critical.
    """
    findings: list[Finding] = []
    chain_id = chain.chain_id
    if chain_id != proposal.chain_id:
        findings.append(
            Finding(
                CRITICAL,
                "chain_id",
                f"the file is for chain {proposal.chain_id}, the RPC endpoint is chain {chain_id}",
            )
        )
    if expected_safe is not None and to_checksum_address(expected_safe) != proposal.safe:
        findings.append(
            Finding(CRITICAL, "safe", f"the file is for Safe {proposal.safe}, not {expected_safe}")
        )
    state: SafeState | None = None
    try:
        state = read_safe(chain, proposal.safe)
    except PayoutError as exc:
        findings.append(Finding(CRITICAL, "safe", str(exc)))
    if state is not None and state.version != proposal.safe_version:
        findings.append(
            Finding(
                CRITICAL,
                "safe_version",
                f"the Safe runs version {state.version}, the file says {proposal.safe_version} "
                "(the hashes would differ)",
            )
        )
    code = chain.code(proposal.disburser)
    if "0x" + keccak(code).hex() != expected_disburser_code_hash():
        findings.append(
            Finding(
                CRITICAL,
                "disburser_code",
                f"the code at the disburser address {proposal.disburser} is not the disburser "
                "this toolkit ships" + ("" if code else " (no code at all)"),
            )
        )
    token = _token_view(chain, proposal, findings)
    disburser = Disburser(chain, proposal.disburser)
    ordered = sorted(proposal.transactions, key=lambda t: t.nonce)
    txs = [
        _review_tx(chain, proposal, tx, state, expected_token, executor, disburser)
        for tx in ordered
    ]
    if state is not None and txs:
        total = sum(t.decoded.total or 0 for t in txs if not t.executed)
        balance = chain.token_balance(proposal.token.address, state.address)
        if balance < total:
            findings.append(
                Finding(
                    WARNING,
                    "funds",
                    f"the Safe holds {_amount(balance, token)}, the pending batches pay "
                    f"{_amount(total, token)} (short by {_amount(total - balance, token)})",
                )
            )
        allowance = chain.allowance(proposal.token.address, state.address, proposal.disburser)
        first = next((t for t in txs if not t.executed and t.nonce >= state.nonce), None)
        if first is not None and allowance != 0 and len(first.decoded.approvals) < 2:
            findings.append(
                Finding(
                    WARNING,
                    "allowance",
                    f"the Safe already allows the disburser {allowance} base units and the first "
                    "batch does not reset it to 0 first: USDT-like tokens will revert",
                )
            )
    nonces = [t.nonce for t in txs]
    if len(set(nonces)) != len(nonces):
        findings.append(Finding(CRITICAL, "nonce", "two transactions of the file share a nonce"))

    proposed = _proposed_rows(ordered, txs)
    diffs: list[RowDiff] = _duplicates(proposed)
    not_proposed: list[RowDiff] = []
    compared: list[str] = []
    queued: list[int] = []
    ledger_token: str | None = None
    if ledger is not None:
        facts = _LedgerComparison(chain, ledger, proposal, ordered, txs, token, findings)
        if facts.knows_safe:
            compared.append("ledger")
            diffs += facts.diffs
            ledger_token = facts.token
            if state is not None:
                queued = facts.queued(state.nonce)
    confirmed_by = ""
    if expected_token is not None:
        if to_checksum_address(expected_token) == token.address:
            confirmed_by = "--token"
    elif ledger_token is not None and ledger_token == token.address:
        confirmed_by = "ledger"
    elif require_token:
        findings.append(
            Finding(
                CRITICAL,
                "token_unconfirmed",
                f"nothing but this file says which token you mean to pay: it pays "
                f'{token.address}, which chain {chain_id} calls {token.symbol} "{token.name}" '
                f"({token.decimals} decimals). Check that address against your own records and "
                "pass it with --token (or review with the operator's ledger)",
            )
        )
    token = replace(token, confirmed_by=confirmed_by)
    if payout_file is not None:
        file_token = (
            to_checksum_address(expected_token) if expected_token else ledger_token or token.address
        )
        file_diffs, missing = _compare_with_file(
            chain, payout_file, file_token, proposed, ledger, proposal, ordered
        )
        compared.append(payout_file.name)
        diffs += file_diffs
        not_proposed = missing
    findings += _row_findings(diffs, not_proposed, token, ledger is not None)
    if not compared:
        findings.append(
            Finding(
                INFO,
                "rows_not_compared",
                "the rows were not compared with what the operator planned: pass the payout file "
                "with --file (or review with the operator's ledger)",
            )
        )
    if state is not None:
        gaps = _nonce_gaps(state, txs, queued)
        txs = [
            replace(t, findings=(*t.findings, gaps[t.nonce])) if t.nonce in gaps else t for t in txs
        ]
    return ProposalReview(
        chain_id=chain_id,
        file_chain_id=proposal.chain_id,
        safe=state,
        token=token,
        findings=tuple(findings),
        transactions=tuple(txs),
        rows=RowsReport(tuple(compared), tuple(diffs), tuple(not_proposed)),
    )


def review_for_signer(
    chain: Chain,
    proposal: Proposal,
    *,
    token: str | None = None,
    safe: str | None = None,
    payout_file: Path | None = None,
    ledger: Ledger | None = None,
) -> ProposalReview:
    """The review ``payout safe review`` shows and ``payout safe sign`` enforces: one code path.

    On top of the chain checks of :func:`review_proposal`, the token must be confirmed by something
    other than the file (``token``, else the operator's ``ledger``), and the rows are compared with
    the ``payout_file`` and/or the ledger (added, removed, changed rows are critical).
    """
    return review_proposal(
        chain,
        proposal,
        expected_token=token,
        expected_safe=safe,
        payout_file=payout_file,
        ledger=ledger,
        require_token=True,
    )


def open_ledger_if_present(url: str | None) -> Ledger | None:
    """The operator's ledger for a review, or None when this machine has none.

    ``url`` (already including ``PAYOUT_LEDGER_URL``) must exist when given; without it the default
    ``.payout/ledger.sqlite`` is opened only if it exists (a signer usually has no ledger, and a
    review never creates one).
    """
    from payout.ledger import Ledger

    resolved = resolve_ledger_url(url)
    if resolved.startswith("sqlite:"):
        path = resolved.split(":///", 1)[1] if ":///" in resolved else ""
        if path and path != ":memory:" and not Path(path).exists():
            if url is None:
                return None
            raise InputError(
                f"no ledger at {path}",
                hint="Pass the operator's ledger with --ledger (or PAYOUT_LEDGER_URL), or leave "
                "it out and compare with the payout file (--file).",
            )
    return Ledger.open(resolved)


# --- token, rows, ledger and nonces ---------------------------------------------------------------


def _amount(amount: int, token: TokenView) -> str:
    return format_amount(amount, token.decimals, symbol=token.symbol)


def _token_view(chain: Chain, proposal: Proposal, findings: list[Finding]) -> TokenView:
    """The file's token as the chain describes it; the file's symbol/decimals must agree."""
    ref = proposal.token
    try:
        info = chain.token(ref.address, cached=False)
    except PayoutError as exc:
        findings.append(
            Finding(
                CRITICAL,
                "not_a_token",
                f"the token {ref.address} of the file is not an ERC-20 token on chain "
                f"{proposal.chain_id} ({exc})",
            )
        )
        return TokenView(
            ref.address, ref.symbol, ref.symbol, ref.decimals, ref.symbol, ref.decimals, False
        )
    if ref.symbol != info.symbol:
        findings.append(
            Finding(
                CRITICAL,
                "token_symbol",
                f"the file calls the token {ref.symbol}, the chain says {info.symbol} "
                f'"{info.name}" at {info.address}',
            )
        )
    if ref.decimals != info.decimals:
        findings.append(
            Finding(
                CRITICAL,
                "token_decimals",
                f"the file says {ref.decimals} decimals, the chain says {info.decimals} for "
                f"{info.symbol} at {info.address}: amounts read with the file's decimals are off "
                f"by a factor of 10^{abs(ref.decimals - info.decimals)}",
            )
        )
    return TokenView(
        info.address, info.symbol, info.name, info.decimals, ref.symbol, ref.decimals, True
    )


#: ``(nonce, payout id, recipient, amount)`` of one row the calldata pays.
_Row = tuple[int, str, str, int]


def _tx_rows(tx: ProposedTx, decoded: DecodedBatch) -> list[_Row]:
    """The rows the calldata of ``tx`` pays, each named by the payout id the file lists at its
    position (the calldata carries no ids; a listing that disagrees is critical on its own)."""
    ids = tx.batch.payout_ids
    return [
        (tx.nonce, ids[i] if i < len(ids) else f"(calldata row {i}, not listed)", recipient, amount)
        for i, (recipient, amount) in enumerate(decoded.recipients)
    ]


def _proposed_rows(ordered: Sequence[ProposedTx], txs: Sequence[TxReview]) -> list[_Row]:
    return [row for tx, r in zip(ordered, txs, strict=True) for row in _tx_rows(tx, r.decoded)]


def _duplicates(proposed: Sequence[_Row]) -> list[RowDiff]:
    seen: set[str] = set()
    out = []
    for nonce, pid, recipient, amount in proposed:
        if pid in seen:
            out.append(
                RowDiff(
                    ROW_DUPLICATE, "proposal", pid, nonce, None, None, None, (recipient, amount)
                )
            )
        seen.add(pid)
    return out


def _diff_rows(
    proposed: Sequence[_Row],
    planned: Mapping[str, tuple[str, int, str | None, int | None]],
    against: str,
) -> tuple[list[RowDiff], set[str]]:
    """Added and changed rows of ``proposed`` relative to ``planned`` (id -> recipient, amount,
    source, line); also returns the planned ids that were seen."""
    diffs: list[RowDiff] = []
    seen: set[str] = set()
    for nonce, pid, recipient, amount in proposed:
        if pid in seen:
            continue  # reported once as a duplicate
        seen.add(pid)
        plan = planned.get(pid)
        if plan is None:
            diffs.append(
                RowDiff(ROW_ADDED, against, pid, nonce, None, None, None, (recipient, amount))
            )
        elif (plan[0], plan[1]) != (recipient, amount):
            diffs.append(
                RowDiff(
                    ROW_CHANGED,
                    against,
                    pid,
                    nonce,
                    plan[2],
                    plan[3],
                    (plan[0], plan[1]),
                    (recipient, amount),
                )
            )
    return diffs, seen & set(planned)


def _compare_with_file(
    chain: Chain,
    path: Path,
    token_address: str,
    proposed: Sequence[_Row],
    ledger: Ledger | None,
    proposal: Proposal,
    ordered: Sequence[ProposedTx],
) -> tuple[list[RowDiff], list[RowDiff]]:
    """The proposal's rows against the payout file, read with the chain's decimals of the token
    the signer expects (payout ids derived exactly as ``propose`` derives them)."""
    from payout.manifest import ManifestOptions, load_manifest
    from payout.types import TokenInfo

    info = chain.token(token_address, cached=False)
    row_token = TokenInfo(info.address, info.symbol, info.decimals, chain_id=chain.chain_id)
    manifest = load_manifest(path, ManifestOptions(token=row_token))
    rows = [p for p in manifest.payouts if p.token in (None, info.address)]
    planned = {p.payout_id: (p.recipient, p.amount, path.name, p.line) for p in rows}
    diffs, seen = _diff_rows(proposed, planned, path.name)
    missing = [p for p in rows if p.payout_id not in seen]
    if missing and ledger is not None:
        # Rows the ledger shows paid, or planned in another proposal, are not "removed".
        here = {"0x" + tx.batch.batch_id.hex() for tx in ordered}
        scope = Scope(Network.EVM, proposal.chain_id, proposal.safe, info.address)
        explained = {
            r.payout_id
            for r in ledger.payouts(scope, payout_ids=[p.payout_id for p in missing])
            if r.status is PayoutStatus.CONFIRMED or (r.batch_id and r.batch_id not in here)
        }
        missing = [p for p in missing if p.payout_id not in explained]
    not_proposed = [
        RowDiff(
            ROW_NOT_PROPOSED,
            path.name,
            p.payout_id,
            None,
            path.name,
            p.line,
            (p.recipient, p.amount),
            None,
        )
        for p in missing
    ]
    return diffs, not_proposed


class _LedgerComparison:
    """What the operator's ledger says about this proposal's batches (read only)."""

    def __init__(
        self,
        chain: Chain,
        ledger: Ledger,
        proposal: Proposal,
        ordered: Sequence[ProposedTx],
        txs: Sequence[TxReview],
        token: TokenView,
        findings: list[Finding],
    ) -> None:
        self.ledger = ledger
        self.payer = (Network.EVM, proposal.chain_id, proposal.safe)
        self.scopes = [s for s in ledger.scopes() if (s.network, s.chain_id, s.payer) == self.payer]
        self.knows_safe = bool(self.scopes)
        self.diffs: list[RowDiff] = []
        self.token: str | None = None
        self.batch_ids = {tx.batch.batch_id for tx in ordered}
        if not self.knows_safe:
            findings.append(
                Finding(
                    INFO,
                    "ledger_unrelated",
                    f"the ledger {ledger.url} has nothing for Safe {proposal.safe} on chain "
                    f"{proposal.chain_id}: not compared",
                )
            )
            return
        tokens: set[str] = set()
        complete = True
        for tx, review in zip(ordered, txs, strict=True):
            record = self._record(review.decoded.batch_id or tx.batch.batch_id)
            if record is None:
                complete = False
                findings.append(
                    Finding(
                        CRITICAL,
                        "ledger_batch",
                        f"nonce {tx.nonce}: the ledger has no batch "
                        f"0x{(review.decoded.batch_id or tx.batch.batch_id).hex()} for this Safe: "
                        "the operator's `payout safe propose` did not plan it",
                    )
                )
                continue
            tokens.add(record.scope.token)
            self._compare(chain, tx, review, record, token, findings)
        if complete and len(tokens) == 1:
            self.token = tokens.pop()

    def _record(self, batch_id: bytes) -> BatchRecord | None:
        try:
            return self.ledger.batch(self.payer, batch_id)
        except LedgerNotFoundError:
            return None

    def _compare(
        self,
        chain: Chain,
        tx: ProposedTx,
        review: TxReview,
        record: BatchRecord,
        token: TokenView,
        findings: list[Finding],
    ) -> None:
        d = review.decoded
        if d.replay_key is not None and record.replay_key != "0x" + d.replay_key.hex():
            findings.append(
                Finding(
                    CRITICAL,
                    "replay_key",
                    f"nonce {tx.nonce}: the calldata's replay key differs from the one the "
                    "ledger recorded for this batch (executing it could pay the batch again)",
                )
            )
        if d.token is not None and record.scope.token != d.token:
            findings.append(
                Finding(
                    CRITICAL,
                    "unexpected_token",
                    f"nonce {tx.nonce}: the ledger planned this batch in "
                    f"{describe_token(chain, record.scope.token)}, the calldata pays "
                    f"{describe_token(chain, d.token)}",
                )
            )
        if d.disburser is not None and record.disburser != d.disburser:
            findings.append(
                Finding(
                    CRITICAL,
                    "unexpected_disburser",
                    f"nonce {tx.nonce}: the ledger planned this batch through {record.disburser}, "
                    f"the calldata calls {d.disburser}",
                )
            )
        recomputed = "0x" + review.hashes.safe_tx_hash.hex()
        if record.safe_tx_hash is not None and record.safe_tx_hash != recomputed:
            findings.append(
                Finding(
                    CRITICAL,
                    "ledger_hash",
                    f"nonce {tx.nonce}: when this batch was proposed the ledger recorded Safe "
                    f"nonce {record.safe_nonce} and safeTxHash {record.safe_tx_hash}; this file's "
                    f"transaction hashes to {recomputed}: it is not the proposal that was written",
                )
            )
        rows = self.ledger.payouts(record.scope, batch_id=record.batch_id)
        planned = {r.payout_id: (r.recipient, r.amount, r.source, r.line) for r in rows}
        mine = _tx_rows(tx, d)
        diffs, seen = _diff_rows(mine, planned, "ledger")
        self.diffs += diffs
        for r in sorted(rows, key=lambda r: r.batch_position or 0):
            if r.payout_id not in seen:
                self.diffs.append(
                    RowDiff(
                        ROW_REMOVED,
                        "ledger",
                        r.payout_id,
                        tx.nonce,
                        r.source,
                        r.line,
                        (r.recipient, r.amount),
                        None,
                    )
                )

    def queued(self, onchain_nonce: int) -> list[int]:
        """Safe nonces of the ledger's other proposals of this Safe that can still execute."""
        out = []
        for scope in self.scopes:
            for record in self.ledger.batches(
                scope,
                status=[BatchStatus.PLANNED, BatchStatus.FAILED, BatchStatus.SUBMITTED],
                executor=ExecutorKind.SAFE,
            ):
                if (
                    record.safe_nonce is not None
                    and record.safe_nonce >= onchain_nonce
                    and record.batch_id_bytes not in self.batch_ids
                ):
                    out.append(record.safe_nonce)
        return out


_ROW_CODES = {
    ROW_ADDED: "rows_added",
    ROW_REMOVED: "rows_removed",
    ROW_CHANGED: "rows_changed",
    ROW_DUPLICATE: "rows_duplicate",
}
#: Rows named in one finding's message (all of them are in :attr:`ProposalReview.rows`).
_ROWS_IN_MESSAGE = 5


def _describe_row(diff: RowDiff, token: TokenView) -> str:
    def side(row: tuple[str, int] | None) -> str:
        return "nothing" if row is None else f"{row[0]} {_amount(row[1], token)}"

    nonce = f" (nonce {diff.nonce})" if diff.nonce is not None else ""
    if diff.kind == ROW_CHANGED:
        return (
            f"{diff.where} {diff.payout_id}: planned {side(diff.planned)}, proposed "
            f"{side(diff.proposed)}{nonce}"
        )
    if diff.kind in (ROW_REMOVED, ROW_NOT_PROPOSED):
        return f"{diff.where} {diff.payout_id} -> {side(diff.planned)}"
    return f"{diff.payout_id} -> {side(diff.proposed)}{nonce}"


def _row_findings(
    diffs: Sequence[RowDiff], not_proposed: Sequence[RowDiff], token: TokenView, with_ledger: bool
) -> list[Finding]:
    out = []
    groups: dict[tuple[str, str], list[RowDiff]] = {}
    for diff in diffs:
        groups.setdefault((diff.kind, diff.against), []).append(diff)
    for (kind, against), group in groups.items():
        against = "the ledger" if against == "ledger" else against
        head = {
            ROW_ADDED: f"{len(group)} row(s) of this proposal are not in {against}",
            ROW_REMOVED: f"{len(group)} row(s) {against} planned in these batches are missing",
            ROW_CHANGED: f"{len(group)} row(s) differ from {against}",
            ROW_DUPLICATE: f"{len(group)} payout id(s) are paid twice in this proposal",
        }[kind]
        out.append(Finding(CRITICAL, _ROW_CODES[kind], head + ": " + _listed(group, token)))
    if not_proposed:
        why = (
            "the ledger shows them neither paid nor in another proposal"
            if with_ledger
            else "removed, or paid or proposed earlier (the operator's ledger tells which)"
        )
        out.append(
            Finding(
                WARNING,
                "rows_not_proposed",
                f"{len(not_proposed)} row(s) of {not_proposed[0].against} are not in this "
                f"proposal ({why}): {_listed(not_proposed, token)}",
            )
        )
    return out


def _listed(group: Sequence[RowDiff], token: TokenView) -> str:
    text = "; ".join(_describe_row(d, token) for d in group[:_ROWS_IN_MESSAGE])
    if len(group) > _ROWS_IN_MESSAGE:
        text += f"; and {len(group) - _ROWS_IN_MESSAGE} more"
    return text


def _nonce_gaps(
    state: SafeState, txs: Iterable[TxReview], queued: Sequence[int]
) -> dict[int, Finding]:
    """Warnings for transactions that cannot execute next: nonces above the Safe's next one.

    A gap is not an attack by itself, but a signature given now stays usable until other
    transactions fill the gap, which may be much later and under other circumstances.
    """
    expected = next_nonce(state.nonce, queued)
    out: dict[int, Finding] = {}
    pending = sorted({t.nonce for t in txs if not t.executed and t.nonce >= state.nonce})
    for nonce in pending:
        if nonce > expected:
            known = (
                f" and the queued proposals the ledger knows use nonces up to {expected - 1}"
                if expected > state.nonce
                else ""
            )
            between = f"{expected}" if nonce - 1 == expected else f"{expected} to {nonce - 1}"
            out[nonce] = Finding(
                WARNING,
                "nonce_gap",
                f"nonce {nonce} leaves a gap: the Safe's next nonce is {state.nonce}{known}; "
                f"nonce(s) {between} must be used by other transactions before this one can "
                "execute, and a signature given now stays usable until then",
            )
        expected = max(expected, nonce + 1)
    return out


def rejection(review: ProposalReview, nonce: int | None = None) -> SafeProposalRejected | None:
    """The error naming every critical finding (of transaction ``nonce`` only, if given)."""
    problems = [f.message for f in review.findings if f.severity == CRITICAL]
    for tx in review.transactions:
        if nonce is None or tx.nonce == nonce:
            problems.extend(f.message for f in tx.critical)
    if not problems:
        return None
    first = (
        nonce
        if nonce is not None
        else (review.transactions[0].nonce if review.transactions else -1)
    )
    return SafeProposalRejected(first, problems)


def require_clean(review: ProposalReview, nonce: int | None = None) -> None:
    """Raise :class:`SafeProposalRejected` if the review found anything critical."""
    error = rejection(review, nonce)
    if error is not None:
        raise error


def review_file(chain: Chain, path: Path, **kwargs: Any) -> ProposalReview:
    """Load and review a proposal file."""
    from payout.safe.proposal import load_proposal

    return review_proposal(chain, load_proposal(path), **kwargs)


def review_to_json(review: ProposalReview, *, full: bool = False) -> dict[str, object]:
    """A JSON-ready view of a review (recipient lists over the limit summarised unless ``full``)."""

    def hx(data: bytes | None) -> str | None:
        return None if data is None else "0x" + data.hex()

    def finding(f: Finding) -> dict[str, str]:
        return {"severity": f.severity, "code": f.code, "message": f.message}

    txs = []
    for tx in review.transactions:
        d = tx.decoded
        recipients = [{"recipient": r, "amount": a} for r, a in d.recipients]
        listed: list[dict[str, object]] | dict[str, object]
        if full or len(recipients) <= FULL_LIST_LIMIT:
            listed = list(recipients)
        else:
            listed = {"first": recipients[:3], "last": recipients[-3:], "count": len(recipients)}
        txs.append(
            {
                "nonce": tx.nonce,
                "status": tx.status,
                "domainHash": hx(tx.hashes.domain_hash),
                "messageHash": hx(tx.hashes.message_hash),
                "safeTxHash": hx(tx.hashes.safe_tx_hash),
                "fileSafeTxHash": hx(tx.file_hash),
                "executed": tx.executed,
                "batch": {
                    "batchId": hx(d.batch_id),
                    "replayKey": hx(d.replay_key),
                    "token": d.token,
                    "disburser": d.disburser,
                    "mode": str(d.mode) if d.mode else None,
                    "count": d.count,
                    "total": d.total,
                    "approvals": list(d.approvals),
                    "recipientsDigest": hx(d.digest),
                    "recipients": listed,
                },
                "signatures": [
                    {"owner": c.owner, "type": c.kind, "valid": c.valid, "reason": c.reason}
                    for c in tx.signatures
                ],
                "validSignatures": tx.valid_signatures,
                "threshold": tx.threshold,
                "findings": [finding(f) for f in tx.findings],
            }
        )
    safe = review.safe
    return {
        "ok": review.ok,
        "chainId": review.chain_id,
        "fileChainId": review.file_chain_id,
        "safe": None
        if safe is None
        else {
            "address": safe.address,
            "version": safe.version,
            "owners": list(safe.owners),
            "threshold": safe.threshold,
            "nonce": safe.nonce,
        },
        "token": {
            "address": review.token.address,
            "symbol": review.token.symbol,
            "name": review.token.name,
            "decimals": review.token.decimals,
            "fileSymbol": review.token.file_symbol,
            "fileDecimals": review.token.file_decimals,
            "onChain": review.token.on_chain,
            "confirmedBy": review.token.confirmed_by or None,
        },
        "findings": [finding(f) for f in review.findings],
        "transactions": txs,
        "rows": {
            "comparedWith": list(review.rows.compared_with),
            "differences": [row_diff_to_json(d) for d in review.rows.differences],
            "notProposed": [row_diff_to_json(d) for d in review.rows.not_proposed],
        },
    }


def row_diff_to_json(diff: RowDiff) -> dict[str, object]:
    """One row difference for ``--json`` (amounts in base units)."""

    def side(row: tuple[str, int] | None) -> dict[str, object] | None:
        return None if row is None else {"recipient": row[0], "amount": row[1]}

    return {
        "kind": diff.kind,
        "against": diff.against,
        "payoutId": diff.payout_id,
        "nonce": diff.nonce,
        "source": diff.source,
        "line": diff.line,
        "planned": side(diff.planned),
        "proposed": side(diff.proposed),
    }
