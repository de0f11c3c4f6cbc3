"""Every error the toolkit raises on purpose derives from :class:`PayoutError`.

Categories (catch these) sit directly under the root; concrete errors take typed arguments and
build a message that says what went wrong and what to do. The CLI prints ``str(error)`` and
``error.hint`` and exits with ``error.exit_code``.

Every concrete error is defined here, in a section named after the module that raises it. The
modules that used to define their own (:mod:`payout.chain`, :mod:`payout.wallet`,
:mod:`payout.signer`, ...) re-export them (``from payout.exceptions import X as X``), so
``from payout.chain import RpcUnavailable`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from payout.redact import redact_text, redact_url
from payout.types import TX_GAS_CAP

if TYPE_CHECKING:
    from pathlib import Path

    from payout.disburser import RowFailure
    from payout.history import BlockedRow
    from payout.types import Issue, Scope


class PayoutError(Exception):
    """Root of the toolkit's errors."""

    exit_code: int = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# --- categories ---------------------------------------------------------------------------------


class InputError(PayoutError):
    """The payout file or a command argument is wrong; nothing was sent."""

    exit_code = 2


class ConfigError(PayoutError):
    """Configuration is missing or inconsistent."""

    exit_code = 3


class ChainError(PayoutError):
    """The chain (RPC node) could not be reached or answered something unexpected."""

    exit_code = 4


class ContractError(ChainError):
    """A contract call reverted or would revert; translated from the revert data."""


class FundsError(PayoutError):
    """The payer lacks tokens, gas coin or allowance."""

    exit_code = 5


class LedgerError(PayoutError):
    """The ledger refuses an operation (it would pay twice or lose a row)."""

    exit_code = 6


class SignerError(PayoutError):
    """A key store, account alias or signature problem."""

    exit_code = 7


class DeploymentError(PayoutError):
    """The disburser is missing or is not the code this toolkit ships."""

    exit_code = 8


class SafeError(PayoutError):
    """A Safe multisig proposal, signature or execution problem."""

    exit_code = 9


class TronError(PayoutError):
    """A TRON node, transaction or permission problem."""

    exit_code = 10


#: The categories, in exit-code order: what ``--json`` error output names as ``category``.
CATEGORIES: tuple[type[PayoutError], ...] = (
    InputError,
    ConfigError,
    ChainError,
    FundsError,
    LedgerError,
    SignerError,
    DeploymentError,
    SafeError,
    TronError,
)


# --- TRON (payout/tron/; owned by the TRC-20 path) ------------------------------------------------


class TronNodeUnreachable(TronError):
    """The TRON full node did not answer."""

    def __init__(self, url: str, reason: str) -> None:
        reason, url = redact_text(reason, url), redact_url(url)
        super().__init__(
            f"TRON node {url} is unreachable: {reason}",
            hint="Check --tron-node / PAYOUT_TRON_NODE_URL, or start a local node with "
            "`payout devnet tron`.",
        )
        self.url = url


class TronNodeError(TronError):
    """The TRON node answered with an API error."""

    def __init__(self, url: str, detail: str, *, hint: str | None = None) -> None:
        detail, url = redact_text(detail, url), redact_url(url)
        super().__init__(f"TRON node {url} returned an error: {detail}", hint=hint)
        self.url = url
        self.detail = detail


class TronTransactionRejected(TronError):
    """The node refused a transaction (bad signature, TaPoS, expiration, validation...)."""

    def __init__(self, code: str, message: str) -> None:
        hint = "Nothing was executed. Fix the cause (keys, permission, expiration) and retry."
        if "account does not exist" in message.lower():
            # A TRON account exists only once it has received TRX: the usual first-run stumble.
            hint = (
                "Nothing was executed. The sending account has never received TRX: send it TRX "
                "first (local node: `payout devnet tron-fund T...`), then retry."
            )
        super().__init__(f"TRON node rejected the transaction: {code}: {message}", hint=hint)
        self.code = code
        self.node_message = message

    def after_write_ahead(self) -> TronTransactionRejected:
        """This refusal, with the hint for a transaction the ledger recorded before sending it
        (the batch is in flight there; retrying by hand is not the way)."""
        self.hint = (
            "Nothing was executed by this attempt, but the batch was recorded in the ledger as "
            "in flight before it was sent, so it is not lost and cannot be paid twice: "
            "`payout tron resume` settles it from the chain (it re-sends the recorded "
            "transaction while it is valid, and releases the rows once it expired unmined)."
        )
        return self

    @property
    def expired(self) -> bool:
        """Whether the node refused the transaction for its expiration (java-tron's
        TRANSACTION_EXPIRATION_ERROR; payout/tron/client.py recovers that code from tronpy)."""
        return self.code == "TRANSACTION_EXPIRATION_ERROR"


class TronOutOfEnergy(TronError):
    """A contract call ran out of energy under its fee limit; its fee is lost, nothing moved."""

    def __init__(self, txid: str, fee_limit_sun: int, energy_used: int) -> None:
        super().__init__(
            f"transaction {txid} ran OUT_OF_ENERGY: fee_limit {fee_limit_sun} sun allowed "
            f"{fee_limit_sun // 100} energy, {energy_used} were used",
            hint="Nothing was paid (the batch reverted). Raise --energy-margin or the fee limit, "
            "then `payout tron resume`.",
        )
        self.txid = txid
        self.fee_limit_sun = fee_limit_sun
        self.energy_used = energy_used


class TronExecutionFailed(TronError):
    """A TRON transaction was mined but its execution failed for a reason other than a revert."""

    def __init__(self, txid: str, result: str, message: str) -> None:
        super().__init__(f"transaction {txid} failed on chain: {result} {message}".rstrip())
        self.txid = txid
        self.result = result


class TrxShortfall(FundsError):
    """The payer lacks the TRX that energy and bandwidth will burn."""

    def __init__(self, address: str, needed_sun: int, available_sun: int) -> None:
        super().__init__(
            f"{address} holds {available_sun / 1_000_000:.6f} TRX but the plan may burn up to "
            f"{needed_sun / 1_000_000:.6f} TRX for energy and bandwidth "
            f"(short by {(needed_sun - available_sun) / 1_000_000:.6f} TRX)",
            hint="Send TRX to the payer, or stake TRX for energy, then retry.",
        )
        self.address = address
        self.needed_sun = needed_sun
        self.available_sun = available_sun


