"""Every error the toolkit raises on purpose derives from :class:`PayoutError`.

Categories (catch these) sit directly under the root; concrete errors take typed arguments and
build a message that says what went wrong and what to do. The CLI prints ``str(error)`` and
``error.hint`` and exits with ``error.exit_code``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payout.types import Issue


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


# --- TRON (payout/tron/; owned by the TRC-20 path) ------------------------------------------------


class TronNodeUnreachable(TronError):
    """The TRON full node did not answer."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"TRON node {url} is unreachable: {reason}",
            hint="Check --tron-node / PAYOUT_TRON_NODE_URL, or start a local node with "
            "`payout devnet tron`.",
        )
        self.url = url


class TronNodeError(TronError):
    """The TRON node answered with an API error."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"TRON node {url} returned an error: {detail}")
        self.url = url
        self.detail = detail


class TronTransactionRejected(TronError):
    """The node refused a transaction (bad signature, TaPoS, expiration, validation...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(
            f"TRON node rejected the transaction: {code}: {message}",
            hint="Nothing was executed. Fix the cause (keys, permission, expiration) and retry.",
        )
        self.code = code
        self.node_message = message


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
        super().__init__(f"{address} cannot sign this transaction: {reason}")
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
    """The payouts cannot be planned as asked (e.g. one recipient's cost exceeds the batch bound)."""


class LedgerConflictError(LedgerError):
    """Payout ids already in the ledger with a different recipient or amount: refusing to guess."""

    def __init__(self, conflicts: Sequence[tuple[str, str, str]]) -> None:
        shown = "\n".join(f"  {pid}: ledger has {old}, file has {new}" for pid, old, new in conflicts[:20])
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
            hint="Run `payout status` to see the ledger; `payout resume` finishes in-flight batches.",
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

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot use the ledger at {url}: {reason}",
            hint="Check --ledger / PAYOUT_LEDGER_URL (default .payout/ledger.sqlite in the "
            "current directory).",
        )
        self.url = url
