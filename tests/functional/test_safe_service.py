"""Sharing proposals through a Transaction Service with safe-eth-py's own client, against a local
stand-in that enforces the service's rules on the real chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support.safe_env import EXECUTOR_INDEX, SafeEnv, payouts, setup_safe_env, signer, wallet
from support.safe_service import SafeServiceStandIn

from payout.chain import Chain
from payout.exceptions import SafeServiceError
from payout.ledger import Ledger
from payout.safe.execution import execute_proposal
from payout.safe.pipeline import propose_payouts
from payout.safe.proposal import Proposal, safe_tx_hashes
from payout.safe.service import SafeService, ServiceConfig
from payout.safe.signature import sign_eip712, sign_proposal

API_KEY = "test-key"


@pytest.fixture(scope="session")
def safe_env(evm: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(evm, disburser)


@pytest.fixture
def stand_in(evm: Chain) -> Iterator[SafeServiceStandIn]:
    with SafeServiceStandIn(evm.url, api_key=API_KEY) as server:
        yield server


@pytest.fixture
def service(evm: Chain, stand_in: SafeServiceStandIn) -> SafeService:
    return SafeService(evm.chain_id, ServiceConfig(stand_in.url, API_KEY))


@pytest.fixture
def proposal(evm: Chain, safe_env: SafeEnv, tmp_path: Path) -> Iterator[Proposal]:
    owners = [signer(1), signer(2), signer(3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(12, prefix="service")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    with Ledger.open("sqlite:///" + str(tmp_path / "l.sqlite")) as ledger:
        outcome = propose_payouts(
            evm,
            ledger,
            safe=safe,
            payouts=rows,
            token=token,
            disburser=safe_env.disburser,
            max_batch_size=6,
        )
        assert outcome.proposal is not None
        yield outcome.proposal


def test_propose_confirm_and_execute_from_service_confirmations(
    evm: Chain, proposal: Proposal, service: SafeService, stand_in: SafeServiceStandIn
) -> None:
    # The proposer (owner 1) posts every transaction with their signature.
    mine, sigs = sign_proposal(evm, proposal, signer(1))
    for tx, sig in zip(mine.transactions, sigs, strict=True):
        assert service.submit(mine, tx, sig) == "proposed"
    assert service.queued_nonces(proposal.safe, 0) == [0, 1]
    # Owner 2 works from the original file and only posts confirmations.
    theirs, sigs2 = sign_proposal(evm, proposal, signer(2))
    for tx, sig in zip(theirs.transactions, sigs2, strict=True):
        assert service.submit(theirs, tx, sig) == "confirmation posted"
    # The executor has the unsigned file and pulls both signatures from the service.
    pulled = service.pull_signatures(proposal)
    assert [len(tx.signatures) for tx in pulled.transactions] == [2, 2]
    results = execute_proposal(evm, pulled, wallet(evm, EXECUTOR_INDEX))
    assert [r.outcome for r in results] == ["paid", "paid"]
    # Executed nonces leave the pending list, and confirming them is refused.
    assert service.queued_nonces(proposal.safe, 0) == []
    with pytest.raises(SafeServiceError, match=r"already executed|not found"):
        service.confirm(
            pulled, pulled.transactions[0], sign_eip712(pulled, pulled.transactions[0], signer(3))
        )
    assert all(status in (200, 201, 400, 404, 422) for _, _, status in stand_in.requests)


def test_service_rules_are_enforced(
    evm: Chain,
    proposal: Proposal,
    service: SafeService,
    stand_in: SafeServiceStandIn,
    safe_env: SafeEnv,
) -> None:
    tx = proposal.transactions[0]
    outsider = signer(8)
    # Sender that is neither owner nor delegate.
    with pytest.raises(SafeServiceError, match="not an owner or delegate"):
        service.propose(proposal, tx, sign_eip712(proposal, tx, outsider))
    # A delegate may propose with its own signature (as on the real service), but that
    # signature is not an owner's: it is no confirmation, and pulling adds nothing.
    stand_in.add_delegate(proposal.safe, outsider.address)
    service.propose(proposal, tx, sign_eip712(proposal, tx, outsider))
    assert [len(t.signatures) for t in service.pull_signatures(proposal).transactions] == [0, 0]
    # A hash that does not match the fields (a client that sends a stale or forged hash).
    good = sign_eip712(proposal, tx, signer(1))
    payload = {
        "to": tx.safe_tx.to,
        "value": 1,  # changed after hashing
        "data": "0x" + tx.safe_tx.data.hex(),
        "operation": tx.safe_tx.operation,
        "gasToken": tx.safe_tx.gas_token,
        "safeTxGas": 0,
        "baseGas": 0,
        "gasPrice": 0,
        "refundReceiver": tx.safe_tx.refund_receiver,
        "nonce": tx.nonce,
        "contractTransactionHash": "0x" + tx.safe_tx_hash.hex(),
        "sender": signer(1).address,
        "signature": "0x" + good.signature.hex(),
        "origin": "test",
    }
    response = service.api._post_request(
        f"/api/v2/safes/{proposal.safe}/multisig-transactions/", payload
    )
    assert response.status_code == 422 and "does not match" in response.text
    # DELEGATECALL to an untrusted target, with a correct hash and a valid owner signature.
    evil = replace(tx, safe_tx=replace(tx.safe_tx, to=safe_env.disburser))
    evil = replace(
        evil,
        safe_tx_hash=safe_tx_hashes(
            evil.safe_tx,
            safe=proposal.safe,
            chain_id=proposal.chain_id,
            version=proposal.safe_version,
        ).safe_tx_hash,
    )
    evil_proposal = proposal.with_transactions([evil])
    with pytest.raises(SafeServiceError, match="DELEGATE_CALL"):
        service.propose(evil_proposal, evil, sign_eip712(evil_proposal, evil, signer(1)))
    # A signature of another transaction.
    service.propose(proposal, tx, sign_eip712(proposal, tx, signer(1)))
    other = proposal.transactions[1]
    with pytest.raises(SafeServiceError, match=r"not an owner|not valid"):
        service.confirm(proposal, tx, sign_eip712(proposal, other, signer(2)))
    # Without the API key the service refuses everything.
    anonymous = SafeService(evm.chain_id, ServiceConfig(stand_in.url, None))
    with pytest.raises(SafeServiceError, match="Authentication"):
        anonymous.queued_nonces(proposal.safe, 0)


def test_proposal_nonces_continue_after_the_service_queue(
    evm: Chain, proposal: Proposal, service: SafeService, safe_env: SafeEnv, tmp_path: Path
) -> None:
    mine, sigs = sign_proposal(evm, proposal, signer(1))
    for tx, sig in zip(mine.transactions, sigs, strict=True):
        service.submit(mine, tx, sig)
    rows = payouts(3, prefix="service-next")
    token = proposal.token
    from payout.demo_token import mint
    from payout.types import TokenInfo

    mint(wallet(evm, 0), token.address, proposal.safe, sum(p.amount for p in rows))
    with Ledger.open("sqlite:///" + str(tmp_path / "other.sqlite")) as ledger:  # another machine
        nxt = propose_payouts(
            evm,
            ledger,
            safe=proposal.safe,
            payouts=rows,
            token=TokenInfo(token.address, token.symbol, token.decimals),
            disburser=safe_env.disburser,
            service=service,
        ).proposal
    assert nxt is not None and nxt.transactions[0].nonce == 2


# --- the stand-in enforces the real service's rules ---------------------------------------------


def _payload(proposal: Proposal, index: int, owner: int) -> dict[str, object]:
    tx = proposal.transactions[index]
    return {
        "to": tx.safe_tx.to,
        "value": tx.safe_tx.value,
        "data": "0x" + tx.safe_tx.data.hex(),
        "operation": tx.safe_tx.operation,
        "gasToken": tx.safe_tx.gas_token,
        "safeTxGas": 0,
        "baseGas": 0,
        "gasPrice": 0,
        "refundReceiver": tx.safe_tx.refund_receiver,
        "nonce": tx.nonce,
        "contractTransactionHash": "0x" + tx.safe_tx_hash.hex(),
        "sender": signer(owner).address,
        "signature": "0x" + sign_eip712(proposal, tx, signer(owner)).signature.hex(),
        "origin": "payout",
    }


def _post(service: SafeService, path: str, payload: dict[str, object]) -> tuple[int, str]:
    response = service.api._post_request(path, payload)
    return response.status_code, response.text


def test_stand_in_refuses_addresses_that_are_not_checksummed(
    proposal: Proposal, service: SafeService
) -> None:
    path = f"/api/v2/safes/{proposal.safe}/multisig-transactions/"
    lower = f"/api/v2/safes/{proposal.safe.lower()}/multisig-transactions/"
    status, text = _post(service, lower, _payload(proposal, 0, 1))
    assert status == 422 and "Checksum address validation failed" in text
    assert service.api._get_request(lower).status_code == 422
    for name in ("to", "sender"):
        payload = _payload(proposal, 0, 1)
        payload[name] = str(payload[name]).lower()
        status, text = _post(service, path, payload)
        assert status == 422 and "is not checksumed" in text and name in text
    payload = _payload(proposal, 0, 1)
    payload["to"] = "0x" + "00" * 20
    assert _post(service, path, payload)[0] == 422
    assert _post(service, path, _payload(proposal, 0, 1))[0] == 201


def test_stand_in_refuses_short_ragged_and_duplicated_signatures(
    proposal: Proposal, service: SafeService
) -> None:
    path = f"/api/v2/safes/{proposal.safe}/multisig-transactions/"
    one = str(_payload(proposal, 0, 1)["signature"])
    for bad in (one[:-2], one + "00"):  # 64 bytes; 66 bytes
        payload = {**_payload(proposal, 0, 1), "signature": bad}
        assert _post(service, path, payload)[0] == 422
    # Owner 1 twice in one request (as a proposal, then as a confirmation).
    status, text = _post(service, path, {**_payload(proposal, 0, 1), "signature": one + one[2:]})
    assert status == 422 and "duplicated" in text
    assert _post(service, path, _payload(proposal, 0, 1))[0] == 201
    hash_ = "0x" + proposal.transactions[0].safe_tx_hash.hex()
    two = str(_payload(proposal, 0, 2)["signature"])
    confirm = f"/api/v1/multisig-transactions/{hash_}/confirmations/"
    status, text = _post(service, confirm, {"signature": two + two[2:]})
    assert status == 400 and "duplicated" in text
    assert _post(service, confirm, {"signature": two[:100]})[0] == 400
    assert _post(service, confirm, {"signature": two})[0] == 201


def test_stand_in_limits_origin_length(proposal: Proposal, service: SafeService) -> None:
    path = f"/api/v2/safes/{proposal.safe}/multisig-transactions/"
    status, text = _post(service, path, {**_payload(proposal, 0, 1), "origin": "x" * 201})
    assert status == 422 and "origin" in text and "200" in text
    assert _post(service, path, {**_payload(proposal, 0, 1), "origin": "x" * 200})[0] == 201


def test_stand_in_lists_only_trusted_transactions_unless_asked(
    proposal: Proposal, service: SafeService
) -> None:
    path = f"/api/v2/safes/{proposal.safe}/multisig-transactions/"
    unsigned = {**_payload(proposal, 0, 1), "signature": None}
    assert _post(service, path, unsigned)[0] == 201
    assert service.api._get_request(path).json()["count"] == 0
    untrusted = service.api._get_request(path + "?trusted=false").json()
    assert [t["nonce"] for t in untrusted["results"]] == ["0"]
    assert service.queued_nonces(proposal.safe, 0) == []
    # A confirmation makes it trusted.
    service.confirm(
        proposal,
        proposal.transactions[0],
        sign_eip712(proposal, proposal.transactions[0], signer(2)),
    )
    assert service.queued_nonces(proposal.safe, 0) == [0]


def test_stand_in_paginates_like_the_service(
    evm: Chain, proposal: Proposal, stand_in: SafeServiceStandIn, service: SafeService
) -> None:
    path = f"/api/v2/safes/{proposal.safe}/multisig-transactions/"
    for index in range(2):
        assert _post(service, path, _payload(proposal, index, 1))[0] == 201
    first = service.api._get_request(path + "?limit=1").json()
    assert first["count"] == 2 and first["previous"] is None
    assert [t["nonce"] for t in first["results"]] == ["1"]  # newest nonce first
    assert "offset=1" in first["next"] and first["next"].startswith("http://")
    second = service.api._get_request(first["next"].split(stand_in.url, 1)[1]).json()
    assert [t["nonce"] for t in second["results"]] == ["0"]
    assert second["next"] is None and second["previous"] is not None
    stand_in.max_limit = 1
    assert len(service.api._get_request(path + "?limit=500").json()["results"]) == 1


# --- pagination followed by the client ------------------------------------------------------------


@pytest.fixture
def long_proposal(evm: Chain, safe_env: SafeEnv, tmp_path: Path) -> Iterator[Proposal]:
    owners = [signer(1), signer(2), signer(3)]
    safe = safe_env.new_safe("1.4.1", [o.address for o in owners], 2)
    rows = payouts(10, prefix="service-pages")
    token = safe_env.token(fund=safe, amount=sum(p.amount for p in rows))
    with Ledger.open("sqlite:///" + str(tmp_path / "pages.sqlite")) as ledger:
        outcome = propose_payouts(
            evm,
            ledger,
            safe=safe,
            payouts=rows,
            token=token,
            disburser=safe_env.disburser,
            max_batch_size=2,
        )
        assert outcome.proposal is not None and len(outcome.proposal.transactions) == 5
        yield outcome.proposal


def test_merge_from_service_follows_every_page(evm: Chain, long_proposal: Proposal) -> None:
    # Pages of two (the hosted service's pages hold 100): the newest nonces come first, so a
    # client that reads one page misses the oldest transactions' confirmations.
    with SafeServiceStandIn(evm.url, default_limit=2, max_limit=2) as server:
        service = SafeService(evm.chain_id, ServiceConfig(server.url, None))
        for owner in (1, 2):
            mine, sigs = sign_proposal(evm, long_proposal, signer(owner))
            for tx, sig in zip(mine.transactions, sigs, strict=True):
                service.submit(mine, tx, sig)
        assert service.queued_nonces(long_proposal.safe, 0) == [0, 1, 2, 3, 4]
        pulled = service.pull_signatures(long_proposal)
        assert [len(tx.signatures) for tx in pulled.transactions] == [2, 2, 2, 2, 2]
        pages = [p for m, p, _s in server.requests if m == "GET" and "offset=" in p]
        assert pages  # the later pages were asked for
