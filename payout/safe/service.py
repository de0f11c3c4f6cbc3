"""Optional: share proposals and signatures through a Safe Transaction Service.

Uses safe-eth-py's own client (:class:`safe_eth.safe.api.TransactionServiceApi`). The base URL and
API key come from the arguments, else ``PAYOUT_SAFE_SERVICE_URL`` / ``PAYOUT_SAFE_SERVICE_API_KEY``;
without a URL the hosted service of the chain is used (it needs an API key).

The service checks what it receives (the hash matches the fields, the sender is an owner or a
delegate, signatures are valid, the nonce is not executed, DELEGATECALL only to trusted
MultiSendCallOnly), but nothing it returns is trusted here either: transactions read back are
matched on hashes recomputed locally, and signatures are verified again before execution.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from eth_utils.address import to_checksum_address

from payout.exceptions import ConfigError, SafeServiceError
from payout.safe.proposal import (
    SIG_APPROVED_HASH,
    SIG_CONTRACT,
    SIG_EIP712,
    SIG_ETH_SIGN,
    OwnerSignature,
    Proposal,
    ProposedTx,
)
from payout.safe.signature import add_signature, hashes_of

#: Items asked for per page (the service's maximum) and pages read at most per list.
PAGE_LIMIT = 200
MAX_PAGES = 100

SERVICE_URL_ENV = "PAYOUT_SAFE_SERVICE_URL"
SERVICE_API_KEY_ENV = "PAYOUT_SAFE_SERVICE_API_KEY"

#: The service's signature type names.
_SERVICE_KINDS = {
    "EOA": SIG_EIP712,
    "ETH_SIGN": SIG_ETH_SIGN,
    "APPROVED_HASH": SIG_APPROVED_HASH,
    "CONTRACT_SIGNATURE": SIG_CONTRACT,
}


@dataclass(frozen=True)
class ServiceConfig:
    """Where the Transaction Service is (``url`` None: the hosted one for the chain)."""

    url: str | None
    api_key: str | None

    @classmethod
    def resolve(cls, url: str | None = None, api_key: str | None = None) -> ServiceConfig:
        return cls(
            url or os.environ.get(SERVICE_URL_ENV) or None,
            api_key or os.environ.get(SERVICE_API_KEY_ENV) or None,
        )


@dataclass(frozen=True)
class ServiceTx:
    """A pending transaction as listed by the service (hash recomputed by the caller)."""

    nonce: int
    safe_tx_hash: bytes
    confirmations: tuple[OwnerSignature, ...]


class SafeService:
    """A Transaction Service client for one chain."""

    def __init__(self, chain_id: int, config: ServiceConfig) -> None:
        from safe_eth.eth import EthereumNetwork
        from safe_eth.safe.api import TransactionServiceApi

        network = EthereumNetwork(chain_id)
        if config.url is None and network not in TransactionServiceApi.NETWORK_SHORTNAME:
            raise ConfigError(
                f"no hosted Safe Transaction Service for chain {chain_id}",
                hint=f"Set {SERVICE_URL_ENV} to your Transaction Service base URL.",
            )
        self.chain_id = chain_id
        self.config = config
        self.api = TransactionServiceApi(network, None, base_url=config.url, api_key=config.api_key)
        self.url = str(self.api.base_url)

    @contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        import requests
        from safe_eth.safe.api import SafeAPIException

        try:
            yield
        except SafeAPIException as exc:
            raise SafeServiceError(self.url, action, str(exc)[:400]) from exc
        except requests.RequestException as exc:
            raise SafeServiceError(self.url, action, f"unreachable ({type(exc).__name__})") from exc

    def _safe_tx(self, proposal: Proposal, tx: ProposedTx, signatures: bytes) -> Any:
        from safe_eth.safe import SafeTx

        st = tx.safe_tx
        return SafeTx(
            None,  # type: ignore[arg-type]  # no RPC: nonce, version and chain id are given
            to_checksum_address(proposal.safe),
            to_checksum_address(st.to),
            st.value,
            st.data,
            st.operation,
            st.safe_tx_gas,
            st.base_gas,
            st.gas_price,
            to_checksum_address(st.gas_token),
            to_checksum_address(st.refund_receiver),
            signatures=signatures,
            safe_nonce=st.nonce,
            safe_version=proposal.safe_version,
            chain_id=proposal.chain_id,
        )

    def propose(self, proposal: Proposal, tx: ProposedTx, signature: OwnerSignature) -> None:
        """Post ``tx`` with its proposer's signature (the proposer must be an owner or delegate)."""
        if signature.kind not in (SIG_EIP712, SIG_ETH_SIGN):
            raise SafeServiceError(
                self.url, "propose", "the proposer must sign off-chain (EIP-712 or eth_sign)"
            )
        with self._calls(f"accept Safe transaction nonce {tx.nonce}"):
            self.api.post_transaction(self._safe_tx(proposal, tx, signature.signature))

    def confirm(self, proposal: Proposal, tx: ProposedTx, signature: OwnerSignature) -> None:
        """Add one owner's off-chain signature to a transaction the service already has."""
        with self._calls(f"accept the signature of {signature.owner}"):
            self.api.post_signatures(hashes_of(proposal, tx).safe_tx_hash, signature.signature)

    def _list_all(self, path: str, query: dict[str, str], action: str) -> list[dict[str, Any]]:
        """Every item of a paginated list, following the service's ``next`` links.

        The service pages its lists (100 items by default, newest first), so the first page
        alone can miss exactly the transactions asked about. Each ``next`` link's query (limit
        and offset) is requested from the configured base URL with the same path, so the API key
        never goes to a host the link might name. Bounded: a list longer than
        ``MAX_PAGES * PAGE_LIMIT`` items, or a link that does not move forward, is an error rather
        than a silent truncation.
        """
        items: list[dict[str, Any]] = []
        url = f"{path}?{urlencode({**query, 'limit': str(PAGE_LIMIT)})}"
        offset = -1
        with self._calls(action):
            for _page in range(MAX_PAGES):
                response = self.api._get_request(url)
                if not response.ok:
                    raise SafeServiceError(
                        self.url, action, f"HTTP {response.status_code}: {response.text[:300]}"
                    )
                body = response.json()
                results = body.get("results") if isinstance(body, dict) else None
                if not isinstance(results, list):
                    raise SafeServiceError(self.url, action, "the reply is not a paginated list")
                items.extend(r for r in results if isinstance(r, dict))
                link = body.get("next")
                if not link:
                    return items
                parsed = urlparse(str(link))
                next_query = parse_qs(parsed.query)
                text = (next_query.get("offset") or [""])[0]
                next_offset = int(text) if text.isdigit() else -1
                if not parsed.path.endswith(path) or next_offset <= offset or not results:
                    raise SafeServiceError(
                        self.url, action, f"unexpected next-page link {str(link)[:200]!r}"
                    )
                offset = next_offset
                url = f"{path}?{urlencode({k: v[0] for k, v in next_query.items()})}"
        raise SafeServiceError(
            self.url,
            action,
            f"more than {MAX_PAGES * PAGE_LIMIT} transactions listed; refusing to read a partial "
            "list",
        )

    def pending(self, safe: str, from_nonce: int) -> list[ServiceTx]:
        """Unexecuted transactions of ``safe`` with nonce >= ``from_nonce``, by nonce (all pages).

        Only what the service calls *trusted* (proposed with a signature, or confirmed since) is
        listed, as its default; an untrusted entry carries no owner confirmation anyway.
        """
        raw = self._list_all(
            f"/api/v2/safes/{to_checksum_address(safe)}/multisig-transactions/",
            # Oldest nonce first: a proposal posted while the pages are read lands at the end
            # instead of shifting the pages not read yet.
            {"executed": "False", "nonce__gte": str(from_nonce), "ordering": "nonce"},
            "list pending transactions",
        )
        out = []
        seen: set[bytes] = set()
        for item in raw:
            confirmations = []
            for c in item.get("confirmations") or []:
                kind = _SERVICE_KINDS.get(str(c.get("signatureType")))
                signature = bytes.fromhex(str(c.get("signature") or "0x")[2:])
                if kind in (SIG_EIP712, SIG_ETH_SIGN) and len(signature) == 65:
                    confirmations.append(
                        OwnerSignature(to_checksum_address(c["owner"]), kind, signature)
                    )
            safe_tx_hash = bytes.fromhex(str(item["safeTxHash"])[2:])
            if safe_tx_hash in seen:  # a page boundary moved while reading (a new proposal)
                continue
            seen.add(safe_tx_hash)
            out.append(
                ServiceTx(
                    nonce=int(item["nonce"]),
                    safe_tx_hash=safe_tx_hash,
                    confirmations=tuple(confirmations),
                )
            )
        out.sort(key=lambda t: t.nonce)
        return out

    def queued_nonces(self, safe: str, from_nonce: int) -> list[int]:
        """Nonces the service already has queued (for the next-nonce rule)."""
        return [t.nonce for t in self.pending(safe, from_nonce)]

    def known_hashes(self, proposal: Proposal) -> set[bytes]:
        """safeTxHashes of the proposal's transactions that the service has."""
        first = min((t.nonce for t in proposal.transactions), default=0)
        return {t.safe_tx_hash for t in self.pending(proposal.safe, first)}

    def submit(self, proposal: Proposal, tx: ProposedTx, signature: OwnerSignature) -> str:
        """Propose ``tx`` if the service lacks it, else confirm; returns what was done."""
        if signature.kind not in (SIG_EIP712, SIG_ETH_SIGN):
            return "kept locally (on-chain or contract signatures are not posted)"
        if hashes_of(proposal, tx).safe_tx_hash in self.known_hashes(proposal):
            self.confirm(proposal, tx, signature)
            return "confirmation posted"
        self.propose(proposal, tx, signature)
        return "proposed"

    def pull_signatures(self, proposal: Proposal) -> Proposal:
        """The proposal with the service's confirmations of its transactions added.

        Only confirmations of transactions whose locally recomputed hash the service lists are
        taken; every signature is verified again before execution anyway.
        """
        first = min((t.nonce for t in proposal.transactions), default=0)
        listed = {t.safe_tx_hash: t for t in self.pending(proposal.safe, first)}
        merged = proposal
        for tx in proposal.transactions:
            found = listed.get(hashes_of(proposal, tx).safe_tx_hash)
            if found is None:
                continue
            for sig in found.confirmations:
                merged = add_signature(merged, tx.nonce, sig)
        return merged
