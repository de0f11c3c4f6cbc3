"""TRON native multisig payouts: propose -> sign (each key holder) -> review -> broadcast.

The payer is an account whose *payout* active permission (:mod:`payout.tron.permission`) needs
several keys. ``propose`` writes one JSON file per batch holding the unsigned transactions (the
exact ``approve`` amounts, then ``disburse``), each with ``Permission_id`` set and an expiration of
up to 24 hours; ``sign`` adds one key's signature to every transaction; ``broadcast`` sends them,
in order, once the signatures' weights reach the permission's threshold on chain.

Every signer signs the txID recomputed here from ``raw_data`` (never a txID stored in the file
or told by a node), and ``review`` shows that txID next to the decoded batch, so what a key
holder approves is what the chain executes. The file is the only channel between key holders; it
holds no secret.

File (``payout-tron-multisig/1``, JSON): ``payer``; ``permission`` (id, name, threshold, keys with
weights, as on chain when proposed); ``batch`` (batch id, index, chain id, token, disburser, mode,
total, payouts with id / recipient / amount); ``transactions``: ``[{label, txID, raw_data,
raw_data_hex, signature[]}]`` in broadcast order (``approve(0)``, ``approve(total)``, ``disburse``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from tronpy import Tron
from tronpy.keys import to_base58check_address

from payout.address import tron_hex_to_b58, tron_to_evm
from payout.disburser import (
    SEL_APPROVE,
    SEL_DISBURSE,
    SEL_DISBURSE_OR_SKIP,
    approval_amounts,
    decode_disburse,
    encode_approve,
)
from payout.exceptions import (
    SignerError,
    TronError,
    TronExecutionFailed,
    TronPermissionInvalid,
    TronSignatureShort,
    TronSignerNotAllowed,
    TronTransactionExpired,
    TronTransactionFileError,
)
from payout.files import write_private_text
from payout.ledger import Ledger
from payout.tron import proto
from payout.tron.energy import DEFAULT_MARGIN_BPS, fee_limit_for, read_prices
from payout.tron.executor import (
    APPROVE_ENERGY_FLOOR,
    BatchResult,
    TronExecutor,
    TronSendSettings,
    disburse_calldata,
    disburse_signature,
    simulate,
)
from payout.tron.permission import CONTRACT_TYPES, allowed_types, permission_by_id
from payout.tron.record import as_json
from payout.tron.signer import TronSigner, recover_signer
from payout.tron.token import allowance
from payout.tron.transaction import (
    MAX_EXPIRATION_MS,
    SignedTx,
    broadcast,
    now_ms,
    ref_block,
    trigger_raw_data,
)
from payout.types import Batch, Network, PayMode

FILE_FORMAT = "payout-tron-multisig/1"
#: Default lifetime of a proposal: key holders have 23 hours (the chain allows 24 from the head
#: block; an hour of slack absorbs clock differences).
DEFAULT_PROPOSAL_EXPIRATION_MS = 23 * 3600 * 1000
TRIGGER = CONTRACT_TYPES["TriggerSmartContract"]


@dataclass
class ProposalTx:
    """One transaction of a proposal."""

    label: str
    tx: SignedTx

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, **self.tx.to_json()}


@dataclass
class Proposal:
    """A multisig proposal file's content."""

    payer: str
    permission_id: int
    permission_name: str
    threshold: int
    keys: list[dict[str, Any]]
    batch: dict[str, Any]
    transactions: list[ProposalTx]
    created_ms: int = field(default_factory=now_ms)

    @property
    def expiration_ms(self) -> int:
        return min(t.tx.expiration_ms for t in self.transactions)

    @property
    def batch_id(self) -> bytes:
        return bytes.fromhex(str(self.batch["batch_id"])[2:])

    def weight_of(self, signers: set[str]) -> int:
        return sum(int(k["weight"]) for k in self.keys if k["address"] in signers)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FILE_FORMAT,
            "created_ms": self.created_ms,
            "payer": self.payer,
            "permission": {
                "id": self.permission_id,
                "name": self.permission_name,
                "threshold": self.threshold,
                "keys": self.keys,
            },
            "batch": self.batch,
            "transactions": [t.to_json() for t in self.transactions],
        }


