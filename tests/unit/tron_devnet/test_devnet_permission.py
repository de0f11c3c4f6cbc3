"""Permission rules of the devnet (java-tron AccountPermissionUpdate and checkWeight semantics)."""

from __future__ import annotations

import pytest

from payout.exceptions import TronDevnetRejection
from payout.tron.devnet.address import address_of_private_key, sign_digest
from payout.tron.devnet.permission import (
    PermissionProblem,
    check_permission,
    default_permissions,
    signature_weight,
    validate_permission,
)
from payout.tron.devnet.state import WINDOW_SLOTS, Key, Permission, recovered

KEYS = [bytes([i + 1]) * 32 for i in range(6)]
ADDRESSES = [address_of_private_key(k) for k in KEYS]
TXID = bytes(range(32))


def active(n_keys: int = 3, threshold: int = 2, ops: bytes | None = None) -> Permission:
    operations = ops if ops is not None else bytes([0x02, 0, 0, 0x80]) + bytes(28)
    return Permission(
        type=2,
        id=2,
        name="payout",
        threshold=threshold,
        keys=[Key(a, 1) for a in ADDRESSES[:n_keys]],
        operations=operations,
    )


def test_default_permissions_are_the_address_alone() -> None:
    owner, actives = default_permissions(ADDRESSES[0])
    assert owner.threshold == 1 and owner.keys == [Key(ADDRESSES[0], 1)]
    assert actives[0].id == 2 and actives[0].allows(31) and actives[0].allows(1)


@pytest.mark.parametrize(
    ("permission", "message"),
    [
        (active(n_keys=6, threshold=2), "should not be greater than 5"),
        (active(threshold=0), "threshold should be greater than 0"),
        (active(threshold=4), "sum of all key's weight"),
        (active(ops=bytes(31)), "operations size must 32"),
        (active(ops=bytes([0x80]) + bytes(31)), "7 isn't a validate ContractType"),
    ],
)
def test_invalid_active_permissions_are_refused(permission: Permission, message: str) -> None:
    with pytest.raises(TronDevnetRejection, match=message) as refused:
        validate_permission(permission)
    assert refused.value.code == "CONTRACT_VALIDATE_ERROR"


def test_duplicate_keys_and_owner_operations_are_refused() -> None:
    twice = active()
    twice.keys[1] = Key(ADDRESSES[0], 1)
    with pytest.raises(TronDevnetRejection, match="distinct"):
        validate_permission(twice)
    owner = Permission(0, 0, "owner", 1, [Key(ADDRESSES[0], 1)], operations=bytes(32))
    with pytest.raises(TronDevnetRejection, match="Owner permission needn't operations"):
        validate_permission(owner)


def test_operations_bitmask_gates_the_contract_type() -> None:
    permission = active()
    assert check_permission(permission, 2, 31) is permission
    with pytest.raises(PermissionProblem, match="Permission denied"):
        check_permission(permission, 2, 46)
    owner, _ = default_permissions(ADDRESSES[0])
    with pytest.raises(PermissionProblem, match="Permission type is error"):
        check_permission(owner, 2, 1)
    with pytest.raises(PermissionProblem, match="isn't exit"):
        check_permission(None, 3, 1)


def test_weights_add_up_over_distinct_signers() -> None:
    permission = active()
    sigs = [sign_digest(KEYS[0], TXID), sign_digest(KEYS[2], TXID)]
    weight, approved = signature_weight(permission, TXID, sigs)
    assert weight == 2 and approved == [ADDRESSES[0], ADDRESSES[2]]
    with pytest.raises(PermissionProblem, match="has signed twice"):
        signature_weight(permission, TXID, [sigs[0], sigs[0]])
    with pytest.raises(PermissionProblem, match="not contained of permission"):
        signature_weight(permission, TXID, [sign_digest(KEYS[5], TXID)])
    with pytest.raises(PermissionProblem, match="Signature count is 4"):
        signature_weight(permission, TXID, sigs * 2)
    with pytest.raises(PermissionProblem, match="Signature size is 64"):
        signature_weight(permission, TXID, [sigs[0][:64]])


def test_resource_usage_recovers_linearly_over_a_day() -> None:
    assert recovered(1_000, 0, 0) == 1_000
    assert recovered(1_000, 0, WINDOW_SLOTS // 2) == 500
    assert recovered(1_000, 0, WINDOW_SLOTS) == 0
