"""`payout serve` paying a TRON network: the worker's TRON hot wallet (same write-ahead ledger and
settle-from-chain as `payout tron send` / `resume`), its webhooks, TRX / token / energy alerts and a
worker killed at each dangerous moment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tron_payout import (
    TronEnv,
    block_recipient,
    recipients,
    tron_blocking_env,
    tron_env,
    units,
)

from payout.fault import FAULT_EXIT_CODE
from payout.ledger import BatchRecord, Ledger
from payout.tron.energy import account_resources
from payout.tron.executor import executed
from payout.types import BatchStatus, ExecutorKind

from .service_networks import service_header, tron_env_vars, tron_network
from .service_support import (
    Receiver,
    create_key,
    replay_word_bits,
    service_env,
    start_server,
    wait_until,
    webhook_receiver,
)

__all__ = ["tron_blocking_env", "tron_env"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _config(
    tmp_path: Path, env: TronEnv, receiver: Receiver, alerts: dict[str, str] | None = None
) -> Path:
    path = tmp_path / "payout.toml"
    header = service_header(_ledger_url(tmp_path), receiver.url)
    path.write_text(header + tron_network(env, alerts=alerts))
    return path


def _rows(seed: str, n: int) -> list[dict[str, str]]:
    return [
        {
            "network": "tron",
            "token": "USDT",
            "recipient": r,
            "amount": f"{i + 2}.5",
            "id": f"wd-{seed}-{i}",
        }
        for i, r in enumerate(recipients(n, seed))
    ]


def _all_paid(http: Any, ids: list[str]) -> bool:
    return all(http.get(f"/v1/payouts/{i}").json()["status"] == "paid" for i in ids)


def test_tron_payouts_are_paid_by_the_worker_with_webhooks_and_alerts(
    tron_env: TronEnv, tmp_path: Path, receiver: Receiver
) -> None:
    payer = tron_env.payer.address
    tron_env.node.stake(payer, energy_sun=2_000 * 10**6)  # 2,000 TRX staked for energy
    staked = account_resources(tron_env.client, payer).energy_left
    assert staked > 0
    config = _config(
        tmp_path,
        tron_env,
        receiver,
        # Token below 2,000,000 (holds 1,000,000): low. TRX above 1: fine. Energy: low.
        alerts={"USDT": "2000000", "gas": "1", "energy": str(staked + 1)},
    )
    server = start_server(config, tmp_path / "serve.log", extra_env=tron_env_vars())
    try:
        key = create_key(config, "read", "write")
        rows = _rows("svc-tron", 5)
        before = tron_env.balance(payer)
        with server.client(key) as http:
            created = http.post("/v1/payouts", json={"payouts": rows})
            assert created.status_code == 201, created.text
            ids = [p["id"] for p in created.json()["payouts"]]
            assert {p["network"] for p in created.json()["payouts"]} == {"tron"}
            wait_until(lambda: _all_paid(http, ids), what="5 TRON payouts paid")
            paid = [http.get(f"/v1/payouts/{i}").json() for i in ids]
            for row, p in zip(rows, paid, strict=True):
                assert tron_env.balance(row["recipient"]) == units(row["amount"])
                assert p["tx_hash"] and p["batch_id"] and p["payer"] == payer
            assert tron_env.balance(payer) == before - sum(units(r["amount"]) for r in rows)
            batch = http.get(f"/v1/batches/{paid[0]['batch_id']}").json()
            assert batch["status"] == "confirmed" and set(batch["payouts"]) == set(ids)

            wait_until(lambda: len(receiver.events("payout.paid")) == 5, what="payout.paid x5")
            for i in ids:
                # Arrival order is not the service's order: wait for both, then order by timestamp.
                wait_until(lambda i=i: len(receiver.lifecycle(i)) >= 2, what=f"{i}'s two events")
                assert receiver.lifecycle(i) == ["payout.submitted", "payout.paid"]
            # Batch events are written after the payouts' (delivered in their own time).
            wait_until(
                lambda: receiver.events("batch.paid") and receiver.events("batch.submitted"),
                what="batch.submitted and batch.paid",
            )
            submitted = receiver.events("batch.submitted")
            confirmed = receiver.events("batch.paid")
            assert [e["data"]["batch_id"] for e in submitted] == [paid[0]["batch_id"]]
            assert [e["data"]["tx_hash"] for e in confirmed] == [paid[0]["tx_hash"]]
            assert confirmed[0]["data"]["network"] == "tron"

            # Alerts: token and energy low, TRX fine; each raised once, with base units.
            wait_until(lambda: len(receiver.events("balance.low")) == 2, what="2 alerts")
            low = {e["data"]["asset"]: e["data"] for e in receiver.events("balance.low")}
            assert set(low) == {"USDT", "energy"}
            assert low["energy"]["threshold_base_units"] == str(staked + 1)
            assert int(low["energy"]["balance_base_units"]) <= staked
            assert low["USDT"]["balance_base_units"] == str(1_000_000 * 10**6)
            assert low["USDT"]["threshold_base_units"] == str(2_000_000 * 10**6)

            # GET /v1/balances: TRX (6 decimals), energy available, token.
            entry = http.get("/v1/balances").json()
            (tron,) = entry["data"]
            assert tron["network"] == "tron" and tron["payer"] == payer
            assert tron["gas"]["symbol"] == "TRX"
            assert tron["gas"]["balance_base_units"] == str(tron_env.node.balance(payer))
            resources = account_resources(tron_env.client, payer)
            assert tron["energy"]["available"] == str(resources.energy_left)
            assert tron["tokens"][0]["balance_base_units"] == str(tron_env.balance(payer))
            states = {(a["network"], a["asset"]): a["state"] for a in entry["alerts"]}
            assert states[("tron", "energy")] == "low" and states[("tron", "USDT")] == "low"
    finally:
        server.stop()


def _ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.sqlite'}"


def _batches(tmp_path: Path) -> list[BatchRecord]:
    """The service ledger's TRON batches, in plan order."""
    with Ledger.open(_ledger_url(tmp_path)) as ledger:
        return sorted(ledger.batches(executor=ExecutorKind.TRON), key=lambda b: b.index)


