"""Benchmark: validate and plan a 1,000,000-row payout file (issue target: < 10 s, < 1 GB).

    python scripts/bench_manifest.py [--rows 1000000] [--no-ids] [--regenerate]

Generates ``build/bench/payouts_<rows>[_noid].csv`` (unique random recipients, EIP-55 checksummed,
amounts with up to 6 decimals), then measures in a FRESH child process (so the peak RSS is the
validation's, not the generator's): read + validate the file, then plan gas-bounded batches with
deterministic batch ids. Prints the figures and writes ``build/bench/manifest.json``. The ledger
import (not part of the target) is measured separately with ``--ledger``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from payout.address import to_checksum_address  # noqa: E402
from payout.batching import evm_gas_model, plan_batches, summarize  # noqa: E402
from payout.manifest import ManifestOptions, read_manifest  # noqa: E402
from payout.types import Network, Scope, TokenInfo  # noqa: E402

OUT = ROOT / "build" / "bench"
TOKEN = TokenInfo("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6, Network.EVM, 1)
PAYER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def generate(path: Path, rows: int, with_ids: bool, seed: int = 7) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write("recipient,amount,id\n" if with_ids else "recipient,amount\n")
        buf: list[str] = []
        for i in range(rows):
            address = to_checksum_address(rng.getrandbits(160).to_bytes(20, "big").hex())
            cents = rng.randrange(1, 5_000_000)
            amount = f"{cents // 100}.{cents % 100:02d}"
            buf.append(f"{address},{amount},inv-{i:07d}\n" if with_ids else f"{address},{amount}\n")
            if len(buf) == 10_000:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))
    tmp.replace(path)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(path: Path, ledger_url: str | None) -> dict[str, object]:
    rss_start = peak_rss_mb()
    load_before = os.getloadavg()[0]
    c0 = time.process_time()
    t0 = time.perf_counter()
    manifest = read_manifest(path, ManifestOptions(token=TOKEN, max_issues=100))
    t1 = time.perf_counter()
    if not manifest.ok:
        raise SystemExit(f"benchmark file has errors: {manifest.issues[:3]}")
    batches = plan_batches(
        manifest.payouts,
        chain_id=1,
        payer=PAYER,
        disburser=DISBURSER,
        token=TOKEN.address,
        cost_model=evm_gas_model(),
    )
    t2 = time.perf_counter()
    c2 = time.process_time()
    summary = summarize(batches)
    result: dict[str, object] = {
        "file": str(path.relative_to(ROOT)),
        "file_bytes": path.stat().st_size,
        "rows": manifest.rows,
        "valid_rows": len(manifest.payouts),
        "warnings": manifest.warning_count,
        "validate_seconds": round(t1 - t0, 3),
        "plan_seconds": round(t2 - t1, 3),
        "total_seconds": round(t2 - t0, 3),
        "rows_per_second": round(manifest.rows / (t2 - t0)),
        # CPU time of this process: what the work costs when the 2 shared cores are busy.
        "cpu_seconds": round(c2 - c0, 3),
        "load_average_before": round(load_before, 2),
        "batches": summary.batches,
        "largest_batch": summary.largest_batch,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "interpreter_rss_mb_before": round(rss_start, 1),
    }
    if ledger_url:
        from payout.ledger import Ledger
        from payout.types import ExecutorKind

        scope = Scope(Network.EVM, 1, PAYER, TOKEN.address)
        with Ledger.open(ledger_url) as ledger:
            t3 = time.perf_counter()
            reg = ledger.register(manifest.payouts, scope)
            t4 = time.perf_counter()
            ledger.save_plan(batches, executor=ExecutorKind.WALLET)
            t5 = time.perf_counter()
        result.update(
            ledger=ledger.url,
            ledger_register_seconds=round(t4 - t3, 3),
            ledger_save_plan_seconds=round(t5 - t4, 3),
            ledger_new_rows=reg.new,
            peak_rss_mb_with_ledger=round(peak_rss_mb(), 1),
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-ids", action="store_true", help="omit the id column (derived ids)")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--ledger", metavar="URL", help="also import into this ledger (timed)")
    parser.add_argument("--measure", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:  # child process: measure only, print JSON
        print(json.dumps(measure(Path(args.measure), args.ledger)))
        return

    path = OUT / f"payouts_{args.rows}{'_noid' if args.no_ids else ''}.csv"
    if args.regenerate or not path.exists():
        t = time.perf_counter()
        generate(path, args.rows, not args.no_ids)
        print(f"generated {path.relative_to(ROOT)} in {time.perf_counter() - t:.1f} s")
    cmd = [sys.executable, __file__, "--measure", str(path)]
    if args.ledger:
        cmd += ["--ledger", args.ledger]
    child = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if child.returncode != 0:
        raise SystemExit(f"measurement failed:\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result.update(
        python=platform.python_version(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        target="validate + plan 1,000,000 rows in < 10 s and < 1024 MB",
        within_target=bool(result["total_seconds"] < 10 and result["peak_rss_mb"] < 1024),  # type: ignore[operator]
    )
    out = OUT / "manifest.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