class TronTokenShortfall(FundsError):
    """The payer's TRC-20 balance is below what the plan pays."""

    def __init__(self, address: str, token: str, needed: int, available: int) -> None:
        super().__init__(
            f"{address} holds {available} base units of {token} but the plan pays {needed} "
            f"(short by {needed - available})",
            hint="Top up the payer's token balance, or pay a smaller file.",
        )
        self.needed = needed
        self.available = available


class TronPermissionInvalid(TronError):
    """An account permission update would be rejected by the chain (or lock the account)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"invalid TRON permission: {reason}",
            hint="Active permission: 1-5 keys, threshold <= sum of weights, at most 8 actives.",
        )


class TronSignatureShort(TronError):
    """A multisig transaction does not carry enough signature weight yet."""

    def __init__(self, have: int, need: int) -> None:
        super().__init__(
            f"signatures carry weight {have}, the permission needs {need}",
            hint="Collect more signatures with `payout tron sign`, then broadcast.",
        )
        self.have = have
        self.need = need


class TronSignerNotAllowed(SignerError):
    """The key is not one of the permission's keys (or has already signed)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(
            f"{address} cannot sign this transaction: {reason}",
            hint="Sign with another key of the payer's permission that has not signed yet "
            "(`payout tron review FILE` shows who signed); nothing was changed in the file.",
        )
        self.address = address


class TronTransactionExpired(TronError):
    """A (multisig) transaction's expiration has passed; the chain would refuse it."""

    def __init__(self, txid: str, expiration_ms: int) -> None:
        super().__init__(
            f"transaction {txid} expired at {expiration_ms} ms (unix)",
            hint="Propose it again (`payout tron propose`) and collect fresh signatures.",
        )
        self.txid = txid


class TronTransactionFileError(InputError):
    """A multisig transaction file is unreadable, tampered with or of another kind."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


# --- local TRON node (payout/tron/devnet/; owned by the TRON node emulator) ----------------------


class TronDevnetError(TronError):
    """The local TRON node could not start, or a development request to it is invalid."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"local TRON node: {reason}",
            hint="The devnet is for development only; see docs/tron-node.md for its endpoints.",
        )
        self.reason = reason


class TronDevnetRejection(TronError):
    """The local TRON node refused a transaction, answering with a java-tron response code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(
            f"local TRON node refused the transaction: {code}: {message}",
            hint="The node answers like java-tron: fix the signature, TaPoS reference, expiration "
            "or parameters and send again.",
        )
        self.code = code
        self.node_message = message


# --- pipeline core: address, manifest, batching, ledger, config (owned by the pipeline core) -----


class InvalidAddressError(InputError):
    """An address is malformed, fails its checksum, is zero or belongs to another network."""

    def __init__(self, address: str, reason: str, network: str) -> None:
        reason = reason if reason.startswith(repr(address)) else f"{address!r}: {reason}"
        super().__init__(
            f"invalid {network} address {reason}",
            hint="Copy the address again from its source; never guess a checksum.",
        )
        self.address = address
        self.network = network


class ManifestError(InputError):
    """A payout file has errors; every one of them is in :attr:`issues` (nothing was planned)."""

    #: How many issues ``str()`` lists before summarizing the rest.
    shown = 50

    def __init__(self, path: str, issues: Sequence[Issue], total_errors: int | None = None) -> None:
        errors = [i for i in issues if i.severity == "error"]
        count = total_errors if total_errors is not None else len(errors)
        lines = [f"{path}: {count} error{'s' if count != 1 else ''} in the payout file"]
        lines += [f"  {issue}" for issue in errors[: self.shown]]
        if count > min(len(errors), self.shown):
            lines.append(f"  ... and {count - min(len(errors), self.shown)} more")
        super().__init__(
            "\n".join(lines),
            hint="Fix every listed row and run `payout validate` again; nothing was sent.",
        )
        self.path = path
        self.issues = list(issues)
        self.error_count = count


class AmountError(InputError):
    """An amount cannot be converted to base units exactly (format, sign, decimals, range)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"amount {text!r}: {reason}")
        self.text = text
        self.reason = reason


class PlanError(InputError):
    """The payouts cannot be planned as asked (e.g. one recipient's cost exceeds the bound)."""


class LedgerConflictError(LedgerError):
    """Payout ids already in the ledger with a different recipient or amount: refusing to guess."""

    def __init__(self, conflicts: Sequence[tuple[str, str, str]]) -> None:
        shown = "\n".join(
            f"  {pid}: ledger has {old}, file has {new}" for pid, old, new in conflicts[:20]
        )
        more = f"\n  ... and {len(conflicts) - 20} more" if len(conflicts) > 20 else ""
        super().__init__(
            f"{len(conflicts)} payout id(s) already exist in the ledger with a different "
            f"recipient or amount:\n{shown}{more}",
            hint="A payout id is paid at most once: give changed payouts new ids, or fix the file.",
        )
        self.conflicts = list(conflicts)


class InvalidTransitionError(LedgerError):
    """A status change that the state machine forbids (e.g. confirmed -> planned)."""

    def __init__(self, kind: str, key: str, current: str, wanted: str) -> None:
        super().__init__(
            f"{kind} {key} is {current}; it cannot become {wanted}",
            hint="Run `payout status` to see the ledger; `payout resume` settles in-flight "
            "batches.",
        )
        self.key = key
        self.current = current
        self.wanted = wanted


class LedgerNotFoundError(LedgerError):
    """A batch or payout the caller named is not in the ledger."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key} is not in the ledger")
        self.key = key


class LedgerUnavailableError(LedgerError):
    """The ledger database cannot be opened, or has a schema this version does not know."""

    def __init__(self, url: str, reason: str, *, hint: str | None = None) -> None:
        reason, url = redact_text(reason, url), redact_url(url)
        super().__init__(
            f"cannot use the ledger at {url}: {reason}",
            hint=hint
            or "Check --ledger / PAYOUT_LEDGER_URL (default .payout/ledger.sqlite in the "
            "current directory).",
        )
        self.url = url
        self.reason = reason


class LedgerBusyError(LedgerUnavailableError):
    """Another process held the ledger's write lock longer than the configured wait."""

    def __init__(self, url: str, reason: str, waited: float | None) -> None:
        waited_text = f" for {waited:g} s" if waited is not None else ""
        super().__init__(
            url,
            f"{reason} (waited{waited_text} for another process to release it)",
            hint="Another `payout` command (or a tool holding the database open) is writing to "
            "this ledger: let it finish, or stop it, then run the command again (`payout resume` "
            "after an interrupted send; nothing was recorded by this attempt). "
            "PAYOUT_SQLITE_TIMEOUT sets the wait in seconds.",
        )
        self.waited = waited


