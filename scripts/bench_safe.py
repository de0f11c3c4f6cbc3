"""Benchmark: pay N payees (default 10,000) through a 2-of-3 Safe on a local anvil.

Runs the whole Safe flow (propose -> two signers sign and merge -> review -> execute -> ledger)
with the real Safe v1.4.1 contracts and measures wall time per phase and gas per recipient, then
compares one Safe batch with the same batch sent directly from an EOA to isolate the Safe's
overhead. Prints a summary and writes build/bench/safe.json.

    python scripts/bench_safe.py [--payees 10000] [--version 1.4.1] [--out build/bench/safe.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from payout.types import TX_GAS_CAP


def _direct_batch_gas(rpc_url: str, size: int) -> int:
    """Gas of one disburse of ``size`` fresh recipients sent straight from an EOA (no Safe)."""
    from eth_utils.crypto import keccak

    from payout.batching import plan_batches
    from payout.chain import Chain
    from payout.demo_token import DemoToken, deploy_token, mint
    from payout.deployment import deploy_disburser
    from payout.devnet import dev_private_key
    from payout.disburser import batch_calldata, encode_approve
    from payout.signer import LocalSigner
    from payout.types import PayMode, Payout
    from payout.wallet import SendSettings, Wallet

    chain = Chain(rpc_url)
    w = Wallet(chain, LocalSigner(dev_private_key(8)), SendSettings(poll_interval=0.02))
    disburser = deploy_disburser(chain, w).address
    token = deploy_token(w, DemoToken.USDC, "Direct USDC", "USDC")
    rows = [
        Payout(f"direct-{i}", "0x" + keccak(f"direct/{i}".encode())[12:].hex(), 1_000_000 + i)
        for i in range(size)
    ]
    from eth_utils.address import to_checksum_address

    rows = [p._replace(recipient=to_checksum_address(p.recipient)) for p in rows]
    total = sum(p.amount for p in rows)
    mint(w, token, w.address, total)
    w.transact(token, encode_approve(disburser, total), label="approve")
    (batch,) = plan_batches(
        rows,
        chain_id=chain.chain_id,
        payer=w.address,
        disburser=disburser,
        token=token,
        max_batch_size=size,
    )
    receipt = w.transact(disburser, batch_calldata(batch, PayMode.STRICT), label="direct batch")
    return int(str(receipt["gasUsed"]), 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payees", type=int, default=10_000)
    parser.add_argument("--owners", type=int, default=3)
    parser.add_argument("--threshold", type=int, default=2)
    parser.add_argument("--version", default="1.4.1", choices=["1.3.0", "1.4.1"])
    parser.add_argument("--out", type=Path, default=Path("build/bench/safe.json"))
    args = parser.parse_args()

    from payout.devnet import start_anvil
    from payout.safe.demo import run_safe_demo

    started = time.monotonic()
    with start_anvil() as devnet, tempfile.TemporaryDirectory(prefix="bench-safe-") as tmp:
        result = run_safe_demo(
            devnet.url,
            Path(tmp),
            payees=args.payees,
            owners=args.owners,
            threshold=args.threshold,
            version=args.version,
            on_step=lambda s: print(f"  {s}", flush=True),
        )
        batches = [r for r in result.results if r.receipt is not None]
        largest = max(batches, key=lambda r: len(r.receipt.rows))  # type: ignore[union-attr]
        size = len(largest.receipt.rows)  # type: ignore[union-attr]
        direct = _direct_batch_gas(devnet.url, size)
    wall = time.monotonic() - started
    safe_gas = largest.gas_used or 0
    report = {
        "payees": result.payees,
        "safe": {
            "version": result.safe_version,
            "owners": len(result.owners),
            "threshold": result.threshold,
        },
        "token": result.token_symbol,
        "safe_transactions": len(result.results),
        "confirmed_in_ledger": result.confirmed,
        "gas_total": result.gas_used,
        "gas_per_recipient": round(result.gas_per_recipient, 1),
        "largest_batch": {
            "recipients": size,
            "gas_safe": safe_gas,
            "gas_direct_eoa": direct,
            "safe_overhead_gas": safe_gas - direct,
            "share_of_tx_gas_cap": round(safe_gas / TX_GAS_CAP, 3),
        },
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
        "wall_seconds_including_anvil": round(wall, 2),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{result.payees} payees through a {result.threshold}-of-{len(result.owners)} Safe "
        f"v{result.safe_version}: {len(result.results)} Safe transactions, all {result.confirmed} "
        f"confirmed in the ledger"
    )
    print(
        f"gas: {result.gas_used:,} total, {result.gas_per_recipient:,.0f} per recipient; largest "
        f"batch {size} recipients = {safe_gas:,} gas ({safe_gas / TX_GAS_CAP:.0%} of the cap), "
        f"{safe_gas - direct:,} more than the same batch sent directly"
    )
    print("time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
