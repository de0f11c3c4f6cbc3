"""payout.toml for a Safe payer: what is read, and every wrong value named by its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from payout.service.network import ServiceConfigError, parse_config

SAFE = "0x5aFE3855358E112B5647B952709E6165e1c1eEEe"
USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


def _config(**network: Any) -> dict[str, Any]:
    table = {
        "rpc_url": "http://127.0.0.1:8545",
        "executor": "safe",
        "safe": SAFE,
        "tokens": {"USDC": {"address": USDC, "decimals": 6}},
        **network,
    }
    return {"networks": {"base": {k: v for k, v in table.items() if v is not None}}}


def test_a_safe_payer_is_read_with_its_defaults(tmp_path: Path) -> None:
    config = parse_config(_config(), base=tmp_path)
    safe = config.networks["base"].safe
    assert safe is not None and safe.address == SAFE
    assert safe.proposals_dir == tmp_path / "safe-proposals" / "base"
    assert not safe.execute and safe.service_url is None and safe.poll_seconds == 5.0


def test_execute_uses_the_keystore_unless_an_executor_key_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFE_URL", "https://safe-service.example")
    config = parse_config(
        _config(
            keystore="proposer.json",
            execute=True,
            safe_service_url_env="SAFE_URL",
            safe_poll_seconds=1,
        ),
        base=tmp_path,
    )
    safe = config.networks["base"].safe
    assert safe is not None
    assert safe.executor_keystore == tmp_path / "proposer.json"
    assert safe.service_url == "https://safe-service.example" and safe.poll_seconds == 1.0
    other = parse_config(
        _config(keystore="p.json", execute=True, executor_keystore="gas.json"), base=tmp_path
    ).networks["base"]
    assert other.safe is not None and other.safe.executor_keystore == tmp_path / "gas.json"


@pytest.mark.parametrize(
    ("network", "key", "words"),
    [
        ({"safe": None}, "networks.base.safe", "address"),
        ({"safe": "0x1234"}, "networks.base.safe", ""),
        ({"safe_service_url": "http://s/"}, "networks.base.keystore", "owner or delegate"),
        ({"safe_service_url": "ftp://s/", "keystore": "k"}, "networks.base.safe_service_url", ""),
        ({"execute": True}, "networks.base.executor_keystore", "gas"),
        ({"execute": "yes"}, "networks.base.execute", "bool"),
        ({"safe_poll_seconds": 0}, "networks.base.safe_poll_seconds", "positive"),
        ({"safe_service_api_key_env": "NOT_SET_ANYWHERE"}, "safe_service_api_key_env", "not set"),
        ({"executor": "wallet", "keystore": "k"}, "networks.base.safe", "only for a Safe payer"),
    ],
)
def test_wrong_values_name_their_key(network: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ServiceConfigError) as caught:
        parse_config(_config(**network))
    assert key in str(caught.value) and words in str(caught.value)
