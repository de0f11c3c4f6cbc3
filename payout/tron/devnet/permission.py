"""Account permissions: defaults, java-tron's validation of updates, and the signature weight check.

``check_permission`` + ``signature_weight`` are java-tron's ``TransactionCapsule.checkWeight``:
the permission named by ``Permission_id`` must be the owner (0) or an Active one whose operations
bitmask has the contract type's bit; each signature must recover to a distinct key of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payout.exceptions import TronDevnetRejection
from payout.tron import proto
from payout.tron.devnet.address import SignatureRecoveryError, recover_signer, to_base58
from payout.tron.devnet.state import Key, Permission

#: Operations bitmask of a new account's default active permission (every ordinary contract type,
#: including 31 TriggerSmartContract and 46 AccountPermissionUpdateContract).
DEFAULT_ACTIVE_OPERATIONS = bytes.fromhex("7fff1fc0037e" + "00" * 26)
#: Contract types an active permission's operations may name (java-tron AvailableContractType).
AVAILABLE_CONTRACT_TYPES = frozenset(proto.ENUMS["ContractType"].values())
MAX_ACTIVE_PERMISSIONS = 8
MAX_PERMISSION_KEYS = 5


def validate_error(message: str) -> TronDevnetRejection:
    """A ``CONTRACT_VALIDATE_ERROR`` refusal with java-tron's message prefix."""
    return TronDevnetRejection("CONTRACT_VALIDATE_ERROR", f"Contract validate error : {message}")


class PermissionProblem(Exception):
    """Internal: a signature / permission check failed. The node turns it into a ``SIGERROR``
    reply or a ``getsignweight`` result; it never leaves the devnet."""


def default_permissions(address: bytes) -> tuple[Permission, list[Permission]]:
    """A new account's owner and active permissions (the address alone, threshold 1)."""
    owner = Permission(type=0, id=0, name="owner", threshold=1, keys=[Key(address, 1)])
    active = Permission(
        type=2,
        id=2,
        name="active",
        threshold=1,
        keys=[Key(address, 1)],
        operations=DEFAULT_ACTIVE_OPERATIONS,
    )
    return owner, [active]


def check_permission(
    permission: Permission | None, permission_id: int, type_number: int
) -> Permission:
    """The permission a transaction names, if it may sign a contract of ``type_number``."""
    if permission is None:
        raise PermissionProblem("permission isn't exit")
    if permission_id != 0:
        if permission.type != 2:
            raise PermissionProblem("Permission type is error")
        if not permission.allows(type_number):
            raise PermissionProblem("Permission denied")
    return permission


def signature_weight(
    permission: Permission, txid: bytes, sigs: list[bytes]
) -> tuple[int, list[bytes]]:
    """Summed key weight of the signers and their addresses, in signature order."""
    if len(sigs) > len(permission.keys):
        raise PermissionProblem(
            f"Signature count is {len(sigs)} more than key counts of permission : "
            f"{len(permission.keys)}"
        )
    weight = 0
    approved: list[bytes] = []
    for sig in sigs:
        try:
            signer = recover_signer(txid, sig)
        except SignatureRecoveryError as exc:
            raise PermissionProblem(str(exc)) from exc
        key_weight = permission.weight_of(signer)
        if key_weight == 0:
            raise PermissionProblem(
                f"{sig.hex()} is signed by {to_base58(signer)} but it is not contained of "
                "permission."
            )
        if signer in approved:
            raise PermissionProblem(f"{to_base58(signer)} has signed twice!")
        approved.append(signer)
        weight += key_weight
    return weight, approved


def permission_from(msg: Mapping[str, Any], permission_id: int) -> Permission:
    """A ``Permission`` from an AccountPermissionUpdate message dict; the chain assigns the id."""
    keys = []
    for key in msg.get("keys") or []:
        address = bytes(key.get("address", b""))
        if len(address) != 21 or address[0] != 0x41:
            raise validate_error("key is not a validate address")
        keys.append(Key(address, int(key.get("weight", 0))))
    return Permission(
        type=int(msg.get("type", 0)),
        id=permission_id,
        name=str(msg.get("permission_name", "")),
        threshold=int(msg.get("threshold", 0)),
        keys=keys,
        operations=bytes(msg.get("operations", b"")),
        parent_id=int(msg.get("parent_id", 0)),
    )


def validate_permission(permission: Permission) -> None:
    """java-tron's AccountPermissionUpdateActuator rules for one permission (raises on failure)."""
    kind = {0: "Owner", 1: "Witness", 2: "Active"}[permission.type]
    if len(permission.keys) > MAX_PERMISSION_KEYS:
        raise validate_error(
            f"number of keys in permission should not be greater than {MAX_PERMISSION_KEYS}"
        )
    if not permission.keys:
        raise validate_error("key's count should be greater than 0")
    if permission.threshold <= 0:
        raise validate_error("permission's threshold should be greater than 0")
    if len(permission.name) > 32:
        raise validate_error("permission's name is too long")
    if permission.parent_id != 0:
        raise validate_error("permission's parent should be owner")
    seen: set[bytes] = set()
    total = 0
    for key in permission.keys:
        if key.weight <= 0:
            raise validate_error("key's weight should be greater than 0")
        if key.address in seen:
            raise validate_error(f"address should be distinct in permission {kind}")
        seen.add(key.address)
        total += key.weight
    if total < permission.threshold:
        raise validate_error(
            f"sum of all key's weight should not be less than threshold in permission {kind}"
        )
    if permission.type != 2:
        if permission.operations:
            raise validate_error(f"{kind} permission needn't operations")
        return
    if len(permission.operations) != 32:
        raise validate_error("operations size must 32")
    for bit in range(256):
        if (
            permission.operations[bit // 8] & (1 << (bit % 8))
            and bit not in AVAILABLE_CONTRACT_TYPES
        ):
            raise validate_error(f"{bit} isn't a validate ContractType")