class LedgerStorageError(LedgerUnavailableError):
    """The ledger's storage refused a write (disk full, read-only, I/O error) or the database
    connection was lost."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            url,
            reason,
            hint="Nothing of this step was recorded (the database rolled it back). Free disk "
            "space / restore write access or the database connection, then run `payout resume` "
            "(or the same command again): the ledger and the chain say what was paid.",
        )


class ChainResetError(LedgerError):
    """The chain answering under a chain id is not the one the ledger's scopes are pinned to."""

    def __init__(self, network: str, chain_id: int, pinned: str, found: str) -> None:
        super().__init__(
            f"the {network} chain {chain_id} at this endpoint is not the chain this ledger "
            f"recorded payouts on: its block 0 is {found}, the ledger pinned {pinned} (a "
            "restarted or reset node, or another network reusing the chain id). Its payments "
            "are not on this chain; refusing to pay or settle from it",
            hint="point --rpc-url at the chain the ledger was used with; if the old chain is "
            "gone for good (a local test chain), use a new ledger (--ledger / "
            "PAYOUT_LEDGER_URL) for the new one",
        )
        self.pinned = pinned
        self.found = found


class RowsStillOwed(LedgerError):
    """``resume`` finished but rows of the ledger are still owed (listed with what pays them)."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} row(s) are still owed after resume",
            hint="the rows are listed above with the command that pays each; `payout status` "
            "shows them too",
        )
        self.count = count


# --- Safe multisig (payout/safe/; owned by the Safe path) -----------------------------------------


class SafeNotFound(SafeError):
    """The address is not a Safe this toolkit supports on this chain."""

    def __init__(self, address: str, chain_id: int, reason: str) -> None:
        super().__init__(
            f"{address} is not a usable Safe on chain {chain_id}: {reason}",
            hint="Check --safe and --rpc-url; Safe versions 1.3.0 and 1.4.1 are supported.",
        )
        self.address = address


class SafeProposalFileError(InputError):
    """A proposal or signature file is unreadable, of another kind, or for another Safe/chain."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"{path}: {reason}",
            hint="Use a file written by `payout safe propose` (or `sign` / `merge` of it).",
        )
        self.path = path


class SafeProposalRejected(SafeError):
    """Review found problems that make the Safe transaction unsafe to sign or execute."""

    def __init__(self, nonce: int, problems: list[str]) -> None:
        listed = "; ".join(problems)
        super().__init__(
            f"Safe transaction nonce {nonce} failed review: {listed}",
            hint="Do not sign or execute it. Run `payout safe review FILE` for details and "
            "propose again from the payout file.",
        )
        self.nonce = nonce
        self.problems = problems


class SafeNonceConsumed(SafeError):
    """Another Safe transaction already used this nonce; this one can never execute."""

    def __init__(self, nonce: int, onchain_nonce: int, batch_id: str) -> None:
        super().__init__(
            f"Safe nonce {nonce} was already used by another transaction (the Safe is at nonce "
            f"{onchain_nonce}) and batch {batch_id} was not paid by it",
            hint="Nothing was paid for this batch. Propose it again (`payout safe propose`): it "
            "gets a fresh nonce, and the batch id keeps it from ever paying twice.",
        )
        self.nonce = nonce
        self.onchain_nonce = onchain_nonce


class SafeNonceNotReady(SafeError):
    """An earlier Safe nonce is still pending; Safe transactions execute strictly in order."""

    def __init__(self, nonce: int, onchain_nonce: int) -> None:
        super().__init__(
            f"Safe transaction nonce {nonce} cannot execute before nonce {onchain_nonce}",
            hint="Execute (or reject in the Safe app) the pending transaction with nonce "
            f"{onchain_nonce} first.",
        )
        self.nonce = nonce
        self.onchain_nonce = onchain_nonce


class SafeThresholdNotMet(SafeError):
    """Fewer valid owner signatures than the Safe's threshold."""

    def __init__(self, nonce: int, valid: int, threshold: int, missing: list[str]) -> None:
        super().__init__(
            f"Safe transaction nonce {nonce} has {valid} valid signature(s), the threshold is "
            f"{threshold}",
            hint="Owners still able to sign: "
            + (", ".join(missing) if missing else "none")
            + ". Sign with `payout safe sign FILE`, combine files with `payout safe merge`.",
        )
        self.valid = valid
        self.threshold = threshold


class SafeSignatureRejected(SignerError):
    """A signature cannot be added: not an owner, wrong hash, or malformed."""

    def __init__(self, who: str, reason: str) -> None:
        super().__init__(
            f"signature from {who} rejected: {reason}",
            hint="Sign with an owner account of this Safe, on the current proposal file.",
        )
        self.who = who


class SafeExecutionFailed(SafeError):
    """execTransaction reverted (in simulation or on chain), with the Safe code translated."""

    def __init__(self, nonce: int, code: str | None, meaning: str, hint: str) -> None:
        where = f"{code}: " if code else ""
        super().__init__(f"Safe transaction nonce {nonce} would fail: {where}{meaning}", hint=hint)
        self.nonce = nonce
        self.code = code


class SafeServiceError(SafeError):
    """The Safe Transaction Service refused a request or could not be reached."""

    def __init__(self, url: str, action: str, detail: str) -> None:
        detail, url = redact_text(detail, url), redact_url(url)
        super().__init__(
            f"Safe Transaction Service {url} refused to {action}: {detail}",
            hint="The proposal file is still valid: signers can sign and merge it offline. "
            "Check PAYOUT_SAFE_SERVICE_URL / PAYOUT_SAFE_SERVICE_API_KEY.",
        )
        self.url = url


# --- Safe transaction building and checks (payout/safe/multisend.py, proposal.py, pipeline.py,
# devnet.py) ---------------------------------------------------------------------------------------


