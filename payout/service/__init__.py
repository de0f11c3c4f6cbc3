"""``payout serve``: the payout service (HTTP API, worker, webhooks, balance alerts).

Built on the same library and ledger as the CLI: requested payouts are stored in service tables
next to the ledger, and the worker hands them to :func:`payout.pipeline.send` per (network, payer,
token) group, so the write-ahead and settle-from-chain guarantees are the CLI's. The data model is
described in docs/service.md. Nothing here prints or imports click.
"""
