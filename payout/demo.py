"""The end-to-end demos: a local chain, a USDC-like token, the disburser, 1,000 payees, paid.

Everything runs from the shipped artifacts (no compiler): anvil starts on a free port, the
disburser is deployed through the CREATE2 deployer, a ``DemoUSDC`` token is deployed, a payout CSV
is generated, and the real pipeline runs. Then anvil is stopped.

* :func:`run_demo` (hot wallet): validate -> plan -> send -> report -> reconcile.
* :func:`run_safe` (2-of-3 Safe, what ``make demo`` runs first): the Safe contracts shipped with
  safe-eth-py, propose -> two signers sign their own copies -> merge -> execute
  (:func:`payout.safe.demo.run_safe_demo`), then report -> reconcile.

Both return a :class:`DemoResult` with the same figures: batches, gas, gas per recipient and the
saving against paying every row with its own ``transfer`` (simulated against the state before the
payout), and where the report and ledger were written.

:func:`demo_environment` is the reusable part (chain, disburser, token, funded payer, payout file)
for other demos and benchmarks.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.chain import Chain, TokenInfo
from payout.demo_token import DemoToken, blacklist, deploy_token, mint
from payout.deployment import Deployment, deploy_disburser, verify_disburser
from payout.devnet import Devnet, dev_private_key, start_anvil
from payout.disburser import Disburser
from payout.executor import ExecutionEvent
from payout.files import open_private
from payout.ledger import Ledger
from payout.signer import LocalSigner
from payout.types import Network, Scope
from payout.wallet import SendSettings, Wallet

#: Account 0 deploys; account 1 pays (anvil's public test keys: local chains only).
DEPLOYER_INDEX = 0
PAYER_INDEX = 1

Step = Callable[[str], None]


def _quiet(_text: str) -> None:
    return None


def demo_recipients(count: int, seed: str = "payout-demo") -> list[str]:
    """``count`` deterministic, fresh addresses (nobody holds their keys)."""
    return [to_checksum_address("0x" + keccak(text=f"{seed}/{i}")[12:].hex()) for i in range(count)]


def write_payout_file(path: Path, recipients: list[str], seed: int = 7) -> int:
    """A payout CSV (recipient, amount in USDC, id, memo); returns the total in base units."""
    rng = random.Random(seed)
    total = 0
    lines = ["recipient,amount,id,memo"]
    for i, r in enumerate(recipients):
        cents = rng.randrange(1_000, 50_000)  # 10.00 .. 499.99 USDC
        total += cents * 10_000
        lines.append(f"{r},{Decimal(cents) / 100:.2f},demo-{i + 1:05d},invoice {i + 1}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return total


@dataclass
class DemoEnvironment:
    devnet: Devnet
    chain: Chain
    deployer: Wallet
    payer: Wallet
    deployment: Deployment
    token: TokenInfo
    payout_file: Path
    recipients: list[str]
    total: int


@contextlib.contextmanager
def demo_environment(
    workdir: Path,
    *,
    payees: int = 1000,
    blacklisted: int = 0,
    on_step: Step = _quiet,
    settings: SendSettings | None = None,
) -> Iterator[DemoEnvironment]:
    """Start anvil and set up a funded payer, the disburser, a token and a payout file.

    anvil is stopped when the block exits (also on errors and Ctrl-C).
    """
    settings = settings or SendSettings(poll_interval=0.02, receipt_timeout=120)
    with local_chain(workdir, on_step) as (node, chain):
        deployer = Wallet(
            chain, LocalSigner(dev_private_key(DEPLOYER_INDEX), label="dev 0"), settings
        )
        payer = Wallet(chain, LocalSigner(dev_private_key(PAYER_INDEX), label="dev 1"), settings)
        deployment = deploy_disburser(chain, deployer)
        on_step(
            f"disburser deployed through CREATE2 at {deployment.address} (tx {deployment.tx_hash})"
        )
        token_address = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
        token = chain.token(token_address)
        on_step(f"token {token.symbol} ({token.decimals} decimals) at {token.address}")
        recipients = demo_recipients(payees)
        payout_file = workdir / "payouts.csv"
        total = write_payout_file(payout_file, recipients)
        mint(deployer, token.address, payer.address, total + 1_000 * 10**token.decimals)
        for r in recipients[:blacklisted]:
            blacklist(deployer, token.address, r)
        on_step(
            f"payer {payer.address} funded with {Decimal(total) / 10**token.decimals + 1000} "
            f"{token.symbol}; {payees} payees written to {payout_file}"
            + (f" ({blacklisted} blacklisted by the token issuer)" if blacklisted else "")
        )
        yield DemoEnvironment(
            node, chain, deployer, payer, deployment, token, payout_file, recipients, total
        )


@contextlib.contextmanager
def local_chain(workdir: Path, on_step: Step = _quiet) -> Iterator[tuple[Devnet, Chain]]:
    """A fresh anvil (its log in ``workdir``), stopped when the block exits (errors and Ctrl-C
    included)."""
    workdir.mkdir(parents=True, exist_ok=True)
    on_step("starting anvil (local chain, 16,777,216 gas per transaction cap)")
    node = start_anvil(log_path=workdir / "anvil.log")
    try:
        chain = Chain(node.url)
        on_step(f"anvil at {node.url}, chain id {chain.chain_id}")
        yield node, chain
    finally:
        node.stop()
        on_step("anvil stopped")


@dataclass
class DemoResult:
    """The figures of a demo run (hot wallet or Safe)."""

    chain_id: int
    rpc_url: str
    disburser: str
    token: str
    payees: int
    paid: int
    excluded: int
    total_base_units: int
    batches: list[dict[str, Any]] = field(default_factory=list)
    gas_used: int = 0
    #: Separate approval transactions (hot wallet); a Safe approves inside each batch transaction.
    approval_gas: int = 0
    separate_gas: int | None = None
    fee_wei: int = 0
    reconcile_ok: bool = False
    report_path: str = ""
    ledger_path: str = ""
    seconds: float = 0.0
    #: ``wallet`` or ``safe``.
    executor: str = "wallet"
    #: The paying address: the hot wallet or the Safe.
    payer: str = ""
    #: Safe runs: "2 of 3", the owners who signed, the signed proposal file.
    threshold: str | None = None
    signers: list[str] = field(default_factory=list)
    proposal_path: str | None = None

    @property
    def gas_per_recipient(self) -> float:
        return (self.gas_used + self.approval_gas) / self.paid if self.paid else 0.0

    @property
    def saving_percent(self) -> float | None:
        if not self.separate_gas:
            return None
        return 100.0 * (1 - (self.gas_used + self.approval_gas) / self.separate_gas)


def run_demo(
    workdir: Path,
    *,
    payees: int = 1000,
    blacklisted: int = 0,
    on_step: Step = _quiet,
    on_event: Callable[[ExecutionEvent], None] | None = None,
) -> DemoResult:
    """The whole demo; returns its figures. ``workdir`` receives the file, ledger and report."""
    from payout import pipeline

    started = time.monotonic()
    ledger_path = _fresh_ledger(workdir)
    with demo_environment(workdir, payees=payees, blacklisted=blacklisted, on_step=on_step) as env:
        address = verify_disburser(env.chain, env.deployment.address)
        target = pipeline.Target(env.chain, Disburser(env.chain, address))
        on_step("validate: reading the file with the token's decimals from the chain")
        manifest = pipeline.validate(
            env.payout_file, env.chain, env.token.address, disburser=env.deployment.address
        )
        manifest.raise_for_errors()
        on_step(
            f"  {manifest.rows} rows, {manifest.error_count} errors, "
            f"{manifest.warning_count} warnings"
        )
        opts = pipeline.PlanOptions(on_failure="exclude" if blacklisted else "refuse")
        result = DemoResult(
            chain_id=env.chain.chain_id,
            rpc_url=env.devnet.url,
            disburser=env.deployment.address,
            token=env.token.address,
            payees=payees,
            paid=0,
            excluded=0,
            total_base_units=env.total,
            ledger_path=str(ledger_path),
            payer=env.payer.address,
        )
        with Ledger.open(f"sqlite:///{ledger_path.resolve()}") as ledger:
            on_step("plan: gas-bounded batches, each simulated with eth_simulateV1")
            plans = pipeline.plan(
                manifest, target, env.payer.address, env.token.address, opts, ledger=ledger
            )
            for p in plans:
                result.separate_gas = p.separate_gas_total
                for sim, b in zip(p.simulations, p.batches, strict=False):
                    on_step(
                        f"  batch {b.index}: {b.count} recipients, simulated gas {sim.gas_used:,}"
                    )
            on_step("send: approve once, then one transaction per batch (write-ahead ledger)")
            report = pipeline.send(
                manifest,
                target,
                env.payer,
                ledger,
                env.token.address,
                opts,
                on_event=on_event,
            )
            for p in report.plans:
                result.approval_gas = p.approval_gas if p.preflight.approvals else 0
                result.excluded = len(p.excluded)
            for r in report.results:
                result.batches.append(
                    {
                        "batch_id": r.batch_id,
                        "tx_hash": r.tx_hash,
                        "paid": r.paid,
                        "gas_used": r.gas_used,
                        "block": r.block_number,
                    }
                )
                result.gas_used += r.gas_used or 0
                result.fee_wei += r.fee_wei or 0
            result.paid = report.paid_rows
            _report_and_reconcile(
                result,
                env.chain,
                target.disburser,
                ledger,
                [p.scope for p in report.plans],
                (env.token.symbol, env.token.decimals),
                workdir,
                on_step,
            )
    result.seconds = time.monotonic() - started
    return result


def _fresh_ledger(workdir: Path) -> Path:
    """The demo ledger's path, with any earlier run's ledger removed (its chain is gone)."""
    ledger_path = workdir / "ledger.sqlite"
    for stale in (ledger_path, workdir / "ledger.sqlite-wal", workdir / "ledger.sqlite-shm"):
        stale.unlink(missing_ok=True)
    return ledger_path


def _report_and_reconcile(
    result: DemoResult,
    chain: Chain,
    disburser: Disburser,
    ledger: Ledger,
    scopes: list[Scope],
    token: tuple[str, int],
    workdir: Path,
    on_step: Step,
) -> None:
    """Write ``report.csv`` from the ledger and reconcile it with the chain (into ``result``)."""
    from payout.reconcile import reconcile
    from payout.report import report_rows, write_csv

    report_path = workdir / "report.csv"
    with open_private(report_path, newline="") as fh:
        rows = write_csv(report_rows(ledger, scopes, lambda _t: token), fh)
    result.report_path = str(report_path)
    on_step(f"report: {rows} rows written to {report_path}")
    checks = [reconcile(chain, disburser, ledger, s) for s in scopes]
    result.reconcile_ok = all(c.ok for c in checks)
    on_step(
        "reconcile: ledger and chain agree"
        if result.reconcile_ok
        else f"reconcile: {sum(len(c.mismatches) for c in checks)} mismatch(es)!"
    )


def run_safe(
    workdir: Path,
    *,
    payees: int = 1000,
    owners: int = 3,
    threshold: int = 2,
    on_step: Step = _quiet,
) -> DemoResult:
    """The Safe demo on a fresh anvil: a ``threshold``-of-``owners`` Safe pays ``payees``.

    The flow itself is :func:`payout.safe.demo.run_safe_demo`; this adds the chain, the report,
    reconciliation and the comparison with separate transfers (simulated against the block before
    the first Safe transaction: the Safe still funded, every payee still fresh).
    """
    from payout import pipeline
    from payout.safe.demo import run_safe_demo

    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    ledger_path = _fresh_ledger(workdir)
    with local_chain(workdir, on_step) as (node, chain):
        safe_run = run_safe_demo(
            node.url,
            workdir,
            payees=payees,
            owners=owners,
            threshold=threshold,
            ledger_url=f"sqlite:///{ledger_path.resolve()}",
            on_step=on_step,
        )
        receipts = [r.receipt for r in safe_run.results if r.receipt is not None]
        result = DemoResult(
            chain_id=chain.chain_id,
            rpc_url=node.url,
            disburser=safe_run.disburser,
            token=safe_run.token,
            payees=payees,
            paid=sum(1 for rc in receipts for row in rc.rows if row.paid),
            excluded=0,
            total_base_units=safe_run.total,
            batches=[
                {
                    "batch_id": "0x" + r.batch_id.hex(),
                    "safe_nonce": r.nonce,
                    "tx_hash": r.tx_hash,
                    "paid": sum(1 for row in r.receipt.rows if row.paid) if r.receipt else 0,
                    "gas_used": r.gas_used,
                    "block": r.block_number,
                }
                for r in safe_run.results
            ],
            gas_used=safe_run.gas_used,
            fee_wei=sum(rc.fee_wei for rc in receipts),
            ledger_path=str(ledger_path),
            executor="safe",
            payer=safe_run.safe,
            threshold=f"{safe_run.threshold} of {len(safe_run.owners)}",
            signers=safe_run.signers,
            proposal_path=str(safe_run.signed_path),
        )
        scope = Scope(Network.EVM, chain.chain_id, safe_run.safe, safe_run.token)
        with Ledger.open(f"sqlite:///{ledger_path.resolve()}") as ledger:
            first_block = min((rc.block_number for rc in receipts), default=0)
            if first_block:
                rows = [r.to_payout() for r in ledger.payouts(scope)]
                result.separate_gas = pipeline.separate_transfer_gas(
                    chain, safe_run.safe, safe_run.token, rows, block=hex(first_block - 1)
                )
            _report_and_reconcile(
                result,
                chain,
                Disburser(chain, safe_run.disburser),
                ledger,
                [scope],
                (safe_run.token_symbol, safe_run.decimals),
                workdir,
                on_step,
            )
    result.seconds = time.monotonic() - started
    return result


def clean_workdir(workdir: Path) -> None:
    """Remove a previous demo's files (the chain they referred to is gone)."""
    if workdir.exists():
        shutil.rmtree(workdir)