def _pay(http: Any, rows: list[dict[str, str]]) -> None:
    """Request ``rows`` and wait until the worker paid them (one flush)."""
    posted = http.post("/v1/payouts", json={"payouts": rows}).json()["payouts"]
    ids = [p["id"] for p in posted]
    wait_until(lambda: _all_paid(http, ids), what=f"{len(ids)} rows paid")


def test_consecutive_tron_flushes_share_one_replay_word(
    tron_env: TronEnv, tmp_path: Path, receiver: Receiver
) -> None:
    """Two small withdrawal flushes: the second batch takes the next bit of the payer's rolling
    word, so its replay marker rewrites a used storage slot (5,000 energy) instead of filling a
    fresh one (20,000)."""
    config = _config(tmp_path, tron_env, receiver)
    payer = tron_env.payer.address
    server = start_server(config, tmp_path / "serve.log", extra_env=tron_env_vars())
    try:
        key = create_key(config, "read", "write")
        with server.client(key) as http:
            for seed in ("rolling-a", "rolling-b"):
                _pay(http, _rows(seed, 2))
    finally:
        server.stop()
    first, second = _batches(tmp_path)
    keys = [first.replay_key_bytes, second.replay_key_bytes]
    assert keys[0][:31] == keys[1][:31] and [keys[0][31], keys[1][31]] == [0, 1]
    assert all(executed(tron_env.client, tron_env.disburser, payer, k) for k in keys)
    assert replay_word_bits(_ledger_url(tmp_path), payer) == 2
    # Same rows, same token paths: the energy apart is the marker's fresh slot vs used slot.
    assert first.gas_used is not None and second.gas_used is not None
    assert first.gas_used - second.gas_used == 15_000


