"""Pay many payees from a Safe on a local chain, end to end (``make demo``, benchmarks, docs).

On a throw-away anvil chain: deploy the real Safe contracts (safe-eth-py's shipped bytecode) at
their canonical addresses, create an M-of-N Safe owned by anvil's development accounts, deploy the
disburser and a demo stablecoin, fund the Safe, write a payout CSV, then run the same steps an
operator and the signers run:

    propose (validate, register in the ledger, plan, simulate, write proposal.json)
    -> each signer signs on "their machine" (one signature file each)
    -> merge the signature files -> review -> execute -> the ledger says confirmed

Only the public development keys of anvil are used; never point this at a real network.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from eth_utils.crypto import keccak

from payout.chain import Chain
from payout.demo_token import DemoToken, deploy_token, mint
from payout.deployment import deploy_disburser
from payout.devnet import dev_private_key
from payout.ledger import Ledger
from payout.manifest import ManifestOptions, load_manifest
from payout.safe.devnet import create_safe, deploy_safe_contracts
from payout.safe.execution import ExecutionResult
from payout.safe.pipeline import execute_file, propose_payouts
from payout.safe.proposal import load_proposal, save_proposal
from payout.safe.review import require_clean, review_for_signer
from payout.safe.signature import add_signature, merge_proposals, sign_eip712
from payout.safe.txbuilder import export_batches
from payout.signer import LocalSigner
from payout.types import PayoutStatus, TokenInfo
from payout.wallet import SendSettings, Wallet

#: anvil development account indexes: 0 deploys, 1..N own the Safe, EXECUTOR sends execTransaction.
DEPLOYER = 0
EXECUTOR = 9


@dataclass
class SafeDemoResult:
    """What the demo did, with the figures the docs quote."""

    safe: str
    safe_version: str
    owners: list[str]
    threshold: int
    signers: list[str]
    token: str
    token_symbol: str
    disburser: str
    payees: int
    total: int
    decimals: int
    proposal_path: Path
    signed_path: Path
    tx_builder_files: list[Path]
    results: list[ExecutionResult]
    confirmed: int
    ledger_url: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gas_used(self) -> int:
        return sum(r.gas_used or 0 for r in self.results)

    @property
    def gas_per_recipient(self) -> float:
        return self.gas_used / self.payees if self.payees else 0.0


def payee_rows(count: int, seed: str = "payout-demo") -> list[tuple[str, str, str]]:
    """Deterministic demo payees: (id, recipient, amount in token units with 2 decimals)."""
    rows = []
    for i in range(count):
        digest = keccak(f"{seed}/{i}".encode())
        recipient = "0x" + digest[12:].hex()
        cents = 1_000 + int.from_bytes(digest[:4], "big") % 99_000  # 10.00 .. 999.99
        rows.append((f"{seed}-{i:06d}", recipient, str(Decimal(cents) / 100)))
    return rows


def write_payee_csv(path: Path, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "recipient", "amount"])
        writer.writerows(payee_rows(count))
    return path


def run_safe_demo(
    rpc_url: str,
    workdir: Path,
    *,
    payees: int = 1_000,
    owners: int = 3,
    threshold: int = 2,
    version: str = "1.4.1",
    token_kind: DemoToken = DemoToken.USDC,
    ledger_url: str | None = None,
    max_batch_size: int | None = None,
    on_step: Callable[[str], None] | None = None,
) -> SafeDemoResult:
    """Run the whole Safe flow on the local chain at ``rpc_url``; files go to ``workdir``."""

    def step(text: str) -> None:
        if on_step is not None:
            on_step(text)

    seconds: dict[str, float] = {}
    started = time.monotonic()
    chain = Chain(rpc_url)
    settings = SendSettings(poll_interval=0.05, receipt_timeout=120.0)
    deployer_key = dev_private_key(DEPLOYER)
    deployer = Wallet(chain, LocalSigner(deployer_key, label="anvil dev key"), settings)
    owner_signers = [
        LocalSigner(dev_private_key(1 + i), label=f"owner {i + 1}") for i in range(owners)
    ]

    step(f"Deploying Safe {version} contracts and a {threshold}-of-{owners} Safe")
    contracts = deploy_safe_contracts(chain.w3, deployer_key)
    safe = create_safe(
        chain.w3,
        deployer_key,
        contracts[version],
        [s.address for s in owner_signers],
        threshold,
        salt_nonce=int.from_bytes(keccak(workdir.resolve().as_posix().encode())[:8], "big"),
    )
    step("Deploying the disburser and a demo stablecoin; funding the Safe")
    disburser = deploy_disburser(chain, deployer).address
    symbol = "USDC" if token_kind is DemoToken.USDC else "USDT"
    token_address = deploy_token(deployer, token_kind, f"Demo {symbol}", symbol)
    info = chain.token(token_address)
    token = TokenInfo(info.address, info.symbol, info.decimals, chain_id=chain.chain_id)
    csv_path = write_payee_csv(workdir / "payees.csv", payees)
    manifest = load_manifest(
        csv_path,
        ManifestOptions(
            token=token,
            forbidden={disburser: "the disburser", token.address: "the token", safe: "the Safe"},
        ),
    )
    total = sum(p.amount for p in manifest.payouts)
    mint(deployer, token.address, safe, total)
    seconds["setup"] = time.monotonic() - started

    ledger = Ledger.open(ledger_url or "sqlite:///" + str((workdir / "ledger.sqlite").resolve()))
    try:
        t = time.monotonic()
        step(f"Proposing {payees} payouts (validate, plan, simulate, ledger)")
        outcome = propose_payouts(
            chain,
            ledger,
            safe=safe,
            payouts=manifest.payouts,
            token=token,
            disburser=disburser,
            max_batch_size=max_batch_size,
            source=str(csv_path),
            source_sha256=manifest.sha256,
        )
        if outcome.proposal is None:
            raise RuntimeError("nothing to propose")  # pragma: no cover - fresh chain and ledger
        proposal_path = workdir / "proposal.json"
        save_proposal(outcome.proposal, proposal_path)
        tx_files = export_batches(outcome.proposal, workdir / "tx-builder")
        seconds["propose"] = time.monotonic() - t

        t = time.monotonic()
        signers = owner_signers[:threshold]
        signature_files = []
        for index, signer in enumerate(signers, start=1):
            step(f"Signer {index} ({signer.address}) reviews and signs every batch")
            mine = load_proposal(proposal_path)
            # Each signer reviews as `payout safe review --token TOKEN --file payees.csv` does.
            require_clean(review_for_signer(chain, mine, token=token.address, payout_file=csv_path))
            for tx in mine.transactions:
                mine = add_signature(mine, tx.nonce, sign_eip712(mine, tx, signer))
            path = workdir / f"signatures-owner{index}.json"
            save_proposal(mine, path)
            signature_files.append(path)
        merged = merge_proposals(
            load_proposal(signature_files[0]),
            [(str(p), load_proposal(p)) for p in signature_files[1:]],
        )
        signed_path = workdir / "proposal-signed.json"
        save_proposal(merged, signed_path)
        seconds["sign"] = time.monotonic() - t

        t = time.monotonic()
        step(f"Executing {len(merged.transactions)} Safe transaction(s)")
        executor = Wallet(chain, LocalSigner(dev_private_key(EXECUTOR), label="executor"), settings)
        results = execute_file(chain, ledger, signed_path, executor)
        seconds["execute"] = time.monotonic() - t
        confirmed = sum(
            1 for r in ledger.payouts(outcome.registration.scope, status=PayoutStatus.CONFIRMED)
        )
        seconds["total"] = time.monotonic() - started
        return SafeDemoResult(
            safe=safe,
            safe_version=version,
            owners=[s.address for s in owner_signers],
            threshold=threshold,
            signers=[s.address for s in signers],
            token=token.address,
            token_symbol=token.symbol,
            disburser=disburser,
            payees=payees,
            total=total,
            decimals=token.decimals,
            proposal_path=proposal_path,
            signed_path=signed_path,
            tx_builder_files=tx_files,
            results=results,
            confirmed=confirmed,
            ledger_url=ledger.url,
            seconds=seconds,
        )
    finally:
        ledger.close()
