"""Payout permission: operations bitmask and the rules the chain enforces."""

from __future__ import annotations

import pytest

from payout.exceptions import TronPermissionInvalid
from payout.tron.permission import (
    PayoutPermission,
    PermissionKey,
    allowed_types,
    operations_mask,
)

A = "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1"
B = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
C = "TQHAvs2ZFTbsd93ycTfw1Wuf1e4WsPZWCp"


def test_trigger_smart_contract_is_bit_31() -> None:
    mask = bytes.fromhex(operations_mask([31]))
    assert len(mask) == 32
    assert mask[3] == 0x80 and sum(mask) == 0x80
    assert allowed_types(mask.hex()) == {31}


def test_tronpy_default_active_mask_decodes() -> None:
    # The default active permission java-tron gives an account (as tronpy reports it).
    default = "7fff1fc0033e0100000000000000000000000000000000000000000000000000"
    types = allowed_types(default)
    assert 31 in types and 1 in types and 46 not in types  # no permission updates
    assert operations_mask(sorted(types)) == default


def test_active_entry_for_the_update_contract() -> None:
    perm = PayoutPermission(keys=(PermissionKey(A, 1), PermissionKey(B, 1)), threshold=2)
    perm.validate()
    active = perm.to_active()
    assert active["type"] == "Active" and active["threshold"] == 2
    assert [k["address"][:2] for k in active["keys"]] == ["41", "41"]
    assert allowed_types(active["operations"]) == {31}


@pytest.mark.parametrize(
    ("keys", "threshold", "message"),
    [
        ((), 1, "keys"),
        (tuple(PermissionKey(a, 1) for a in (A, B, C, A)), 1, "twice"),
        ((PermissionKey(A, 1), PermissionKey(B, 1)), 3, "exceeds the sum"),
        ((PermissionKey(A, 0),), 1, "weight"),
        ((PermissionKey(A, 1),), 0, "threshold"),
    ],
)
def test_refuses_permissions_the_chain_would_refuse(
    keys: tuple[PermissionKey, ...], threshold: int, message: str
) -> None:
    with pytest.raises(TronPermissionInvalid, match=message):
        PayoutPermission(keys=keys, threshold=threshold).validate()