def test_tron_network_refuses_a_bad_address(
    tron_env: TronEnv, tmp_path: Path, receiver: Receiver
) -> None:
    """An 0x address on the TRON network is a problem+json naming the row's field."""
    config = _config(tmp_path, tron_env, receiver)
    server = start_server(config, tmp_path / "serve.log", extra_env=tron_env_vars())
    try:
        key = create_key(config, "read", "write")
        good = _rows("bad-address", 1)[0]
        bad = dict(good, recipient="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", id="x")
        with server.client(key) as http:
            answer = http.post("/v1/payouts", json={"payouts": [good, bad]})
            assert answer.status_code == 422
            assert answer.headers["content-type"] == "application/problem+json"
            errors = answer.json()["errors"]
            assert [(e["field"], e["code"]) for e in errors] == [
                ("payouts[1].recipient", "address_other_network")
            ]
            assert http.get("/v1/payouts").json()["data"] == []
    finally:
        server.stop()


@pytest.mark.parametrize("point", ["before-broadcast", "after-broadcast", "after-receipt"])
def test_killed_tron_worker_pays_every_row_once(
    tron_env: TronEnv, tmp_path: Path, receiver: Receiver, point: str
) -> None:
    """The service dies (os._exit, like kill -9) at ``point`` of the first TRON batch; restarted,
    it settles that batch from the chain, pays the rest, and nobody is paid twice."""
    config = _config(tmp_path, tron_env, receiver)
    payer = tron_env.payer.address
    before = tron_env.balance(payer)
    crashed = start_server(
        config,
        tmp_path / "crash.log",
        extra_env={**tron_env_vars(), "PAYOUT_FAULT": point},
    )
    key = create_key(config, "read", "write")
    rows = _rows(f"kill-{point}", 4)
    with crashed.client(key) as http:
        ids = [p["id"] for p in http.post("/v1/payouts", json={"payouts": rows}).json()["payouts"]]
    assert crashed.process.wait(60) == FAULT_EXIT_CODE
    # The batch's replay key was recorded before the crash: the first bit of the rolling word.
    (crashed_batch,) = _batches(tmp_path)
    recorded = crashed_batch.replay_key_bytes
    assert recorded[31] == 0 and replay_word_bits(_ledger_url(tmp_path), payer) == 1
    # Rows requested while the worker is down are not forgotten either.
    late = _rows(f"late-{point}", 2)
    restarted = start_server(config, tmp_path / "crash.log", extra_env=tron_env_vars())
    try:
        with restarted.client(key) as http:
            more = http.post("/v1/payouts", json={"payouts": late}).json()["payouts"]
            ids += [p["id"] for p in more]
            wait_until(lambda: _all_paid(http, ids), what="paid after restart")
            for row in rows + late:
                assert tron_env.balance(row["recipient"]) == units(row["amount"])
            spent = sum(units(r["amount"]) for r in rows + late)
            assert tron_env.balance(payer) == before - spent
            wait_until(
                lambda: {e["data"]["id"] for e in receiver.events("payout.paid")} >= set(ids),
                what="payout.paid for every row",
            )
    finally:
        restarted.stop()
    # Restarted: the crashed batch kept its key (never drawn again); every batch took its own
    # bit of the one word; whatever executed on chain executed under the recorded key.
    batches = _batches(tmp_path)
    assert batches[0].batch_id == crashed_batch.batch_id
    assert batches[0].replay_key_bytes == recorded
    keys = [b.replay_key_bytes for b in batches]
    assert len(set(keys)) == len(keys) == replay_word_bits(_ledger_url(tmp_path), payer)
    assert {k[:31] for k in keys} == {recorded[:31]}
    for b in batches:
        on_chain = executed(tron_env.client, tron_env.disburser, payer, b.replay_key_bytes)
        assert on_chain == (b.status is BatchStatus.CONFIRMED)


def test_a_row_the_token_refuses_is_skipped_and_the_rest_paid(
    tron_blocking_env: TronEnv, tmp_path: Path, receiver: Receiver
) -> None:
    """A recipient the TRON token refuses does not hold up its group: skipped on chain and
    reported (payout.skipped), the other rows paid."""
    env = tron_blocking_env
    rows = _rows("skip", 3)
    block_recipient(env, rows[1]["recipient"])
    config = _config(tmp_path, env, receiver)
    server = start_server(config, tmp_path / "serve.log", extra_env=tron_env_vars())
    try:
        key = create_key(config, "read", "write")
        with server.client(key) as http:
            ids = [
                p["id"] for p in http.post("/v1/payouts", json={"payouts": rows}).json()["payouts"]
            ]

            def settled() -> list[str] | None:
                states = [http.get(f"/v1/payouts/{i}").json()["status"] for i in ids]
                return states if set(states) <= {"paid", "skipped"} else None

            assert wait_until(settled, what="rows settled") == ["paid", "skipped", "paid"]
            assert env.balance(rows[0]["recipient"]) == units(rows[0]["amount"])
            assert env.balance(rows[1]["recipient"]) == 0
            assert env.balance(rows[2]["recipient"]) == units(rows[2]["amount"])
            wait_until(lambda: receiver.events("payout.skipped"), what="payout.skipped")
            assert [e["data"]["id"] for e in receiver.events("payout.skipped")] == [ids[1]]
    finally:
        server.stop()


