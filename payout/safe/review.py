"""Independent review of a proposal file against the chain, before anyone signs or executes.

Nothing written in the file is trusted: the Safe version, owners, threshold and nonce come from the
chain; every hash is recomputed from the SafeTx fields; the calldata is decoded and compared with
the batch the file describes; the MultiSendCallOnly and disburser code are checked on chain.

What a hardware wallet shows when signing a SafeTx with EIP-712 is the domain hash and the message
hash; :class:`TxReview` carries both, plus the resulting safeTxHash, so a signer can compare the
three values on the device with the ones printed here.

Findings are ``critical`` (do not sign: the transaction is not what it claims, or is dangerous),
``warning`` (it will not execute as is: nonce used, funds short, signature invalid) or ``info``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.disburser import (
    SEL_APPROVE,
    SEL_DISBURSE,
    SEL_DISBURSE_OR_SKIP,
    Disburser,
    unpack_word,
)
from payout.exceptions import PayoutError, SafeProposalRejected
from payout.safe.multisend import (
    OPERATION_CALL,
    OPERATION_DELEGATECALL,
    InnerCall,
    MultiSendDecodeError,
    canonical_library,
    code_matches,
    decode_multisend,
)
from payout.safe.proposal import ZERO_ADDRESS, Proposal, ProposedTx, SafeTxHashes
from payout.safe.safe_state import SafeState, read_safe
from payout.safe.signature import SignatureCheck, check_signature, hashes_of
from payout.types import PayMode

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
    mode: PayMode | None = None
    total: int | None = None
    approvals: tuple[int, ...] = ()
    recipients: tuple[tuple[str, int], ...] = ()
    #: keccak256 of the packed ``bytes32[]`` recipients array, exactly as in the calldata.
    digest: bytes = b""

    @property
    def count(self) -> int:
        return len(self.recipients)

    @property
    def decoded_sum(self) -> int:
        return sum(a for _, a in self.recipients)


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
    token_symbol: str
    token_decimals: int
    findings: tuple[Finding, ...]
    transactions: tuple[TxReview, ...] = field(default=())

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
    token: str | None = None
    approvals: list[int] = []
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
            if token is not None and call.to != token:
                findings.append(
                    Finding(
                        CRITICAL,
                        "unexpected_token",
                        f"inner call {i} approves another token {call.to}",
                    )
                )
            token = call.to
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
    if disburse is None:
        findings.append(Finding(CRITICAL, "no_disburse", "no disburse call in the transaction"))
        return DecodedBatch(token=token, approvals=tuple(approvals))
    mode = PayMode.SKIP if disburse.data[:4] == SEL_DISBURSE_OR_SKIP else PayMode.STRICT
    try:
        d_token, batch_id, total, words = abi_decode(
            ["address", "bytes32", "uint256", "bytes32[]"], disburse.data[4:]
        )
    except Exception:
        findings.append(Finding(CRITICAL, "bad_disburse", "the disburse call cannot be decoded"))
        return DecodedBatch(token=token, approvals=tuple(approvals))
    recipients = tuple(unpack_word(bytes(w)) for w in words)
    digest = keccak(b"".join(bytes(w) for w in words))
    return DecodedBatch(
        token=to_checksum_address(d_token),
        disburser=disburse.to,
        batch_id=bytes(batch_id),
        mode=mode,
        total=int(total),
        approvals=tuple(approvals),
        recipients=recipients,
        digest=digest,
    )


def _check_decoded(
    proposal: Proposal,
    tx: ProposedTx,
    decoded: DecodedBatch,
    findings: list[Finding],
    expected_token: str | None,
) -> None:
    batch = tx.batch
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
                f"pays token {decoded.token}, you expected {to_checksum_address(expected_token)}",
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
        _check_decoded(proposal, tx, decoded, findings, expected_token)
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
        batch_id = decoded.batch_id or tx.batch.batch_id
        try:
            executed = disburser.executed(state.address, batch_id)
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
) -> ProposalReview:
    """Check ``proposal`` against the chain; a bad file gives findings, not exceptions."""
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
    disburser = Disburser(chain, proposal.disburser)
    txs = tuple(
        _review_tx(chain, proposal, tx, state, expected_token, executor, disburser)
        for tx in sorted(proposal.transactions, key=lambda t: t.nonce)
    )
    if state is not None and txs:
        total = sum(t.decoded.total or 0 for t in txs if not t.executed)
        balance = chain.token_balance(proposal.token.address, state.address)
        if balance < total:
            findings.append(
                Finding(
                    WARNING,
                    "funds",
                    f"the Safe holds {balance} base units of {proposal.token.symbol}, the pending "
                    f"batches pay {total} (short by {total - balance})",
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
    return ProposalReview(
        chain_id=chain_id,
        file_chain_id=proposal.chain_id,
        safe=state,
        token_symbol=proposal.token.symbol,
        token_decimals=proposal.token.decimals,
        findings=tuple(findings),
        transactions=txs,
    )


def require_clean(review: ProposalReview, nonce: int | None = None) -> None:
    """Raise :class:`SafeProposalRejected` if the review found anything critical."""
    problems = [f.message for f in review.findings if f.severity == CRITICAL]
    for tx in review.transactions:
        if nonce is None or tx.nonce == nonce:
            problems.extend(f.message for f in tx.critical)
    if problems:
        first = (
            nonce
            if nonce is not None
            else (review.transactions[0].nonce if review.transactions else -1)
        )
        raise SafeProposalRejected(first, problems)


def review_file(chain: Chain, path: Path, **kwargs: str | None) -> ProposalReview:
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
        "token": {"symbol": review.token_symbol, "decimals": review.token_decimals},
        "findings": [finding(f) for f in review.findings],
        "transactions": txs,
    }
