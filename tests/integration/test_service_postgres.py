"""The payout service on a real PostgreSQL with three workers killed at random (SIGKILL, and
fault points right before / after a broadcast and after a receipt): every payout is paid exactly
once, checked on chain; on an EVM network (anvil) and on TRON (the local TRON node)."""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import pytest
from support.tron_payout import recipients as tron_recipients
from support.tron_payout import tron_env

from payout.chain import Chain
from payout.demo import demo_recipients
from payout.fault import POINTS

from .conftest import PAYOUT_BIN, Payer
from .service_networks import service_header, tron_env_vars, tron_network
from .service_support import create_key, service_env, start_server, wait_until, write_config

__all__ = ["tron_env"]

WORKERS = 3
ROWS = 35
#: SIGKILLs, each when the paid count has grown since the previous one.
MAX_KILLS = 8


def _worker(config: Path, log: Path, fault: str | None) -> subprocess.Popen[str]:
    extra = {**tron_env_vars(), **({"PAYOUT_FAULT": fault} if fault else {})}
    return subprocess.Popen(
        [PAYOUT_BIN, "service", "worker", "--config", str(config)],
        env=service_env(extra),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        text=True,
    )


class PaidNetwork:
    """The network the workers pay: its name and token in payout.toml, balances on chain."""

    def __init__(
        self, kind: str, request: pytest.FixtureRequest, config: Path, ledger: str
    ) -> None:
        self.kind = kind
        if kind == "tron":
            env = request.getfixturevalue("tron_env")
            self.name, self.token_symbol = "tron", "USDT"
            self.payer = env.payer.address
            self.balance = env.balance
            self.recipients = tron_recipients
            config.write_text(
                service_header(ledger, None, flush_seconds=0.2).replace(
                    "flush_rows = 500", "flush_rows = 5"
                )
                + tron_network(env)
            )
            return
        chain: Chain = request.getfixturevalue("chain")
        usdc: str = request.getfixturevalue("usdc")
        payer: Payer = request.getfixturevalue("payer")
        write_config(
            config,
            rpc_url=request.getfixturevalue("node").url,
            token=usdc,
            disburser=request.getfixturevalue("disburser"),
            keystore=payer.keystore,
            ledger_url=ledger,
            flush_seconds=0.2,
            flush_rows=5,
        )
        self.name, self.token_symbol = "anvil", "USDC"
        self.payer = payer.address
        self.balance = lambda address: chain.token_balance(usdc, address)
        self.recipients = lambda n, seed: demo_recipients(n, seed=seed)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["evm", "tron"])
def test_three_workers_killed_at_random_pay_every_row_once(
    postgres_database: str, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    config = tmp_path / "payout.toml"
    network = PaidNetwork(kind, request, config, postgres_database)
    api = start_server(config, tmp_path / "api.log", args=("--no-worker",))
    rng = random.Random(20261203)
    log = tmp_path / "workers.log"

    def spawn() -> subprocess.Popen[str]:
        point = rng.choice([None, *POINTS])
        return _worker(config, log, f"{point}:1" if point else None)

    workers = [spawn() for _ in range(WORKERS)]
    kills = faults = 0
    try:
        key = create_key(config, "read", "write")
        recipients = network.recipients(ROWS, f"{tmp_path}/pg")
        rows = [
            {
                "network": network.name,
                "token": network.token_symbol,
                "recipient": r,
                "amount": f"{i + 1}.5",
                "id": f"pg-{i}",
            }
            for i, r in enumerate(recipients)
        ]
        ids: list[str] = []
        with api.client(key) as http:
            # Requests arrive in chunks while workers are being killed and restarted.
            chunks = [rows[i : i + 7] for i in range(0, ROWS, 7)]

            paid_seen = 0

            def churn(paid: int = 0) -> None:
                """Restart workers stopped at their fault point; on progress, SIGKILL one."""
                nonlocal kills, faults, paid_seen
                for i, w in enumerate(workers):
                    if w.poll() is not None:
                        faults += w.returncode != 0
                        workers[i] = spawn()
                if paid > paid_seen and kills < MAX_KILLS:
                    paid_seen = paid
                    victim = rng.randrange(WORKERS)
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait(10)
                    kills += 1
                    workers[victim] = spawn()

            def paid() -> int:
                page = http.get("/v1/payouts", params={"status": "paid", "limit": 1000}).json()
                count = len(page["data"])
                churn(count)
                return count

            # Chunk by chunk: each is a flush of its own that a kill or a fault point may hit.
            for chunk in chunks:
                answer = http.post("/v1/payouts", json={"payouts": chunk})
                assert answer.status_code == 201, answer.text
                ids += [p["id"] for p in answer.json()["payouts"]]
                expected = len(ids)
                wait_until(lambda n=expected: paid() >= n, timeout=120, what=f"{expected} paid")
            # Stop the chaos, let the survivors settle, then check the chain.
            statuses = {http.get(f"/v1/payouts/{i}").json()["status"] for i in ids}
            assert statuses == {"paid"}
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
        api.stop()
    total = 0
    for i, r in enumerate(recipients):
        units = (i + 1) * 10**6 + 500_000
        total += units
        assert network.balance(r) == units, f"row {i} paid {network.balance(r)}"
    assert network.balance(network.payer) == 1_000_000 * 10**6 - total
    # The chaos happened: SIGKILLs and processes stopped at their fault points.
    assert kills >= 3 and faults >= 1, (kills, faults)
