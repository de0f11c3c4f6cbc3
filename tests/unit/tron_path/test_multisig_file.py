"""Multisig proposal files without a node: signing rules, review decoding, tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payout.address import keccak256, tron_to_evm
from payout.batching import derive_batch_id
from payout.disburser import encode_approve
from payout.exceptions import (
    TronSignerNotAllowed,
    TronTransactionExpired,
    TronTransactionFileError,
)
from payout.tron.executor import disburse_calldata
from payout.tron.multisig import (
    Proposal,
    ProposalTx,
    read_proposal,
    review,
    sign,
    write_proposal,
)
from payout.tron.signer import TronSigner
from payout.tron.transaction import RefBlock, SignedTx, now_ms, trigger_raw_data
from payout.types import Batch, Network, Payout

KEYS = [TronSigner.from_private_key(bytes([i]) * 32) for i in (1, 2, 3, 4)]
PAYER = "TQHAvs2ZFTbsd93ycTfw1Wuf1e4WsPZWCp"
TOKEN = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
DISBURSER = "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1"
REF = RefBlock(number=3, block_id="0000000000000003" + "ef" * 24, timestamp_ms=0)


def _batch() -> Batch:
    payouts = (
        Payout("inv-1", KEYS[3].address, 1_500_000, network=Network.TRON),
        Payout("inv-2", KEYS[2].address, 2_250_000, network=Network.TRON),
    )
    batch_id = derive_batch_id(
        network=Network.TRON,
        chain_id=7,
        disburser=DISBURSER,
        payer=PAYER,
        token=TOKEN,
        payout_ids=[p.payout_id for p in payouts],
    )
    return Batch(
        0,
        batch_id,
        Network.TRON,
        7,
        PAYER,
        TOKEN,
        DISBURSER,
        payouts,
        3_750_000,
        1,
        "energy",
        replay_key=keccak256(b"run")[:31] + b"\x00",
    )


def _proposal(expires_in_ms: int = 3_600_000) -> Proposal:
    batch = _batch()
    common = {"owner": PAYER, "ref": REF, "permission_id": 2, "expiration_ms": expires_in_ms}
    approve = trigger_raw_data(
        contract=TOKEN,
        data=encode_approve(tron_to_evm(DISBURSER), batch.total),
        fee_limit_sun=5_000_000,
        **common,
    )
    disburse = trigger_raw_data(
        contract=DISBURSER, data=disburse_calldata(batch), fee_limit_sun=90_000_000, **common
    )
    return Proposal(
        payer=PAYER,
        permission_id=2,
        permission_name="payout",
        threshold=2,
        keys=[{"address": k.address, "weight": 1} for k in KEYS[:3]],
        batch={
            "batch_id": batch.batch_id_hex,
            "replay_key": batch.replay_key_hex,
            "index": 0,
            "chain_id": 7,
            "token": TOKEN,
            "disburser": DISBURSER,
            "mode": "strict",
            "total": batch.total,
            "payouts": [
                {"payout_id": p.payout_id, "recipient": p.recipient, "amount": p.amount}
                for p in batch.payouts
            ],
        },
        transactions=[
            ProposalTx("approve(3750000)", SignedTx.build(approve)),
            ProposalTx("disburse", SignedTx.build(disburse)),
        ],
    )


def test_review_decodes_the_batch_and_shows_the_recomputed_txid() -> None:
    proposal = _proposal()
    report = review(proposal)
    assert report.problems == ()
    approve, disburse = report.transactions
    assert approve.function == "approve"
    assert approve.details == {"spender": DISBURSER, "amount": 3_750_000}
    assert disburse.function == "disburse"
    assert disburse.details["token"] == TOKEN
    assert disburse.details["batch_id"] == proposal.batch["batch_id"]
    assert disburse.details["replay_key"] == proposal.batch["replay_key"]
    assert disburse.details["recipients"] == [
        {"recipient": KEYS[3].address, "amount": 1_500_000},
        {"recipient": KEYS[2].address, "amount": 2_250_000},
    ]
    assert disburse.txid == proposal.transactions[1].tx.txid
    assert disburse.permission_id == 2
    assert not report.ready  # no signatures yet


def test_signing_reaches_the_threshold_once(tmp_path: Path) -> None:
    path = tmp_path / "batch-0.json"
    write_proposal(path, _proposal())
    proposal = read_proposal(path)
    sign(proposal, KEYS[0])
    write_proposal(path, proposal)
    proposal = read_proposal(path)
    assert not review(proposal).ready
    with pytest.raises(TronSignerNotAllowed, match="already signed"):
        sign(proposal, KEYS[0])
    with pytest.raises(TronSignerNotAllowed, match="not a key"):
        sign(proposal, KEYS[3])
    sign(proposal, KEYS[1])
    report = review(proposal)
    assert report.ready
    assert [t.weight for t in report.transactions] == [2, 2]
    assert set(report.transactions[1].signers) == {KEYS[0].address, KEYS[1].address}


def test_expired_proposals_are_not_signed() -> None:
    proposal = _proposal(expires_in_ms=1_000)
    with pytest.raises(TronTransactionExpired):
        sign(proposal, KEYS[0], now=now_ms() + 10_000)


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "batch-0.json"
    write_proposal(path, _proposal())
    doc = json.loads(path.read_text())
    # Redirect the payout: change the disburse calldata's last amount byte, keep the txID.
    disburse = doc["transactions"][1]
    data = disburse["raw_data"]["contract"][0]["parameter"]["value"]["data"]
    disburse["raw_data"]["contract"][0]["parameter"]["value"]["data"] = data[:-2] + "ff"
    path.write_text(json.dumps(doc))
    with pytest.raises(TronTransactionFileError, match="does not match its raw_data"):
        read_proposal(path)


def test_review_flags_a_batch_that_differs_from_its_listing() -> None:
    proposal = _proposal()
    proposal.batch["payouts"][0]["amount"] = 1  # the listing no longer matches the calldata
    assert any("differ" in p for p in review(proposal).problems)


def test_review_flags_a_replay_key_that_differs_from_the_listing() -> None:
    proposal = _proposal()
    proposal.batch["replay_key"] = "0x" + "11" * 32
    assert any("replay key" in p for p in review(proposal).problems)