# --- file I/O ------------------------------------------------------------------------------------


def write_proposal(path: Path, proposal: Proposal) -> None:
    """Write (atomically) a proposal file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_text(path, json.dumps(proposal.to_json(), indent=2) + "\n")


def read_proposal(path: Path) -> Proposal:
    """Read a proposal file, refusing anything whose transactions do not match their txIDs."""
    where = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TronTransactionFileError(where, f"unreadable ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
        raise TronTransactionFileError(where, f"not a {FILE_FORMAT} file")
    try:
        perm = doc["permission"]
        txs = []
        for item in doc["transactions"]:
            raw = item["raw_data"]
            tx = SignedTx(
                raw_data=raw, txid=proto.txid(raw), signatures=list(item.get("signature") or [])
            )
            if tx.txid != item.get("txID"):
                raise TronTransactionFileError(
                    where,
                    f"transaction {item.get('label')}: txID {item.get('txID')} does not match its "
                    f"raw_data (which hashes to {tx.txid}); the file was altered",
                )
            hex_ = item.get("raw_data_hex")
            if hex_ and hex_ != proto.raw_data_bytes(raw).hex():
                raise TronTransactionFileError(
                    where, f"transaction {item.get('label')}: raw_data_hex does not match raw_data"
                )
            txs.append(ProposalTx(label=str(item["label"]), tx=tx))
        return Proposal(
            payer=str(doc["payer"]),
            permission_id=int(perm["id"]),
            permission_name=str(perm.get("name", "")),
            threshold=int(perm["threshold"]),
            keys=[{"address": str(k["address"]), "weight": int(k["weight"])} for k in perm["keys"]],
            batch=dict(doc["batch"]),
            transactions=txs,
            created_ms=int(doc.get("created_ms", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TronTransactionFileError(where, f"malformed ({exc})") from exc


# --- propose -------------------------------------------------------------------------------------


def _keys_of(permission: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"address": str(to_base58check_address(k["address"])), "weight": int(k.get("weight", 1))}
        for k in permission.get("keys", [])
    ]


def propose(
    client: Tron,
    ledger: Ledger,
    batch: Batch,
    *,
    permission_id: int,
    mode: PayMode = PayMode.STRICT,
    expiration_ms: int = DEFAULT_PROPOSAL_EXPIRATION_MS,
    margin_bps: int = DEFAULT_MARGIN_BPS,
) -> Proposal:
    """Build the unsigned transactions of ``batch`` under the payer's permission ``permission_id``
    and record the batch as submitted in the ledger (write-ahead: the disburse txID).

    The batch must be planned in the ledger. Nothing is signed or sent.
    """
    if not 0 < expiration_ms <= MAX_EXPIRATION_MS:
        raise TronTransactionFileError(
            "-", f"expiration must be within 24 h, got {expiration_ms} ms"
        )
    permission = permission_by_id(client, batch.payer, permission_id)
    if permission_id != 0 and TRIGGER not in allowed_types(str(permission.get("operations", ""))):
        raise TronPermissionInvalid(
            f"permission {permission_id} of {batch.payer} does not allow TriggerSmartContract "
            "(operations bit 31)"
        )
    # The key recorded before any send is the one to send.
    batch = ledger.stored_key(batch)
    prices = read_prices(client)
    ref = ref_block(client)
    created = max(now_ms(), ref.timestamp_ms)
    txs: list[ProposalTx] = []
    # Every transaction of the proposal: the payer's permission, one TaPoS block, one deadline.
    build = functools.partial(
        trigger_raw_data,
        owner=batch.payer,
        ref=ref,
        expiration_ms=expiration_ms,
        permission_id=permission_id,
        timestamp_ms=created,
    )
    current = allowance(client, batch.token, batch.payer, batch.disburser)
    for amount in approval_amounts(current, batch.total):
        data = encode_approve(tron_to_evm(batch.disburser), amount)
        sim = simulate(client, batch.payer, batch.token, "approve(address,uint256)", data[4:])
        fee_limit = fee_limit_for(max(sim.energy, APPROVE_ENERGY_FLOOR), prices, margin_bps)
        raw = build(contract=batch.token, data=data, fee_limit_sun=fee_limit)
        txs.append(ProposalTx(label=f"approve({amount})", tx=SignedTx.build(raw)))
    calldata = disburse_calldata(batch, mode)
    energy = batch.cost_estimate
    if current >= batch.total:  # the allowance is there: simulate exactly
        signature = disburse_signature(mode)
        sim = simulate(client, batch.payer, batch.disburser, signature, calldata[4:])
        if sim.ok:
            energy = sim.energy
    raw = build(
        contract=batch.disburser,
        data=calldata,
        fee_limit_sun=fee_limit_for(energy, prices, margin_bps),
    )
    disburse_tx = SignedTx.build(raw)
    txs.append(ProposalTx(label="disburse", tx=disburse_tx))
    proposal = Proposal(
        payer=batch.payer,
        permission_id=permission_id,
        permission_name=str(permission.get("permission_name", "")),
        threshold=int(permission.get("threshold", 1)),
        keys=_keys_of(permission),
        batch={
            "batch_id": batch.batch_id_hex,
            "replay_key": batch.replay_key_hex,
            "index": batch.index,
            "chain_id": batch.chain_id,
            "token": batch.token,
            "disburser": batch.disburser,
            "mode": mode.value,
            "total": batch.total,
            "payouts": [
                {"payout_id": p.payout_id, "recipient": p.recipient, "amount": p.amount}
                for p in batch.payouts
            ],
        },
        transactions=txs,
        created_ms=created,
    )
    ledger.record_submission(
        batch.scope,
        batch.batch_id,
        tx_hash=disburse_tx.txid,
        raw_tx=None,
        fees={"fee_limit_sun": int(raw["fee_limit"]), "expiration": disburse_tx.expiration_ms},
        note=f"tron multisig proposal (permission {permission_id})",
    )
    return proposal


# --- sign ----------------------------------------------------------------------------------------


def signers_of(tx: SignedTx) -> list[str]:
    """The addresses whose keys produced the transaction's signatures (in order)."""
    return [recover_signer(tx.txid, sig) for sig in tx.signatures]


