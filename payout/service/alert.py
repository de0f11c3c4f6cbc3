"""Balance alerts: each payer's token and gas coin balance against its thresholds.

Checked before every batch flush and on a schedule. When a balance falls below its threshold a
``balance.low`` webhook is written (and logged) once; the alert re-arms when the balance is back
above the threshold.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from payout.amount import format_amount
from payout.chain import Chain
from payout.service.runtime import NetworkContext
from payout.service.store import Store

log = logging.getLogger("payout.service.alert")

GAS = "gas"


def _units(threshold: Decimal, decimals: int) -> int:
    # Thresholds are operator figures; a sub-unit fraction of one is ignored (rounded down).
    return int(threshold.scaleb(decimals))


def check_balances(store: Store, network: NetworkContext, chain: Chain) -> list[dict[str, Any]]:
    """Compare every configured threshold of ``network``'s payer; returns the new alerts."""
    raised: list[dict[str, Any]] = []
    for asset, threshold in network.config.alerts.items():
        if asset == GAS:
            if network.gas_payer is None:
                continue  # a Safe whose proposals others execute: the worker pays no gas
            decimals, balance, symbol = 18, chain.native_balance(network.gas_payer), "gas coin"
        else:
            token = network.config.tokens[asset]
            decimals = token.decimals
            balance = chain.token_balance(token.address, network.payer)
            symbol = token.symbol
        limit = _units(threshold, decimals)
        low = balance < limit
        data = {
            "network": network.name,
            "chain_id": network.chain_id,
            "payer": network.payer,
            "asset": asset,
            "symbol": symbol,
            "balance": format_amount(balance, decimals),
            "balance_base_units": str(balance),
            "threshold": format_amount(limit, decimals),
            "threshold_base_units": str(limit),
        }
        if store.alert_transition(
            network.name, network.payer, asset, low, str(balance), str(limit)
        ):
            log.warning(
                "balance low: %s %s of %s on %s is %s (threshold %s)",
                symbol,
                asset,
                network.payer,
                network.name,
                data["balance"],
                data["threshold"],
            )
            store.emit("balance.low", data)
            raised.append(data)
    return raised
