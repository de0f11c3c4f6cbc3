"""`payout demo` (what `make demo` runs), as a subprocess from a clean working directory."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .conftest import as_json, run


def test_demo_pays_1000_payees_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUT_")}
    started = time.monotonic()
    proc = run("demo", "--workdir", str(tmp_path / "demo"), "--json", env=env)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["paid"] == 1000 and out["reconcile_ok"] is True
    assert len(out["batches"]) == 2 and all(b["paid"] == 500 for b in out["batches"])
    assert out["saving_percent"] > 40
    assert out["gas_used"] < 2 * 16_777_216
    assert (tmp_path / "demo" / "report.csv").read_text().count("\n") == 1001
    assert elapsed < 60
    assert "anvil stopped" in proc.stderr


def test_demo_with_blacklisted_payees_excludes_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUT_")}
    proc = run(
        "demo",
        "--payees",
        "40",
        "--blacklisted",
        "2",
        "--workdir",
        str(tmp_path / "d"),
        "--json",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc.stdout)
    assert out["paid"] == 38 and out["excluded"] == 2 and out["reconcile_ok"]
