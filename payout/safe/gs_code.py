"""Safe contract error codes (``GS0xx`` ... ``GS400``), what they mean for a payout, and what to do.

Safe 1.3.0 and 1.4.1 revert with a short string code instead of a sentence to save bytecode. The
table below gives each code a meaning and, where a payout operator can hit it, a remedy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GsCode:
    """One Safe revert code."""

    code: str
    meaning: str
    hint: str


_TABLE: tuple[GsCode, ...] = (
    GsCode("GS000", "the setup call of the Safe failed", "The Safe was not created correctly."),
    GsCode(
        "GS001",
        "the Safe has no threshold (not initialised)",
        "The address is not a set-up Safe; check --safe.",
    ),
    GsCode(
        "GS002",
        "a module set up at creation is not a contract",
        "The Safe was not created correctly.",
    ),
    GsCode(
        "GS010",
        "not enough gas was given to execTransaction for the inner calls",
        "Let the tool estimate the gas (do not force --gas) or raise it.",
    ),
    GsCode(
        "GS011",
        "the Safe could not refund the executor in ether",
        "Payout proposals use gasPrice 0; this transaction was not built by `payout safe propose`.",
    ),
    GsCode(
        "GS012",
        "the Safe could not refund the executor in the gas token",
        "Payout proposals use gasPrice 0; this transaction was not built by `payout safe propose`.",
    ),
    GsCode(
        "GS013",
        "an inner call reverted (the approve or the disburse call); safeTxGas and gasPrice are 0 "
        "so nothing was paid and the Safe nonce was not used",
        "Run `payout safe review` for the decoded cause (token balance of the Safe, allowance, "
        "batch already executed); fix it and execute again with the same signatures.",
    ),
    GsCode(
        "GS020",
        "fewer signatures than the threshold were supplied",
        "Collect more signatures with `payout safe sign` / `payout safe merge`.",
    ),
    GsCode(
        "GS021",
        "a contract signature points inside the static signature part",
        "A contract-owner signature is malformed; sign again with `payout safe sign --owner-safe`.",
    ),
    GsCode(
        "GS022",
        "a contract signature's length word is missing",
        "A contract-owner signature is malformed; sign it again.",
    ),
    GsCode(
        "GS023",
        "a contract signature's data runs past the end",
        "A contract-owner signature is malformed; sign it again.",
    ),
    GsCode(
        "GS024",
        "a contract owner (EIP-1271, e.g. an owner that is another Safe) rejected its signature",
        "The owner contract's own signers must sign the Safe message again (threshold of that "
        "owner Safe, correct Safe transaction).",
    ),
    GsCode(
        "GS025",
        "an approved-hash signature has no on-chain approveHash from that owner",
        "The owner must call approveHash (`payout safe sign --on-chain`) before execution, or sign "
        "off-chain.",
    ),
    GsCode(
        "GS026",
        "a signature is not from an owner, signs another hash, or the signatures are not sorted",
        "Run `payout safe review` to see which signature is invalid; re-sign the current file.",
    ),
    GsCode(
        "GS030",
        "only owners can approve a hash",
        "Use an owner account for `payout safe sign --on-chain`.",
    ),
    GsCode(
        "GS031",
        "the method can only be called by the Safe itself",
        "Owner and module changes need their own Safe transaction.",
    ),
    GsCode("GS100", "modules were already initialised", "Safe setup problem."),
    GsCode("GS101", "invalid module address", "Safe module management problem."),
    GsCode("GS102", "module already enabled", "Safe module management problem."),
    GsCode("GS103", "invalid previous-module/module pair", "Safe module management problem."),
    GsCode(
        "GS104",
        "the caller is not an enabled module",
        "Only enabled modules can call execTransactionFromModule.",
    ),
    GsCode("GS105", "invalid start for the module page", "Safe module listing problem."),
    GsCode("GS106", "invalid module page size", "Safe module listing problem."),
    GsCode("GS200", "owners were already set up", "Safe setup problem."),
    GsCode("GS201", "the threshold exceeds the owner count", "Safe owner management problem."),
    GsCode("GS202", "the threshold must be at least 1", "Safe owner management problem."),
    GsCode("GS203", "invalid owner address", "Safe owner management problem."),
    GsCode("GS204", "the address is already an owner", "Safe owner management problem."),
    GsCode("GS205", "invalid previous-owner/owner pair", "Safe owner management problem."),
    GsCode("GS300", "the guard does not implement IERC165", "Safe guard problem."),
    GsCode("GS400", "the fallback handler cannot be the Safe itself", "Safe setup problem."),
)

GS_CODES: dict[str, GsCode] = {entry.code: entry for entry in _TABLE}

_CODE_RE = re.compile(r"GS\d{3}")


def find_gs_code(text: str) -> GsCode | None:
    """The first known ``GSxxx`` code in a revert message or revert data, if any.

    Accepts the decoded reason string (``execution reverted: GS026``) or the raw ``Error(string)``
    revert data as hex or bytes.
    """
    match = _CODE_RE.search(text)
    if match is None and text.startswith("0x08c379a0"):
        try:
            match = _CODE_RE.search(bytes.fromhex(text[2:]).decode("latin-1"))
        except ValueError:
            match = None
    if match is None:
        return None
    return GS_CODES.get(match.group(0))


def decode_gs_revert(revert_data: bytes) -> GsCode | None:
    """The Safe code in ``Error(string)`` revert data, if that is what it is."""
    if revert_data[:4] != bytes.fromhex("08c379a0"):
        return None
    return find_gs_code(revert_data[4:].decode("latin-1"))
