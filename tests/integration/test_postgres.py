"""The PostgreSQL ledger, for real: a send crashed after broadcast and resumed, on PostgreSQL."""

from __future__ import annotations

import pytest

from payout.chain import Chain
from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.types import PayoutStatus

from .conftest import Payer, as_json, base_units, run


@pytest.mark.postgres
def test_send_crash_resume_report_on_postgresql(
    env: dict[str, str],
    postgres_database: str,
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
) -> None:
    pg = {**env, "PAYOUT_LEDGER_URL": postgres_database}
    file, rows = payout_file(14)
    common = ("--keystore", str(payer.keystore))
    crashed = run(
        "send",
        str(file),
        "--token",
        usdc,
        "--yes",
        "--max-batch-size",
        "6",
        *common,
        env=pg,
        extra_env={"PAYOUT_FAULT": "after-broadcast:2"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr
    resumed = run("resume", "--json", *common, env=pg)
    assert resumed.returncode == 0, resumed.stderr
    assert len(as_json(resumed.stdout)["settled_from_chain"]) == 1
    for r, a, _i in rows:
        assert chain.token_balance(usdc, r) == base_units(a)
    with Ledger.open(postgres_database) as ledger:
        assert ledger.dialect == "postgresql"
        assert ledger.status_counts()[PayoutStatus.CONFIRMED][0] == 14
    report = as_json(run("report", "--json", env=pg).stdout)
    assert {r["status"] for r in report} == {"confirmed"} and len(report) == 14
    assert as_json(run("reconcile", "--json", env=pg).stdout)["ok"] is True
