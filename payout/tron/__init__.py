"""TRC-20 payouts on TRON through tronpy.

The same pipeline as the EVM path (manifest -> plan -> ledger -> executor -> report) with TRON's
parts: a node client (:mod:`payout.tron.client`), TRC-20 reads (:mod:`payout.tron.token`), the
energy / bandwidth cost model (:mod:`payout.tron.energy`), the disburser executor
(:mod:`payout.tron.executor`), account permissions (:mod:`payout.tron.permission`) and native
multisig transaction files (:mod:`payout.tron.multisig`). :mod:`payout.tron.devnet` is a local node
for development, tests and the demo.
"""