def sign(proposal: Proposal, signer: TronSigner, *, now: int | None = None) -> Proposal:
    """Add ``signer``'s signature to every transaction of the proposal (in place; returned)."""
    clock = now_ms() if now is None else now
    allowed = {k["address"] for k in proposal.keys}
    if signer.address not in allowed:
        raise TronSignerNotAllowed(
            signer.address,
            f"not a key of permission {proposal.permission_id} ({proposal.permission_name}) of "
            f"{proposal.payer}",
        )
    for item in proposal.transactions:
        tx = item.tx
        if tx.expiration_ms <= clock:
            raise TronTransactionExpired(tx.txid, tx.expiration_ms)
        if tx.txid != proto.txid(tx.raw_data):
            raise SignerError(f"{item.label}: txID does not match raw_data; refusing to sign")
        if signer.address in signers_of(tx):
            raise TronSignerNotAllowed(signer.address, f"already signed {item.label}")
        tx.signatures.append(signer.sign_txid(tx.txid))
    return proposal


# --- review --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewedTx:
    label: str
    txid: str
    function: str
    contract: str
    permission_id: int
    fee_limit_sun: int
    expiration_ms: int
    signers: tuple[str, ...]
    weight: int
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return as_json(self, rename={"txid": "txID"})


@dataclass(frozen=True)
class Review:
    payer: str
    permission_id: int
    threshold: int
    transactions: tuple[ReviewedTx, ...]
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.problems and all(t.weight >= self.threshold for t in self.transactions)

    def to_json(self) -> dict[str, Any]:
        return {**as_json(self), "ready": self.ready}


def _addr(word: bytes) -> str:
    return str(tron_hex_to_b58("41" + word[-20:].hex()))