class MultiSendDecodeError(SafeError):
    """The Safe transaction data is not a well-formed ``multiSend`` call."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"cannot decode the multiSend payload: {reason}",
            hint="Do not sign this transaction: its data is not what `payout safe propose` builds.",
        )


class NoMultiSendLibrary(ChainError):
    """No canonical MultiSendCallOnly with the audited code exists on this chain."""

    def __init__(self, chain_id: int) -> None:
        # Imported here: payout.safe.multisend imports this module for its own errors.
        from payout.safe.multisend import CANONICAL_MULTISEND_CALL_ONLY

        known = ", ".join(
            f"{a} ({lib.version})" for a, lib in CANONICAL_MULTISEND_CALL_ONLY.items()
        )
        super().__init__(
            f"no canonical MultiSendCallOnly library with the expected code on chain {chain_id}",
            hint=f"Safe batches delegatecall one of: {known}. Deploy it with the Safe singleton "
            "factory, or pass --multisend with one that exists on this chain.",
        )


class BatchNotForSafe(InputError):
    """A planned batch cannot be paid by this Safe."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(
            f"batch {index} cannot be proposed for this Safe: {reason}",
            hint="Plan the payout file with the Safe address as the payer (--payer SAFE).",
        )


class SimulationRefused(InputError):
    """A batch would not pay every row and the operator chose to refuse: an input error (exit 2),
    as for ``payout plan`` / ``send``; nothing was proposed."""

    def __init__(self, failures: Sequence[RowFailure]) -> None:
        shown = "; ".join(
            f"{f.label} -> {f.recipient}: {f.reason or 'transfer fails'}" for f in failures[:5]
        )
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(
            f"{len(failures)} payout(s) would fail: {shown}{more}",
            hint="Fix or remove those rows, or propose with --on-failure exclude (they stay owed, "
            "status skipped) or --on-failure skip (disburseOrSkip skips and reports them).",
        )
        self.failures = list(failures)


class SafeDevnetError(SafeError):
    """Deploying the Safe contracts or creating a Safe on the local chain failed."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(
            f"{what} failed on the local chain: {reason}",
            hint="This helper only works on a throw-away anvil chain (it uses anvil_setCode).",
        )


# --- disburser contract reverts (payout/revert.py; owned by the contract) -------------------------
# Built by payout.revert from revert data; nothing else should construct them from raw bytes.


def _short_hex(data: bytes) -> str:
    shown = data[:68].hex()
    return "0x" + shown + ("..." if len(data) > 68 else "")


class BatchAlreadyExecutedError(ContractError):
    """The disburser refused a replay key this payer already executed (replay protection)."""

    def __init__(self, payer: str, replay_key: bytes) -> None:
        super().__init__(
            f"the batch with replay key 0x{replay_key.hex()} was already executed by payer "
            f"{payer}; nothing was sent now",
            hint="That batch is paid. Run `payout reconcile` to record it; do not resend it "
            "under a new batch id or replay key.",
        )
        self.payer = payer
        self.replay_key = replay_key


class TokenHasNoCodeError(ContractError):
    """The token address has no contract code on this chain."""

    def __init__(self, token: str) -> None:
        super().__init__(
            f"token {token} has no contract code on this chain",
            hint="Check the token address and that --rpc-url points at the right chain.",
        )
        self.token = token


class TotalMismatchError(ContractError):
    """The packed amounts do not add up to the declared total."""

    def __init__(self, declared: int, actual: int) -> None:
        super().__init__(
            f"the batch declares a total of {declared} base units but its amounts add up to "
            f"{actual}",
            hint="The calldata is inconsistent; rebuild the batch from the payout file.",
        )
        self.declared = declared
        self.actual = actual


class ZeroRecipientError(ContractError):
    """A packed recipient is the zero address."""

    def __init__(self, index: int) -> None:
        super().__init__(
            f"recipient #{index} of the batch is the zero address",
            hint="Fix that row of the payout file; tokens sent to the zero address are lost.",
        )
        self.index = index


class BadPackingError(ContractError):
    """The packed recipient rows are malformed (amount width outside 1..12, or not whole rows)."""

    def __init__(self, amount_bytes: int, length: int) -> None:
        # A native batch passes `amountBytes | exponent << 8` (its decimal exponent) here.
        width, exponent = amount_bytes & 0xFF, amount_bytes >> 8
        rows = f"{width}-byte amounts"
        if exponent:
            rows = f"{width}-byte mantissas times 10^{exponent} (native encoding {amount_bytes:#x})"
        super().__init__(
            f"the batch's packed rows are malformed: {length} bytes with {rows} (the width must "
            "be 1..12, the length a multiple of 20 + width, and a native batch's largest "
            "possible amount below 2^96)",
            hint="The calldata was not built by this toolkit's encoder; rebuild the batch.",
        )
        self.amount_bytes = amount_bytes
        self.length = length


class EmptyBatchError(ContractError):
    """The batch has no recipients."""

    def __init__(self) -> None:
        super().__init__("the batch has no recipients", hint="Plan at least one payout per batch.")


class TokenRevertError(ContractError):
    """A token call reverted; :attr:`reason` is its revert reason ("" when it gave none)."""

    def __init__(self, message: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class TokenInsufficientBalanceError(TokenRevertError, FundsError):
    """The token refused a transfer for lack of balance."""

    exit_code = FundsError.exit_code

    def __init__(
        self,
        reason: str,
        account: str | None = None,
        balance: int | None = None,
        needed: int | None = None,
    ) -> None:
        detail = ""
        if account is not None:
            detail = f" ({account} holds {balance}, needs {needed})"
        super().__init__(
            f"the token refused the transfer: insufficient balance{detail}: {reason}",
            reason,
            hint="Fund the payer with enough tokens for the whole batch, then retry.",
        )
        self.account = account
        self.balance = balance
        self.needed = needed


class TokenInsufficientAllowanceError(TokenRevertError, FundsError):
    """The token refused a transferFrom for lack of allowance."""

    exit_code = FundsError.exit_code

    def __init__(
        self,
        reason: str,
        spender: str | None = None,
        allowance: int | None = None,
        needed: int | None = None,
    ) -> None:
        detail = ""
        if spender is not None:
            detail = f" ({spender} may spend {allowance}, needs {needed})"
        super().__init__(
            f"the token refused the transfer: insufficient allowance{detail}: {reason}",
            reason,
            hint="Approve the disburser for at least the batch total (USDT: approve 0 first "
            "when an allowance is already set), then retry.",
        )
        self.spender = spender
        self.allowance = allowance
        self.needed = needed


class TokenAccountBlockedError(TokenRevertError):
    """The token refused a transfer because an account is blacklisted or frozen."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the token refused the transfer: an account is blacklisted or frozen: {reason}",
            reason,
            hint="Remove the blocked recipient from the batch, or pay with skip-and-report mode "
            "(its amount stays with the payer); if the payer is blocked, nothing can be paid.",
        )


