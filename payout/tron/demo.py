"""A TRC-20 payout end to end on a local TRON node (``payout tron demo``; part of ``make demo``).

Starts :class:`~payout.tron.devnet.TronDevnet` (unless a node URL is given), deploys a
USDT-on-TRON-like token (``transfer`` returns false; TRON USDT's energy factor x4.4) and the
disburser with tronpy, writes a payout file of ``payees`` fresh recipients, and runs the pipeline:
validate -> plan -> ledger -> send -> report. Then it pays one more recipient with a plain TRC-20
``transfer`` to compare. Figures are the local node's energy model, converted to TRX at 100 sun
per energy unit (see docs/tron.md for how it differs from mainnet).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from payout.tron.client import connect
from payout.tron.deploy import deploy_disburser, deploy_usdt_mock, mint
from payout.tron.energy import trx
from payout.tron.executor import TronSendSettings
from payout.tron.signer import TronSigner
from payout.tron.token import balance_of, encode_args
from payout.tron.transaction import send_call

#: TRON USDT's dynamic energy factor (+340 %, i.e. x4.4), in the node's 1/10,000 units.
USDT_ENERGY_FACTOR = 34_000
DEMO_TOKENS = 10**6 * 10**6  # one million USDT (6 decimals) minted to the payer


def payee_keys(count: int, seed: str = "tron demo payee") -> list[TronSigner]:
    """Deterministic payee accounts (their keys are public: demo only)."""
    return [
        TronSigner.from_private_key(keccak(f"{seed} {i}".encode()), label="demo payee")
        for i in range(count)
    ]


@contextlib.contextmanager
def _node(node_url: str | None, instant: bool) -> Iterator[tuple[str, Any]]:
    if node_url is not None:
        yield node_url, None
        return
    from payout.tron.devnet import TronDevnet

    with TronDevnet(block_mode="instant" if instant else "interval") as node:
        yield node.url, node


def run(
    *,
    node_url: str | None = None,
    payees: int = 300,
    max_batch_size: int = 100,
    workdir: Path | None = None,
    instant: bool = True,
    payer_key: bytes | None = None,
    on_event: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the demo; returns its figures (and prints progress lines through ``on_event``)."""
    from payout.ledger import Ledger
    from payout.tron.pipeline import open_context, scope_of, send_file, validate_file

    def say(line: str) -> None:
        if on_event is not None:
            on_event(line)

    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tron-demo-")))
        workdir.mkdir(parents=True, exist_ok=True)
        url, node = stack.enter_context(_node(node_url, instant))
        say(f"TRON node: {url}" + (" (local emulator)" if node is not None else ""))
        client = connect(url)
        if payer_key is None:
            if node is None:
                raise ValueError("give payer_key when using an external node")
            payer_key = node.accounts[0].private_key
        payer = TronSigner.from_private_key(payer_key, label="demo payer")
        disburser = deploy_disburser(client, payer)
        say(
            f"disburser deployed with tronpy: {disburser.address} "
            f"({disburser.energy_used:,} energy)"
        )
        token = deploy_usdt_mock(client, payer)
        if node is not None:
            node.set_energy_factor(token.address, USDT_ENERGY_FACTOR)
        mint(client, payer, token.address, payer.address, DEMO_TOKENS)
        say(
            f"USDT-on-TRON-like token: {token.address} (energy factor x4.4, transfer returns false)"
        )

        people = payee_keys(payees)
        payout_file = workdir / "tron-payouts.csv"
        lines = ["recipient,amount,id,network"]
        for i, person in enumerate(people):
            lines.append(f"{person.address},{(i % 50) + 1}.25,tron-demo-{i:05d},tron")
        payout_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

        ctx = open_context(
            url, token=token.address, disburser=disburser.address, payer=payer.address
        )
        manifest = validate_file(ctx, payout_file)
        say(f"validated {manifest.rows} rows: {manifest.error_count} errors")
        ledger_url = "sqlite:///" + str((workdir / "tron-ledger.sqlite").resolve())
        with Ledger.open(ledger_url) as ledger:
            report = send_file(
                ctx,
                ledger,
                payer,
                payout_file,
                settings=TronSendSettings(),
                max_batch_size=max_batch_size,
                on_event=lambda what, data: (
                    say(f"  batch {data['batch']}: {data['txid']} ({data['energy']:,} energy)")
                    if what == "confirmed"
                    else None
                ),
            )
            statuses = ledger.status_counts(scope_of(ctx))
        paid = sum(r.count for r in report.results)
        energy = sum(r.energy_used for r in report.results)
        fee = sum(r.fee_sun for r in report.results)
        net = sum(r.net_usage for r in report.results)

        # One plain TRC-20 transfer to a fresh address, for comparison.
        extra = TronSigner.from_private_key(keccak(b"tron demo single transfer"))
        data = keccak(text="transfer(address,uint256)")[:4] + bytes.fromhex(
            encode_args(["address", "uint256"], [extra.address, 1_250_000])
        )
        single = send_call(client, payer, token.address, data, fee_limit_sun=100 * 1_000_000)
        single_energy = int((single.get("receipt") or {}).get("energy_usage_total", 0))
        single_fee = int(single.get("fee", 0))
        ok = balance_of(client, token.address, people[0].address) == 1_250_000

    per_recipient_energy = energy // paid if paid else 0
    result = {
        "node": url,
        "payees": payees,
        "paid": paid,
        "batches": len(report.results),
        "energy_used": energy,
        "energy_per_recipient": per_recipient_energy,
        "fee_sun": fee,
        "fee_trx": trx(fee),
        "bandwidth_bytes": net,
        "single_transfer_energy": single_energy,
        "single_transfer_fee_sun": single_fee,
        "separate_transfers_fee_trx": trx(single_fee * paid),
        "ledger": {s.value: n for s, (n, _amount) in statuses.items()},
        "first_payee_paid": ok,
        "workdir": str(workdir),
    }
    say(
        f"paid {paid} recipients in {len(report.results)} batches: {energy:,} energy "
        f"({per_recipient_energy:,} per recipient), {trx(fee)} TRX burned"
    )
    say(
        f"one plain TRC-20 transfer to a new holder: {single_energy:,} energy, "
        f"{trx(single_fee)} TRX -> {paid} separate transfers ~{trx(single_fee * paid)} TRX"
    )
    say("(local TRON node's energy model, 100 sun per energy unit; see docs/tron.md)")
    return result