def decode_call(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode approve / disburse / disburseOrSkip calldata into (function, arguments)."""
    selector, body = data[:4], data[4:]
    if selector == SEL_APPROVE:
        spender, amount = abi_decode(["address", "uint256"], body)
        return "approve", {"spender": _addr(bytes.fromhex(spender[2:])), "amount": int(amount)}
    if selector in (SEL_DISBURSE, SEL_DISBURSE_OR_SKIP):
        call = decode_disburse(data)
        recipients = [
            {"recipient": _addr(bytes.fromhex(r[2:])), "amount": amount} for r, amount in call.rows
        ]
        name = "disburse" if selector == SEL_DISBURSE else "disburseOrSkip"
        return name, {
            "token": _addr(bytes.fromhex(call.token[2:])),
            "batch_id": "0x" + call.batch_id.hex(),
            "replay_key": "0x" + call.replay_key.hex(),
            "total": call.total,
            "recipients": recipients,
        }
    return "0x" + selector.hex(), {"data": data.hex()}


def review(proposal: Proposal, *, now: int | None = None) -> Review:
    """Decode every transaction, recompute its txID and check it against the batch the file
    claims to pay; list problems (never raises for content)."""
    clock = now_ms() if now is None else now
    problems: list[str] = []
    reviewed: list[ReviewedTx] = []
    batch = proposal.batch
    expected = [(p["recipient"], int(p["amount"])) for p in batch.get("payouts", [])]
    for item in proposal.transactions:
        tx = item.tx
        raw = tx.raw_data
        contract = raw["contract"][0]
        value = contract["parameter"]["value"]
        function, details = decode_call(bytes.fromhex(value.get("data", "")))
        owner = str(to_base58check_address(value["owner_address"]))
        target = str(to_base58check_address(value["contract_address"]))
        pid = int(contract.get("Permission_id", 0))
        if owner != proposal.payer:
            problems.append(f"{item.label}: owner {owner} is not the payer {proposal.payer}")
        if pid != proposal.permission_id:
            problems.append(f"{item.label}: Permission_id {pid} != {proposal.permission_id}")
        if tx.expiration_ms <= clock:
            problems.append(f"{item.label}: expired at {tx.expiration_ms}")
        if function == "approve":
            if target != batch.get("token") or details["spender"] != batch.get("disburser"):
                problems.append(f"{item.label}: approves {details['spender']} on {target}")
            if details["amount"] not in (0, int(batch.get("total", -1))):
                # Only approve(0) (USDT's rule) and approve(total) are ever proposed: any other
                # amount leaves an allowance the batch does not use.
                problems.append(
                    f"{item.label}: approves {details['amount']}, not 0 or the batch total "
                    f"{batch.get('total')}"
                )
        elif function in ("disburse", "disburseOrSkip"):
            got = [(r["recipient"], r["amount"]) for r in details["recipients"]]
            if target != batch.get("disburser"):
                problems.append(
                    f"disburse goes to {target}, not the disburser {batch.get('disburser')}"
                )
            if details["token"] != batch.get("token"):
                problems.append(f"disburse pays token {details['token']}, not {batch.get('token')}")
            if details["batch_id"] != batch.get("batch_id"):
                problems.append(
                    f"disburse batch id {details['batch_id']} != {batch.get('batch_id')}"
                )
            if details["replay_key"] != batch.get("replay_key"):
                problems.append(
                    f"disburse replay key {details['replay_key']} != {batch.get('replay_key')}"
                )
            if got != expected or details["total"] != int(batch.get("total", -1)):
                problems.append(
                    "disburse recipients/amounts differ from the batch listed in the file"
                )
        else:
            problems.append(f"{item.label}: unexpected call {function}")
        try:
            signers = tuple(signers_of(tx))
        except (SignerError, ValueError) as exc:
            problems.append(f"{item.label}: unreadable signature ({exc})")
            signers = ()
        if len(set(signers)) != len(signers):
            problems.append(f"{item.label}: a key signed twice")
        outsiders = [s for s in signers if s not in {k["address"] for k in proposal.keys}]
        if outsiders:
            problems.append(f"{item.label}: signed by keys outside the permission: {outsiders}")
        reviewed.append(
            ReviewedTx(
                label=item.label,
                txid=proto.txid(raw),
                function=function,
                contract=target,
                permission_id=pid,
                fee_limit_sun=int(raw.get("fee_limit", 0)),
                expiration_ms=tx.expiration_ms,
                signers=signers,
                weight=proposal.weight_of(set(signers)),
                details=details,
            )
        )
    return Review(
        payer=proposal.payer,
        permission_id=proposal.permission_id,
        threshold=proposal.threshold,
        transactions=tuple(reviewed),
        problems=tuple(problems),
    )


# --- broadcast -----------------------------------------------------------------------------------


def broadcast_proposal(
    client: Tron,
    ledger: Ledger,
    proposal: Proposal,
    *,
    settings: TronSendSettings | None = None,
) -> BatchResult:
    """Check the signatures against the permission as it is on chain now, then send the
    transactions in order and settle the batch in the ledger."""
    settings = settings or TronSendSettings(mode=PayMode(proposal.batch.get("mode", "strict")))
    checked = review(proposal)
    if checked.problems:
        raise TronTransactionFileError("proposal", "; ".join(checked.problems))
    onchain = permission_by_id(client, proposal.payer, proposal.permission_id)
    threshold = int(onchain.get("threshold", 1))
    weights = {k["address"]: k["weight"] for k in _keys_of(onchain)}
    for reviewed_tx in checked.transactions:
        have = sum(weights.get(s, 0) for s in set(reviewed_tx.signers))
        if have < threshold:
            raise TronSignatureShort(have, threshold)
    batch_id = proposal.batch_id
    key = (Network.TRON, int(proposal.batch["chain_id"]), proposal.payer)
    batch = ledger.load_batch(key, batch_id)  # LedgerNotFoundError when it is another ledger's
    # The file is checked against itself above, but nothing in it is secret: whoever edits a
    # recipient can recompute the txIDs and the batch listing (and the batch id, which binds payout
    # ids only, stays the same). The ledger recorded the disburse txID when it proposed the batch.
    proposed = {a.tx_hash for a in ledger.batch(key, batch_id).attempts if a.tx_hash}
    final_txid = proposal.transactions[-1].tx.txid
    if final_txid not in proposed:
        raise TronTransactionFileError(
            "proposal",
            f"its disburse transaction {final_txid} is not one this ledger proposed for batch "
            f"{batch.batch_id_hex} ({', '.join(sorted(proposed)) or 'none'}): the file was altered "
            "after it was proposed, or comes from another proposal; nothing was sent",
        )
    executor = TronExecutor(client, ledger, None, proposal.batch["disburser"], settings=settings)
    token, disburser = str(proposal.batch["token"]), str(proposal.batch["disburser"])
    for item, decoded in zip(proposal.transactions[:-1], checked.transactions[:-1], strict=True):
        # An approval is skipped when the allowance already is what it sets (someone else
        # broadcast it, or a previous attempt did): approving again could trip USDT's rule.
        current = allowance(client, token, proposal.payer, disburser)
        wanted = int(decoded.details["amount"])
        if current == wanted:
            continue
        if current != 0 and wanted != 0:
            # USDT refuses to change one non-zero allowance into another: the transaction would
            # revert and burn its fee. Another batch's approval is pending its disburse.
            raise TronError(
                f"the disburser's allowance is {current}, not 0: another batch was approved but "
                "not paid yet",
                hint="Broadcast the batch files in order (or that batch first), then this one.",
            )
        broadcast(client, item.tx)
        info = executor.wait(item.tx.txid)
        if (info.get("receipt") or {}).get("result", "SUCCESS") != "SUCCESS":
            raise TronExecutionFailed(
                item.tx.txid, str((info.get("receipt") or {}).get("result")), item.label
            )
    final = proposal.transactions[-1]
    broadcast(client, final.tx)
    info = executor.wait(final.tx.txid)
    return executor.settle_receipt(batch, final.tx.txid, info, int(final.tx.raw_data["fee_limit"]))