class TokenPausedError(TokenRevertError):
    """The token is paused by its issuer."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the token is paused by its issuer: {reason}",
            reason,
            hint="No transfer can succeed until the issuer unpauses it; retry later.",
        )


class TokenInvalidReceiverError(TokenRevertError):
    """The token refused a transfer to this receiver (e.g. the zero address)."""

    def __init__(self, reason: str, receiver: str | None = None) -> None:
        who = f" {receiver}" if receiver is not None else ""
        super().__init__(
            f"the token refused the receiver{who}: {reason}",
            reason,
            hint="Check the recipient address in the payout file.",
        )
        self.receiver = receiver


class TokenRevertedError(TokenRevertError):
    """A token call reverted for a reason not recognised (or without any reason)."""

    def __init__(self, reason: str) -> None:
        if reason:
            message = f"the token reverted: {reason}"
            hint = "Check the payer's balance and allowance, and the token's own rules."
        else:
            message = "the token reverted without a reason"
            hint = (
                "Tokens such as USDT revert silently for insufficient balance or allowance, a "
                "blacklisted account, a paused token, or approve() changing a non-zero allowance "
                "(approve 0 first). Check those."
            )
        super().__init__(message, reason, hint=hint)


class TokenReturnedFalseError(TokenRevertError):
    """The token returned false instead of reverting, and moved nothing."""

    def __init__(self) -> None:
        super().__init__(
            "the token returned false and moved nothing",
            "returned false",
            hint="This token reports failures by returning false: check the payer's balance and "
            "its allowance to the disburser.",
        )


class TransferFailedError(ContractError):
    """A transfer inside the batch reverted; :attr:`cause` is the token's translated reason."""

    def __init__(
        self, index: int, cause: ContractError, reason_data: bytes, *, row: str = ""
    ) -> None:
        at = f" ({row})" if row else ""
        super().__init__(
            f"the transfer to recipient #{index}{at} reverted, so the whole batch reverted: "
            f"{cause}",
            hint=cause.hint,
        )
        self.index = index
        self.cause = cause
        self.reason_data = reason_data
        #: The failing row as found in its file (``id-3, payouts.csv:5``), when known.
        self.row = row


class PullFailedError(TransferFailedError, FundsError):
    """Pulling the batch total from the payer (transferFrom) reverted."""

    exit_code = FundsError.exit_code

    def __init__(self, cause: ContractError, reason_data: bytes) -> None:
        ContractError.__init__(
            self,
            f"pulling the batch total from the payer reverted: {cause}",
            hint=cause.hint
            or "Check the payer's token balance and its allowance to the disburser.",
        )
        self.index = -1
        self.cause = cause
        self.reason_data = reason_data


class BalanceMismatchError(ContractError):
    """The disburser's token balance moved by a different amount than asked."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"the disburser's token balance is {actual} where {expected} was expected: the token "
            "moved a different amount than asked",
            hint="Fee-on-transfer tokens and tokens that report success without moving funds "
            "cannot be paid through the disburser; pay them with plain transfers.",
        )
        self.expected = expected
        self.actual = actual


class BalanceUnreadableError(ContractError):
    """The token's balanceOf failed or returned too little data."""

    def __init__(self, token: str) -> None:
        super().__init__(
            f"token {token} did not answer balanceOf",
            hint="It is not an ERC-20/TRC-20 token the disburser can account for.",
        )
        self.token = token


class InsufficientValueError(ContractError, FundsError):
    """Native batch: the value sent is below the batch total."""

    exit_code = FundsError.exit_code

    def __init__(self, total: int, value: int) -> None:
        super().__init__(
            f"the native batch needs {total} base units but the transaction sent {value}",
            hint="Send at least the batch total as value (any excess is refunded).",
        )
        self.total = total
        self.value = value


class RefundFailedError(ContractError):
    """Returning funds to the payer (native excess or skipped amounts) failed."""

    def __init__(self) -> None:
        super().__init__(
            "the disburser could not return funds to the payer, so the batch reverted",
            hint="The payer must be able to receive the token (or native coin): a contract payer "
            "needs a receive function; a blacklisted payer cannot use skip-and-report mode.",
        )


class ReenteredError(ContractError):
    """The disburser was re-entered during a batch (a token or recipient called back into it)."""

    def __init__(self) -> None:
        super().__init__(
            "the disburser was re-entered during a batch and refused it",
            hint="A token or recipient contract calls back into the disburser; pay it separately.",
        )


class PanicError(ContractError):
    """A Solidity panic (assert, arithmetic overflow, division by zero, ...)."""

    def __init__(self, code: int, meaning: str) -> None:
        super().__init__(
            f"the contract panicked with code 0x{code:02x} ({meaning})",
            hint="In a token this usually means insufficient balance or allowance.",
        )
        self.code = code


class UnknownRevertError(ContractError):
    """Revert data this toolkit does not recognise (kept raw in :attr:`data`)."""

    def __init__(self, data: bytes) -> None:
        shown = _short_hex(data) if data else "no revert data"
        super().__init__(
            f"the call reverted ({shown})",
            hint="Nothing was sent. Check the token, the amounts, the payer's balance and gas.",
        )
        self.data = data


class SafeBatchSuperseded(LedgerError):
    """The ledger no longer assigns a proposed batch's payouts to it: paying it could pay twice."""

    def __init__(self, batch_id: str, reason: str) -> None:
        super().__init__(
            f"batch {batch_id} cannot be executed: {reason}",
            hint="This proposal is out of date with the ledger. Do not execute it; propose the "
            "payout file again (`payout safe propose`) and sign the new proposal.",
        )
        self.batch_id = batch_id


# --- shipped compiled contracts (payout/artifact.py) ----------------------------------------------


