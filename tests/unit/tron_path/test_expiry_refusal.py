"""A node refusing a broadcast as expired surfaces as a typed refusal, whichever way tronpy
reports it (tronpy folds java-tron's TRANSACTION_EXPIRATION_ERROR into a generic error)."""

from __future__ import annotations

from typing import Any

import pytest

from payout.exceptions import TronTransactionRejected
from payout.tron.client import EXPIRATION_ERROR, connect, node_call, raw_request

NODE = "http://127.0.0.1:9"  # never contacted: the replies below are handed to tronpy directly


def _refusal(code: str, message: str) -> dict[str, Any]:
    # java-tron's broadcast reply: the message hex-encoded.
    return {"result": False, "code": code, "message": message.encode().hex()}


def _rejected_through_tronpy(reply: dict[str, Any]) -> TronTransactionRejected:
    client = connect(NODE, check=False)
    with pytest.raises(TronTransactionRejected) as info:
        node_call(client, lambda: client._handle_api_error(reply))
    return info.value


def test_expiration_refusal_is_typed_although_tronpy_drops_its_code() -> None:
    refused = _rejected_through_tronpy(_refusal(EXPIRATION_ERROR, "Transaction expired"))
    assert refused.code == EXPIRATION_ERROR
    assert refused.expired
    assert refused.node_message == "Transaction expired"


def test_too_big_refusal_shares_tronpys_error_but_is_not_expired() -> None:
    refused = _rejected_through_tronpy(
        _refusal("TOO_BIG_TRANSACTION_ERROR", "Transaction size is too big.")
    )
    assert refused.code == "TRANSACTION_ERROR"
    assert not refused.expired


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("SIGERROR", "Validate signature error: expired key"),
        ("TAPOS_ERROR", "Tapos check error"),
        ("CONTRACT_VALIDATE_ERROR", "Validate TriggerSmartContract error, expired"),
        ("DUP_TRANSACTION_ERROR", "Dup transaction."),
    ],
)
def test_other_refusals_are_not_expired_even_when_the_text_says_so(code: str, message: str) -> None:
    refused = _rejected_through_tronpy(_refusal(code, message))
    assert not refused.expired


class _Provider:
    """Answers one raw ``wallet/*`` request with a fixed reply (the raw path keeps the code)."""

    endpoint_uri = NODE

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply

    def make_request(self, method: str, params: Any = None) -> dict[str, Any]:
        return self.reply


def test_raw_request_refusal_keeps_java_trons_expiration_code() -> None:
    client = connect(NODE, check=False)
    client.provider = _Provider(_refusal(EXPIRATION_ERROR, "Transaction expired"))  # type: ignore[assignment]
    with pytest.raises(TronTransactionRejected) as info:
        raw_request(client, "wallet/broadcasttransaction", {})
    assert info.value.expired
