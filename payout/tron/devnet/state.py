"""What the devnet keeps besides the EVM state: accounts, permissions, contracts, blocks, receipts.

TRX balances, contract code and storage live in the py-evm state (:mod:`payout.tron.devnet.evm`);
this module holds TRON's own records around them and the resource arithmetic (staked energy and
bandwidth that recover linearly over a 24 h window, free bandwidth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Resource usage recovers linearly over this many 3-second slots (24 h).
WINDOW_SLOTS = 28_800
SLOT_MS = 3_000


@dataclass
class Key:
    """One key of a permission."""

    address: bytes  # 21 bytes
    weight: int


@dataclass
class Permission:
    """Owner (type 0, id 0), witness (type 1, id 1) or active (type 2, id >= 2) permission."""

    type: int
    id: int
    name: str
    threshold: int
    keys: list[Key]
    operations: bytes = b""
    parent_id: int = 0

    def weight_of(self, address: bytes) -> int:
        return next((k.weight for k in self.keys if k.address == address), 0)

    def allows(self, contract_type: int) -> bool:
        """Whether the operations bitmask has the bit of ``contract_type`` (java-tron layout)."""
        if len(self.operations) != 32:
            return False
        return bool(self.operations[contract_type // 8] & (1 << (contract_type % 8)))

    def to_message(self) -> dict[str, Any]:
        """As a ``protocol.Permission`` message dict (see :mod:`proto`)."""
        msg: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "permission_name": self.name,
            "threshold": self.threshold,
            "parent_id": self.parent_id,
            "keys": [{"address": k.address, "weight": k.weight} for k in self.keys],
        }
        if self.operations:
            msg["operations"] = self.operations
        return msg


@dataclass
class Resource:
    """Staked resource of one kind (energy or bandwidth) and its usage window."""

    frozen_sun: int = 0
    usage: int = 0
    last_slot: int = 0

    def usage_at(self, slot: int) -> int:
        """Usage left after linear recovery until ``slot``."""
        return recovered(self.usage, self.last_slot, slot)

    def consume(self, amount: int, slot: int) -> None:
        self.usage = self.usage_at(slot) + amount
        self.last_slot = slot


def recovered(usage: int, last_slot: int, slot: int) -> int:
    """Usage decays linearly to zero over :data:`WINDOW_SLOTS` (java-tron's ``increase(.., 0)``)."""
    elapsed = slot - last_slot
    if elapsed <= 0:
        return usage
    if elapsed >= WINDOW_SLOTS:
        return 0
    return usage * (WINDOW_SLOTS - elapsed) // WINDOW_SLOTS


@dataclass
class Account:
    """A TRON account record (activated address)."""

    address: bytes
    create_time: int
    owner: Permission
    actives: list[Permission]
    witness: Permission | None = None
    energy: Resource = field(default_factory=Resource)
    bandwidth: Resource = field(default_factory=Resource)
    free_net_usage: int = 0
    free_net_last_slot: int = 0
    is_contract: bool = False

    def permission(self, permission_id: int) -> Permission | None:
        if permission_id == 0:
            return self.owner
        if permission_id == 1:
            return self.witness
        return next((p for p in self.actives if p.id == permission_id), None)


@dataclass
class ContractRecord:
    """A deployed contract's metadata (``protocol.SmartContract`` + ``ContractState``)."""

    address: bytes  # 21 bytes
    origin: bytes  # 21 bytes
    abi: dict[str, Any]  # ABI message dict
    bytecode: bytes  # the creation code as deployed
    name: str
    consume_user_resource_percent: int
    origin_energy_limit: int
    trx_hash: bytes
    code_hash: bytes
    energy_factor: int = 0
    energy_usage: int = 0

    def to_message(self) -> dict[str, Any]:
        """As a ``protocol.SmartContract`` message dict."""
        return {
            "origin_address": self.origin,
            "contract_address": self.address,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "consume_user_resource_percent": self.consume_user_resource_percent,
            "name": self.name,
            "origin_energy_limit": self.origin_energy_limit,
            "code_hash": self.code_hash,
            "trx_hash": self.trx_hash,
            "version": 1,
        }


@dataclass
class Log:
    address: bytes  # 20 bytes, as the TVM emits it
    topics: list[bytes]
    data: bytes


@dataclass
class Receipt:
    """``protocol.ResourceReceipt`` plus the fields of ``TransactionInfo`` we fill."""

    energy_usage: int = 0  # energy taken from the caller's stake
    energy_fee: int = 0  # sun burned for energy
    origin_energy_usage: int = 0
    energy_usage_total: int = 0
    energy_penalty_total: int = 0
    net_usage: int = 0
    net_fee: int = 0
    result: str = ""  # contractResult name; "" for non-VM transactions


@dataclass
class TxRecord:
    """A transaction accepted by the node, its execution outcome and its block."""

    txid: bytes
    raw: dict[str, Any]  # Transaction.raw message dict
    raw_bytes: bytes
    signatures: list[bytes]
    contract_type: str
    receipt: Receipt
    fee: int
    contract_result: bytes = b""
    contract_address: bytes | None = None
    logs: list[Log] = field(default_factory=list)
    failed: bool = False
    res_message: str = ""
    block_number: int | None = None
    block_timestamp: int | None = None
    #: ``Transaction.Result.contractRet`` shown by gettransactionbyid.
    contract_ret: str = "SUCCESS"


@dataclass
class Block:
    number: int
    timestamp: int
    parent_id: bytes
    witness: bytes
    txids: list[bytes]
    header_raw: dict[str, Any]
    id: bytes

    @property
    def id_hex(self) -> str:
        return self.id.hex()