class ArtifactInvalidError(DeploymentError):
    """A shipped compiled-contract file is missing, unreadable or inconsistent (broken install)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"the shipped contract artifact {name} is unusable: {reason}",
            hint="Reinstall the package; developers regenerate the shipped artifacts with "
            "`python scripts/build_artifacts.py`.",
        )
        self.name = name


class UnknownShippedContractError(DeploymentError):
    """A caller asked a shipped artifact file for a contract it does not hold."""

    def __init__(self, name: str, contract: str, available: Sequence[str]) -> None:
        super().__init__(
            f"{name} holds no contract called {contract!r}",
            hint=f"Available: {', '.join(available) or 'none'}.",
        )
        self.name = name
        self.contract = contract


# --- review fixes (red-team review helper) --------------------------------------------------------


class BatchInFlightElsewhere(LedgerError):
    """A hot-wallet batch is already in flight with another nonce (another process sends it)."""

    def __init__(self, batch_id: str, nonce: int, other: int) -> None:
        super().__init__(
            f"batch {batch_id} is already in flight with payer nonce {nonce}; refusing to send it "
            f"again with nonce {other} (only one of the two could execute)",
            hint="Another `payout send`/`resume` is paying it: let it finish, then run "
            "`payout resume`.",
        )
        self.batch_id = batch_id
        self.nonce = nonce
        self.other = other


# --- messages (issue 8 items 10 and 11) ----------------------------------------------------------


class RecordedBroadcastRefused(ChainError):
    """The node refused a batch transaction that the ledger had already recorded (write-ahead):
    the batch is in flight in the ledger, not "unchanged", and only settling it is safe."""

    def __init__(self, method: str, detail: str, batch_id: str, tx_hash: str, then: str) -> None:
        super().__init__(
            f"the node refused {method} for batch {batch_id} (transaction {tx_hash}): {detail}",
            hint=f"the batch was recorded in the ledger as in flight before it was sent, so it "
            f"is not lost and cannot be paid twice: {then} settles it from the chain (it re-sends "
            "the recorded transaction, or releases the rows if it never executed)",
        )
        self.method = method
        self.detail = detail
        self.batch_id = batch_id
        self.tx_hash = tx_hash


#: What to do when the token's blacklist names the payer, the disburser or a recipient.
_BLACKLIST_HINTS = {
    "payer": "The token's issuer blacklisted the paying account: nothing can be paid from it "
    "until the issuer lifts the blacklisting. Pay from another account.",
    "disburser": "The token's issuer blacklisted the disburser contract: no batch of this "
    "token can go through it. Pay through another disburser deployment, or with plain "
    "transfers.",
    "recipient": "Remove this row, or pay with --on-failure exclude or skip (the row stays "
    "owed, status skipped) and retry it with --retry-skipped once the issuer lifts the "
    "blacklisting.",
}


class TokenAccountBlacklistedError(TokenAccountBlockedError):
    """The token's own blacklist (``isBlackListed`` / ``isBlacklisted``) names an account of the
    batch: the payer, the disburser or a recipient (:attr:`role`)."""

    def __init__(self, role: str, account: str, where: str, function: str, reason: str) -> None:
        at = f" ({where})" if where else ""
        TokenRevertError.__init__(
            self,
            f"the token refuses the transfer: the {role} {account}{at} is blacklisted by the "
            f"token ({function}({account}) is true)",
            reason,
            hint=_BLACKLIST_HINTS.get(role),
        )
        self.role = role
        self.account = account
        self.where = where


class TokenIsPausedError(TokenPausedError):
    """The token's own ``paused()`` is true: every transfer reverts."""

    def __init__(self, token: str, reason: str) -> None:
        TokenRevertError.__init__(
            self,
            f"the token {token} is paused by its issuer (paused() is true): every transfer reverts",
            reason,
            hint="Nothing can be paid in this token until the issuer unpauses it; nothing was "
            "paid, retry then.",
        )
        self.token = token


# --- RPC endpoint and ERC-20 reads (payout/chain.py) ----------------------------------------------


class RpcUnavailable(ChainError):
    """The JSON-RPC endpoint does not answer (after the retries of :class:`RetryPolicy`)."""

    def __init__(self, url: str, detail: str) -> None:
        url = redact_url(url)
        super().__init__(
            f"the RPC endpoint {url} does not answer ({detail})",
            hint="check --rpc-url / PAYOUT_RPC_URL and that the node is running; "
            "`payout resume` continues safely once it is back (anything already signed was "
            "recorded in the ledger first)",
        )
        self.url = url


class RpcHttpError(ChainError):
    """The endpoint answered with an HTTP error that retrying cannot fix (401, 403, 404...)."""

    def __init__(self, url: str, method: str, status: int) -> None:
        url = redact_url(url)
        super().__init__(
            f"the RPC endpoint {url} answered {method} with HTTP {status}",
            hint="check --rpc-url / PAYOUT_RPC_URL (path, API key, access rights); "
            "`payout resume` continues safely once it answers",
        )
        self.url = url
        self.status = status


class RpcUrlInvalid(ConfigError):
    """The RPC URL cannot be used (no http(s):// scheme, no host)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"invalid RPC URL {redact_url(url)!r}: {reason}",
            hint="give --rpc-url / PAYOUT_RPC_URL as http://host:port or https://host/path",
        )


class RpcRejected(ChainError):
    """The node answered with an error for a request that is not a contract revert."""

    def __init__(self, method: str, detail: str) -> None:
        super().__init__(
            f"the node refused {method}: {detail}",
            hint="check the node's logs; the ledger is unchanged, so the command can be re-run",
        )
        self.method = method
        self.detail = detail


class NotAToken(ChainError):
    """The token address has no ERC-20 code on this chain."""

    def __init__(self, token: str, chain_id: int, detail: str) -> None:
        super().__init__(
            f"{token} is not an ERC-20 token on chain {chain_id} ({detail})",
            hint="check the token address and that --rpc-url points at the intended network",
        )


class Eip1559Unsupported(ChainError):
    """The latest block has no base fee."""

    def __init__(self, chain_id: int) -> None:
        super().__init__(
            f"chain {chain_id} reports no EIP-1559 base fee",
            hint="this toolkit sends EIP-1559 (type 2) transactions only",
        )


# --- hot wallet (payout/wallet.py) ----------------------------------------------------------------


class ReceiptTimeout(ChainError):
    """No receipt within the configured time; the transaction may still be mined."""

    def __init__(self, tx_hashes: list[str], seconds: float) -> None:
        super().__init__(
            f"no receipt for {', '.join(tx_hashes)} after {seconds:.0f} s",
            hint="the transaction may still be mined: run `payout resume` later (it checks the "
            "chain first and never pays twice)",
        )
        self.tx_hashes = tx_hashes


class NonceConsumed(ChainError):
    """Another transaction used our nonce; ours can never be mined."""

    def __init__(self, address: str, nonce: int) -> None:
        super().__init__(
            f"nonce {nonce} of {address} was used by another transaction",
            hint="another process or wallet sends from this address; stop it, then `payout resume`",
        )
        self.nonce = nonce


class FeeCapExceeded(FundsError):
    """Replacing a stuck transaction would exceed the operator's fee cap."""

    def __init__(self, needed: int, cap: int) -> None:
        super().__init__(
            f"replacing the stuck transaction needs a max fee of {needed / 1e9:.2f} gwei, "
            f"above the cap of {cap / 1e9:.2f} gwei",
            hint="raise --max-fee-gwei, or wait and run `payout resume` when fees drop",
        )


