"""Energy and bandwidth per recipient of TRC-20 batch payouts vs separate transfers, on the local
TRON node (payout.tron.devnet), written to build/bench/tron.json.

Usage: ``python scripts/bench_tron.py [--sizes 1,10,100,300] [--out build/bench/tron.json]``

For each batch size the disburser pays that many recipients of a USDT-on-TRON-like token (TRON
USDT's energy factor x4.4, and x1.0 for a plain TRC-20), once to fresh addresses (no token yet: a
new balance slot) and once to the same addresses again (holders). Separate transfers are real
``transfer`` calls to fresh addresses and to holders. Energy is the receipts' energy_usage_total;
bandwidth is the serialized transaction + 64 bytes (what java-tron charges), converted to TRX at
100 sun per energy unit and 1,000 sun per bandwidth byte (when no free / staked bandwidth is left).

These are the local node's energy figures: its schedule follows TRON's (SLOAD 50, SSTORE 20,000 /
5,000, CALL 40, no EIP-2929 warm/cold) with a per-contract energy factor; mainnet may differ by a
few percent (docs/tron.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eth_utils.crypto import keccak  # noqa: E402

from payout.address import tron_to_evm  # noqa: E402
from payout.batching import derive_batch_id, derive_replay_keys  # noqa: E402
from payout.disburser import encode_approve  # noqa: E402
from payout.tron.client import connect  # noqa: E402
from payout.tron.deploy import deploy_disburser, deploy_usdt_mock, mint  # noqa: E402
from payout.tron.devnet import TronDevnet  # noqa: E402
from payout.tron.energy import (  # noqa: E402
    bandwidth_of,
    trigger_tx_bytes,
)
from payout.tron.executor import disburse_calldata  # noqa: E402
from payout.tron.signer import TronSigner  # noqa: E402
from payout.tron.token import encode_args  # noqa: E402
from payout.tron.transaction import send_call  # noqa: E402
from payout.types import Batch, Network, Payout  # noqa: E402

ENERGY_SUN = 100
BANDWIDTH_SUN = 1_000
FEE_LIMIT = 15_000 * 1_000_000
SEPARATE_SAMPLES = 5


def _energy(info: dict[str, Any]) -> int:
    return int((info.get("receipt") or {}).get("energy_usage_total", 0))


def _people(n: int, seed: str) -> list[str]:
    return [
        TronSigner.from_private_key(keccak(f"bench {seed} {i}".encode())).address for i in range(n)
    ]


def _batch(payer: str, token: str, disburser: str, people: list[str], tag: str) -> Batch:
    payouts = tuple(
        Payout(f"{tag}-{i}", p, 1_000_000 + i, network=Network.TRON) for i, p in enumerate(people)
    )
    batch_id = derive_batch_id(
        network=Network.TRON,
        chain_id=1,
        disburser=disburser,
        payer=payer,
        token=token,
        payout_ids=[p.payout_id for p in payouts],
    )
    total = sum(p.amount for p in payouts)
    # A run of one batch: its replay marker opens a fresh storage word (the worst case).
    (replay_key,) = derive_replay_keys(
        network=Network.TRON,
        chain_id=1,
        disburser=disburser,
        payer=payer,
        token=token,
        batch_ids=[batch_id],
    )
    return Batch(
        0,
        batch_id,
        Network.TRON,
        1,
        payer,
        token,
        disburser,
        payouts,
        total,
        0,
        "energy",
        replay_key=replay_key,
    )


def _row(energy: int, tx_bytes: int, recipients: int) -> dict[str, Any]:
    bandwidth = bandwidth_of(tx_bytes)
    trx_sun = energy * ENERGY_SUN + bandwidth * BANDWIDTH_SUN
    return {
        "recipients": recipients,
        "energy": energy,
        "energy_per_recipient": energy // recipients,
        "bandwidth": bandwidth,
        "bandwidth_per_recipient": bandwidth // recipients,
        "trx": f"{trx_sun / 1_000_000:.6f}",
        "trx_per_recipient": f"{trx_sun / recipients / 1_000_000:.6f}",
    }


def bench_factor(sizes: list[int], factor: int) -> dict[str, Any]:
    with TronDevnet() as node:
        client = connect(node.url)
        payer = TronSigner.from_private_key(node.accounts[0].private_key)
        disburser = deploy_disburser(client, payer).address
        token = deploy_usdt_mock(client, payer).address
        node.set_energy_factor(token, factor)
        mint(client, payer, token, payer.address, 10**15)
        out: dict[str, Any] = {"energy_factor": factor / 10_000 + 1, "batches": {}}
        for n in sizes:
            people = _people(n, f"{factor}-{n}")
            rows: dict[str, Any] = {}
            for label in ("fresh", "holders"):
                batch = _batch(payer.address, token, disburser, people, f"{label}-{n}")
                approve = encode_approve(tron_to_evm(disburser), batch.total)
                approve_info = send_call(client, payer, token, approve, fee_limit_sun=FEE_LIMIT)
                data = disburse_calldata(batch)
                info = send_call(client, payer, disburser, data, fee_limit_sun=FEE_LIMIT)
                energy = _energy(info)
                # The real size: packed rows carry only as many amount bytes as the batch needs.
                tx_bytes = trigger_tx_bytes(len(data))
                rows[label] = _row(energy, tx_bytes, n)
                rows[label]["approve_energy"] = _energy(approve_info)
                rows[label]["with_approve"] = _row(
                    energy + _energy(approve_info), tx_bytes + trigger_tx_bytes(68), n
                )
            out["batches"][str(n)] = rows
        # Separate transfers: to fresh addresses, then to the same (now holders) again.
        fresh = _people(SEPARATE_SAMPLES, f"{factor}-separate")
        single: dict[str, list[int]] = {"fresh": [], "holders": []}
        for label in ("fresh", "holders"):
            for person in fresh:
                data = keccak(text="transfer(address,uint256)")[:4] + bytes.fromhex(
                    encode_args(["address", "uint256"], [person, 1_000_000])
                )
                single[label].append(
                    _energy(send_call(client, payer, token, data, fee_limit_sun=FEE_LIMIT))
                )
        out["separate"] = {
            label: _row(sum(v) // len(v), trigger_tx_bytes(68), 1) for label, v in single.items()
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,300")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "tron.json")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.monotonic()
    result = {
        "note": "local TRON node (payout.tron.devnet) energy model; TRX at 100 sun/energy and "
        "1,000 sun/bandwidth byte",
        "usdt_x4_4": bench_factor(sizes, 34_000),
        "plain_x1_0": bench_factor(sizes, 0),
    }
    result["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key in ("usdt_x4_4", "plain_x1_0"):
        part = result[key]
        sep = part["separate"]
        print(
            f"\n{key}: separate transfer fresh {sep['fresh']['energy']:,} energy, "
            f"{sep['fresh']['trx']} TRX; holder {sep['holders']['energy']:,} energy, "
            f"{sep['holders']['trx']} TRX"
        )
        print(
            f"{'n':>5} {'fresh E/rcpt':>13} {'TRX/rcpt':>10} {'holder E/rcpt':>14} "
            f"{'TRX/rcpt':>10} {'bytes/rcpt':>10}"
        )
        for n, rows in part["batches"].items():
            f, h = rows["fresh"], rows["holders"]
            print(
                f"{n:>5} {f['energy_per_recipient']:>13,} {f['trx_per_recipient']:>10} "
                f"{h['energy_per_recipient']:>14,} {h['trx_per_recipient']:>10} "
                f"{f['bandwidth_per_recipient']:>10}"
            )
    print(f"\nwrote {args.out.relative_to(ROOT)} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
