"""`payout serve` paying from a Safe: real Safe contracts (safe-eth-py bytecode) on anvil, the
Transaction Service stand-in, signers signing with `payout safe sign`, a real worker subprocess
killed at the dangerous moments."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from support.safe_env import EXECUTOR_INDEX, SafeEnv, setup_safe_env
from support.safe_env import signer as dev_signer
from support.safe_service import SafeServiceStandIn

from payout._cli.main import cli
from payout.chain import Chain
from payout.demo import demo_recipients
from payout.devnet import dev_private_key
from payout.disburser import Disburser
from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.safe.execution import execute_proposal
from payout.safe.proposal import load_proposal
from payout.safe.safe_state import read_nonce
from payout.safe.signature import sign_proposal
from payout.signer import write_keystore
from payout.types import BatchStatus, Network, PayoutStatus, Scope
from payout.wallet import SendSettings, Wallet

from .conftest import PASSWORD
from .service_support import (
    Receiver,
    Server,
    create_key,
    replay_word_bits,
    start_server,
    wait_until,
    webhook_receiver,
)

#: Owners 1, 2, 3 (2 of 3); dev account 8 is the proposer (a delegate), 9 the executor.
OWNERS = (1, 2, 3)
PROPOSER_INDEX = 8
API_KEY = "safe-service-key"
FAST = SendSettings(poll_interval=0.02, receipt_timeout=60)


@pytest.fixture(scope="module")
def safe_env(chain: Chain, disburser: str) -> SafeEnv:
    return setup_safe_env(chain, disburser)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("safe-service-keys")
    out = {}
    for i in (*OWNERS, PROPOSER_INDEX, EXECUTOR_INDEX):
        out[i] = folder / f"dev{i}.json"
        write_keystore(out[i], dev_private_key(i), PASSWORD, iterations=16)
    return out


@pytest.fixture(autouse=True)
def _service_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # payout.toml names the Transaction Service key by variable (safe_service_api_key_env).
    monkeypatch.setenv("SVC_KEY", API_KEY)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def funded(safe_env: SafeEnv) -> dict[str, str]:
    """A fresh 2-of-3 Safe v1.4.1 holding 1,000 demo USDC."""
    safe = safe_env.new_safe("1.4.1", [dev_signer(i).address for i in OWNERS], 2)
    token = safe_env.token(fund=safe, amount=1_000 * 10**6)
    return {"safe": safe, "token": token.address}


@pytest.fixture
def make_config(
    chain: Chain, disburser: str, keys: dict[int, Path], funded: dict[str, str], tmp_path: Path
) -> Callable[..., Path]:
    """payout.toml for the test's Safe (``write_safe_config`` options; folder: tmp_path)."""

    def make(folder: Path | None = None, **options: Any) -> Path:
        options.setdefault("safe", funded["safe"])
        return write_safe_config(
            folder or tmp_path,
            rpc_url=chain.url,
            token=funded["token"],
            disburser=disburser,
            keys=keys,
            **options,
        )

    return make


def write_safe_config(
    tmp_path: Path,
    *,
    rpc_url: str,
    safe: str,
    token: str,
    disburser: str,
    keys: dict[int, Path],
    service_url: str | None = None,
    execute: bool = False,
    proposer: bool = True,
    webhook_url: str | None = None,
    flush_rows: int = 3,
) -> Path:
    lines = [
        "[service]",
        f'ledger = "sqlite:///{tmp_path / "ledger.sqlite"}"',
        "flush_seconds = 3600",  # a group is flushed at flush_rows requests (no timing races)
        f"flush_rows = {flush_rows}",
        "webhook_backoff_seconds = 0.05",
        "rate_limit = 1000",
    ]
    if webhook_url:
        lines += [
            "[[service.webhooks]]",
            f'url = "{webhook_url}"',
            'secret_env = "PAYOUT_TEST_WEBHOOK_SECRET"',
        ]
    lines += [
        "[networks.anvil]",
        f'rpc_url = "{rpc_url}"',
        'executor = "safe"',
        f'safe = "{safe}"',
        f'disburser = "{disburser}"',
        'proposals_dir = "proposals"',
        "safe_poll_seconds = 0.2",
    ]
    if proposer:
        lines.append(f'keystore = "{keys[PROPOSER_INDEX]}"')
    if service_url:
        lines += [f'safe_service_url = "{service_url}"', 'safe_service_api_key_env = "SVC_KEY"']
    if execute:
        lines += ["execute = true", f'executor_keystore = "{keys[EXECUTOR_INDEX]}"']
    lines += ["[networks.anvil.tokens.USDC]", f'address = "{token}"', "decimals = 6"]
    path = tmp_path / "payout.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


