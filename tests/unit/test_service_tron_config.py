"""payout.toml's TRON networks and energy alerts: accepted as documented, every wrong value named
by its key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payout.service.network import ServiceConfigError, parse_config
from payout.types import Network

USDT_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
DISBURSER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
USDC_EVM = "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"


def _tron(**extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "kind": "tron",
        "node_url": "http://127.0.0.1:8090",
        "keystore": "tron.json",
        "disburser": DISBURSER,
        "tokens": {"USDT": {"address": USDT_TRON, "decimals": 6}},
    }
    table.update(extra)
    return table


def _evm(**extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "kind": "evm",
        "rpc_url": "http://127.0.0.1:8545",
        "keystore": "evm.json",
        "tokens": {"USDC": {"address": USDC_EVM, "decimals": 6}},
    }
    table.update(extra)
    return table


def test_tron_network_with_energy_alert_next_to_evm() -> None:
    config = parse_config(
        {
            "networks": {
                "polygon": _evm(alerts={"USDC": "10", "gas": "0.5"}),
                "tron": _tron(alerts={"USDT": "1000", "gas": "300", "energy": "2000000"}),
            }
        }
    )
    tron = config.networks["tron"]
    assert tron.kind is Network.TRON and tron.executor == "tron"
    assert tron.disburser == DISBURSER and tron.tokens["USDT"].address == USDT_TRON
    assert tron.alerts == {
        "USDT": Decimal("1000"),
        "gas": Decimal("300"),
        "energy": Decimal("2000000"),
    }
    assert config.networks["polygon"].executor == "wallet"


@pytest.mark.parametrize(
    ("networks", "key"),
    [
        ({"polygon": _evm(alerts={"energy": "1"})}, "networks.polygon.alerts.energy"),
        ({"tron": _tron(alerts={"DAI": "1"})}, "networks.tron.alerts.DAI"),
        ({"tron": _tron(disburser=None)}, "networks.tron.disburser"),
        ({"tron": _tron(executor="wallet")}, "networks.tron.executor"),
        ({"polygon": _evm(executor="tron")}, "networks.polygon.executor"),
        ({"tron": _tron(disburser="0x" + "11" * 20)}, "networks.tron.disburser"),
        (
            {"tron": _tron(tokens={"USDT": {"address": USDC_EVM, "decimals": 6}})},
            "networks.tron.tokens.USDT.address",
        ),
        ({"tron": _tron(node_url=None)}, "networks.tron.node_url"),
    ],
)
def test_wrong_tron_values_name_their_key(networks: dict[str, Any], key: str) -> None:
    for table in networks.values():
        for k in [k for k, v in table.items() if v is None]:
            del table[k]
    with pytest.raises(ServiceConfigError) as caught:
        parse_config({"networks": networks})
    assert caught.value.key == key
