"""Export Safe batches as Safe{Wallet} Transaction Builder files.

Signers who prefer the Safe web app can load a batch there (Apps -> Transaction Builder -> drag the
file in). One file per Safe transaction: the app wraps the listed calls in a MultiSendCallOnly
delegatecall itself. The app refuses a file for another chain and warns when the checksum does not
match, so :func:`checksum` reproduces the app's algorithm exactly:

keccak256 (of the UTF-8 text) of a serialization of the whole file in which ``meta.name`` is null
and ``meta.checksum`` is absent; an object serializes as ``{`` + the JSON array of its sorted keys
+ for each sorted key ``serialize(value) + ","`` + ``}``, an array as ``[`` + its serialized items
joined by ``,`` + ``]``, and anything else as compact JSON.

The nonce is chosen by the app when the batch is created there, so the resulting safeTxHash only
equals the proposal's when the app uses the same nonce (and MultiSendCallOnly version).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from payout.files import write_private_text
from payout.safe.multisend import decode_multisend
from payout.safe.proposal import Proposal, ProposedTx

TX_BUILDER_VERSION = "1.18.3"
FILE_VERSION = "1.0"


def serialize(value: Any) -> str:
    """The app's canonical serialization (sorted keys, see the module docstring)."""
    if isinstance(value, list):
        return "[" + ",".join(serialize(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value)
        out = "{" + json.dumps(keys, separators=(",", ":"), ensure_ascii=False)
        for key in keys:
            out += serialize(value[key]) + ","
        return out + "}"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def checksum(batch_file: dict[str, Any]) -> str:
    """The Transaction Builder checksum of ``batch_file`` (its own ``meta.checksum`` ignored)."""
    doc = copy.deepcopy(batch_file)
    meta = doc.setdefault("meta", {})
    meta["name"] = None
    meta.pop("checksum", None)
    return "0x" + keccak(serialize(doc).encode("utf-8")).hex()


def validate_checksum(batch_file: dict[str, Any]) -> bool:
    """Whether ``meta.checksum`` matches the file, as the app checks it when loading."""
    return bool(batch_file.get("meta", {}).get("checksum") == checksum(batch_file))


def add_checksum(batch_file: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``batch_file`` with ``meta.checksum`` set."""
    doc = copy.deepcopy(batch_file)
    doc.setdefault("meta", {})["checksum"] = checksum(doc)
    return doc


def batch_file(
    proposal: Proposal, tx: ProposedTx, *, created_at_ms: int | None = None
) -> dict[str, Any]:
    """The Transaction Builder file of one Safe transaction (its inner calls, in order)."""
    calls = decode_multisend(tx.safe_tx.data)
    batch = tx.batch
    doc: dict[str, Any] = {
        "version": FILE_VERSION,
        "chainId": str(proposal.chain_id),
        "createdAt": created_at_ms if created_at_ms is not None else int(time.time() * 1000),
        "meta": {
            "name": f"Payout batch {batch.index} ({batch.count} recipients, nonce {tx.nonce})",
            "description": (
                f"Pays {batch.total} base units of {proposal.token.symbol} to {batch.count} "
                f"recipients through the disburser {batch.disburser}; batch id "
                f"0x{batch.batch_id.hex()}; proposal safeTxHash 0x{tx.safe_tx_hash.hex()}"
            ),
            "txBuilderVersion": TX_BUILDER_VERSION,
            "createdFromSafeAddress": proposal.safe,
            "createdFromOwnerAddress": "",
        },
        "transactions": [
            {
                "to": call.to,
                "value": str(call.value),
                "data": "0x" + call.data.hex(),
                "contractMethod": None,
                "contractInputsValues": None,
            }
            for call in calls
        ],
    }
    return add_checksum(doc)


def export_batches(
    proposal: Proposal, directory: Path, *, created_at_ms: int | None = None
) -> list[Path]:
    """Write one Transaction Builder file per Safe transaction; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for tx in proposal.transactions:
        path = directory / f"tx-builder-{proposal.safe[:10].lower()}-nonce-{tx.nonce}.json"
        doc = batch_file(proposal, tx, created_at_ms=created_at_ms)
        write_private_text(path, json.dumps(doc, indent=2) + "\n")
        paths.append(path)
    return paths