class TransactionReverted(ContractError):
    """A mined transaction reverted."""

    def __init__(self, label: str, tx_hash: str) -> None:
        super().__init__(
            f"{label}: transaction {tx_hash} reverted on chain",
            hint="nothing was paid by it; check the token and balances, then retry",
        )
        self.tx_hash = tx_hash


class GasCapExceeded(ContractError):
    """The transaction needs more gas than one transaction may use."""

    def __init__(self, label: str, gas: int) -> None:
        super().__init__(
            f"{label} needs {gas:,} gas, above the per-transaction cap of {TX_GAS_CAP:,}",
            hint="plan smaller batches (--max-batch-size or a larger --gas-margin)",
        )


# --- signers and key stores (payout/signer.py) ----------------------------------------------------


#: The variable the keystore password is read from (named by the hints below).
PASSWORD_ENV = "PAYOUT_KEYSTORE_PASSWORD"


def ape_passphrase_env(alias: str) -> str:
    """The variable ape reads an account's passphrase from: the alias exactly as named."""
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


class KeystoreNotFound(SignerError):
    """The keystore file does not exist."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"keystore file {path} does not exist",
            hint="create one with `payout keys import --keystore FILE` (the key is prompted)",
        )


class KeystoreInvalid(SignerError):
    """The file is not a readable eth-account JSON keystore."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"{path} is not an eth-account JSON keystore ({detail})",
            hint="use a version-3 keystore as written by `payout keys import`, geth or ape",
        )


class WrongPassword(SignerError):
    """The password does not decrypt the keystore."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"wrong password for keystore {path}",
            hint=f"check {PASSWORD_ENV} or type the password again",
        )


class PasswordMissing(SignerError):
    """No keystore password in the environment and no terminal to ask on."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no password for keystore {path}",
            hint=f"set {PASSWORD_ENV} or run the command in a terminal to be prompted",
        )


class AliasNotFound(SignerError):
    """No ape account has this alias."""

    def __init__(self, alias: str) -> None:
        super().__init__(
            f"no ape account named {alias!r}",
            hint="list them with `ape accounts list`; import one with `ape accounts import ALIAS`",
        )


class WrongPassphrase(SignerError):
    """The passphrase does not unlock the ape account."""

    def __init__(self, alias: str, source: str) -> None:
        super().__init__(
            f"wrong passphrase for ape account {alias!r} (from {source})",
            hint=f"check {source}; ape reads {ape_passphrase_env(alias)} with the alias exactly "
            "as `ape accounts list` shows it",
        )


class PassphraseMissing(SignerError):
    """No passphrase for the ape account and no terminal to ask on."""

    def __init__(self, alias: str) -> None:
        super().__init__(
            f"no passphrase for ape account {alias!r}",
            hint=f"set {ape_passphrase_env(alias)} (or {PASSWORD_ENV}), or run the command in a "
            "terminal to be prompted",
        )


class SigningRefused(SignerError):
    """The signer (a hardware wallet, a prompt) declined to sign."""

    def __init__(self, who: str) -> None:
        super().__init__(
            f"{who} did not sign the transaction",
            hint="nothing was sent; run the command again and confirm the signature",
        )


class KeystoreExists(SignerError):
    """A keystore is never overwritten."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} already exists; refusing to overwrite a keystore",
            hint="choose another path or move the old file away first",
        )


# --- disburser deployment (payout/deployment.py) --------------------------------------------------


class DisburserMissing(DeploymentError):
    """No contract at the disburser address on this chain."""

    def __init__(self, address: str, chain_id: int) -> None:
        super().__init__(
            f"no contract at the disburser address {address} on chain {chain_id}",
            hint="deploy it with `payout deploy` (same address on every chain), or check --rpc-url",
        )
        self.address = address


class DisburserCodeMismatch(DeploymentError):
    """The code at the disburser address is not the shipped disburser's."""

    def __init__(self, address: str, chain_id: int, found: str, expected: str) -> None:
        super().__init__(
            f"the contract at {address} on chain {chain_id} is not this toolkit's disburser "
            f"(runtime code hash {found}, expected {expected}); refusing to pay through it",
            hint="use the address printed by `payout deploy` for this chain; never pay through "
            "unverified code",
        )
        self.address = address


class DeployerMissing(DeploymentError):
    """The CREATE2 deployer the disburser is deployed through is not on this chain."""

    def __init__(self, deployer: str, chain_id: int) -> None:
        super().__init__(
            f"the CREATE2 deployer {deployer} does not exist on chain {chain_id}",
            hint="deploy it first with its pre-signed transaction (see "
            "github.com/Arachnid/deterministic-deployment-proxy), then `payout deploy`",
        )


