"""Review: a multisig proposal file edited after it was proposed (a recipient swapped, with txID,
raw_data_hex and the file's batch listing recomputed to match: none of them is secret) must not be
broadcast by the proposer's ledger, and must never be recorded as paying the ledger's rows.

The batch id binds payout ids, not recipients or amounts, so the edited ``disburse`` keeps the
ledger's batch id; only the ledger (the write-ahead txID and the planned rows) can tell.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support.tron_payout import TronEnv, recipients, rows_for, signer_of, tron_env

from payout.exceptions import PayoutError
from payout.ledger import Ledger
from payout.tron import proto
from payout.tron.deploy import mint
from payout.tron.executor import disburse_calldata
from payout.tron.multisig import broadcast_proposal, read_proposal, sign, write_proposal
from payout.tron.permission import PayoutPermission, PermissionKey, set_payout_permission
from payout.tron.pipeline import open_context, propose_file, scope_of
from payout.tron.transaction import SignedTx
from payout.types import PayoutStatus

__all__ = ["tron_env"]


def test_recipient_swapped_in_a_proposal_file_is_refused_at_broadcast(
    tron_env: TronEnv, tmp_path: Path
) -> None:
    owner = signer_of("tamper owner")
    tron_env.node.faucet(owner.address, 5_000 * 1_000_000)
    mint(tron_env.client, tron_env.payer, tron_env.token, owner.address, 10_000 * 10**6)
    holders = [signer_of(n) for n in ("tamper-a", "tamper-b")]
    permission = set_payout_permission(
        tron_env.client,
        owner,
        PayoutPermission(keys=tuple(PermissionKey(h.address, 1) for h in holders), threshold=2),
    )
    ctx = open_context(
        tron_env.node.url, token=tron_env.token, disburser=tron_env.disburser, payer=owner.address
    )
    rows = rows_for(recipients(3, "tamper"))
    attacker = signer_of("tamper attacker").address
    with Ledger.open(tron_env.ledger_url) as ledger:
        _plan, (path,) = propose_file(
            ctx,
            ledger,
            tron_env.write_file(rows),
            tmp_path / "out",
            permission_id=int(permission["permission_id"]),
        )
        [planned] = ledger.batches(scope_of(ctx))
        batch = ledger.load_batch(scope_of(ctx), planned.batch_id)

    # The edit: row 0 now pays the attacker; everything derived from raw_data is recomputed.
    swapped = dataclasses.replace(
        batch,
        payouts=(batch.payouts[0]._replace(recipient=attacker), *batch.payouts[1:]),
    )
    document = json.loads(path.read_text())
    item = document["transactions"][-1]
    item["raw_data"]["contract"][0]["parameter"]["value"]["data"] = disburse_calldata(swapped).hex()
    edited = SignedTx.build(item["raw_data"])
    item["txID"] = edited.txid
    item["raw_data_hex"] = proto.raw_data_bytes(edited.raw_data).hex()
    document["batch"]["payouts"][0]["recipient"] = attacker
    path.write_text(json.dumps(document))

    # Key holders see a self-consistent file and sign it.
    proposal = read_proposal(path)
    for holder in holders:
        proposal = sign(proposal, holder)
    write_proposal(path, proposal)

    with Ledger.open(tron_env.ledger_url) as ledger:
        with pytest.raises(PayoutError, match="ledger"):
            broadcast_proposal(tron_env.client, ledger, read_proposal(path))
        statuses = {r.status for r in ledger.payouts(scope_of(ctx))}
    assert tron_env.balance(attacker) == 0
    assert PayoutStatus.CONFIRMED not in statuses