ENV = {"SVC_KEY": API_KEY}


def _rows(tmp_path: Path, n: int, seed: str) -> list[dict[str, str]]:
    return [
        {"network": "anvil", "token": "USDC", "recipient": r, "amount": f"{i + 1}.25"}
        for i, r in enumerate(demo_recipients(n, seed=f"{tmp_path}/{seed}"))
    ]


def _units(row: dict[str, str]) -> int:
    whole, frac = row["amount"].split(".")
    return int(whole) * 10**6 + int(frac.ljust(6, "0"))


def _statuses(http: httpx.Client, ids: list[str]) -> list[str]:
    return [http.get(f"/v1/payouts/{i}").json()["status"] for i in ids]


def _post(http: httpx.Client, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    answer = http.post("/v1/payouts", json={"payouts": rows})
    assert answer.status_code == 201, answer.text
    return list(answer.json()["payouts"])


def _sign_cli(path: Path, keystore: Path, token: str, ledger: Path, *extra: str) -> dict[str, Any]:
    """A signer runs `payout safe sign` on the proposal file the worker wrote, checking it
    against the token and the operator's ledger."""
    result = CliRunner().invoke(
        cli,
        [
            "safe",
            "sign",
            str(path),
            "--keystore",
            str(keystore),
            "--token",
            token,
            "--ledger",
            f"sqlite:///{ledger}",
            *extra,
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def _files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "proposals"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".service.json"))


def test_safe_payer_proposes_waits_for_signatures_then_executes(
    chain: Chain,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    keys: dict[int, Path],
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    safe, token = funded["safe"], funded["token"]
    monkeypatch.setenv("PAYOUT_KEYSTORE_PASSWORD", PASSWORD)
    monkeypatch.setenv("PAYOUT_RPC_URL", chain.url)
    with SafeServiceStandIn(chain.url, api_key=API_KEY) as service:
        service.add_delegate(safe, dev_signer(PROPOSER_INDEX).address)
        config = make_config(service_url=service.url, execute=True, webhook_url=receiver.url)
        server = start_server(config, tmp_path / "serve.log", extra_env=ENV)
        try:
            key = create_key(config, "read", "write")
            rows = _rows(tmp_path, 7, "safe")
            with server.client(key) as http:
                # Cancellable while requested (the group waits for flush_rows = 3 requests).
                lone = _post(http, rows[6:7])[0]
                assert lone["status"] == "requested"
                assert http.post(f"/v1/payouts/{lone['id']}/cancel").json()["status"] == (
                    "cancelled"
                )
                first = [p["id"] for p in _post(http, rows[:3])]
                wait_until(
                    lambda: _statuses(http, first) == ["proposed"] * 3, what="first proposal"
                )
                got = http.get(f"/v1/payouts/{first[0]}").json()
                assert got["safe_nonce"] == 0 and got["safe_tx_hash"].startswith("0x")
                # In a proposal awaiting signatures: not cancellable, and says why.
                refused = http.post(f"/v1/payouts/{first[0]}/cancel")
                assert refused.status_code == 409
                assert refused.headers["content-type"].startswith("application/problem+json")
                problem = refused.json()
                assert problem["type"] == "urn:payout:problem:in-safe-proposal"
                assert problem["safe_tx_hash"] == got["safe_tx_hash"]
                assert got["safe_tx_hash"] in problem["detail"]
                # New requests while nonce 0 waits go to the next proposal (nonce 1).
                second = [p["id"] for p in _post(http, rows[3:6])]
                wait_until(
                    lambda: _statuses(http, second) == ["proposed"] * 3, what="second proposal"
                )
                assert http.get(f"/v1/payouts/{second[0]}").json()["safe_nonce"] == 1
                listed = http.get("/v1/payouts", params={"status": "proposed"}).json()["data"]
                assert sorted(p["id"] for p in listed) == sorted(first + second)
                assert http.get("/v1/payouts", params={"status": "queued"}).json()["data"] == []
                # The delegate posts both (after recording each), one per nonce.
                wait_until(lambda: len(service.txs) == 2 and len(_files(tmp_path)) == 2)
                assert sorted(t.fields["nonce"] for t in service.txs.values()) == [0, 1]
                files = _files(tmp_path)
                assert len(files) == 2
                # Nothing executes on one owner's signature: owner 1 signs the files in place.
                for path in files:
                    _sign_cli(path, keys[1], token, tmp_path / "ledger.sqlite")
                # The dashboard's Safe proposals page shows both, one signature of two each.
                page = http.get("/dashboard/safe")
                assert page.status_code == 200
                assert got["safe_tx_hash"] in page.text
                assert page.text.count("<strong>1</strong> of 2 needed") == 2
                # Owner 2 signs a copy and posts the signatures to the Transaction Service.
                for n, path in enumerate(files):
                    _sign_cli(
                        path,
                        keys[2],
                        token,
                        tmp_path / "ledger.sqlite",
                        "--out",
                        str(tmp_path / f"owner2-{n}.json"),
                        "--post",
                        "--service-url",
                        service.url,
                        "--service-api-key",
                        API_KEY,
                    )
                ids = first + second
                wait_until(lambda: _statuses(http, ids) == ["paid"] * 6, what="executed")
                paid = http.get(f"/v1/payouts/{first[0]}").json()
                assert paid["tx_hash"] and paid["block_number"]
                assert http.get(f"/v1/payouts/{lone['id']}").json()["status"] == "cancelled"
            # Every event is delivered in its own time: wait for all of them before stopping.
            expected = {
                "payout.proposed": 6,
                "payout.submitted": 6,
                "payout.paid": 6,
                "batch.proposed": 2,
                "batch.paid": 2,
            }
            wait_until(
                lambda: all(len(receiver.events(k)) >= n for k, n in expected.items()),
                what="webhooks",
            )
        finally:
            server.stop()
    for row in rows[:6]:
        assert chain.token_balance(token, row["recipient"]) == _units(row)
    assert chain.token_balance(token, rows[6]["recipient"]) == 0
    assert read_nonce(chain, safe) == 2
    # Settled proposals leave the folder signers work from.
    assert _files(tmp_path) == []
    assert len(list((tmp_path / "proposals" / "done").glob("*.json"))) >= 2
    assert chain.token_balance(token, safe) == 1_000 * 10**6 - sum(_units(r) for r in rows[:6])
    for kind in ("payout.proposed", "payout.submitted", "payout.paid"):
        assert len(receiver.events(kind)) == 6, kind
    proposed = receiver.events("payout.proposed")[0]["data"]
    assert proposed["status"] == "proposed" and proposed["safe_tx_hash"].startswith("0x")
    assert len(receiver.events("batch.proposed")) == 2
    assert len(receiver.events("batch.paid")) == 2
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        scope = Scope(Network.EVM, chain.chain_id, safe, token)
        assert {p.status for p in ledger.payouts(scope)} == {PayoutStatus.CONFIRMED}
        assert [b.safe_nonce for b in ledger.batches(scope)] == [0, 1]


def test_replaced_nonce_is_proposed_again_and_execution_elsewhere_is_settled(
    chain: Chain,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    keys: dict[int, Path],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """No Transaction Service, no executor: the owners reject the first proposal (they execute
    another transaction at its nonce); the worker sees the nonce used, proposes the rows again at
    the next nonce; the signers execute that one themselves; the worker settles it from the
    chain."""
    safe, token = funded["safe"], funded["token"]
    config = make_config(proposer=False, webhook_url=receiver.url, flush_rows=2)
    server = start_server(config, tmp_path / "serve.log")
    executor = Wallet(chain, dev_signer(EXECUTOR_INDEX), FAST)
    try:
        key = create_key(config, "read", "write")
        rows = _rows(tmp_path, 2, "replace")
        with server.client(key) as http:
            ids = [p["id"] for p in _post(http, rows)]
            wait_until(lambda: _statuses(http, ids) == ["proposed"] * 2, what="proposal")
            first_hash = http.get(f"/v1/payouts/{ids[0]}").json()["safe_tx_hash"]
            # The owners reject it: a no-op Safe transaction at the same nonce (an ETH-less
            # self-call, as the Safe app's "reject" does), signed by two owners and executed.
            _reject_nonce(chain, safe, 0, executor)
            assert read_nonce(chain, safe) == 1
            wait_until(
                lambda: http.get(f"/v1/payouts/{ids[0]}").json()["safe_nonce"] == 1,
                what="proposed again",
            )
            again = http.get(f"/v1/payouts/{ids[0]}").json()
            assert again["status"] == "proposed" and again["safe_tx_hash"] != first_hash
            # The signers sign and execute the new proposal themselves (no ledger at hand).
            path = next(p for p in _files(tmp_path) if again["safe_tx_hash"][2:10] in p.name)
            proposal = load_proposal(path)
            for i in (1, 3):
                proposal, _sigs = sign_proposal(chain, proposal, dev_signer(i))
            results = execute_proposal(chain, proposal, executor)
            assert [r.outcome for r in results] == ["paid"]
            wait_until(lambda: _statuses(http, ids) == ["paid"] * 2, what="settled from chain")
        # Every event is delivered in its own time (no order across deliveries): wait for all of
        # them while the service runs.
        wait_until(
            lambda: (
                len(receiver.events("payout.paid")) == 2
                and len(receiver.events("batch.proposed")) >= 2
                and len(receiver.events("batch.replaced")) >= 1
            ),
            what="webhooks",
        )
    finally:
        server.stop()
    for row in rows:
        assert chain.token_balance(token, row["recipient"]) == _units(row)
    replaced = receiver.events("batch.replaced")
    assert len(replaced) == 1 and replaced[0]["data"]["safe_tx_hash"] == first_hash
    assert len(receiver.events("batch.proposed")) == 2


def _replay_keys(ledger_url: str, scope: Scope) -> list[bytes]:
    """The replay key each batch of ``scope`` was recorded with, by Safe nonce."""
    with Ledger.open(ledger_url) as ledger:
        records = sorted(ledger.batches(scope), key=lambda b: b.safe_nonce or 0)
        return [b.replay_key_bytes for b in records]


def test_consecutive_safe_proposals_share_one_replay_word(
    chain: Chain,
    disburser: str,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    tmp_path: Path,
) -> None:
    """Each withdrawal batch is its own proposal: the second takes the next bit of the Safe's
    rolling word (its marker costs a write to a used slot, not a fresh one); both execute under
    the keys the ledger recorded before anybody signed."""
    safe, token = funded["safe"], funded["token"]
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    scope = Scope(Network.EVM, chain.chain_id, safe, token)
    config = make_config(proposer=False, flush_rows=2)
    server = start_server(config, tmp_path / "serve.log")
    executor = Wallet(chain, dev_signer(EXECUTOR_INDEX), FAST)
    try:
        key = create_key(config, "read", "write")
        rows = _rows(tmp_path, 4, "rolling")
        with server.client(key) as http:
            first = [p["id"] for p in _post(http, rows[:2])]
            wait_until(lambda: _statuses(http, first) == ["proposed"] * 2, what="proposal 0")
            second = [p["id"] for p in _post(http, rows[2:])]
            wait_until(lambda: _statuses(http, second) == ["proposed"] * 2, what="proposal 1")
            ids = first + second
            keys = _replay_keys(ledger_url, scope)
            assert len(keys) == 2
            assert keys[0][:31] == keys[1][:31]  # one storage word of the bitmap
            assert [keys[0][31], keys[1][31]] == [0, 1]
            # The owners sign and execute both proposals, in nonce order.
            for path in sorted(
                _files(tmp_path), key=lambda p: load_proposal(p).transactions[0].nonce
            ):
                proposal = load_proposal(path)
                for i in (1, 2):
                    proposal, _sigs = sign_proposal(chain, proposal, dev_signer(i))
                (result,) = execute_proposal(chain, proposal, executor)
                assert result.outcome == "paid"
            wait_until(lambda: _statuses(http, ids) == ["paid"] * 4, what="settled")
    finally:
        server.stop()
    assert _replay_keys(ledger_url, scope) == keys  # never changed
    assert all(Disburser(chain, disburser).executed(safe, k) for k in keys)
    assert replay_word_bits(ledger_url, safe) == 2
    for row in rows:
        assert chain.token_balance(token, row["recipient"]) == _units(row)


def _reject_nonce(chain: Chain, safe: str, nonce: int, executor: Wallet) -> None:
    from safe_eth.eth import EthereumClient
    from safe_eth.safe import Safe

    client = EthereumClient(chain.url)
    safe_tx = Safe(safe, client).build_multisig_tx(safe, 0, b"", safe_nonce=nonce)  # type: ignore[abstract]
    for i in (1, 2):
        safe_tx.sign(dev_private_key(i))
    safe_tx.execute(dev_private_key(EXECUTOR_INDEX))
    client.w3.eth.wait_for_transaction_receipt(safe_tx.tx_hash)


@pytest.mark.parametrize("crash", ["before-broadcast", "after-broadcast", "after-receipt"])
def test_killed_safe_worker_never_pays_twice_nor_forgets_a_row(
    chain: Chain,
    disburser: str,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    keys: dict[int, Path],
    tmp_path: Path,
    crash: str,
) -> None:
    """Killed after recording a proposal (before posting it), then around its execTransaction
    (signed and recorded but not sent; sent; receipt read but not recorded): every row is
    proposed once and paid once."""
    safe, token = funded["safe"], funded["token"]
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with SafeServiceStandIn(chain.url, api_key=API_KEY) as service:
        service.add_delegate(safe, dev_signer(PROPOSER_INDEX).address)
        config = make_config(service_url=service.url, execute=True)
        log = tmp_path / "serve.log"
        server = start_server(config, log, extra_env={**ENV, "PAYOUT_FAULT": "after-propose"})
        key = create_key(config, "read", "write")
        rows = _rows(tmp_path, 3, f"crash-{crash}")
        with server.client(key) as http:
            ids = [p["id"] for p in _post(http, rows)]
        assert server.process.wait(60) == FAULT_EXIT_CODE
        # Recorded in the ledger, known to nobody else.
        with Ledger.open(ledger_url) as ledger:
            scope = Scope(Network.EVM, chain.chain_id, safe, token)
            batches = ledger.batches(scope)
            assert [(b.status, b.safe_nonce) for b in batches] == [(BatchStatus.PLANNED, 0)]
        assert service.txs == {} and _files(tmp_path) == []
        # The proposal's replay key, recorded with it: the first bit of the Safe's rolling word.
        (recorded,) = _replay_keys(ledger_url, scope)
        assert recorded[31] == 0 and replay_word_bits(ledger_url, safe) == 1

        server = _restart(config, log, {})
        with server.client(key) as http:
            wait_until(lambda: len(service.txs) == 1 and _files(tmp_path), what="published")
            assert _statuses(http, ids) == ["proposed"] * 3
        server.stop()
        # Signed by two owners through the service while no worker runs.
        proposal = load_proposal(_files(tmp_path)[0])
        from payout.safe.service import SafeService, ServiceConfig

        client = SafeService(chain.chain_id, ServiceConfig(service.url, API_KEY))
        for i in (1, 2):
            _signed, sigs = sign_proposal(chain, proposal, dev_signer(i))
            client.confirm(proposal, proposal.transactions[0], sigs[0])

        server = _restart(config, log, {"PAYOUT_FAULT": crash})
        assert server.process.wait(60) == FAULT_EXIT_CODE
        with Ledger.open(ledger_url) as ledger:
            assert ledger.batches(scope)[0].status is BatchStatus.SUBMITTED
        server = _restart(config, log, {})
        try:
            with server.client(key) as http:
                wait_until(lambda: _statuses(http, ids) == ["paid"] * 3, what="settled")
        finally:
            server.stop()
    for row in rows:
        assert chain.token_balance(token, row["recipient"]) == _units(row)
    assert read_nonce(chain, safe) == 1  # one execution
    with Ledger.open(ledger_url) as ledger:
        assert len(ledger.batches(scope)) == 1
        assert {p.status for p in ledger.payouts(scope)} == {PayoutStatus.CONFIRMED}
    # Restarted three times: executed under the key recorded first, no bit drawn again.
    assert _replay_keys(ledger_url, scope) == [recorded]
    assert replay_word_bits(ledger_url, safe) == 1
    assert Disburser(chain, disburser).executed(safe, recorded)


def _outbox(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` webhook messages the service wrote to its outbox (the ledger's database)."""
    from sqlalchemy import create_engine, select

    from payout.service.tables import webhook_messages

    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        with engine.connect() as conn:
            payloads = conn.execute(
                select(webhook_messages.c.payload).where(webhook_messages.c.event_type == kind)
            ).scalars()
            return [json.loads(p)["data"] for p in payloads]
    finally:
        engine.dispose()


def _delivered(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` events the endpoint received, one per message (deduplicated on webhook-id,
    as docs/service.md tells consumers to)."""
    return list({e["_id"]: e["data"] for e in receiver.events(kind)}.values())


@pytest.mark.parametrize("crash", ["after-propose", "after-publish"])
def test_batch_proposed_is_announced_once_by_a_worker_killed_after_proposing(
    chain: Chain,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    receiver: Receiver,
    tmp_path: Path,
    crash: str,
) -> None:
    """The worker is killed right after the proposal's ledger record committed (after-propose)
    or after its file was written (after-publish). Restarted, the webhook consumer hears of the
    proposal exactly once, with the fields docs/service.md lists."""
    safe, token = funded["safe"], funded["token"]
    scope = Scope(Network.EVM, chain.chain_id, safe, token)
    config = make_config(proposer=False, webhook_url=receiver.url)
    log = tmp_path / "serve.log"
    server = _restart(config, log, {"PAYOUT_FAULT": crash})
    key = create_key(config, "read", "write")
    rows = _rows(tmp_path, 3, f"proposed-{crash}")
    with server.client(key) as http:
        ids = [p["id"] for p in _post(http, rows)]
    assert server.process.wait(60) == FAULT_EXIT_CODE
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        (record,) = ledger.batches(scope)
    assert (record.status, record.safe_nonce) == (BatchStatus.PLANNED, 0)

    server = _restart(config, log, {})
    try:
        with server.client(key) as http:
            wait_until(
                lambda: _statuses(http, ids) == ["proposed"] * 3 and _files(tmp_path),
                what="published after the restart",
            )
        wait_until(lambda: _delivered(receiver, "batch.proposed"), timeout=30, what="event")
    finally:
        server.stop()  # finishes the round in progress: nothing more is announced after this
    (path,) = _files(tmp_path)
    expected = {
        "network": "anvil",
        "safe": safe,
        "batch_id": record.batch_id,
        "safe_nonce": 0,
        "safe_tx_hash": record.safe_tx_hash,
        "count": 3,
        "total_base_units": str(sum(_units(r) for r in rows)),
        "file": path.name,
    }
    assert _delivered(receiver, "batch.proposed") == [expected]
    assert _outbox(tmp_path, "batch.proposed") == [expected]


def test_batch_replaced_is_announced_once_by_a_worker_killed_after_the_release(
    chain: Chain,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """The owners use the proposal's Safe nonce for another transaction; the worker releases the
    proposal's rows in the ledger and is killed right after (after-release). Restarted, it
    proposes the rows again and the consumer hears of the replaced proposal exactly once."""
    safe, token = funded["safe"], funded["token"]
    scope = Scope(Network.EVM, chain.chain_id, safe, token)
    config = make_config(proposer=False, webhook_url=receiver.url, flush_rows=2)
    log = tmp_path / "serve.log"
    server = _restart(config, log, {"PAYOUT_FAULT": "after-release"})
    executor = Wallet(chain, dev_signer(EXECUTOR_INDEX), FAST)
    key = create_key(config, "read", "write")
    rows = _rows(tmp_path, 2, "replaced-crash")
    with server.client(key) as http:
        ids = [p["id"] for p in _post(http, rows)]
        wait_until(lambda: _statuses(http, ids) == ["proposed"] * 2, what="proposal")
        first_hash = http.get(f"/v1/payouts/{ids[0]}").json()["safe_tx_hash"]
    _reject_nonce(chain, safe, 0, executor)
    assert server.process.wait(60) == FAULT_EXIT_CODE
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        (record,) = ledger.batches(scope)
    assert (record.status, record.safe_tx_hash) == (BatchStatus.ABANDONED, first_hash)

    server = _restart(config, log, {})
    try:
        with server.client(key) as http:
            wait_until(
                lambda: http.get(f"/v1/payouts/{ids[0]}").json()["safe_nonce"] == 1,
                what="proposed again",
            )
        wait_until(lambda: _delivered(receiver, "batch.replaced"), timeout=30, what="event")
        wait_until(lambda: len(_delivered(receiver, "batch.proposed")) == 2, timeout=30)
    finally:
        server.stop()
    expected = {
        "network": "anvil",
        "safe": safe,
        "batch_id": record.batch_id,
        "safe_nonce": 0,
        "safe_tx_hash": first_hash,
        "count": 2,
        "total_base_units": str(sum(_units(r) for r in rows)),
        "detail": record.error,
    }
    assert _delivered(receiver, "batch.replaced") == [expected]
    assert _outbox(tmp_path, "batch.replaced") == [expected]
    assert [e["safe_nonce"] for e in _outbox(tmp_path, "batch.proposed")] == [0, 1]


def _restart(config: Path, log: Path, extra: dict[str, str]) -> Server:
    return start_server(config, log, extra_env={**ENV, **extra})


def test_a_safe_network_is_served_not_refused(
    chain: Chain,
    make_config: Callable[..., Path],
    funded: dict[str, str],
    keys: dict[int, Path],
    tmp_path: Path,
) -> None:
    """The service opens a Safe payer (it was refused at start before); what cannot work is
    refused at start naming the key."""
    from payout.exceptions import PayoutError
    from payout.service.network import ServiceConfigError, load_config
    from payout.service.runtime import Service

    config = make_config(proposer=False)
    service = Service.open(load_config(config))
    try:
        network = service.networks["anvil"]
        assert network.payer == funded["safe"] and network.gas_payer is None
    finally:
        service.close()
    # Not a Safe: refused at start.
    (tmp_path / "bad").mkdir()
    bad = make_config(tmp_path / "bad", safe=funded["token"])
    with pytest.raises(PayoutError, match="Safe"):
        Service.open(load_config(bad))
    # A Transaction Service without a proposer key, execute without an executor key.
    text = config.read_text()
    tokens = "[networks.anvil.tokens.USDC]"
    config.write_text(text.replace(tokens, f'safe_service_url = "http://x/"\n{tokens}'))
    with pytest.raises(ServiceConfigError, match=r"networks\.anvil\.keystore"):
        load_config(config)
    config.write_text(text.replace(tokens, f"execute = true\n{tokens}"))
    with pytest.raises(ServiceConfigError, match=r"networks\.anvil\.executor_keystore"):
        load_config(config)
