"""TRON account permissions for payouts: an *active* permission that only a quorum of keys can use.

A TRON account has one owner permission (id 0, may do anything, including changing permissions), an
optional witness permission (id 1) and up to eight active permissions (ids 2..9). An active
permission names up to five keys with weights, a threshold, and an *operations* bitmask: 256 bits,
bit ``n`` allowing contract type ``n`` (``TriggerSmartContract`` = 31 is what calls the disburser
and approves the token). A transaction picks its permission with ``Permission_id``; the chain
accepts it once its signatures, each from a distinct key of that permission, reach the threshold.

``AccountPermissionUpdateContract`` replaces owner, witness and *all* actives at once (and costs 100
TRX), so :func:`permission_update` keeps the account's current permissions and only adds or
replaces the payout one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tronpy import Tron
from tronpy.keys import to_base58check_address, to_hex_address

from payout.exceptions import TronPermissionInvalid
from payout.tron.client import node_call

#: Contract type numbers (java-tron ``Transaction.Contract.ContractType``) that matter here.
CONTRACT_TYPES: dict[str, int] = {
    "AccountCreateContract": 0,
    "TransferContract": 1,
    "TransferAssetContract": 2,
    "AccountUpdateContract": 10,
    "CreateSmartContract": 30,
    "TriggerSmartContract": 31,
    "UpdateSettingContract": 33,
    "AccountPermissionUpdateContract": 46,
    "FreezeBalanceV2Contract": 54,
    "UnfreezeBalanceV2Contract": 55,
    "DelegateResourceContract": 57,
    "UnDelegateResourceContract": 58,
}

#: What a payout permission allows by default: calling contracts (approve + disburse) only.
PAYOUT_OPERATIONS: tuple[int, ...] = (CONTRACT_TYPES["TriggerSmartContract"],)

MAX_ACTIVE_PERMISSIONS = 8
MAX_KEYS = 5
FIRST_ACTIVE_ID = 2


def operations_mask(types: Iterable[int]) -> str:
    """The 32-byte operations bitmask (hex) allowing the given contract types.

    Bit ``n`` lives in byte ``n // 8`` at position ``n % 8`` (least significant first), as java-tron
    reads it: ``(operations[n / 8] & (1 << (n % 8))) != 0``.
    """
    mask = bytearray(32)
    for t in types:
        if not 0 <= t < 256:
            raise TronPermissionInvalid(f"contract type {t} is outside 0..255")
        mask[t // 8] |= 1 << (t % 8)
    return mask.hex()


def allowed_types(operations_hex: str) -> set[int]:
    """The contract types an operations bitmask allows."""
    raw = bytes.fromhex(operations_hex)
    return {i * 8 + b for i, byte in enumerate(raw) for b in range(8) if byte >> b & 1}


@dataclass(frozen=True)
class PermissionKey:
    address: str
    weight: int


@dataclass(frozen=True)
class PayoutPermission:
    """The active permission payouts run under."""

    keys: tuple[PermissionKey, ...]
    threshold: int
    name: str = "payout"
    operations: tuple[int, ...] = field(default=PAYOUT_OPERATIONS)

    def validate(self) -> None:
        """Refuse what the chain would refuse, or what would make the permission unusable."""
        if not 1 <= len(self.keys) <= MAX_KEYS:
            raise TronPermissionInvalid(f"{len(self.keys)} keys (1 to {MAX_KEYS} allowed)")
        seen: set[str] = set()
        for key in self.keys:
            address = to_base58check_address(key.address)
            if address in seen:
                raise TronPermissionInvalid(f"key {address} appears twice")
            seen.add(address)
            if key.weight <= 0:
                raise TronPermissionInvalid(f"key {address} has weight {key.weight} (must be > 0)")
        if self.threshold <= 0:
            raise TronPermissionInvalid(f"threshold {self.threshold} (must be > 0)")
        total = sum(k.weight for k in self.keys)
        if self.threshold > total:
            raise TronPermissionInvalid(
                f"threshold {self.threshold} exceeds the sum of the weights ({total}): "
                "no set of signatures could ever reach it"
            )
        if not self.operations:
            raise TronPermissionInvalid("no operations allowed")
        if not self.name or len(self.name.encode()) > 32:
            raise TronPermissionInvalid("permission name must be 1-32 bytes")

    def to_active(self) -> dict[str, Any]:
        """The permission as the ``actives[]`` entry of an ``AccountPermissionUpdateContract``."""
        return {
            "type": "Active",
            "permission_name": self.name,
            "threshold": self.threshold,
            "operations": operations_mask(self.operations),
            "keys": [{"address": to_hex_address(k.address), "weight": k.weight} for k in self.keys],
        }


def _normalize(perm: dict[str, Any]) -> dict[str, Any]:
    """A permission as read from ``getaccount`` turned into update form (hex addresses, no id)."""
    out: dict[str, Any] = {
        "type": perm.get("type", "Active"),
        "permission_name": perm.get("permission_name", ""),
        "threshold": int(perm.get("threshold", 1)),
        "keys": [
            {"address": to_hex_address(k["address"]), "weight": int(k.get("weight", 1))}
            for k in perm.get("keys", [])
        ],
    }
    if "operations" in perm:
        out["operations"] = perm["operations"]
    return out


def current_permissions(client: Tron, account: str) -> dict[str, Any]:
    """Owner, witness and actives of ``account`` as the chain reports them (with defaults for an
    account that never updated its permissions)."""
    perms: dict[str, Any] = node_call(client, lambda: client.get_account_permission(account))
    return perms


def permission_update(
    client: Tron, account: str, payout: PayoutPermission
) -> tuple[dict[str, Any], int]:
    """The ``AccountPermissionUpdateContract`` value that installs ``payout`` on ``account``.

    Returns the contract value and the id the payout permission will have (actives are numbered
    from 2 in order). An existing active permission with the same name is replaced in place; the
    owner permission and the other actives are kept unchanged.
    """
    payout.validate()
    current = current_permissions(client, account)
    actives = [_normalize(a) for a in current.get("actives") or []]
    new = payout.to_active()
    for index, active in enumerate(actives):
        if active["permission_name"] == payout.name:
            actives[index] = new
            break
    else:
        if len(actives) >= MAX_ACTIVE_PERMISSIONS:
            raise TronPermissionInvalid(
                f"the account already has {MAX_ACTIVE_PERMISSIONS} active permissions"
            )
        actives.append(new)
    permission_id = FIRST_ACTIVE_ID + actives.index(new)
    owner = _normalize(current["owner"])
    owner["type"] = "Owner"
    owner.pop("operations", None)
    value: dict[str, Any] = {
        "owner_address": to_hex_address(account),
        "owner": owner,
        "actives": actives,
    }
    if current.get("witness"):
        witness = _normalize(current["witness"])
        witness["type"] = "Witness"
        value["witness"] = witness
    return value, permission_id


def find_permission(client: Tron, account: str, name: str) -> tuple[int, dict[str, Any]] | None:
    """``(id, permission)`` of the active permission called ``name`` on ``account``, if any."""
    current = current_permissions(client, account)
    for index, active in enumerate(current.get("actives") or []):
        if active.get("permission_name") == name:
            return int(active.get("id", FIRST_ACTIVE_ID + index)), active
    return None


def permission_by_id(client: Tron, account: str, permission_id: int) -> dict[str, Any]:
    """The permission ``permission_id`` of ``account`` (0 = owner)."""
    current = current_permissions(client, account)
    if permission_id == 0:
        owner: dict[str, Any] = current["owner"]
        return owner
    for index, active in enumerate(current.get("actives") or []):
        if int(active.get("id", FIRST_ACTIVE_ID + index)) == permission_id:
            found: dict[str, Any] = active
            return found
    raise TronPermissionInvalid(
        f"{to_base58check_address(account)} has no permission with id {permission_id}"
    )


def set_payout_permission(client: Tron, owner: Any, payout: PayoutPermission) -> dict[str, Any]:
    """Install ``payout`` on the owner's account (signed by its owner key, a
    :class:`~payout.tron.signer.TronSigner`) and wait for it; returns account, permission id and
    txID. The chain charges its permission-update fee (100 TRX on mainnet)."""
    from payout.exceptions import TronExecutionFailed
    from payout.tron.transaction import wait_receipt

    account = str(owner.address)
    value, expected_id = permission_update(client, account, payout)
    perm = {k: v for k, v in value.items() if k != "owner_address"}
    builder = client.trx.account_permission_update(account, perm)
    # tronpy takes this transaction's txID from the node (getsignweight); what it changes is
    # read back from the chain below and compared with what was asked.
    tx = node_call(client, builder.build)
    tx.set_signature([owner.sign_txid(tx.txid)])
    node_call(client, tx.broadcast)
    info = wait_receipt(client, tx.txid)
    if (info.get("receipt") or {}).get("result", "SUCCESS") not in ("SUCCESS", None) or info.get(
        "result"
    ) == "FAILED":
        raise TronExecutionFailed(tx.txid, str(info.get("result")), "permission update failed")
    found = find_permission(client, account, payout.name)
    if found is None:
        raise TronPermissionInvalid(f"the update {tx.txid} did not install {payout.name!r}")
    permission_id, installed = found
    installed_keys = {
        (to_base58check_address(k["address"]), int(k.get("weight", 1))) for k in installed["keys"]
    }
    wanted_keys = {(to_base58check_address(k.address), k.weight) for k in payout.keys}
    if installed_keys != wanted_keys or int(installed.get("threshold", 0)) != payout.threshold:
        raise TronPermissionInvalid(f"the chain shows {installed}, not what was asked")
    if permission_id != expected_id:
        raise TronPermissionInvalid(f"permission id {permission_id}, expected {expected_id}")
    return {"account": account, "permission_id": permission_id, "txid": tx.txid}
