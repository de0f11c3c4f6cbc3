"""A hot wallet that signs and sends EIP-1559 transactions: nonces, fees, stuck-tx replacement.

The wallet only knows transactions; what a transaction means (a batch, an approval) and what must be
written down before it leaves the machine is the caller's business (:mod:`payout.executor`). Every
signed transaction is handed to the caller (``on_signed``) *before* it is broadcast, so the caller
can record it write-ahead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from eth_utils.address import to_checksum_address

from payout.chain import Chain, FeeData
from payout.exceptions import ChainError, FundsError, RpcRejected
from payout.exceptions import FeeCapExceeded as FeeCapExceeded
from payout.exceptions import GasCapExceeded as GasCapExceeded
from payout.exceptions import NonceConsumed as NonceConsumed
from payout.exceptions import ReceiptTimeout as ReceiptTimeout
from payout.exceptions import TransactionReverted as TransactionReverted
from payout.signer import SignedTransaction, Signer
from payout.types import TX_GAS_CAP

# --- settings and records -------------------------------------------------------------------------


@dataclass(frozen=True)
class SendSettings:
    """How the wallet sends and waits. Times are seconds."""

    #: Blocks that must contain or follow the transaction's block (1 = mined).
    confirmations: int = 1
    #: Replace a transaction with a fee bump when it has no receipt after this long.
    replace_after: float = 180.0
    #: Fee increase of a replacement, percent (nodes require at least 10).
    fee_bump_percent: int = 20
    #: Never offer more than this max fee per gas (wei); None: no cap.
    max_fee_cap: int | None = None
    #: Max fee = base fee x this + priority fee.
    base_fee_multiplier: int = 2
    #: Lowest priority fee (tip) per gas, wei.
    min_priority_fee: int = 0
    #: Gas limit = estimate x (100 + margin) / 100, never above the per-transaction cap.
    gas_margin_percent: int = 10
    poll_interval: float = 1.0
    #: Give up waiting (the transaction may still land: resume later).
    receipt_timeout: float = 900.0
    #: How long our receipt may lag behind the nonce moving past it before we conclude that
    #: another transaction took the nonce (nodes index receipts after state: anvil with a large
    #: transaction, load-balanced endpoints whose backends lag each other).
    nonce_grace: float = 15.0


@dataclass(frozen=True)
class PreparedTx:
    """A signed transaction and the fields it was built from."""

    nonce: int
    #: None for a contract creation.
    to: str | None
    data: bytes
    value: int
    gas: int
    fees: FeeData
    signed: SignedTransaction

    @property
    def tx_hash(self) -> str:
        return self.signed.tx_hash


@dataclass
class Inflight:
    """All the versions (original and replacements) of one nonce."""

    nonce: int
    versions: list[PreparedTx] = field(default_factory=list)
    last_broadcast: float = 0.0

    @property
    def tx_hashes(self) -> list[str]:
        return [v.tx_hash for v in self.versions]

    @property
    def latest(self) -> PreparedTx:
        return self.versions[-1]


OnSigned = Callable[[PreparedTx], None]

#: Receipt look-ups after our nonce was used, at the least, before concluding another transaction
#: used it (so a short ``nonce_grace`` or a slow poll still asks more than once).
NONCE_RECHECK_MIN_ROUNDS = 3


class Wallet:
    """Signs with ``signer`` and sends through ``chain``."""

    def __init__(self, chain: Chain, signer: Signer, settings: SendSettings | None = None) -> None:
        self.chain = chain
        self.signer = signer
        self.settings = settings or SendSettings()
        #: Every transaction hash this wallet signed, per nonce: all of them are ours when the
        #: nonce is found used, whichever list of versions a caller waits on.
        self._signed: dict[int, list[str]] = {}

    @property
    def address(self) -> str:
        return to_checksum_address(self.signer.address)

    # --- building -----------------------------------------------------------------------------

    def fees(self) -> FeeData:
        s = self.settings
        fees = self.chain.fee_data(
            base_fee_multiplier=s.base_fee_multiplier, min_priority_fee=s.min_priority_fee
        )
        if s.max_fee_cap is not None and fees.max_fee > s.max_fee_cap:
            if fees.base_fee + fees.max_priority_fee > s.max_fee_cap:
                raise FeeCapExceeded(fees.base_fee + fees.max_priority_fee, s.max_fee_cap)
            fees = replace(fees, max_fee=s.max_fee_cap)
        return fees

    def estimate_gas(
        self, to: str | None, data: bytes, *, value: int = 0, label: str = "call"
    ) -> int:
        """Gas limit for a call: the node's estimate plus the margin, capped at the tx gas cap."""
        tx: dict[str, Any] = {"from": self.address, "data": "0x" + data.hex()}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if value:
            tx["value"] = value
        estimate = self.chain.estimate_gas(tx)
        if estimate > TX_GAS_CAP:
            raise GasCapExceeded(label, estimate)
        return min(TX_GAS_CAP, estimate * (100 + self.settings.gas_margin_percent) // 100)

    def reserve_nonce(self) -> int:
        """The next nonce: the node's pending transaction count.

        Transactions are sent one at a time (each waits for its receipt), so the node's count is
        always right, and a transaction that vanished from the pool never leaves a nonce gap.
        """
        return self.chain.nonce(self.address, "pending")

    def prepare(
        self,
        to: str | None,
        data: bytes,
        *,
        gas: int,
        nonce: int,
        fees: FeeData | None = None,
        value: int = 0,
    ) -> PreparedTx:
        fees = fees or self.fees()
        target = to_checksum_address(to) if to is not None else None
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain.chain_id,
            "nonce": nonce,
            "value": value,
            "data": data,
            "gas": gas,
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.max_priority_fee,
        }
        if target is not None:
            tx["to"] = target
        signed = self.signer.sign_transaction(tx)
        self._signed.setdefault(nonce, []).append(signed.tx_hash)
        return PreparedTx(nonce, target, data, value, gas, fees, signed)

    def replacement(self, previous: PreparedTx) -> PreparedTx:
        """The same transaction (same nonce) with fees raised by the bump, or today's if higher."""
        bumped = previous.fees.bumped(self.settings.fee_bump_percent)
        now = self.fees()
        fees = FeeData(
            base_fee=now.base_fee,
            max_priority_fee=max(bumped.max_priority_fee, now.max_priority_fee),
            max_fee=max(bumped.max_fee, now.max_fee),
        )
        cap = self.settings.max_fee_cap
        if cap is not None and fees.max_fee > cap:
            raise FeeCapExceeded(fees.max_fee, cap)
        return self.prepare(
            previous.to,
            previous.data,
            gas=previous.gas,
            nonce=previous.nonce,
            fees=fees,
            value=previous.value,
        )

    # --- sending ------------------------------------------------------------------------------

    def broadcast(self, prepared: PreparedTx) -> None:
        """Send a signed transaction. Re-sending one the node already has is not an error."""
        try:
            self.chain.send_raw(prepared.signed.raw)
        except RpcRejected as exc:
            detail = exc.detail.lower()
            if (
                "already known" in detail
                or "already imported" in detail
                or "known transaction" in detail
            ):
                return
            if "nonce too low" in detail or "nonce is too low" in detail:
                # Ours was mined (a re-broadcast), or another transaction took the nonce: the
                # waiter tells them apart (receipt, or NonceConsumed after the grace period).
                return
            if "insufficient funds" in detail:
                raise FundsError(
                    f"{self.address} cannot pay the gas of transaction nonce {prepared.nonce}",
                    hint=f"send gas coin (ETH) to {self.address}, then run the command again "
                    "(`payout resume` for an interrupted `payout send`)",
                ) from exc
            raise

    def wait(
        self,
        inflight: Inflight,
        *,
        on_signed: OnSigned | None = None,
        label: str = "transaction",
    ) -> dict[str, Any]:
        """Wait for one version of ``inflight`` to be mined and confirmed; returns its receipt.

        After ``replace_after`` seconds without a receipt the latest version is replaced with a fee
        bump (``on_signed`` sees the replacement before it is broadcast). When the account's nonce
        moves past ours without a receipt, :meth:`receipt_of_used_nonce` looks again before
        concluding. Raises :class:`NonceConsumed` when another transaction took the nonce,
        :class:`ReceiptTimeout` after ``receipt_timeout``.
        """
        s = self.settings
        started = time.monotonic()
        if not inflight.last_broadcast:
            inflight.last_broadcast = started
        while True:
            receipt = self.find_receipt(inflight.tx_hashes)
            if receipt is None and self.chain.nonce(self.address, "latest") > inflight.nonce:
                receipt = self.receipt_of_used_nonce(inflight)
                if receipt is None:
                    raise NonceConsumed(self.address, inflight.nonce)
            if receipt is not None:
                if self._confirmed(receipt):
                    return receipt
            elif time.monotonic() - inflight.last_broadcast >= s.replace_after:
                new = self.replacement(inflight.latest)
                if on_signed is not None:
                    on_signed(new)
                inflight.versions.append(new)
                try:
                    self.broadcast(new)
                except RpcRejected as exc:
                    if "underpriced" not in exc.detail.lower():
                        raise
                inflight.last_broadcast = time.monotonic()
            if time.monotonic() - started >= s.receipt_timeout:
                raise ReceiptTimeout(inflight.tx_hashes, s.receipt_timeout)
            time.sleep(s.poll_interval)

    def known_hashes(self, inflight: Inflight) -> list[str]:
        """Every hash of ``inflight``'s nonce we know: its versions and whatever this wallet
        signed with that nonce (a replacement the caller's list may lack)."""
        return list(dict.fromkeys([*inflight.tx_hashes, *self._signed.get(inflight.nonce, ())]))

    def receipt_of_used_nonce(self, inflight: Inflight) -> dict[str, Any] | None:
        """The receipt of whichever of our versions used ``inflight``'s nonce, or None when
        another transaction used it.

        Nodes move the account nonce before the receipt can be queried (anvil with a large
        transaction; load-balanced endpoints). So the receipts of every known hash of the nonce
        are asked again for up to ``nonce_grace`` seconds (and at least
        :data:`NONCE_RECHECK_MIN_ROUNDS` times) before concluding.
        """
        s = self.settings
        hashes = self.known_hashes(inflight)
        deadline = time.monotonic() + s.nonce_grace
        interval = min(s.poll_interval, max(s.nonce_grace / 10, 0.01))
        rounds = 0
        while True:
            receipt = self.find_receipt(hashes)
            if receipt is not None:
                return receipt
            rounds += 1
            if rounds >= NONCE_RECHECK_MIN_ROUNDS and time.monotonic() >= deadline:
                return None
            time.sleep(interval)

    def wait_idle(self) -> None:
        """Wait until no transaction of ours is pending (e.g. an approval sent by a process that
        died before its receipt), so that what we read next (an allowance) is final."""
        started = time.monotonic()
        while self.chain.nonce(self.address, "pending") > self.chain.nonce(self.address, "latest"):
            if time.monotonic() - started >= self.settings.receipt_timeout:
                raise ChainError(
                    f"transactions from {self.address} have been pending for "
                    f"{self.settings.receipt_timeout:.0f} s",
                    hint="speed them up or cancel them (same nonce, higher fee), then resume",
                )
            time.sleep(self.settings.poll_interval)

    def find_receipt(self, tx_hashes: list[str]) -> dict[str, Any] | None:
        for tx_hash in tx_hashes:
            receipt = self.chain.receipt(tx_hash)
            if receipt is not None and receipt.get("blockNumber") is not None:
                return receipt
        return None

    def _confirmed(self, receipt: Mapping[str, Any]) -> bool:
        if self.settings.confirmations <= 1:
            return True
        mined_at = int(str(receipt["blockNumber"]), 16)
        return self.chain.block_number() - mined_at + 1 >= self.settings.confirmations

    def transact(
        self,
        to: str | None,
        data: bytes,
        *,
        label: str,
        value: int = 0,
        gas: int | None = None,
        on_signed: OnSigned | None = None,
    ) -> dict[str, Any]:
        """Estimate, sign, send and wait for one transaction; a revert raises."""
        gas = gas if gas is not None else self.estimate_gas(to, data, value=value, label=label)
        prepared = self.prepare(to, data, gas=gas, nonce=self.reserve_nonce(), value=value)
        if on_signed is not None:
            on_signed(prepared)
        inflight = Inflight(prepared.nonce, [prepared])
        self.broadcast(prepared)
        inflight.last_broadcast = time.monotonic()
        receipt = self.wait(inflight, on_signed=on_signed, label=label)
        if int(str(receipt["status"]), 16) != 1:
            raise TransactionReverted(label, str(receipt["transactionHash"]))
        return receipt