class RegistryInvalid(DeploymentError):
    """The deployment registry file cannot be read."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"deployment registry {path} is unreadable: {detail}",
            hint="fix or remove the file; `payout deploy` rewrites the entry for this chain",
        )


class RegistryConflict(DeploymentError):
    """The registry records another address than the shipped disburser deploys to."""

    def __init__(self, path: Path, chain_id: int, recorded: str, actual: str) -> None:
        super().__init__(
            f"{path} records {recorded} for chain {chain_id}, but the shipped disburser deploys "
            f"to {actual}",
            hint="the artifact changed since that deployment: deploy again, or check out the "
            "release that made the recorded deployment",
        )


# --- local EVM node (payout/devnet.py) ------------------------------------------------------------


class AnvilNotFound(ConfigError):
    """No anvil binary on this machine."""

    def __init__(self) -> None:
        super().__init__(
            "anvil (the local EVM node) was not found in tools/bin, node_modules/.bin or PATH",
            hint="run `make setup` (installs the pinned @foundry-rs/anvil npm package)",
        )


class DevnetStartError(ChainError):
    """anvil did not come up in time."""

    def __init__(self, port: int, timeout: float, output: str) -> None:
        tail = output.strip().splitlines()[-3:]
        super().__init__(
            f"anvil did not answer on port {port} within {timeout:.0f} s"
            + (f": {' | '.join(tail)}" if tail else ""),
            hint="check that the port is free and that node_modules/.bin/anvil runs",
        )


# --- hot-wallet executor (payout/executor.py) -----------------------------------------------------


class BatchReverted(ContractError):
    """A batch transaction was mined and reverted; nothing of it was paid. :attr:`cause` is why,
    decoded by running it again on its block's state (None when that could not be read)."""

    def __init__(self, batch_id: str, tx_hash: str, cause: ContractError | None = None) -> None:
        why = f": {cause}" if cause is not None else ""
        super().__init__(
            f"batch {batch_id}: transaction {tx_hash} reverted on chain; nobody in it was "
            f"paid{why}",
            hint="its rows are marked failed (still owed); "
            + (f"{cause.hint} " if cause is not None and cause.hint else "")
            + "fix the cause, then `payout resume` or send again",
        )
        self.cause = cause


# --- chain history (payout/history.py) ------------------------------------------------------------


class UnverifiedChainBatches(LedgerError):
    """Rows of the file may already be paid by executed batches this ledger does not know."""

    def __init__(self, scope: Scope, blocked: Sequence[BlockedRow]) -> None:
        txs = sorted({b.tx_hash for b in blocked})
        shown = "; ".join(
            f"{b.payout.payout_id} (line {b.payout.line}) {b.payout.recipient} "
            f"{b.payout.amount} in tx {b.tx_hash}"
            for b in blocked[:10]
        )
        more = f" (and {len(blocked) - 10} more)" if len(blocked) > 10 else ""
        super().__init__(
            f"{len(blocked)} row(s) of the file match recipients and amounts that payer "
            f"{scope.payer} already paid on chain {scope.chain_id} in {len(txs)} transaction(s) "
            f"this ledger does not know, and their payout ids do not reproduce those batch ids: "
            f"{shown}{more}. Nothing was paid.",
            hint="if those transactions paid these rows (e.g. the ledger was lost and the file "
            "was edited), record them as paid: `payout recover FILE --token TOKEN --payer PAYER "
            "--adopt TX`; if they are unrelated payments (e.g. last month's), "
            "`payout recover FILE --token TOKEN --payer PAYER --unrelated TX`; then send again. "
            "Transactions: " + ", ".join(txs),
        )
        self.scope = scope
        self.blocked = list(blocked)


class UnreadableChainBatch(ChainError):
    """An executed batch's rows cannot be read back from its transaction."""

    def __init__(self, batch_id: str, tx_hash: str, detail: str) -> None:
        super().__init__(
            f"batch {batch_id} (tx {tx_hash}) executed on chain but its rows cannot be read: "
            f"{detail}",
            hint="retry with another RPC node; if the batch is unrelated to this payout, "
            "`payout recover FILE --token TOKEN --payer PAYER --unrelated TX`",
        )


# --- plan and send (payout/pipeline.py) -----------------------------------------------------------


class PredictedFailures(InputError):
    """Simulation says some rows would fail and the operator did not choose what to do."""

    def __init__(self, failures: Sequence[RowFailure]) -> None:
        first = failures[0]
        super().__init__(
            f"{len(failures)} row(s) would fail on chain, e.g. {first.label} -> "
            f"{first.recipient}: {first.reason}",
            hint="re-run with --on-failure exclude (leave them out, still owed) or "
            "--on-failure skip (pay the rest; failing transfers are skipped on chain and reported)",
        )
        self.failures = list(failures)


class Shortfall(FundsError):
    """The payer cannot cover the plan (tokens or gas coin)."""

    def __init__(self, payer: str, lines: Sequence[str]) -> None:
        super().__init__(
            f"{payer} cannot cover this payout: " + "; ".join(lines),
            hint="top up the payer (tokens and/or ETH for gas), or pay a smaller file",
        )
        self.lines = list(lines)


class SimulationFailed(PayoutError):
    """A batch fails as a whole in simulation (not a per-row failure)."""

    exit_code = 4

    def __init__(self, batch_index: int, error: PayoutError) -> None:
        super().__init__(
            f"batch {batch_index} would fail: {error}",
            hint=error.hint or "nothing was signed; fix the cause and plan again",
        )
        self.cause = error


# --- service configuration (payout/service/network.py) --------------------------------------------


class ServiceConfigError(ConfigError):
    """``payout.toml`` is missing, unreadable or has a wrong value (the key is named)."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        where = f"{path}: {key}" if key else path
        super().__init__(
            f"{where}: {problem}",
            hint="fix the configuration file (see docs/service.md for every key)",
        )
        self.key = key


# --- service runtime (payout/service/runtime.py) --------------------------------------------------


class NetworkNotServed(ConfigError):
    """A configured network the service cannot pay on yet."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(
            f"network {name}: {why}",
            hint="remove it from payout.toml or pay it with the CLI (payout tron send)",
        )


# --- service Safe payer (payout/service/safe_payer.py) --------------------------------------------


class ProposalNotRebuilt(LedgerError):
    """The ledger's Safe batch does not give back the safeTxHash recorded when it was proposed."""

    def __init__(self, batch_id: str, safe_tx_hash: str) -> None:
        super().__init__(
            f"Safe batch {batch_id} does not rebuild to the recorded safeTxHash {safe_tx_hash}",
            hint="the ledger was changed by hand or the MultiSendCallOnly library differs; find "
            "the proposal file, or release the batch once its nonce is used",
        )


# --- service worker (payout/service/worker.py) ----------------------------------------------------


class WorkerAlreadyRunning(ConfigError):
    """Another worker already pays from this SQLite ledger."""

    def __init__(self, lock_path: str) -> None:
        super().__init__(
            f"another worker holds {lock_path}: a SQLite ledger is paid by one worker",
            hint="stop the other `payout serve` / `payout service worker`, or use PostgreSQL "
            "(several workers share payers through row locks)",
        )
