"""Balance alerts: each payer's token, gas coin and (TRON) energy against its thresholds.

Checked before every batch flush and on a schedule (balances from
:func:`payout.service.runtime.payer_assets`). When a balance falls below its threshold a
``balance.low`` webhook is written (and logged) once; the alert re-arms when the balance is back
above the threshold.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from payout.amount import format_amount
from payout.service.runtime import NetworkContext, payer_assets
from payout.service.store import Store

log = logging.getLogger("payout.service.alert")


def _units(threshold: Decimal, decimals: int) -> int:
    # Thresholds are operator figures; a sub-unit fraction of one is ignored (rounded down).
    return int(threshold.scaleb(decimals))


def check_balances(store: Store, network: NetworkContext) -> list[dict[str, Any]]:
    """Compare every configured threshold of ``network``'s payer (tokens, gas coin, TRON energy);
    returns the new alerts."""
    if not network.config.alerts:
        return []
    raised: list[dict[str, Any]] = []
    assets = {a.key: a for a in payer_assets(network)}
    for key, threshold in network.config.alerts.items():
        asset = assets.get(key)
        if asset is None:
            continue  # gas of a Safe whose proposals others execute: the worker pays no gas
        decimals, balance = asset.decimals, asset.balance
        limit = _units(threshold, decimals)
        low = balance < limit
        data = {
            "network": network.name,
            "chain_id": network.chain_id,
            "payer": network.payer,
            "asset": key,
            "symbol": asset.symbol,
            "balance": format_amount(balance, decimals),
            "balance_base_units": str(balance),
            "threshold": format_amount(limit, decimals),
            "threshold_base_units": str(limit),
        }
        if store.alert_transition(network.name, network.payer, key, low, str(balance), str(limit)):
            log.warning(
                "balance low: %s %s of %s on %s is %s (threshold %s)",
                asset.symbol,
                key,
                network.payer,
                network.name,
                data["balance"],
                data["threshold"],
            )
            store.emit("balance.low", data)
            raised.append(data)
    return raised