def test_a_tron_batch_that_may_still_land_is_looked_at_with_a_back_off_not_every_tick(
    tron_env: TronEnv, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is killed after recording a batch's transaction write-ahead, before sending it.
    When it comes back the node refuses that transaction as expired while its (idle) head block is
    still stamped before the expiration: a block holding it is still possible (on mainnet: a
    syncing node, another node that relayed it), so the batch stays submitted. The worker must not
    ask the node again on every tick: it backs off (doubling), never sends another transaction for
    those rows while the first can land, and releases and pays them once the head passes the
    expiration."""
    from types import SimpleNamespace

    from payout.service import worker as worker_module
    from payout.service.network import load_config
    from payout.service.runtime import Service
    from payout.service.worker import RETRY_SECONDS, Worker

    config = _config(tmp_path, tron_env, receiver)
    crashed = start_server(
        config,
        tmp_path / "crash.log",
        extra_env={**tron_env_vars(), "PAYOUT_FAULT": "before-broadcast"},
    )
    key = create_key(config, "read", "write")
    rows = _rows("back-off", 3)
    with crashed.client(key) as http:
        ids = [p["id"] for p in http.post("/v1/payouts", json={"payouts": rows}).json()["payouts"]]
    assert crashed.process.wait(60) == FAULT_EXIT_CODE
    chain = tron_env.node.chain
    head_before = chain.head.timestamp
    # Ten minutes later by the node's clock, without a block: broadcasts are refused as expired.
    monkeypatch.setattr(chain, "time_offset_ms", chain.time_offset_ms + 600_000)
    sent: list[str] = []
    real_broadcast = chain.broadcast

    def counting(payload: Any) -> dict[str, Any]:
        answer = real_broadcast(payload)
        sent.append(str(answer.get("txid")))
        return answer

    monkeypatch.setattr(chain, "broadcast", counting)
    # The worker's clock (its back-off), moved by the test: no sleeping.
    clock = [1_000.0]
    monkeypatch.setattr(worker_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    for name, value in service_env(tron_env_vars()).items():
        monkeypatch.setenv(name, value)
    service = Service.open(load_config(config))
    worker = Worker(service)
    try:
        network = service.networks["tron"]
        pay = worker.payer_for(network)
        for _tick in range(5):  # five ticks in a row
            worker.run_due(network, pay)
        assert len(sent) == 1, f"{len(sent)} broadcasts in 5 ticks"
        clock[0] += RETRY_SECONDS + 0.1
        for _tick in range(5):
            worker.run_due(network, pay)
        assert len(sent) == 2, "looked at again once after the back-off"
        clock[0] += RETRY_SECONDS + 0.1
        worker.run_due(network, pay)
        assert len(sent) == 2, "the back-off doubles"
        assert len(set(sent)) == 1, "only the recorded transaction is sent while it can land"
        assert chain.head.timestamp == head_before
        assert all(tron_env.balance(r["recipient"]) == 0 for r in rows)

        # A block stamped past the expiration without it: it can never run; released and paid.
        tron_env.node.mine()
        clock[0] += 60.0
        worker.run_due(network, pay)
        assert len(set(sent)) == 2 and len(sent) == 3
        for row in rows:
            assert tron_env.balance(row["recipient"]) == units(row["amount"])
        assert [service.store.payout(i)["status"] for i in ids] == ["paid"] * 3  # type: ignore[index]
    finally:
        worker.deliverer.close()
        service.close()
